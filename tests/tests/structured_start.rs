//! Eager starts: `scoped_cancel::start` of a `#[scoped_cancel]` job and
//! `Registry::spawn` give a refusal to the caller at once, and a cancel
//! right after the start cannot miss the job.

use std::future::pending;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use scoped_cancel::{scoped_cancel, start, Cancelled, Cause, EnterError, Registry};

static EXPORTS: Registry<u64> = Registry::new();

#[scoped_cancel(registry = EXPORTS, key = id, detached)]
async fn export(id: u64, ran: Arc<AtomicUsize>) -> Result<u64, Cancelled> {
    ran.fetch_add(1, SeqCst);
    pending::<()>().await;
    Ok(id)
}

#[tokio::test]
async fn a_started_job_holds_its_key_before_start_returns() {
    let ran = Arc::new(AtomicUsize::new(0));
    let job = start(export(1, ran.clone())).expect("free");
    // No yield between: the key is held and the body has run to its wait.
    assert!(EXPORTS.contains_key(&1));
    assert_eq!(ran.load(SeqCst), 1);
    match start(export(1, ran.clone())) {
        Err(Err(refused)) => assert_eq!(refused.cause(), Cause::KeyOccupied),
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("a duplicate start must be refused"),
    }
    assert_eq!(ran.load(SeqCst), 1, "the refused call never ran its body");
    assert!(EXPORTS.cancel(&1), "a cancel right after the start hits");
    assert_eq!(job.await.unwrap().unwrap_err().cause(), Cause::Requested);
    assert!(!EXPORTS.contains_key(&1));
}

#[tokio::test]
async fn a_plain_spawn_would_have_missed_the_cancel() {
    // What `start` fixes: the task has not run, so nothing is entered yet.
    let ran = Arc::new(AtomicUsize::new(0));
    let task = tokio::spawn(export(2, ran.clone()));
    assert!(!EXPORTS.cancel(&2));
    task.abort();
    let _ = task.await;
}

#[tokio::test]
async fn a_job_that_finishes_in_its_first_poll_comes_back_as_its_output() {
    #[scoped_cancel(registry = EXPORTS, key = id)]
    async fn quick(id: u64) -> Result<u64, Cancelled> {
        Ok(id * 2)
    }
    assert_eq!(start(quick(21)).unwrap_err(), Ok(42));
    assert!(EXPORTS.is_empty() || !EXPORTS.contains_key(&21));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_starts_of_one_key_run_one_job() {
    for round in 0..200u64 {
        let key = 1_000 + round;
        let ran = Arc::new(AtomicUsize::new(0));
        let starts: Vec<_> = (0..4)
            .map(|_| {
                let ran = ran.clone();
                tokio::spawn(async move { start(export(key, ran)).ok() })
            })
            .collect();
        let mut running = Vec::new();
        for s in starts {
            running.extend(s.await.unwrap());
        }
        assert_eq!(running.len(), 1, "round {round}");
        assert_eq!(ran.load(SeqCst), 1);
        assert!(EXPORTS.cancel(&key));
        let out = running.pop().unwrap().await.unwrap();
        assert_eq!(out.unwrap_err().cause(), Cause::Requested);
    }
}

#[tokio::test]
async fn registry_spawn_refuses_at_once_and_the_shutdown_waits_for_it() {
    static JOBS: Registry<&str> = Registry::new();
    let task = JOBS.spawn("a", pending::<()>()).unwrap();
    assert!(matches!(
        JOBS.spawn("a", async {}),
        Err(EnterError::Occupied("a"))
    ));
    let report = JOBS.shutdown(std::time::Duration::from_secs(10)).await;
    assert!(report.is_clean(), "{report}");
    assert_eq!(task.await.unwrap().unwrap_err().cause(), Cause::Shutdown);
    assert!(matches!(
        JOBS.spawn("b", async {}),
        Err(EnterError::ShuttingDown("b"))
    ));
    JOBS.reopen();
}
