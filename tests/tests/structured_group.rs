//! `TaskGroup`: fail-fast and supervised groups, nested under a cancelled
//! caller, dropped, counted by a keyed ancestor's registry, seen by the
//! leak check. (`structured_group_million.rs`: a million tasks.)

use std::future::pending;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scoped_cancel::{
    scoped_cancel, shield, testing, Cancelled, Cause, GroupError, Registry, Scope, TaskGroup, Token,
};
use scoped_cancel_support::alive_tasks;
use tokio::sync::oneshot;

type Seen = Arc<Mutex<Vec<Option<Cause>>>>;

/// A task that waits until its scope is cancelled, and records its token's
/// cause when its body is dropped (at its `.await`, by the cancel).
async fn wait_for_cancel(seen: Seen) -> Result<u32, String> {
    let token = Token::current().expect("a task runs in its own scope");
    struct Record(Token, Seen);
    impl Drop for Record {
        fn drop(&mut self) {
            self.1.lock().unwrap().push(self.0.cause());
        }
    }
    let _record = Record(token, seen);
    pending::<()>().await;
    Ok(0)
}

#[tokio::test]
async fn values_come_back_in_spawn_order_whatever_order_the_tasks_end_in() {
    tokio::time::pause();
    let mut group = TaskGroup::<u64, String>::new();
    for i in 0..5u64 {
        group.spawn(async move {
            tokio::time::sleep(Duration::from_secs(10 - i)).await;
            Ok(i * 10)
        });
    }
    assert_eq!(group.join().await.unwrap(), [0, 10, 20, 30, 40]);
}

#[tokio::test]
async fn fail_fast_with_the_failing_task_first_cancels_the_siblings() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut group = TaskGroup::new();
    let token = group.token();
    group.spawn(async { Err("first".to_string()) });
    for _ in 0..3 {
        group.spawn(wait_for_cancel(seen.clone()));
    }
    match group.join().await {
        Err(GroupError::Failed(error)) => assert_eq!(error, "first"),
        other => panic!("{other:?}"),
    }
    // Every sibling was cancelled through the group, and had ended.
    assert_eq!(seen.lock().unwrap().len(), 3);
    assert!(seen
        .lock()
        .unwrap()
        .iter()
        .all(|c| *c == Some(Cause::Parent)));
    assert_eq!(token.cause(), Some(Cause::SiblingFailed));
}

#[tokio::test]
async fn fail_fast_with_the_failing_task_last_and_the_siblings_calls_see_sibling_failed() {
    let (go, started) = oneshot::channel::<()>();
    let causes = Arc::new(Mutex::new(Vec::new()));
    let mut group = TaskGroup::<u32, String>::new();
    for _ in 0..3 {
        let causes = causes.clone();
        group.spawn(async move {
            // A nested scope inside the task: its call's error names why.
            let inner = Token::current().unwrap().child().into_scope();
            let out = inner.run(pending::<()>()).await;
            causes.lock().unwrap().push(out.unwrap_err().cause());
            Err::<u32, _>("cancelled sibling".to_string())
        });
    }
    group.spawn(async move {
        started.await.unwrap();
        Err("last".to_string())
    });
    tokio::task::yield_now().await;
    go.send(()).unwrap();
    match group.join().await {
        Err(GroupError::Failed(error)) => assert_eq!(error, "last", "the first failure in time"),
        other => panic!("{other:?}"),
    }
    assert_eq!(*causes.lock().unwrap(), [Cause::SiblingFailed; 3]);
}

#[tokio::test]
async fn a_panicking_task_fails_the_group_fast_and_its_scope_ends_as_panicked() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let panicked = Arc::new(Mutex::new(None));
    let mut group = TaskGroup::<u32, String>::new();
    group.spawn(wait_for_cancel(seen.clone()));
    {
        let panicked = panicked.clone();
        group.spawn(async move {
            *panicked.lock().unwrap() = Some(Token::current().unwrap());
            tokio::task::yield_now().await;
            panic!("task {} went wrong", 7);
        });
    }
    // (The panic's message is printed once, by the default hook.)
    let error = group.join().await.unwrap_err();
    assert_eq!(error.panic_message(), Some("task 7 went wrong"));
    assert!(matches!(error, GroupError::Panicked(_)));
    assert_eq!(seen.lock().unwrap().len(), 1, "the sibling was cancelled");
    let token = panicked.lock().unwrap().take().unwrap();
    assert_eq!(token.cause(), Some(Cause::Panicked));
}

#[tokio::test]
async fn a_supervised_group_lets_the_others_finish_and_reports_the_failure() {
    tokio::time::pause();
    let finished = Arc::new(AtomicUsize::new(0));
    let mut group = TaskGroup::<u32, String>::supervised();
    group.spawn(async { Err("one bad".to_string()) });
    for i in 0..3 {
        let finished = finished.clone();
        group.spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            finished.fetch_add(1, SeqCst);
            Ok(i)
        });
    }
    let token = group.token();
    match group.join().await {
        Err(GroupError::Failed(error)) => assert_eq!(error, "one bad"),
        other => panic!("{other:?}"),
    }
    assert_eq!(finished.load(SeqCst), 3, "no sibling was cancelled");
    assert_eq!(
        token.cause(),
        Some(Cause::ScopeExited),
        "ended when join returned"
    );
}

