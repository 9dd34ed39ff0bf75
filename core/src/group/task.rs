//! One task of a group: its future raced in a child scope of the group,
//! panics caught, and its end reported to the group on every path (also
//! when the runtime drops the task unfinished).

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use pin_project_lite::pin_project;

use super::state::{Failure, Outcome, Shared};
use crate::cause::Cause;
use crate::run::Run;
use crate::token::Token;

pin_project! {
    /// A task's future, as spawned.
    pub(super) struct Task<F, T, E> {
        // Declared first, so it drops first: the task's scope has ended
        // before the group counts the task out.
        #[pin]
        run: Run<CatchUnwind<F>>,
        end: End<T, E>,
    }
}

/// What the task reports when it is dropped: its outcome (`Cancelled` if
/// it never got one), once.
pub(super) struct End<T, E> {
    pub(super) shared: Arc<Shared<T, E>>,
    pub(super) index: usize,
    /// The group's token, for a fail-fast group: its first failure cancels
    /// the group, and so the siblings.
    pub(super) fail_fast: Option<Token>,
    /// The task's own token, to end it as `Panicked` after a panic.
    pub(super) own: Token,
    pub(super) outcome: Option<Outcome<T, E>>,
    /// Counts the task in a keyed ancestor's registry until it ends.
    pub(super) _counted: Option<crate::node::TaskCount>,
}

impl<F, T, E> Task<F, T, E>
where
    F: Future<Output = Result<T, E>>,
{
    pub(super) fn new(run: Run<CatchUnwind<F>>, end: End<T, E>) -> Self {
        Task { run, end }
    }
}

impl<F, T, E> Future for Task<F, T, E>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let outcome = match ready!(this.run.poll(cx)) {
            Ok(Ok(Ok(value))) => Outcome::Value(value),
            Ok(Ok(Err(error))) => Outcome::Failure(Failure::Failed(error)),
            Ok(Err(panic)) => {
                // Unwound out of its poll, not through the scope's guard:
                // its scope ends as a panicked one would.
                let node = &this.end.own.node;
                if node.cancel_with(Cause::Panicked) {
                    crate::observe::cancelled(node, Cause::Panicked, || None);
                }
                Outcome::Failure(Failure::Panicked(panic))
            }
            Err(cancelled) => Outcome::Cancelled(cancelled),
        };
        this.end.outcome = Some(outcome);
        Poll::Ready(())
    }
}

impl<T, E> Drop for End<T, E> {
    fn drop(&mut self) {
        let outcome = self.outcome.take().unwrap_or_else(|| {
            Outcome::Cancelled(crate::cause::Cancelled::new(Cause::ScopeExited))
        });
        let first_failure = self.shared.end(self.index, outcome);
        if let (true, Some(group)) = (first_failure, &self.fail_fast) {
            let node = &group.node;
            if node.cancel_with(Cause::SiblingFailed) {
                crate::observe::cancelled(node, Cause::SiblingFailed, || None);
            }
        }
    }
}

pin_project! {
    /// Catches a panic of the inner future's poll.
    pub(super) struct CatchUnwind<F> {
        #[pin]
        fut: F,
    }
}

impl<F> CatchUnwind<F> {
    pub(super) fn new(fut: F) -> Self {
        CatchUnwind { fut }
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send + 'static>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = self.project().fut;
        match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}
