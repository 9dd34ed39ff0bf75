//! The leak check: run, then wait with backoff until every recorded scope
//! and every task has ended, or the grace period is over.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::{Builder, Handle, Runtime};

use super::report::LeakReport;
use crate::live::{AttachGuard, Collector};

/// How long a check waits by default for scopes and tasks to end, after the
/// body returned (`#[scoped_cancel::test]`'s default `grace`).
pub const DEFAULT_GRACE: Duration = Duration::from_millis(500);

/// The first pause between two looks; doubled after every look.
const FIRST_BACKOFF: Duration = Duration::from_micros(1);
/// Pauses shorter than this yield to the runtime instead of sleeping
/// (tokio's timer has a resolution of 1 ms).
const SLEEP_FROM: Duration = Duration::from_millis(1);
/// The longest pause between two looks.
const MAX_BACKOFF: Duration = Duration::from_millis(100);

/// A leak check for code that builds its own runtime or runs under another
/// harness (nextest, a custom `main`): what `#[scoped_cancel::test]` does,
/// step by step.
///
/// It owns a fresh [`Collector`]. Scopes are attributed to the check when
/// they are created on a thread it is attached to: the runtime's threads
/// ([`instrument`](LeakCheck::instrument)) and the thread running
/// [`block_on`](LeakCheck::block_on). Scopes created on threads you start
/// yourself (`std::thread::spawn`, another runtime) belong to no check.
///
/// ```
/// use std::time::Duration;
/// use scoped_cancel::testing::LeakCheck;
///
/// let check = LeakCheck::new().grace(Duration::from_millis(100));
/// let rt = check
///     .instrument(&mut tokio::runtime::Builder::new_multi_thread())
///     .worker_threads(2)
///     .build()
///     .unwrap();
/// check.block_on(&rt, async {
///     let scope = scoped_cancel::Scope::root();
///     let task = scope.spawn(async { 1 + 1 });
///     assert_eq!(task.await.unwrap().unwrap(), 2);
/// });
/// check.wait(&rt).unwrap(); // Err(report) names each scope left alive
/// ```
#[derive(Debug)]
pub struct LeakCheck {
    collector: Arc<Collector>,
    grace: Duration,
}

impl Default for LeakCheck {
    fn default() -> Self {
        LeakCheck::new()
    }
}

impl LeakCheck {
    /// A check with a fresh collector and the [`DEFAULT_GRACE`] period.
    pub fn new() -> LeakCheck {
        LeakCheck {
            collector: Collector::new(),
            grace: DEFAULT_GRACE,
        }
    }

    /// How long [`wait`](LeakCheck::wait) waits for scopes and tasks that
    /// end a little after the body, measured on the runtime's clock (so a
    /// paused clock advances through it).
    pub fn grace(mut self, grace: Duration) -> LeakCheck {
        self.grace = grace;
        self
    }

    /// The check's collector.
    pub fn collector(&self) -> &Arc<Collector> {
        &self.collector
    }

