//! A million keyed scopes with mixed exits leave nothing behind: the registry
//! empty, the runtime's alive-task count where it started, and live heap
//! bytes (counted by this binary's allocator) where they started. A second
//! test does the same on a multi-thread runtime through `#[scoped_cancel]`,
//! mixing cancel by key, `cancel_all`, parents that exit, and
//! `shutdown`/`reopen`, and bounds the heap after every round, so that a
//! leak of one allocation every few rounds cannot hide in the total.
//!
//! The two tests take `HEAP` in turn: the allocator counts every thread.

use std::future::pending;
use std::sync::Mutex;
use std::time::Duration;

use scoped_cancel::{scoped_cancel, Cancelled, Cause, Registry, Scope, Token};
use scoped_cancel_support::alive_tasks;
use scoped_cancel_tests::{with_quiet_panics, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

static JOBS: Registry<u64> = Registry::new();

/// Held by each test while it measures the heap.
static HEAP: Mutex<()> = Mutex::new(());

#[derive(Debug)]
struct JobError;

impl From<Cancelled> for JobError {
    fn from(_: Cancelled) -> Self {
        JobError
    }
}

/// One call, ending the way `id` selects.
async fn call(id: u64) -> Result<u64, JobError> {
    let scope = JOBS.enter(id).map_err(|_| JobError)?;
    match id % 10 {
        // `?` out of the middle of the scope.
        0 => Err(JobError).map(|()| 0),
        // Raced body that finishes.
        1 | 2 => Ok(scope.run(async { id }).await?),
        // Cancelled by key from the outside while it waits.
        3 => {
            let run = scope.run(pending::<u64>());
            let mut run = std::pin::pin!(run);
            assert!(futures_poll_once(run.as_mut()).await.is_none());
            JOBS.cancel(&id);
            Ok(run.await?)
        }
        // Deadline (the paused clock advances at once).
        4 => Ok(scope
            .run_timeout(Duration::from_millis(5), pending::<u64>())
            .await?),
        // Dropped at an await point by an outer timeout.
        5 => {
            let run = scope.run(pending::<u64>());
            let _ = tokio::time::timeout(Duration::from_millis(1), run).await;
            Err(JobError)
        }
        // Early return.
        6 => {
            if id > 0 {
                return Ok(1);
            }
            Ok(0)
        }
        // A task spawned from the scope, cancelled when the scope ends.
        7 if id % 100 == 7 => {
            let task = scope.spawn(pending::<()>());
            drop(scope);
            let _ = task.await;
            Ok(2)
        }
        _ => Ok(3),
    }
}

/// Polls `fut` once; `Some` if it finished.
async fn futures_poll_once<F: std::future::Future + Unpin>(fut: F) -> Option<F::Output> {
    let mut fut = fut;
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut fut).poll(cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

async fn batch(range: std::ops::Range<u64>) {
    for id in range {
        let _ = call(id).await;
        if id % 1000 == 999 {
            // A panic while the scope is held, caught through JoinError.
            let handle = tokio::spawn(async move {
                let _scope = JOBS.enter(u64::MAX - id).expect("free");
                panic!("job {id} failed on purpose");
            });
            assert!(handle.await.unwrap_err().is_panic());
        }
    }
}

fn total() -> u64 {
    std::env::var("SCOPED_CANCEL_MILLION")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

#[test]
fn a_million_mixed_exits_leave_no_entry_task_or_heap_behind() {
    let _heap = HEAP
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    with_quiet_panics("failed on purpose", || {
        runtime.block_on(async {
            // Warm up: registry storage, tokio's timer and task slabs, the
            // shard tables at their working size.
            batch(0..20_000).await;
            assert!(JOBS.is_empty());
            let tasks_before = tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks();
            let heap_before = ALLOC.live_bytes();

            batch(20_000..20_000 + total()).await;

            assert!(JOBS.is_empty(), "entries left: {:?}", JOBS.report());
            let tasks_after = tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks();
            assert_eq!(tasks_after, tasks_before, "tasks left behind");
            let heap_after = ALLOC.live_bytes();
            let grown = heap_after - heap_before;
            assert!(
                grown.abs() < 4 * 1024,
                "live heap moved by {grown} bytes ({heap_before} -> {heap_after})"
            );
        })
    });
}

static MT_JOBS: Registry<u64> = Registry::new();

/// How a multi-thread job's body behaves, chosen by its id.
#[scoped_cancel(registry = MT_JOBS, key = id, parent = parent)]
async fn mt_job(id: u64, parent: Token) -> Result<u64, Cancelled> {
    match id % 4 {
        0 => Ok(id),
        1 => {
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            Ok(id)
        }
        // Ends only when cancelled: by key, cancel_all, parent or shutdown.
        _ => pending().await,
    }
}

/// How many calls ended each way, summed over a run.
#[derive(Default, Debug)]
struct Endings {
    ok: usize,
    requested: usize,
    shutdown: usize,
    parent: usize,
    refused: usize,
}

impl Endings {
    fn count(&mut self, out: Result<u64, Cancelled>) {
        match out.map_err(|c| c.cause()) {
            Ok(_) => self.ok += 1,
            Err(Cause::Requested) => self.requested += 1,
            Err(Cause::Shutdown) => self.shutdown += 1,
            // The parent exited: the calls report its cause.
            Err(Cause::ScopeExited) => self.parent += 1,
            Err(Cause::ShuttingDown) => self.refused += 1,
            Err(other) => panic!("unexpected cause {other:?}"),
        }
    }
}

/// One round: `jobs` calls under one parent, spawned on the runtime and
/// ended in a mix chosen by `round`.
async fn mt_round(round: u64, jobs: u64, endings: &mut Endings) {
    let parent = Scope::builder().name("mt-parent").build();
    let base = round * jobs;
    let calls: Vec<_> = (base..base + jobs)
        .map(|id| tokio::spawn(mt_job(id, parent.token())))
        .collect();
    // Raced: some of these run before their call has entered its key.
    for id in (base..base + jobs).step_by(3) {
        MT_JOBS.cancel(&id);
    }
    // Once every waiting call has entered (or ended), cancels that hit.
    for (id, call) in (base..).zip(&calls) {
        while id % 4 >= 2 && !MT_JOBS.contains_key(&id) && !call.is_finished() {
            tokio::task::yield_now().await;
        }
    }
    for id in (base + 1..base + jobs).step_by(3) {
        MT_JOBS.cancel(&id);
    }
    match round % 4 {
        0 => {
            MT_JOBS.cancel_all();
        }
        1 => {
            let report = MT_JOBS.shutdown(Duration::from_secs(60)).await;
            assert!(report.is_clean(), "round {round}: {report}");
            MT_JOBS.reopen();
        }
        _ => {}
    }
    // The parent exits: every call still waiting ends with its cause,
    // `ScopeExited` (their own tokens read `Parent`).
    drop(parent);
    for call in calls {
        endings.count(call.await.expect("no call panics"));
    }
}

fn mt_rounds() -> u64 {
    std::env::var("SCOPED_CANCEL_MT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500)
}

#[test]
fn multi_thread_macro_calls_with_every_kind_of_cancel_leave_nothing_behind() {
    let _heap = HEAP
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    const JOBS_PER_ROUND: u64 = 100;
    runtime.block_on(async {
        let mut endings = Endings::default();
        // Warm up the registry's tables, the runtime's task slabs and timers.
        for round in 0..20 {
            mt_round(round, JOBS_PER_ROUND, &mut endings).await;
        }
        assert!(MT_JOBS.is_empty(), "entries left: {:?}", MT_JOBS.report());
        // Each shard's table grows to the most keys it ever held at once and
        // never shrinks: hold far more than a round ever does, once.
        let held: Vec<_> = (0..50 * JOBS_PER_ROUND)
            .map(|k| MT_JOBS.enter(u64::MAX - k).unwrap())
            .collect();
        drop(held);
        // The multi-thread runtime's count lags task completion: look again
        // with backoff until it settles (bounded), never sample once.
        let tasks_before = alive_tasks(Duration::from_secs(10)).await;
        // The live heap after each round, relative to the start; allocated
        // before the start is measured.
        let mut after_round: Vec<isize> = Vec::with_capacity(mt_rounds() as usize);
        let heap_before = ALLOC.live_bytes();

        let mut endings = Endings::default();
        for round in 20..20 + mt_rounds() {
            mt_round(round, JOBS_PER_ROUND, &mut endings).await;
            after_round.push(ALLOC.live_bytes() - heap_before);
        }

        assert!(MT_JOBS.is_empty(), "entries left: {:?}", MT_JOBS.report());
        assert!(!MT_JOBS.is_shutting_down());
        let tasks_after = alive_tasks(Duration::from_secs(10)).await;
        assert_eq!(tasks_after, tasks_before, "tasks left behind");
        // Per round: a sample can catch a round's last frees in flight, so
        // each window of rounds is judged by its lowest sample, and every
        // window must be back within `SLACK` of the start. A leak of more
        // than `SLACK / rounds` bytes per round (2 B at 500 rounds, one
        // allocation every 8 rounds) fails the last windows.
        const WINDOW: usize = 50;
        const SLACK: isize = 1024;
        for (w, window) in after_round.chunks(WINDOW).enumerate() {
            let settled = *window.iter().min().expect("a window has rounds");
            assert!(
                settled.abs() <= SLACK,
                "after rounds {}..{} the live heap settled {settled} bytes from the start \
                 ({} rounds of {JOBS_PER_ROUND} calls): {after_round:?}",
                w * WINDOW,
                w * WINDOW + window.len(),
                mt_rounds()
            );
        }
        // Every kind of ending happened, so the mix was exercised.
        assert!(
            endings.ok > 0 && endings.requested > 0 && endings.shutdown > 0 && endings.parent > 0,
            "{endings:?}"
        );
    });
}
