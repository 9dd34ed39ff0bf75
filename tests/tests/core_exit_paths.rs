//! Every exit path of a keyed scope removes its entry and cancels its token,
//! with the cause the design specifies.

use std::future::pending;
use std::time::Duration;

use scoped_cancel::{Cancelled, Cause, Registry, Token};

#[derive(Debug)]
struct Failed;

impl From<Cancelled> for Failed {
    fn from(_: Cancelled) -> Self {
        Failed
    }
}

/// Enters `key`, stores the token in `seen`, then finishes as `how` says.
async fn job(
    reg: &Registry<u64>,
    key: u64,
    seen: &mut Option<Token>,
    how: &str,
) -> Result<u32, Failed> {
    let scope = reg.enter(key).expect("key is free");
    *seen = Some(scope.token());
    assert!(reg.contains_key(&key));
    match how {
        "return" => Ok(1),
        "question-mark" => {
            let parsed: Result<u32, Failed> = Err(Failed);
            let n = parsed?;
            Ok(n)
        }
        "early-return" => {
            if key > 0 {
                return Ok(2);
            }
            Ok(3)
        }
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn return_question_mark_and_early_return_all_clean_up() {
    let reg = Registry::<u64>::new();
    for (key, how) in [(1, "return"), (2, "question-mark"), (3, "early-return")] {
        let mut seen = None;
        let _ = job(&reg, key, &mut seen, how).await;
        let token = seen.expect("job ran");
        assert!(!reg.contains_key(&key), "{how}: entry left behind");
        assert!(token.is_cancelled(), "{how}: token not cancelled");
        assert_eq!(token.cause(), Some(Cause::ScopeExited), "{how}");
    }
    assert!(reg.is_empty());
}

#[tokio::test]
async fn panic_in_a_task_cleans_up_with_cause_panicked() {
    static REG: Registry<u64> = Registry::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let handle = tokio::spawn(async move {
        let scope = REG.enter(9).expect("key is free");
        tx.send(scope.token()).expect("receiver alive");
        tokio::task::yield_now().await;
        panic!("job failed");
    });
    let token = rx.await.expect("task sent its token");
    let err = handle.await.expect_err("the task panicked");
    assert!(err.is_panic());
    assert!(REG.is_empty());
    assert_eq!(token.cause(), Some(Cause::Panicked));
}

#[tokio::test(start_paused = true)]
async fn deadline_cancels_with_cause_deadline() {
    let reg = Registry::<u64>::new();
    let scope = reg.enter(4).expect("key is free");
    let token = scope.token();
    let out = scope
        .run_timeout(Duration::from_millis(50), pending::<()>())
        .await;
    assert_eq!(out.unwrap_err().cause(), Cause::Deadline);
    assert_eq!(token.cause(), Some(Cause::Deadline));
    assert!(reg.is_empty());
}

#[tokio::test]
async fn cancel_by_key_stops_the_run_and_frees_the_key() {
    static REG: Registry<u64> = Registry::new();
    let scope = REG.enter(5).expect("key is free");
    let token = scope.token();
    let task = tokio::spawn(scope.run(pending::<()>()));
    tokio::task::yield_now().await;
    assert!(REG.cancel(&5));
    assert!(
        !REG.cancel(&5),
        "a second cancel finds it already cancelled"
    );
    let out = task.await.expect("no panic");
    assert_eq!(out.unwrap_err().cause(), Cause::Requested);
    assert_eq!(token.cause(), Some(Cause::Requested));
    assert!(REG.is_empty());
    assert!(!REG.cancel(&5), "nothing left to cancel");
}

#[tokio::test]
async fn cancel_all_cancels_every_scope_with_cause_shutdown() {
    static REG: Registry<u64> = Registry::new();
    let mut tasks = Vec::new();
    let mut tokens = Vec::new();
    for key in 0..10 {
        let scope = REG.enter(key).expect("key is free");
        tokens.push(scope.token());
        tasks.push(tokio::spawn(scope.run(pending::<()>())));
    }
    assert_eq!(REG.cancel_all(), 10);
    assert_eq!(REG.cancel_all(), 0, "already cancelled");
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap_err().cause(), Cause::Shutdown);
    }
    assert!(tokens.iter().all(|t| t.cause() == Some(Cause::Shutdown)));
    assert!(REG.is_empty());
    // cancel_all does not refuse new scopes.
    drop(REG.enter(1).expect("still open"));
}

#[tokio::test]
async fn shutdown_cancels_waits_and_reports_clean() {
    static REG: Registry<u64> = Registry::new();
    let scope = REG.enter(1).expect("key is free");
    let token = scope.token();
    let task = tokio::spawn(scope.run(pending::<()>()));
    let report = REG.shutdown(Duration::from_secs(5)).await;
    assert!(report.is_clean(), "{report}");
    assert!(report.stragglers().is_empty());
    assert_eq!(token.cause(), Some(Cause::Shutdown));
    assert_eq!(task.await.unwrap().unwrap_err().cause(), Cause::Shutdown);
    assert!(REG.is_empty());
}

#[tokio::test]
async fn outer_timeout_drops_the_future_at_its_await_point() {
    let reg = Registry::<u64>::new();
    let mut seen = None;
    let fut = async {
        let scope = reg.enter(6).expect("key is free");
        seen = Some(scope.token());
        pending::<()>().await;
        drop(scope);
    };
    assert!(tokio::time::timeout(Duration::from_millis(10), fut)
        .await
        .is_err());
    let token = seen.expect("the future ran up to its await");
    assert!(reg.is_empty());
    assert_eq!(token.cause(), Some(Cause::ScopeExited));
}

#[tokio::test]
async fn aborted_task_cleans_up() {
    static REG: Registry<u64> = Registry::new();
    let scope = REG.enter(7).expect("key is free");
    let token = scope.token();
    let task = tokio::spawn(scope.run(pending::<()>()));
    tokio::task::yield_now().await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert!(REG.is_empty());
    assert_eq!(token.cause(), Some(Cause::ScopeExited));
}

#[tokio::test]
async fn run_returns_finished_work_even_if_cancelled_meanwhile() {
    // Biased: the body is polled first, so a result it has is never dropped.
    let scope = Token::new().into_scope();
    let token = scope.token();
    let out = scope
        .run(async move {
            token.cancel();
            7
        })
        .await;
    assert_eq!(out, Ok(7));
}

#[tokio::test]
async fn body_is_dropped_before_the_token_is_cancelled() {
    // Drop order: the body's destructors run while the scope is still live.
    struct CheckOnDrop(Token, std::sync::Arc<std::sync::atomic::AtomicBool>);
    impl Drop for CheckOnDrop {
        fn drop(&mut self) {
            let live = !self.0.is_cancelled();
            self.1.store(live, std::sync::atomic::Ordering::SeqCst);
        }
    }
    static REG: Registry<u64> = Registry::new();
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let scope = REG.enter(1).expect("key is free");
    let guard = CheckOnDrop(scope.token(), flag.clone());
    let fut = scope.run(async move {
        let _guard = guard;
        pending::<()>().await;
    });
    assert!(tokio::time::timeout(Duration::from_millis(5), fut)
        .await
        .is_err());
    assert!(
        flag.load(std::sync::atomic::Ordering::SeqCst),
        "body dropped after cancel"
    );
    assert!(REG.is_empty());
}
