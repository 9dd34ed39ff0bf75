//! `Run`: a future raced against its scope's token and an optional deadline.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::WaitForCancellationFutureOwned;

use crate::ambient::Entered;
use crate::cause::{Cancelled, Cause};
use crate::scope::Scope;
use crate::token::Node;

/// A deadline not armed yet: relative ones start at the first poll.
pub(crate) enum Timer {
    After(Duration),
    At(Instant),
}

pin_project! {
    /// The future returned by [`Scope::run`], [`Scope::run_timeout`] and
    /// [`Scope::run_deadline`].
    ///
    /// While it polls (or drops) the body, its scope is the current one
    /// ([`Token::current`](crate::Token::current)). The body drops first
    /// and the scope last, so the body's destructors run before the token
    /// is cancelled and the key is released.
    #[must_use = "futures do nothing unless polled; dropping this ends the scope"]
    pub struct Run<F> {
        // `None` once finished or dropped: it drops while its scope is current.
        #[pin]
        body: Option<F>,
        // Boxed: tokio's `Sleep` is ≈ 100 B, which every call's future
        // (and every spawned job's task) would carry even without a
        // timeout; a timed call pays one allocation next to the timer
        // registration instead.
        deadline: Option<Pin<Box<Sleep>>>,
        // Waits for a child or adopted scope's token; a root's `Run` parks
        // its waker in the node instead (`parked`), see `token.rs`.
        #[pin]
        waiter: Option<WaitForCancellationFutureOwned>,
        timer: Option<Timer>,
        cooperative: bool,
        parked: bool,
        // A second handle to the scope's node, moved into the thread's
        // current-scope slot during each poll of the body: no reference
        // count is touched per poll. `None` only during such a poll.
        ambient: Option<Arc<Node>>,
        scope: Scope,
    }

    impl<F> PinnedDrop for Run<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            if this.body.is_some() {
                let _current = Entered::new(this.ambient);
                this.body.set(None);
            }
            // Before the scope drops: its end then has no waker to wake.
            if *this.parked {
                this.scope.node().unpark();
            }
        }
    }
}

impl<F: Future> Run<F> {
    pub(crate) fn new(scope: Scope, body: F, timer: Option<Timer>, cooperative: bool) -> Self {
        Run {
            body: Some(body),
            deadline: None,
            waiter: None,
            timer,
            cooperative,
            parked: false,
            ambient: Some(scope.node().clone()),
            scope,
        }
    }

    /// The error for a cancellation this future saw; the token is cancelled
    /// and, once its cause is read here, settled: the scope's drop can skip
    /// recording and cancelling.
    fn cancelled(scope: &mut Scope) -> Cancelled {
        let cause = scope.node().cause().unwrap_or(Cause::Parent);
        scope.settle();
        Cancelled::new(cause)
    }
}

impl<F: Future> Future for Run<F> {
    type Output = Result<F::Output, Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some(timer) = this.timer.take() {
            // Armed on the first poll: a timeout counts from when the call
            // starts, and the scope's deadline is set at that moment, before
            // the body first runs and may read it. One centuries away
            // (overflowing `Instant`) never fires.
            let at = match timer {
                Timer::After(timeout) => Instant::now().checked_add(timeout),
                Timer::At(at) => Some(at),
            };
            if let Some(at) = at {
                this.scope.node().lower_deadline(at);
                *this.deadline = Some(Box::pin(tokio::time::sleep_until(at)));
            }
        }
        // Biased: the body goes first, so finished work is never thrown away.
        {
            let _current = Entered::new(this.ambient);
            let polled = match this.body.as_mut().as_pin_mut() {
                Some(body) => body.poll(cx),
                None => panic!("`Run` polled after completion"),
            };
            if let Poll::Ready(out) = polled {
                // Dropped here, while its scope is still current, so that
                // the drop of `Run` needs no second swap of the slot.
                this.body.set(None);
                return Poll::Ready(Ok(out));
            }
        }
        if !*this.cooperative {
            let node = this.scope.node();
            if !node.has_parent() {
                // A root: only `cancel_with` cancels it, after recording the
                // cause, then wakes the parked waker. Not settled: the
                // canceller may still be between recording and cancelling,
                // so the scope's drop makes sure the token is cancelled
                // before it unlinks.
                // Already cancelled: return without parking (a lock, a
                // waker clone, and the same again to unpark).
                if let Some(cause) = node.recorded_cause() {
                    return Poll::Ready(Err(Cancelled::new(cause)));
                }
                *this.parked = true;
                if let Some(cause) = node.park(cx.waker()) {
                    return Poll::Ready(Err(Cancelled::new(cause)));
                }
            } else {
                if this.waiter.is_none() {
                    // A cause already recorded (cancelled before the body
                    // could finish): return without the waiter (a token
                    // clone and two locks). Not settled, as above.
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
        let expired = match this.deadline.as_mut() {
            Some(sleep) => sleep.as_mut().poll(cx).is_ready(),
            None => false,
        };
        if expired {
            *this.deadline = None;
            this.scope.node().cancel_with(Cause::Deadline);
            if !*this.cooperative {
                return Poll::Ready(Err(Self::cancelled(this.scope)));
            }
            // Cooperative: the body watches the token, which was just
            // cancelled, and runs on until it notices.
        }
        Poll::Pending
    }
}
