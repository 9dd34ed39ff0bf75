//! Every public API that takes a `Duration` accepts `Duration::MAX` as "no
//! limit", and zero as "already over", without panicking.

use std::future::pending;
use std::time::Duration;

use scoped_cancel::watchdog::Watchdog;
use scoped_cancel::{scoped_cancel, shield, Cancelled, Cause, Registry, Scope, Token};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn shutdown_with_no_limit_waits_until_the_last_scope_ends() {
    static JOBS: Registry<u8> = Registry::new();
    let scope = JOBS.enter(1).unwrap();
    let started = Instant::now();
    let shutdown = tokio::spawn(JOBS.shutdown(Duration::MAX));
    tokio::time::sleep(Duration::from_secs(86_400 * 365)).await;
    assert!(!shutdown.is_finished(), "a year later it still waits");
    drop(scope);
    let report = shutdown.await.unwrap();
    assert!(report.is_clean(), "{report}");
    assert!(report.elapsed() >= Duration::from_secs(86_400 * 365));
    assert!(started.elapsed() >= Duration::from_secs(86_400 * 365));
    JOBS.reopen();
    let report = JOBS.shutdown(Duration::ZERO).await;
    assert!(report.is_clean(), "{report}");
}

#[tokio::test(start_paused = true)]
async fn run_timeout_with_no_limit_is_no_deadline_and_zero_is_one_already_passed() {
    let out = Scope::root()
        .run_timeout(Duration::MAX, async {
            assert_eq!(Token::current().unwrap().deadline(), None);
            tokio::time::sleep(Duration::from_secs(86_400 * 3650)).await;
            1
        })
        .await;
    assert_eq!(out, Ok(1));
    let out = Scope::root()
        .run_timeout(Duration::ZERO, pending::<()>())
        .await;
    assert_eq!(out.unwrap_err().cause(), Cause::Deadline);
    // A timeout past what the clock counts, short of `MAX`, never fires.
    let out = Scope::root()
        .run_timeout(Duration::MAX - Duration::from_secs(1), async { 2 })
        .await;
    assert_eq!(out, Ok(2));
}

#[test]
fn run_timeout_with_no_limit_needs_no_runtime() {
    let out = futures_lite_block_on(Scope::root().run_timeout(Duration::MAX, async { 3 }));
    assert_eq!(out, Ok(3));
}

/// Polls a future that needs no runtime to completion on this thread.
fn futures_lite_block_on<F: std::future::Future>(fut: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let std::task::Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

static WAITING: Registry<u8> = Registry::new();

#[scoped_cancel(registry = WAITING, key = id, occupied = wait, timeout = limit)]
async fn queued(id: u8, limit: Duration) -> Result<u8, Cancelled> {
    Ok(id)
}

#[scoped_cancel(timeout = Duration::MAX)]
async fn unbounded() -> Result<Option<tokio::time::Instant>, Cancelled> {
    tokio::time::sleep(Duration::from_secs(86_400 * 365)).await;
    Ok(Token::current().unwrap().deadline())
}

#[tokio::test(start_paused = true)]
async fn the_macros_timeout_and_a_waiting_calls_timeout_accept_no_limit() {
    assert_eq!(unbounded().await, Ok(None));
    let holder = WAITING.enter(1).unwrap();
    let call = tokio::spawn(queued(1, Duration::MAX));
    tokio::time::sleep(Duration::from_secs(86_400 * 365)).await;
    assert!(!call.is_finished());
    drop(holder);
    assert_eq!(call.await.unwrap(), Ok(1));
    let holder = WAITING.enter(2).unwrap();
    assert_eq!(
        queued(2, Duration::ZERO).await.unwrap_err().cause(),
        Cause::Deadline
    );
    drop(holder);
}

#[tokio::test(start_paused = true)]
async fn a_watchdog_with_no_limit_never_reports_and_one_with_no_interval_sweeps_once() {
    static PARKED: Registry<u8> = Registry::new();
    let parked = PARKED.enter(1).unwrap();
    let never = Watchdog::builder(Duration::MAX)
        .interval(Duration::MAX)
        .cancel_overdue(true)
        .watch(&PARKED);
    let once = Watchdog::builder(Duration::ZERO)
        .interval(Duration::MAX)
        .watch(&PARKED);
    tokio::time::sleep(Duration::from_secs(86_400 * 365)).await;
    assert_eq!(never.reported(), 0);
    assert!(!parked.is_cancelled());
    assert_eq!(once.reported(), 1, "the first sweep, at once");
    never.stop().await;
    once.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_shield_with_no_limit_has_no_deadline() {
    let out = shield(Duration::MAX, async {
        Token::current().unwrap().deadline()
    })
    .await;
    assert_eq!(out, Ok(None));
}
