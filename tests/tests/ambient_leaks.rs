//! Nested calls through the current scope leak nothing: after thousands of
//! chains ending every way (finished, caller cancelled, deadline, panic,
//! dropped mid-flight), the registry is empty, no task is left, live heap
//! bytes (counted by this binary's allocator) are back where they were, and
//! no scope is current.

use std::future::pending;

use scoped_cancel::{scoped_cancel, Cancelled, Registry, Scope, Token};
use scoped_cancel_tests::{with_quiet_panics, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

static JOBS: Registry<u64> = Registry::new();

/// The innermost call: keyed, so a leaked scope would also leave an entry.
#[scoped_cancel(registry = JOBS, key = id)]
async fn leaf(id: u64, how: u64) -> Result<u64, Cancelled> {
    match how {
        0 => Ok(id),
        3 => panic!("leaf {id} fails"),
        _ => {
            pending::<()>().await;
            Ok(id)
        }
    }
}

#[scoped_cancel]
async fn middle(id: u64, how: u64) -> Result<u64, Cancelled> {
    assert!(Token::current().is_some());
    leaf(id, how).await
}

#[scoped_cancel(timeout = "1s")]
async fn top(id: u64, how: u64) -> Result<u64, Cancelled> {
    middle(id, how).await
}

/// One chain per id, its exit chosen by `id % 5`: finished, caller
/// cancelled, deadline, panic, dropped mid-flight.
async fn chains(ids: std::ops::Range<u64>) {
    for id in ids {
        let how = id % 5;
        let request = Scope::root();
        let caller = request.token();
        let task = tokio::spawn(request.run(top(id, how)));
        match how {
            1 => {
                tokio::task::yield_now().await;
                caller.cancel();
                let _ = task.await.unwrap();
            }
            3 => assert!(task.await.unwrap_err().is_panic()),
            4 => {
                tokio::task::yield_now().await;
                task.abort();
                assert!(task.await.unwrap_err().is_cancelled());
            }
            // 0 finishes; 2 waits for the 1 s deadline (paused clock).
            _ => {
                let _ = task.await.unwrap();
            }
        }
    }
}

#[test]
fn nested_chains_leave_no_entry_task_heap_or_current_scope() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    with_quiet_panics(|| {
        runtime.block_on(async {
            chains(0..2_000).await; // warm up storage, timers and slabs
            assert!(JOBS.is_empty());
            let tasks_before = tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks();
            let heap_before = ALLOC.live_bytes();

            chains(2_000..22_000).await;

            assert!(JOBS.is_empty(), "entries left: {:?}", JOBS.report());
            let tasks_after = tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks();
            assert_eq!(tasks_after, tasks_before, "tasks left behind");
            let grown = ALLOC.live_bytes() - heap_before;
            assert!(grown.abs() < 4 * 1024, "live heap moved by {grown} bytes");
            assert_eq!(Token::current(), None);
        });
    });
}
