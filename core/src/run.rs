//! `Run`: a future raced against its scope's token and an optional deadline.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tokio_util::sync::WaitForCancellationFutureOwned;

use crate::cause::{Cancelled, Cause};
use crate::scope::Scope;

pin_project! {
    /// The future returned by [`Scope::run`] and [`Scope::run_timeout`].
    ///
    /// Fields drop in declaration order: the body first, the scope last, so
    /// the body's destructors run before the token is cancelled and the key
    /// is released.
    #[must_use = "futures do nothing unless polled; dropping this ends the scope"]
    pub struct Run<F> {
        #[pin]
        body: F,
        #[pin]
        deadline: Option<Sleep>,
        #[pin]
        waiter: Option<WaitForCancellationFutureOwned>,
        timeout: Option<Duration>,
        cooperative: bool,
        scope: Scope,
    }
}

impl<F: Future> Run<F> {
    pub(crate) fn new(scope: Scope, body: F, timeout: Option<Duration>, cooperative: bool) -> Self {
        Run {
            body,
            deadline: None,
            waiter: None,
            timeout,
            cooperative,
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
        if let Some(timeout) = this.timeout.take() {
            crate::needs_tokio::runtime(
                "a deadline (`Scope::run_timeout`, `#[scoped_cancel(timeout = ..)]`)",
                "with time enabled, for its timer",
            );
            // Armed on the first poll: the deadline counts from when the call starts.
            this.deadline.set(Some(tokio::time::sleep(timeout)));
        }
        // Biased: the body goes first, so finished work is never thrown away.
        if let Poll::Ready(out) = this.body.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        if !*this.cooperative {
            if this.waiter.is_none() {
                // A cause already recorded (cancelled before the body could
                // finish): return without the waiter (a token clone and two
                // locks). Not settled: the cancelling thread may still be
                // between recording and cancelling, so the scope's drop
                // makes sure the token is cancelled before it unlinks.
                if let Some(cause) = this.scope.node().recorded_cause() {
                    return Poll::Ready(Err(Cancelled::new(cause)));
                }
                // Created lazily: a body that is ready at once never pays for it.
                let ct = this.scope.node().ct.clone();
                this.waiter.set(Some(ct.cancelled_owned()));
            }
            if let Some(waiter) = this.waiter.as_mut().as_pin_mut() {
                if waiter.poll(cx).is_ready() {
                    return Poll::Ready(Err(Self::cancelled(this.scope)));
                }
            }
        }
        let expired = match this.deadline.as_mut().as_pin_mut() {
            Some(sleep) => sleep.poll(cx).is_ready(),
            None => false,
        };
        if expired {
            this.deadline.set(None);
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
