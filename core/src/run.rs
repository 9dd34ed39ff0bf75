//! `Run`: a future raced against its scope's token and an optional deadline.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::WaitForCancellationFutureOwned;

use crate::ambient::{swap, Entered};
use crate::cause::{Cancelled, Cause};
use crate::node::Node;
use crate::scope::Scope;

/// A deadline not armed yet: relative ones start at the first poll.
/// Absolute ones are kept encoded (`deadline::encode`), so that the enum
/// fits in the 16 bytes of a `Duration` (its niche holds the tag).
pub(crate) enum Timer {
    After(Duration),
    At(u64),
}

impl Timer {
    pub(crate) fn at(deadline: Instant) -> Timer {
        Timer::At(crate::deadline::encode(deadline))
    }
}

pin_project! {
    /// The future returned by [`Scope::run`], [`Scope::run_timeout`] and
    /// [`Scope::run_deadline`].
    ///
    /// While it polls the body, or drops a body that has not finished, its
    /// scope is the current one ([`Token::current`](crate::Token::current)). The body drops first
    /// and the scope last, so the body's destructors run before the token
    /// is cancelled and the key is released.
    #[must_use = "futures do nothing unless polled; dropping this ends the scope"]
    pub struct Run<F> {
        #[pin]
        body: Body<F>,
        // Boxed: tokio's `Sleep` is large, and every call's future
        // (and every spawned job's task) would carry it even without a
        // timeout. Made when the body first waits: a timed call whose body
        // finishes in its first poll pays for no timer at all, and one that
        // waits pays one allocation next to the timer registration.
        deadline: Option<Pin<Box<Sleep>>>,
        // Waits for a foreign (adopted) scope's token; a managed node's
        // `Run` parks its waker in the node instead (`Ambient::parked`),
        // see `node/mod.rs`.
        #[pin]
        waiter: Option<WaitForCancellationFutureOwned>,
        timer: Option<Timer>,
        scope: Scope,
    }
}

pin_project! {
    /// The user's future, and a second handle to the scope's node that is
    /// swapped into the thread's current-scope slot while the future is
    /// polled or dropped unfinished (no reference count is touched per poll).
    struct Body<F> {
        #[pin]
        fut: F,
        // Declared after `fut`, so it drops after it: see `Ambient`'s drop.
        ambient: Ambient,
    }

    impl<F> PinnedDrop for Body<F> {
        fn drop(this: Pin<&mut Self>) {
            // Entered here; `fut` then drops inside the scope, and
            // `ambient`'s own drop, next, swaps the scope back out (also
            // if `fut`'s drop panics: the remaining fields still drop).
            // A finished `async` body has nothing left to drop: no swaps.
            let this = this.project();
            if !this.ambient.finished {
                swap(&mut this.ambient.handle);
            }
        }
    }
}

/// What a [`Body`] swaps in, and three flags that fit in its padding
/// (moving `cooperative` here keeps `Run` from growing by a word for
/// `finished`). Only ever a field of a `Body`.
struct Ambient {
    handle: Option<Arc<Node>>,
    cooperative: bool,
    /// The body returned `Ready`.
    finished: bool,
    /// A managed scope's waker is parked in its node (`Node::park`).
    parked: bool,
}

impl Drop for Ambient {
    fn drop(&mut self) {
        // Undoes the swap of `Body`'s drop, which has run just before.
        if !self.finished {
            swap(&mut self.handle);
        }
        // Before the scope (a later field of `Run`) drops: its end then
        // has no waker to wake, and the node does not keep the task alive.
        if self.parked {
            if let Some(node) = &self.handle {
                node.unpark();
            }
        }
    }
}

impl<F: Future> Run<F> {
    pub(crate) fn new(scope: Scope, body: F, timer: Option<Timer>, cooperative: bool) -> Self {
        Run {
            body: Body {
                fut: body,
                ambient: Ambient {
                    handle: Some(scope.node().clone()),
                    cooperative,
                    finished: false,
                    parked: false,
                },
            },
            deadline: None,
            waiter: None,
            timer,
            scope,
        }
    }

