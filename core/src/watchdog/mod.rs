//! A runtime fallback for scopes that live too long.
//!
//! A scope parked in a long-lived collection, or owned by a task stuck on
//! something else, never ends, and neither do the tasks waiting on its
//! token. A watchdog looks at the live scopes every `interval` and, for each
//! one older than `max_age`, **reports it once** — a `WARN` event `scope
//! overdue` (feature `tracing`) and the counter
//! `scoped_cancel_watchdog_overdue_total{name}` (feature `metrics`) — and,
//! with [`cancel_overdue(true)`](WatchdogBuilder::cancel_overdue),
//! **cancels it** with [`Cause::Expired`](crate::Cause::Expired).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::time::Duration;
//! use scoped_cancel::{watchdog::Watchdog, Cause, Registry};
//!
//! static JOBS: Registry<u64> = Registry::new();
//! tokio::time::pause();
//!
//! let watchdog = Watchdog::builder(Duration::from_secs(60))
//!     .interval(Duration::from_secs(10))
//!     .cancel_overdue(true)
//!     .watch(&JOBS);
//!
//! let parked = JOBS.enter(7).unwrap();           // kept, never dropped
//! let token = parked.token();
//! token.cancelled().await;                        // released by the watchdog
//! assert_eq!(token.cause(), Some(Cause::Expired));
//! assert!(JOBS.contains_key(&7));                 // the guard still holds the key
//! assert_eq!(watchdog.reported(), 1);
//! watchdog.stop().await;
//! drop(parked);
//! # }
//! ```
//!
//! # What it can fix, and what it cannot
//!
//! Cancelling an overdue scope releases everything that waits on its token:
//! the tasks blocked on `token.cancelled()`, a `Scope::run`/`#[scoped_cancel]`
//! body raced against it, children of it. It cannot end the scope itself:
//! only its guard does that, so a parked scope keeps its registry entry (the
//! key stays occupied), its tracking record and its place in the live gauge
//! until whoever holds it drops it. A body that is not raced and never
//! looks at its token (`cooperative`) runs on. Use it as the last line of
//! defence it is: it keeps a forgotten scope from holding waiters forever,
//! and it names the holder so the code can be fixed.
//!
//! # Ages
//!
//! A scope's age is the larger of its own age (the coarse clock it was
//! stamped with) and the time since this watchdog first saw it, on tokio's
//! clock (so a paused test clock drives it). A scope is reported at most
//! once per watchdog, at the first sweep after it crosses `max_age`.
//!
//! Each sweep snapshots the live scopes under the source's locks, releases
//! them, then cancels and reports: no event or waker runs under a lock.

mod source;
mod sweep;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::registry::{Key, Registry};
use crate::scope::Scope;
use crate::token::Token;
use source::{RegistrySource, Source, TrackedSource};
use sweep::Sweeper;

/// How a watchdog is set up; [`watch`](WatchdogBuilder::watch) or
/// [`watch_tracked`](WatchdogBuilder::watch_tracked) starts it.
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `watch` or `watch_tracked` starts the watchdog"]
pub struct WatchdogBuilder {
    max_age: Duration,
    interval: Duration,
    cancel_overdue: bool,
}

impl WatchdogBuilder {
    /// How often to look (default: a quarter of `max_age`, at least 1 ms).
    /// A scope is reported up to one interval after it crosses `max_age`.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Cancel each overdue scope with [`Cause::Expired`](crate::Cause::Expired)
    /// (default: only report it).
    pub fn cancel_overdue(mut self, cancel: bool) -> Self {
        self.cancel_overdue = cancel;
        self
    }

    /// Watches one registry's scopes. The watchdog holds the registry's
    /// storage weakly: it stops by itself if the registry is dropped.
    ///
    /// Spawns a task: needs a tokio runtime with time enabled.
    #[track_caller]
    pub fn watch<K: Key>(self, registry: &Registry<K>) -> Watchdog {
        self.start(RegistrySource::new(registry))
    }

    /// Watches every tracked scope in the process: those recorded by
    /// process-wide tracking ([`track_process`](crate::live::track_process))
    /// and by every [`Collector`](crate::live::Collector) alive (an
    /// instrumented runtime's, a test's) — anonymous scopes included. A
    /// scope created while no tracking recorded it is invisible to it.
    ///
    /// Spawns a task: needs a tokio runtime with time enabled.
    #[track_caller]
    pub fn watch_tracked(self) -> Watchdog {
        self.start(TrackedSource)
    }

    #[track_caller]
    fn start<S: Source>(self, source: S) -> Watchdog {
        // The watchdog's task runs in a scope of its own: dropping the
        // handle cancels it, and a leak check sees it until it has stopped.
        let scope = Scope::builder().name("scoped_cancel::watchdog").build();
        let token = scope.token();
        let reported = Arc::new(AtomicU64::new(0));
        let sweeper = Sweeper::new(self, token.clone(), reported.clone());
        let task = tokio::spawn(async move {
            let _ = scope.run(sweeper.run(source)).await;
        });
        Watchdog {
            token,
            task: Some(task),
            reported,
        }
    }
}

/// A running watchdog. Dropping it (or [`stop`](Watchdog::stop)) stops it.
#[must_use = "the watchdog stops when this handle is dropped"]
#[derive(Debug)]
pub struct Watchdog {
    token: Token,
    task: Option<JoinHandle<()>>,
    reported: Arc<AtomicU64>,
}

impl Watchdog {
    /// A watchdog that reports scopes older than `max_age`; see
    /// [`WatchdogBuilder`] for the options.
    pub fn builder(max_age: Duration) -> WatchdogBuilder {
        WatchdogBuilder {
            max_age,
            interval: (max_age / 4).max(Duration::from_millis(1)),
            cancel_overdue: false,
        }
    }

    /// How many scopes this watchdog has reported overdue so far.
    pub fn reported(&self) -> u64 {
        self.reported.load(Ordering::Relaxed)
    }

    /// Stops the watchdog and waits until its task has ended.
    pub async fn stop(mut self) {
        self.token.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // The task ends at its next poll; `stop` also waits for that.
        self.token.cancel();
    }
}
