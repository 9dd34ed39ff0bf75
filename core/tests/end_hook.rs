//! `Scope::on_end`: the hook runs once, at the guard's end, after the token
//! is cancelled and the registry entry removed; never on a mere cancel.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use scoped_cancel::{Cause, Registry, Scope};

type Log = Arc<Mutex<Vec<String>>>;

fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

#[test]
fn runs_at_guard_drop_not_at_cancel() {
    let seen = log();
    let scope = Scope::root();
    let token = scope.token();
    let (l, t) = (seen.clone(), token.clone());
    let scope = scope.on_end(move || {
        l.lock().unwrap().push(format!("end {:?}", t.cause()));
    });
    assert!(scope.cancel());
    assert!(
        entries(&seen).is_empty(),
        "a cancel alone must not run the hook"
    );
    drop(scope);
    assert_eq!(entries(&seen), ["end Some(Requested)"]);
}

#[test]
fn sees_token_cancelled_and_registry_entry_gone() {
    let jobs: Arc<Registry<u64>> = Arc::new(Registry::new());
    let seen = log();
    let scope = jobs.enter(7).unwrap();
    let token = scope.token();
    let (l, j) = (seen.clone(), jobs.clone());
    let scope = scope.on_end(move || {
        let state = format!("{:?} {}", token.cause(), j.contains_key(&7));
        l.lock().unwrap().push(state);
    });
    assert!(jobs.contains_key(&7));
    assert!(jobs.cancel(&7));
    assert!(jobs.contains_key(&7), "the guard still holds the key");
    drop(scope);
    assert_eq!(entries(&seen), ["Some(Requested) false"]);
    assert!(jobs.is_empty());
}

#[test]
fn chained_hooks_run_in_order_once() {
    let seen = log();
    let (a, b) = (seen.clone(), seen.clone());
    let scope = Scope::root()
        .on_end(move || a.lock().unwrap().push("first".into()))
        .on_end(move || b.lock().unwrap().push("second".into()));
    drop(scope);
    assert_eq!(entries(&seen), ["first", "second"]);
}

#[test]
fn runs_when_unwinding() {
    let seen = log();
    let l = seen.clone();
    let scope = Scope::root();
    let token = scope.token();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _scope = scope.on_end(move || l.lock().unwrap().push("end".into()));
        panic!("body failed");
    }));
    assert!(result.is_err());
    assert_eq!(entries(&seen), ["end"]);
    assert_eq!(token.cause(), Some(Cause::Panicked));
}

/// Polls `fut` once; `true` if it is still pending.
async fn pending_once<F: std::future::Future>(fut: std::pin::Pin<&mut F>) -> bool {
    let mut fut = Some(fut);
    std::future::poll_fn(|cx| {
        let fut = fut.take().expect("polled once");
        std::task::Poll::Ready(fut.poll(cx).is_pending())
    })
    .await
}

/// The hook rides on the scope's registry link: a task spawned from the
/// hooked scope must still be counted by the registry. The task blocks its
/// worker thread, so it cannot end when the scope is cancelled: `shutdown`
/// must wait for it (pending while it is blocked), then finish clean once
/// it is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_when_the_future_is_dropped_and_keeps_task_counting() {
    let jobs: Arc<Registry<u64>> = Arc::new(Registry::new());
    let seen = log();
    let l = seen.clone();
    let scope = jobs
        .enter(1)
        .unwrap()
        .on_end(move || l.lock().unwrap().push("end".into()));
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    // A task spawned from the hooked scope, blocked until released.
    let task = scope.spawn(async move {
        started_tx.send(()).unwrap();
        tokio::task::block_in_place(|| release_rx.recv().unwrap());
        // Released: now it waits, and the cancel ends it.
        std::future::pending::<()>().await;
    });
    tokio::task::spawn_blocking(move || started_rx.recv().unwrap())
        .await
        .unwrap();
    let call = tokio::spawn(scope.run(std::future::pending::<()>()));
    tokio::task::yield_now().await;
    call.abort();
    assert!(call.await.unwrap_err().is_cancelled());
    assert_eq!(entries(&seen), ["end"]);
    assert!(jobs.is_empty());

    let shutdown = jobs.shutdown(Duration::from_secs(60));
    let mut shutdown = std::pin::pin!(shutdown);
    assert!(
        pending_once(shutdown.as_mut()).await,
        "shutdown did not wait for the task spawned from the hooked scope"
    );
    release_tx.send(()).unwrap();
    let report = shutdown.await;
    assert!(report.is_clean(), "{report}");
    assert!(report.elapsed() < Duration::from_secs(60));
    // The task's call reports why its scope ended: the keyed scope exited.
    assert_eq!(task.await.unwrap().unwrap_err().cause(), Cause::ScopeExited);
}
