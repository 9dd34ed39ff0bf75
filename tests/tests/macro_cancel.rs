//! `#[scoped_cancel]` calls end with the cause that ended them: cancel by
//! key (raced and cooperative), deadline, parent, shutdown, and the two
//! refusals, which never run the body.

use std::future::pending;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use scoped_cancel::{scoped_cancel, Cancelled, Cause, Registry, Scope, Token};
use tokio::sync::oneshot;
use tokio::time::{sleep, timeout, Instant};

/// Bound for "promptly". The tests that use it run on the paused clock,
/// which jumps to it only if nothing else can run: a call that does not
/// stop fails at once, and no wall time is involved.
const PROMPT: Duration = Duration::from_secs(5);

/// Waits until `key` is live in `registry`.
async fn entered<K: scoped_cancel::Key>(registry: &Registry<K>, key: &K) {
    while !registry.contains_key(key) {
        tokio::task::yield_now().await;
    }
}

/// The body would finish (and count) once its 60 s sleep ends; the paused
/// clock would run through it at once if the call were not stopped. So the
/// call returning `Err(Requested)` at virtual time zero, with the counter
/// at zero, shows the race dropped the body at its `.await`.
#[tokio::test(start_paused = true)]
async fn cancel_by_key_stops_a_raced_body_promptly() {
    static JOBS: Registry<u32> = Registry::new();
    static REACHED_END: AtomicU32 = AtomicU32::new(0);

    #[scoped_cancel(registry = JOBS, key = id)]
    async fn stuck(id: u32) -> Result<(), Cancelled> {
        sleep(Duration::from_secs(60)).await;
        REACHED_END.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    let call = tokio::spawn(stuck(1));
    entered(&JOBS, &1).await;
    let cancelled_at = Instant::now();
    assert!(JOBS.cancel(&1));
    let out = call.await.unwrap();
    assert_eq!(out.unwrap_err().cause(), Cause::Requested);
    assert_eq!(cancelled_at.elapsed(), Duration::ZERO, "stopped at once");
    assert_eq!(REACHED_END.load(Ordering::SeqCst), 0);
    assert!(JOBS.is_empty());
    // Control: the same body, not cancelled, does reach its end.
    assert_eq!(stuck(2).await, Ok(()));
    assert_eq!(REACHED_END.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_cooperative_body_sees_requested_and_finishes_its_work() {
    static JOBS: Registry<u32> = Registry::new();

    #[scoped_cancel(registry = JOBS, key = id, cooperative, token = token)]
    async fn careful(
        id: u32,
        done: oneshot::Sender<Option<Cause>>,
    ) -> Result<&'static str, Cancelled> {
        token.cancelled().await;
        // Not raced: the body runs on after cancellation, e.g. to flush.
        tokio::task::yield_now().await;
        done.send(token.cause()).unwrap();
        Ok("flushed")
    }

    let (tx, rx) = oneshot::channel();
    let call = tokio::spawn(careful(2, tx));
    entered(&JOBS, &2).await;
    assert!(JOBS.cancel(&2));
    assert_eq!(rx.await.unwrap(), Some(Cause::Requested));
    assert_eq!(call.await.unwrap(), Ok("flushed"));
    assert!(JOBS.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_deadline_ends_the_call_with_cause_deadline() {
    #[scoped_cancel(timeout = "2s", token = token)]
    async fn slow(seen: &mut Option<Token>) -> Result<(), Cancelled> {
        *seen = Some(token.clone());
        sleep(Duration::from_secs(60)).await;
        Ok(())
    }

    let mut seen = None;
    let start = Instant::now();
    let out = slow(&mut seen).await;
    assert_eq!(out.unwrap_err().cause(), Cause::Deadline);
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert_eq!(seen.unwrap().cause(), Some(Cause::Deadline));
}

#[tokio::test(start_paused = true)]
async fn a_cooperative_deadline_cancels_the_token_and_keeps_the_result() {
    #[scoped_cancel(timeout = "1s", cooperative, token = token)]
    async fn polling() -> Option<(u32, Option<Cause>)> {
        let mut ticks = 0;
        while !token.is_cancelled() {
            sleep(Duration::from_millis(300)).await;
            ticks += 1;
        }
        Some((ticks, token.cause()))
    }

    // Ticks end at 0.3, 0.6, 0.9 and 1.2 s: the deadline (1 s) cancels the
    // token during the fourth, and the body notices after it.
    let start = Instant::now();
    assert_eq!(polling().await, Some((4, Some(Cause::Deadline))));
    assert_eq!(start.elapsed(), Duration::from_millis(1200));
}

#[tokio::test(start_paused = true)]
async fn the_end_of_a_parent_gives_the_parents_cause() {
    static JOBS: Registry<u32> = Registry::new();

    #[scoped_cancel(registry = JOBS, key = id, parent = parent)]
    async fn child(id: u32, parent: Token) -> Result<(), Cancelled> {
        pending::<()>().await;
        Ok(())
    }

    let parent = Scope::root();
    let call = tokio::spawn(child(3, parent.token()));
    entered(&JOBS, &3).await;
    drop(parent);
    let out = timeout(PROMPT, call).await.expect("child stopped promptly");
    // The call's error says why its parent ended (its token reads `Parent`).
    assert_eq!(out.unwrap().unwrap_err().cause(), Cause::ScopeExited);
    assert!(JOBS.is_empty());
}

#[tokio::test]
async fn an_occupied_key_is_refused_without_running_the_body() {
    static JOBS: Registry<&'static str> = Registry::new();
    static RUNS: AtomicU32 = AtomicU32::new(0);

    #[scoped_cancel(registry = JOBS, key = name)]
    async fn once(name: &'static str) -> Result<u32, Cancelled> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(RUNS.load(Ordering::SeqCst))
    }

    let held = JOBS.enter("sync").unwrap();
    let token = held.token();
    assert_eq!(once("sync").await.unwrap_err().cause(), Cause::KeyOccupied);
    assert_eq!(RUNS.load(Ordering::SeqCst), 0);
    assert!(!token.is_cancelled(), "the live scope is left alone");
    drop(held);
    assert_eq!(once("sync").await, Ok(1));
    assert!(JOBS.is_empty());
}

#[tokio::test(start_paused = true)]
async fn shutdown_cancels_live_calls_and_refuses_new_ones() {
    static JOBS: Registry<u32> = Registry::new();
    static RUNS: AtomicU32 = AtomicU32::new(0);

    #[scoped_cancel(registry = JOBS, key = id)]
    async fn serve(id: u32) -> Result<(), Cancelled> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        pending::<()>().await;
        Ok(())
    }

    let calls: Vec<_> = (0..4).map(|id| tokio::spawn(serve(id))).collect();
    for id in 0..4 {
        entered(&JOBS, &id).await;
    }
    let report = JOBS.shutdown(PROMPT).await;
    assert!(report.is_clean(), "{report:?}");
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap_err().cause(), Cause::Shutdown);
    }
    assert_eq!(serve(9).await.unwrap_err().cause(), Cause::ShuttingDown);
    assert_eq!(RUNS.load(Ordering::SeqCst), 4);
    JOBS.reopen();
    assert!(JOBS.is_empty());
}
