//! A million keyed scopes with mixed exits leave nothing behind: the registry
//! empty, the runtime's alive-task count where it started, and live heap
//! bytes (counted by this binary's allocator) where they started.

use std::future::pending;
use std::time::Duration;

use scoped_cancel::{Cancelled, Registry};
use scoped_cancel_tests::{with_quiet_panics, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

static JOBS: Registry<u64> = Registry::new();

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
                panic!("job {id} failed");
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    with_quiet_panics(|| {
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
