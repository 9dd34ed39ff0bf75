//! Eager starts: a keyed job's refusal reaches its caller at once, and a
//! cancel right after the start cannot miss the job.
//!
//! `tokio::spawn(job(id))` enters `job`'s scope only when the task first
//! runs: a server that answers "202 Accepted" right after it has already
//! answered a duplicate that will die quietly with `KeyOccupied`, and a
//! `cancel(&id)` sent at once may find nothing to cancel. [`start`] polls
//! the call once on the caller's thread — where a `#[scoped_cancel]` fn
//! enters its scope or is refused — and only then spawns it;
//! [`Registry::spawn`] enters the key itself and spawns the future in the
//! new scope (tokio-util's `JoinMap::spawn`, with the key refused when it
//! is taken).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tokio::task::JoinHandle;

use crate::cause::Cancelled;
use crate::registry::{EnterError, Key, Registry};
use crate::site::Origin;

/// Starts `fut` now and runs it on as a task: its first poll happens here,
/// on the caller's thread, and `Err` returns its output if it finished
/// there; otherwise it is spawned and the task's handle returned.
///
/// For a `#[scoped_cancel(registry = .., key = ..)]` fn, that first poll
/// enters the key, so a refusal (the key is taken, the registry is shutting
/// down) comes back at once as `Err(output)`, and once this returns `Ok`
/// the key is held: a [`Registry::cancel`] right after cannot miss it.
///
/// The call runs its first steps (up to its first `.await` that waits) on
/// this thread, and if this thread is polling a scope, a `#[scoped_cancel]`
/// fn becomes its child: start long-lived jobs with `detached` (or from
/// outside any scope) so that they outlive the request that started them.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use scoped_cancel::{scoped_cancel, start, Cancelled, Cause, Registry};
///
/// static EXPORTS: Registry<u64> = Registry::new();
///
/// #[scoped_cancel(registry = EXPORTS, key = id, detached)]
/// async fn export(id: u64) -> Result<u64, Cancelled> {
///     std::future::pending::<()>().await;
///     Ok(id)
/// }
///
/// let running = start(export(7)).expect("the key was free");
/// // A duplicate is refused at once, not later in a task nobody watches.
/// match start(export(7)) {
///     Err(Err(refused)) => assert_eq!(refused.cause(), Cause::KeyOccupied),
///     _ => panic!("a second export of 7 must be refused"),
/// }
/// assert!(EXPORTS.cancel(&7));                 // cannot miss the job
/// assert_eq!(running.await.unwrap().unwrap_err().cause(), Cause::Requested);
/// # }
/// ```
///
/// # Panics
///
/// Without a tokio runtime on this thread, with a message saying so (if
/// the call did not finish in its first poll).
#[track_caller]
pub fn start<F>(fut: F) -> Result<JoinHandle<F::Output>, F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut fut = Box::pin(fut);
    // A waker that wakes nothing: the task polls the call again as soon as
    // it runs, which registers its own waker for whatever this poll waited on.
    if let Poll::Ready(out) = fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        return Err(out);
    }
    crate::needs_tokio::runtime("`scoped_cancel::start`", "to spawn the call");
    Ok(tokio::spawn(Started(fut)))
}

/// A started call, boxed once by [`start`] and moved into its task.
struct Started<F: Future>(Pin<Box<F>>);

impl<F: Future> Future for Started<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl<K: Key> Registry<K> {
    /// Enters a new scope under `key` now and spawns `fut` as a task in it,
    /// raced against it ([`Scope::run`](crate::Scope::run)); the key is held
    /// until the task ends, and [`shutdown`](Registry::shutdown) waits for
    /// it. A refused key comes back at once, with the future not spawned:
    /// tokio-util's `JoinMap::spawn`, for keys with at most one live job.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use scoped_cancel::{Cause, EnterError, Registry};
    ///
    /// static EXPORTS: Registry<u64> = Registry::new();
    ///
    /// let task = EXPORTS.spawn(7, std::future::pending::<()>()).unwrap();
    /// assert!(matches!(EXPORTS.spawn(7, async {}), Err(EnterError::Occupied(7))));
    /// assert!(EXPORTS.cancel(&7));
    /// assert_eq!(task.await.unwrap().unwrap_err().cause(), Cause::Requested);
    /// assert!(EXPORTS.is_empty());
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// Without a tokio runtime on this thread, with a message saying so.
    #[track_caller]
    pub fn spawn<F>(
        &self,
        key: K,
        fut: F,
    ) -> Result<JoinHandle<Result<F::Output, Cancelled>>, EnterError<K>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        crate::needs_tokio::runtime("`Registry::spawn`", "to spawn the task");
        let scope = self.enter_at(key, Origin::caller("Registry::spawn"), None)?;
        let counted = crate::node::TaskCount::below(scope.node());
        Ok(tokio::spawn(async move {
            let out = scope.run(fut).await;
            drop(counted);
            out
        }))
    }
}