    /// Attaches the check to every thread of the runtime `builder` builds
    /// (see [`Collector::instrument`]: this replaces the builder's
    /// `on_thread_start` / `on_thread_stop` hooks) and enables its timer,
    /// which the wait needs.
    pub fn instrument<'b>(&self, builder: &'b mut Builder) -> &'b mut Builder {
        self.collector.instrument(builder).enable_time()
    }

    /// Attaches the check to the current thread until the guard drops, for
    /// code that runs the runtime its own way.
    pub fn attach_current_thread(&self) -> AttachGuard {
        self.collector.attach_current_thread()
    }

    /// `rt.block_on(fut)` with the check attached to this thread, which is
    /// where a current-thread runtime runs its tasks.
    pub fn block_on<F: Future>(&self, rt: &Runtime, fut: F) -> F::Output {
        let _attached = self.collector.attach_current_thread();
        rt.block_on(fut)
    }

    /// Waits, driving `rt`, until every scope recorded by this check has
    /// ended and `rt` has no task alive, or the grace period is over.
    ///
    /// It looks with exponential backoff (1 µs doubling to 100 ms, as
    /// goleak does): tokio's alive-task count lags task completion on the
    /// multi-thread runtime, so one look is never enough. Call it from
    /// outside the runtime; inside, use [`wait_async`](LeakCheck::wait_async).
    pub fn wait(&self, rt: &Runtime) -> Result<(), LeakReport> {
        // Attached while waiting too: a current-thread runtime runs its
        // tasks here, and what they create now belongs to the check.
        let _attached = self.collector.attach_current_thread();
        let report = rt.block_on(wait_for_ends(&self.collector, rt.handle(), self.grace, 0));
        if report.is_clean() {
            Ok(())
        } else {
            Err(report)
        }
    }

    /// [`wait`](LeakCheck::wait) from inside the runtime (its timer must be
    /// enabled). Called from a spawned task, that task is not counted.
    pub async fn wait_async(&self) -> Result<(), LeakReport> {
        let own = usize::from(tokio::task::try_id().is_some());
        let report = wait_for_ends(&self.collector, &Handle::current(), self.grace, own).await;
        if report.is_clean() {
            Ok(())
        } else {
            Err(report)
        }
    }

    /// Builds a runtime from `builder`, instrumented; runs `fut` on it; waits;
    /// and shuts the runtime down without waiting for what is left (a leak
    /// never hangs the caller). `Err` carries the report.
    pub fn run<F: Future>(&self, builder: &mut Builder, fut: F) -> Result<F::Output, LeakReport> {
        let rt = Background(Some(
            self.instrument(builder)
                .build()
                .expect("scoped_cancel: failed to build the tokio runtime"),
        ));
        let out = self.block_on(rt.get(), fut);
        self.wait(rt.get()).map(|()| out)
    }
}

/// Runs `fut` on a runtime built from `builder` under a fresh
/// [`LeakCheck`] with the default grace period: the function form of
/// `#[scoped_cancel::test]`.
///
/// ```
/// use scoped_cancel::{testing, Scope};
///
/// let leaked = testing::check(&mut tokio::runtime::Builder::new_current_thread(), async {
///     let scope = Scope::builder().name("kept forever").build();
///     Box::leak(Box::new(scope)); // never dropped: a leak
/// });
/// let report = leaked.unwrap_err();
/// assert_eq!(report.scopes()[0].name(), "kept forever");
/// assert!(report.to_string().contains(file!()));
/// ```
pub fn check<F: Future>(builder: &mut Builder, fut: F) -> Result<F::Output, LeakReport> {
    LeakCheck::new().run(builder, fut)
}

/// A runtime shut down in the background when dropped, so that a stuck
/// task or blocking closure never hangs a test.
pub(crate) struct Background(pub(crate) Option<Runtime>);

impl Background {
    pub(crate) fn get(&self) -> &Runtime {
        self.0.as_ref().expect("runtime taken before drop")
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Looks until the collector is empty and `handle` has no task alive beyond
/// `own` (the caller's task), or `grace` has passed on the runtime's clock.
async fn wait_for_ends(
    collector: &Collector,
    handle: &Handle,
    grace: Duration,
    own: usize,
) -> LeakReport {
    let started = tokio::time::Instant::now();
    let tasks = || handle.metrics().num_alive_tasks().saturating_sub(own);
    let mut pause = FIRST_BACKOFF;
    loop {
        let waited = started.elapsed();
        if collector.is_empty() && tasks() == 0 {
            return LeakReport {
                scopes: Vec::new(),
                tasks: 0,
                waited,
            };
        }
        if waited >= grace {
            return LeakReport {
                scopes: collector.scopes(),
                tasks: tasks(),
                waited,
            };
        }
        if pause < SLEEP_FROM {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(pause.min(grace - waited)).await;
        }
        pause = (pause * 2).min(MAX_BACKOFF);
    }
}
