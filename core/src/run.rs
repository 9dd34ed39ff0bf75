//! `Run`: a future raced against its scope's token and an optional deadline.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Instant;

use crate::ambient::{swap, Entered};
use crate::cause::Cancelled;
use crate::node::Node;
use crate::race::Watch;
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

    /// A timeout, or none for one no clock can reach (`Duration::MAX`
    /// means "no limit").
    pub(crate) fn after(timeout: Duration) -> Option<Timer> {
        (timeout != Duration::MAX).then_some(Timer::After(timeout))
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
        watch: Watch,
        timer: Option<Timer>,
        scope: Scope,
    }

    impl<F> PinnedDrop for Run<F> {
        fn drop(this: Pin<&mut Self>) {
            // Before the body and the scope drop: the scope's end then has
            // no waker to wake, and the node does not keep the task alive.
            let this = this.project();
            this.watch.unpark(this.scope.node());
        }
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

/// What a [`Body`] swaps in, and two flags that fit in its padding. Only
/// ever a field of a `Body`.
struct Ambient {
    handle: Option<Arc<Node>>,
    cooperative: bool,
    /// The body returned `Ready`.
    finished: bool,
}

impl Drop for Ambient {
    fn drop(&mut self) {
        // Undoes the swap of `Body`'s drop, which has run just before.
        if !self.finished {
            swap(&mut self.handle);
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
                },
            },
            watch: Watch::new(),
            timer,
            scope,
        }
    }
}

impl<F: Future> Future for Run<F> {
    type Output = Result<F::Output, Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // Armed on the first poll: a timeout counts from when the call
        // starts, and the scope's deadline is set at that moment, before the
        // body first runs and may read it. The timer itself is made only if
        // the body waits (`race.rs`).
        if let Some(timer) = this.timer.take() {
            arm(this.scope, this.watch, timer);
        }
        let body = this.body.project();
        let cooperative = body.ambient.cooperative;
        let (node, link) = this.scope.node_and_link();
        let raced = this.watch.race(node, link, cooperative, cx, |cx| {
            let _current = Entered::new(&mut body.ambient.handle);
            body.fut.poll(cx)
        });
        match raced {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(out)) => {
                body.ambient.finished = true;
                this.watch.unpark(this.scope.node());
                Poll::Ready(Ok(out))
            }
            Poll::Ready(Err(ended)) => {
                this.watch.unpark(this.scope.node());
                let cancelled = crate::race::cancelled(this.scope.node());
                if ended.by_deadline {
                    this.scope.mark_cancel_seen();
                }
                Poll::Ready(Err(cancelled))
            }
        }
    }
}

/// Sets the scope's deadline from `timer` at the first poll.
#[cold]
fn arm(scope: &Scope, watch: &mut Watch, timer: Timer) {
    // One centuries away (overflowing `Instant`) never fires.
    let at = match timer {
        Timer::After(timeout) => Instant::now().checked_add(timeout),
        Timer::At(at) => Some(crate::deadline::decode(at)),
    };
    if let Some(at) = at {
        scope.node().lower_deadline(at);
    }
    watch.set_deadline(at);
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
