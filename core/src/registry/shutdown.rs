//! `Registry::shutdown`: refuse, cancel, wait, report.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;

use super::report::{report, ShutdownReport};
use super::storage::Waiting;
use super::{Key, Registry};
use crate::cause::Cause;

impl<K: Key> Registry<K> {
    /// Shuts the registry down within `grace` (`Duration::MAX`: no limit).
    ///
    /// When *called* (not when first polled) it makes every later
    /// [`enter`](Registry::enter) fail with
    /// [`EnterError::ShuttingDown`](crate::EnterError::ShuttingDown),
    /// refuses every call waiting for a key
    /// ([`enter_waiting`](Registry::enter_waiting)) the same way, and
    /// cancels every live scope with [`Cause::Shutdown`]. The returned future
    /// waits until every scope has ended and every task spawned from one
    /// ([`Scope::spawn`](crate::Scope::spawn)) has finished, or until `grace`
    /// has passed, and reports exactly the stragglers still alive then.
    /// Call [`reopen`](Registry::reopen) to accept scopes again; a shutdown
    /// still pending then keeps waiting until the registry is empty (scopes
    /// entered since included) or its grace has passed. Several shutdowns
    /// may wait at once; each is woken by every end.
    ///
    /// The future needs a tokio runtime with time enabled; polled without
    /// one, it panics saying so. Only tasks spawned with
    /// [`Scope::spawn`](crate::Scope::spawn) from a keyed scope or from its
    /// [`child`](crate::Scope::child) scopes are counted: a bare
    /// `tokio::spawn` is invisible to the registry.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use scoped_cancel::Registry;
    ///
    /// static JOBS: Registry<u64> = Registry::new();
    /// let worker = tokio::spawn(JOBS.enter(1).unwrap().run(std::future::pending::<()>()));
    ///
    /// let report = JOBS.shutdown(Duration::from_secs(1)).await;
    /// assert!(report.is_clean(), "{report}");
    /// assert!(JOBS.enter(2).is_err());       // refused until reopen()
    /// assert!(worker.await.unwrap().is_err());
    /// # }
    /// ```
    pub fn shutdown(
        &self,
        grace: Duration,
    ) -> impl Future<Output = ShutdownReport<K>> + Send + 'static {
        let started = Instant::now();
        let storage = self.storage().clone();
        // Invariant 4: the flag is set before cancel_all takes any shard lock.
        storage.common.refusing.store(true, Ordering::SeqCst);
        // After the flag: a waiter is refused here or when it queues.
        super::wait::refuse_waiters(&storage);
        self.cancel_all_with(Cause::Shutdown);
        async move {
            crate::needs_tokio::runtime(
                "the future of `Registry::shutdown`",
                "with time enabled, for its grace period",
            );
            // Counted before the first check below: every end from then on
            // wakes this future, whether or not the registry was reopened.
            let waiting = Waiting::new(storage.common.clone());
            let common = &waiting.0;
            // `Duration::MAX` (or any grace past what the clock can count)
            // waits without a deadline.
            let mut deadline = pin!(started.checked_add(grace).map(tokio::time::sleep_until));
            loop {
                let mut ended = pin!(common.ended.notified());
                // Registered before checking, so an end between the check and
                // the wait still wakes us.
                ended.as_mut().enable();
                if storage.len() == 0 && common.tasks.load(Ordering::SeqCst) == 0 {
                    break;
                }
                let timed_out = std::future::poll_fn(|cx| {
                    if ended.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(false);
                    }
                    match deadline.as_mut().as_pin_mut() {
                        Some(deadline) => deadline.poll(cx).map(|()| true),
                        None => Poll::Pending,
                    }
                })
                .await;
                if timed_out {
                    break;
                }
            }
            let report = ShutdownReport {
                stragglers: report(&storage),
                tasks: common.tasks.load(Ordering::SeqCst),
                elapsed: started.elapsed(),
            };
            for straggler in report.stragglers() {
                crate::observe::straggler(straggler.facts(), straggler.key());
            }
            report
        }
    }
}