    /// The error for a cancellation this future saw; the token is cancelled
    /// and, once its cause is read here, cancel_seen: the scope's drop can skip
    /// recording and cancelling.
    fn cancelled(scope: &mut Scope) -> Cancelled {
        let cause = scope.node().cause().unwrap_or(Cause::Parent);
        scope.mark_cancel_seen();
        Cancelled::new(cause)
    }
}

impl<F: Future> Future for Run<F> {
    type Output = Result<F::Output, Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        // Armed on the first poll: a timeout counts from when the call
        // starts, and the scope's deadline is set at that moment, before the
        // body first runs and may read it. The timer itself is made only if
        // the body does not finish in this poll (below).
        let arm = this.timer.take().and_then(|timer| {
            crate::needs_tokio::runtime(
                "a deadline (`Scope::run_timeout`, `Scope::run_deadline`, `#[scoped_cancel(timeout = ..)]`)",
                "with time enabled, for its timer",
            );
            // One centuries away (overflowing `Instant`) never fires.
            let at = match timer {
                Timer::After(timeout) => Instant::now().checked_add(timeout),
                Timer::At(at) => Some(crate::deadline::decode(at)),
            };
            if let Some(at) = at {
                this.scope.node().lower_deadline(at);
            }
            at
        });
        // Biased: the body goes first, so finished work is never thrown away.
        let body = this.body.project();
        let polled = {
            let _current = Entered::new(&mut body.ambient.handle);
            body.fut.poll(cx)
        };
        if let Poll::Ready(out) = polled {
            body.ambient.finished = true;
            return Poll::Ready(Ok(out));
        }
        let cooperative = body.ambient.cooperative;
        if !cooperative {
            let node = this.scope.node();
            if node.is_managed() {
                // A root or a managed child: only `cancel_with` cancels it
                // (its own or its parent's), after recording the cause,
                // then wakes the parked waker. Not cancel_seen: the
                // canceller may still be between recording and cancelling,
                // so the scope's drop makes sure the token is cancelled
                // before it unlinks. Already cancelled: return without
                // parking (a lock, a waker clone, and the same to unpark).
                if let Some(cause) = node.recorded_cause() {
                    return Poll::Ready(Err(Cancelled::new(cause)));
                }
                body.ambient.parked = true;
                if let Some(cause) = node.park(cx.waker()) {
                    return Poll::Ready(Err(Cancelled::new(cause)));
                }
            } else {
                if this.waiter.is_none() {
                    // A cause already recorded (cancelled before the body
                    // could finish): return without the waiter (a token
                    // clone and two locks). Not cancel_seen, as above.
                    if let Some(cause) = node.recorded_cause() {
                        return Poll::Ready(Err(Cancelled::new(cause)));
                    }
                    // Created lazily: a body that is ready at once never pays for it.
                    let ct = node.ct().clone();
                    this.waiter.set(Some(ct.cancelled_owned()));
                }
                if let Some(waiter) = this.waiter.as_mut().as_pin_mut() {
                    if waiter.poll(cx).is_ready() {
                        return Poll::Ready(Err(Self::cancelled(this.scope)));
                    }
                }
            }
        }
        if let Some(at) = arm {
            // The body waits: now the deadline needs a timer.
            *this.deadline = Some(Box::pin(tokio::time::sleep_until(at)));
        }
        let expired = match this.deadline.as_mut() {
            Some(sleep) => sleep.as_mut().poll(cx).is_ready(),
            None => false,
        };
        if expired {
            *this.deadline = None;
            this.scope.node().cancel_with(Cause::Deadline);
            if !cooperative {
                return Poll::Ready(Err(Self::cancelled(this.scope)));
            }
            // Cooperative: the body watches the token, which was just
            // cancelled, and runs on until it notices.
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unarmed_deadline_takes_no_more_room_than_a_duration() {
        assert_eq!(
            std::mem::size_of::<Option<Timer>>(),
            std::mem::size_of::<Option<Duration>>()
        );
    }
}