#[tokio::test]
async fn a_group_inside_a_cancelled_caller_is_cancelled_with_it() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let outer = Scope::root();
    let caller = outer.child();
    let (made, group_made) = oneshot::channel();
    let call = tokio::spawn(caller.run({
        let seen = seen.clone();
        async move {
            let mut group = TaskGroup::<u32, String>::new();
            made.send(group.token()).unwrap();
            group.spawn(wait_for_cancel(seen.clone()));
            group.spawn(wait_for_cancel(seen));
            group.join().await
        }
    }));
    let group_token = group_made.await.unwrap();
    tokio::task::yield_now().await;
    assert!(outer.cancel_with_reason("the caller gave up"));
    // The caller's `Run` drops its body, and with it the group: its tasks
    // are cancelled and end.
    let out = call.await.unwrap();
    assert_eq!(out.unwrap_err().cause(), Cause::Requested);
    assert_eq!(group_token.cause(), Some(Cause::Parent));
    assert_eq!(group_token.reason().as_deref(), Some("the caller gave up"));
    assert_eq!(alive_tasks(Duration::from_secs(10)).await, 0);
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn join_of_a_group_cancelled_by_hand_says_so() {
    let mut group = TaskGroup::<u32, String>::new();
    group.spawn(async { Ok(1) });
    tokio::task::yield_now().await;
    group.spawn(async {
        pending::<()>().await;
        Ok(2)
    });
    assert!(group.cancel());
    match group.join().await {
        Err(GroupError::Cancelled(cancelled)) => assert_eq!(cancelled.cause(), Cause::Requested),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn dropping_a_group_cancels_its_tasks_and_they_end() {
    let ended = Arc::new(AtomicUsize::new(0));
    let mut group = TaskGroup::<u32, String>::new();
    let token = group.token();
    for _ in 0..10 {
        let ended = ended.clone();
        group.spawn(async move {
            struct Ended(Arc<AtomicUsize>);
            impl Drop for Ended {
                fn drop(&mut self) {
                    self.0.fetch_add(1, SeqCst);
                }
            }
            let _ended = Ended(ended);
            pending::<()>().await;
            Ok(0)
        });
    }
    tokio::task::yield_now().await;
    drop(group);
    assert_eq!(token.cause(), Some(Cause::ScopeExited));
    assert_eq!(alive_tasks(Duration::from_secs(10)).await, 0);
    assert_eq!(ended.load(SeqCst), 10);
}

static JOBS: Registry<u64> = Registry::new();

/// A job that starts a group whose one task runs a shield of `cleanup`.
#[scoped_cancel(registry = JOBS, key = id)]
async fn job_with_cleanup(id: u64, cleanup: Duration) -> Result<(), Cancelled> {
    let mut group = TaskGroup::<(), Cancelled>::new();
    group.spawn(async move {
        // Cleanup that the job's cancellation does not cut short.
        shield(cleanup, async move {
            pending::<()>().await;
        })
        .await
        .map(drop)
    });
    // The group is dropped when the job is: its task goes on until its
    // shield times out.
    group
        .join()
        .await
        .map(drop)
        .map_err(|_| Cancelled::new(Cause::Parent))
}

#[tokio::test]
async fn a_keyed_ancestors_shutdown_waits_for_the_groups_tasks() {
    tokio::time::pause();
    let cleanup = Duration::from_secs(30);
    let call = tokio::spawn(job_with_cleanup(1, cleanup));
    while !JOBS.contains_key(&1) {
        tokio::task::yield_now().await;
    }
    tokio::task::yield_now().await;
    // A grace shorter than the cleanup: the task is a straggler.
    let report = JOBS.shutdown(cleanup / 3).await;
    assert_eq!(report.tasks(), 1, "{report}");
    // A grace longer than the rest of it: the shutdown waits for it.
    let report = JOBS.shutdown(cleanup).await;
    assert!(report.is_clean(), "{report}");
    assert!(report.elapsed() >= cleanup - cleanup / 3 - Duration::from_secs(1));
    assert_eq!(call.await.unwrap().unwrap_err().cause(), Cause::Shutdown);
    JOBS.reopen();
}

#[test]
fn the_leak_check_sees_a_groups_stuck_task_and_its_scope() {
    let check = testing::LeakCheck::new().grace(Duration::from_millis(50));
    let leaked = check.run(&mut tokio::runtime::Builder::new_current_thread(), async {
        let mut group = TaskGroup::<(), Cancelled>::new();
        group.spawn(async {
            // Never ends: ignores its cancellation behind a shield.
            shield(Duration::MAX, pending::<()>()).await
        });
        tokio::task::yield_now().await;
        drop(group);
    });
    let report = leaked.unwrap_err();
    assert_eq!(report.tasks(), 1, "{report}");
    let names: Vec<&str> = report.scopes().iter().map(|s| s.name()).collect();
    assert!(names.contains(&"TaskGroup::spawn"), "{report}");
    assert!(names.contains(&"scoped_cancel::shield"), "{report}");
}
