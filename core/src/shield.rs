//! `shield`: cleanup that the enclosing scopes' cancellation does not reach,
//! bounded by a timeout of its own.
//!
//! A shield runs its future in a root scope of its own (marked as a shield
//! in dumps), so no enclosing cancel reaches it. While it is pending it
//! marks the scope whose body is being polled around it (the current one);
//! every race of a body against its scope ([`Run`](crate::Run): the macro,
//! `Scope::run*`, the tower layer's handler) reads its scope's mark after
//! polling its body, passes it on to the race around it, and while it is
//! up does not end the body for a cancel: the body is dropped
//! at the first `.await` after the shield, and the call then returns the
//! enclosing scope's cause. A deadline that passes meanwhile still cancels
//! the enclosing scope (so its token reads `Deadline`); only the drop waits.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;

use crate::cause::Cancelled;
use crate::run::Run;
use crate::scope::Scope;

/// Runs `fut` to completion in a scope that the enclosing scopes'
/// cancellation does not reach, for at most `timeout`.
///
/// For cleanup that must finish even when the work around it is cancelled
/// (releasing a lease, writing a final status, rolling back), yet must not
/// hang: Trio's `CancelScope(shield=True)`, Kotlin's
/// `withContext(NonCancellable)` under `withTimeout`.
///
/// - Inside, [`Token::current`](crate::Token::current) is the shield's own
///   scope: a root, whose only deadline is `timeout` (`Duration::MAX`: none).
///   It ends with [`Cause::Deadline`](crate::Cause::Deadline) when
///   `timeout` passes, and then `fut` is dropped and `Err` returned.
/// - While the shield runs inside the body of a `#[scoped_cancel]` fn or of
///   [`Scope::run`] (at any depth of nesting), cancelling the enclosing
///   scopes does not drop that body: the shield finishes, and the body is
///   dropped at its next `.await`, the call returning the enclosing scope's
///   cause. A body that finishes right after the shield keeps its result.
/// - Outside any scope, it is `fut` with a timeout.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// use std::time::Duration;
/// use scoped_cancel::{shield, Cause, Scope};
///
/// let job = Scope::root();
/// let handle = job.token();
/// let call = tokio::spawn(job.run(async {
///     // ... work, then cleanup that must complete:
///     let flushed = shield(Duration::from_secs(5), async {
///         tokio::time::sleep(Duration::from_secs(1)).await;
///         "flushed"
///     })
///     .await;
///     assert_eq!(flushed, Ok("flushed"));      // not cut short
///     std::future::pending::<()>().await;      // dropped here
/// }));
/// tokio::time::sleep(Duration::from_millis(10)).await;
/// handle.cancel();                             // while the shield runs
/// let out = call.await.unwrap();
/// assert_eq!(out.unwrap_err().cause(), Cause::Requested);
/// # }
/// ```
///
/// # Panics
///
/// Like [`Scope::run_timeout`], a poll that must start its timer panics
/// without a tokio runtime with time enabled (never for `Duration::MAX`).
#[track_caller]
pub fn shield<F: Future>(timeout: Duration, fut: F) -> Shield<F> {
    let scope = Scope::builder().name("scoped_cancel::shield").build();
    scope.node().mark_shield();
    Shield {
        run: scope.run_timeout(timeout, fut),
    }
}

pin_project! {
    /// The future [`shield`] returns.
    #[must_use = "futures do nothing unless polled"]
    pub struct Shield<F> {
        #[pin]
        run: Run<F>,
    }
}

impl<F: Future> Future for Shield<F> {
    type Output = Result<F::Output, Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let polled = self.project().run.poll(cx);
        if polled.is_pending() {
            crate::ambient::mark_current_shielded();
        }
        polled
    }
}

impl<F> std::fmt::Debug for Shield<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shield").finish_non_exhaustive()
    }
}
