//! A million tasks through task groups — fail-fast and supervised, with
//! failures, cancels and tasks that wait — leave no task, no scope and no
//! heap behind. Alone in its binary: the counting allocator counts every
//! thread of the process.

use std::time::Duration;

use scoped_cancel::{live, GroupError, TaskGroup};
use scoped_cancel_support::{alive_tasks, stress_iterations};
use scoped_cancel_tests::CountingAlloc;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

/// `groups` groups of 1,000 tasks on a fresh runtime, instrumented by a
/// fresh collector, both dropped at the end.
fn rounds(groups: u64) {
    let collector = live::Collector::new();
    let rt = collector
        .instrument(tokio::runtime::Builder::new_multi_thread().worker_threads(2))
        .enable_all()
        .build()
        .unwrap();
    let _attached = collector.attach_current_thread();
    rt.block_on(async {
        let warm = async {
            let mut group = TaskGroup::<u64, u64>::new();
            group.spawn(async { Ok(1) });
            group.join().await.unwrap();
        };
        warm.await;
        let (mut ok, mut failed, mut cancelled) = (0u64, 0u64, 0u64);
        for round in 0..groups {
            let mut group = if round % 2 == 0 {
                TaskGroup::<u64, u64>::new()
            } else {
                TaskGroup::supervised()
            };
            // A group cancelled below keeps one task waiting until then:
            // on two workers the others may all be done before the cancel.
            let cancelled_round = round % 5 == 4;
            for i in 0..1_000u64 {
                group.spawn(async move {
                    if cancelled_round && i == 0 {
                        std::future::pending::<()>().await;
                    }
                    match (round + i) % 500 {
                        // One failure in some groups, late in the batch.
                        499 if round % 3 == 0 => Err(i),
                        n if n % 7 == 0 => {
                            tokio::task::yield_now().await;
                            Ok(i)
                        }
                        _ => Ok(i),
                    }
                });
            }
            if cancelled_round {
                group.cancel();
            }
            match group.join().await {
                Ok(values) => {
                    assert!(!cancelled_round, "round {round} was cancelled");
                    assert_eq!(values.len(), 1_000);
                    ok += 1;
                }
                Err(GroupError::Failed(_)) => failed += 1,
                Err(GroupError::Cancelled(_)) => cancelled += 1,
                Err(GroupError::Panicked(_)) => unreachable!(),
            }
        }
        assert!(
            ok > 0 && failed > 0 && cancelled > 0,
            "{ok} {failed} {cancelled}"
        );
        assert_eq!(alive_tasks(Duration::from_secs(10)).await, 0);
        assert!(collector.is_empty(), "{:?}", collector.scopes());
    });
    drop(rt);
    drop(_attached);
    drop(collector);
}

#[test]
fn a_million_tasks_through_groups_leave_no_task_scope_or_heap_behind() {
    // Once first: what the process keeps for good (thread-locals, tokio's
    // and this crate's statics) is made here.
    rounds(15);
    let heap = ALLOC.live_bytes();
    let groups = stress_iterations(1_000) as u64;
    rounds(groups);
    // The runtime and the collector (and its records) gone, the heap is
    // back where it was: nothing of a million tasks stays behind.
    let left = ALLOC.live_bytes() - heap;
    assert!(
        left <= 1024,
        "{left} bytes left behind by {groups} groups of 1,000 tasks"
    );
}
