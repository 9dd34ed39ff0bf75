//! `shield(timeout, fut)`: cleanup that the enclosing scopes' cancellation
//! does not cut short, bounded by its own timeout.

use std::future::pending;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use scoped_cancel::{scoped_cancel, shield, Cancelled, Cause, Scope, Token};
use tokio::time::{sleep, Instant};

const CLEANUP: Duration = Duration::from_secs(3);

/// Counts the polls after the shield at which the body could be dropped.
#[derive(Clone, Default)]
struct Progress {
    cleaned: Arc<AtomicBool>,
    after: Arc<AtomicUsize>,
}

/// A body that, once started, runs a cleanup of `CLEANUP` in a shield,
/// then waits forever; it records when the cleanup completed and whether
/// it got past the shield's `.await`.
async fn body_with_cleanup(progress: Progress, started: tokio::sync::oneshot::Sender<Token>) {
    started.send(Token::current().unwrap()).unwrap();
    let out = shield(Duration::from_secs(60), async {
        // Inside, the current scope is the shield's own, with its own
        // deadline only.
        let own = Token::current().unwrap();
        assert!(!own.is_cancelled());
        sleep(CLEANUP).await;
        assert!(
            !own.is_cancelled(),
            "the enclosing cancel did not reach the shield"
        );
        7
    })
    .await;
    assert_eq!(out, Ok(7));
    progress.cleaned.store(true, SeqCst);
    progress.after.fetch_add(1, SeqCst);
    pending::<()>().await;
}

#[tokio::test(start_paused = true)]
async fn a_scope_cancelled_during_a_shield_finishes_the_cleanup_then_ends_with_its_cause() {
    let progress = Progress::default();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let scope = Scope::root();
    let handle = scope.token();
    let started = Instant::now();
    let call = tokio::spawn(scope.run(body_with_cleanup(progress.clone(), tx)));
    rx.await.unwrap();
    sleep(CLEANUP / 3).await;
    assert!(handle.cancel());
    let out = call.await.unwrap();
    assert_eq!(out.unwrap_err().cause(), Cause::Requested);
    // The cleanup ran to its end, and the body was dropped at its next
    // `.await`, no earlier.
    assert!(progress.cleaned.load(SeqCst));
    assert_eq!(progress.after.load(SeqCst), 1);
    assert_eq!(started.elapsed(), CLEANUP);
}

#[tokio::test(start_paused = true)]
async fn a_shield_that_hits_its_own_timeout_ends_with_deadline() {
    let started = Instant::now();
    let token_inside = Arc::new(std::sync::Mutex::new(None));
    let seen = token_inside.clone();
    let out = shield(Duration::from_secs(2), async move {
        let token = Token::current().unwrap();
        assert_eq!(token.remaining(), Some(Duration::from_secs(2)));
        *seen.lock().unwrap() = Some(token);
        pending::<()>().await;
    })
    .await;
    assert_eq!(out.unwrap_err().cause(), Cause::Deadline);
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    let token = token_inside.lock().unwrap().take().unwrap();
    assert_eq!(token.cause(), Some(Cause::Deadline));
}

#[tokio::test(start_paused = true)]
async fn a_shields_timeout_bounds_the_cleanup_of_a_cancelled_scope() {
    let scope = Scope::root();
    let handle = scope.token();
    let started = Instant::now();
    let call = tokio::spawn(scope.run(async {
        let out = shield(Duration::from_secs(1), pending::<()>()).await;
        assert_eq!(out.unwrap_err().cause(), Cause::Deadline);
        pending::<()>().await;
    }));
    tokio::task::yield_now().await;
    handle.cancel();
    assert_eq!(call.await.unwrap().unwrap_err().cause(), Cause::Requested);
    assert_eq!(started.elapsed(), Duration::from_secs(1));
}

#[scoped_cancel(token = outer_token)]
async fn level_one(
    progress: Progress,
    tx: tokio::sync::oneshot::Sender<Token>,
) -> Result<(), Cancelled> {
    let _ = outer_token;
    level_two(progress, tx).await
}

#[scoped_cancel]
async fn level_two(
    progress: Progress,
    tx: tokio::sync::oneshot::Sender<Token>,
) -> Result<(), Cancelled> {
    level_three(progress, tx).await
}

#[scoped_cancel]
async fn level_three(
    progress: Progress,
    tx: tokio::sync::oneshot::Sender<Token>,
) -> Result<(), Cancelled> {
    body_with_cleanup(progress, tx).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_shield_three_nested_calls_down_holds_every_enclosing_call() {
    let progress = Progress::default();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let request = Scope::root();
    let handle = request.token();
    let started = Instant::now();
    let call = tokio::spawn(request.run(level_one(progress.clone(), tx)));
    let innermost = rx.await.unwrap();
    sleep(CLEANUP / 2).await;
    handle.cancel();
    // The cancel reached the innermost call's token at once ...
    assert_eq!(innermost.cause(), Some(Cause::Parent));
    let out = call.await.unwrap();
    // ... but no call dropped its body until the shield was done.
    assert!(progress.cleaned.load(SeqCst));
    assert_eq!(started.elapsed(), CLEANUP);
    // The innermost call's error, handed up through `?`, names the cause.
    assert_eq!(out.unwrap().unwrap_err().cause(), Cause::Requested);
}

#[tokio::test(start_paused = true)]
async fn a_panic_inside_a_shield_unwinds_through_it_and_ends_its_scope() {
    let inside = Arc::new(std::sync::Mutex::new(None));
    let seen = inside.clone();
    let scope = Scope::root();
    let handle = scope.token();
    let call = tokio::spawn(scope.run(async move {
        shield(Duration::from_secs(5), async move {
            *seen.lock().unwrap() = Some(Token::current().unwrap());
            tokio::task::yield_now().await;
            panic!("cleanup failed");
        })
        .await
    }));
    let panic = call.await.unwrap_err();
    assert!(panic.is_panic());
    assert_eq!(handle.cause(), Some(Cause::Panicked));
    let token = inside.lock().unwrap().take().unwrap();
    assert_eq!(token.cause(), Some(Cause::Panicked));
}

#[tokio::test(start_paused = true)]
async fn a_shield_outside_any_scope_is_a_future_with_a_timeout() {
    assert!(Token::current().is_none());
    assert_eq!(shield(Duration::from_secs(1), async { 5 }).await, Ok(5));
    let out = shield(Duration::from_secs(1), pending::<()>()).await;
    assert_eq!(out.unwrap_err().cause(), Cause::Deadline);
    // No limit at all.
    let out = shield(Duration::MAX, async {
        sleep(Duration::from_secs(86_400 * 365)).await;
        1
    })
    .await;
    assert_eq!(out, Ok(1));
}

#[tokio::test(start_paused = true)]
async fn a_deadline_passing_during_a_shield_is_the_calls_cause() {
    let scope = Scope::root();
    let handle = scope.token();
    let started = Instant::now();
    let out = scope
        .run_timeout(Duration::from_secs(1), async {
            shield(Duration::from_secs(10), sleep(Duration::from_secs(4)))
                .await
                .unwrap();
            pending::<()>().await;
        })
        .await;
    assert_eq!(out.unwrap_err().cause(), Cause::Deadline);
    assert_eq!(handle.cause(), Some(Cause::Deadline));
    assert_eq!(started.elapsed(), Duration::from_secs(4));
}
