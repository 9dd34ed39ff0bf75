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

#[tokio::test]
async fn runs_when_the_future_is_dropped_and_keeps_task_counting() {
    let jobs: Arc<Registry<u64>> = Arc::new(Registry::new());
    let seen = log();
    let l = seen.clone();
    let scope = jobs
        .enter(1)
        .unwrap()
        .on_end(move || l.lock().unwrap().push("end".into()));
    // A task spawned from the hooked scope still counts for shutdown.
    let task = scope.spawn(std::future::pending::<()>());
    let call = tokio::spawn(scope.run(std::future::pending::<()>()));
    tokio::task::yield_now().await;
    call.abort();
    assert!(call.await.unwrap_err().is_cancelled());
    assert_eq!(entries(&seen), ["end"]);
    assert!(jobs.is_empty());
    let report = jobs.shutdown(Duration::from_secs(5)).await;
    assert!(report.is_clean(), "{report}");
    // The task's call reports why its scope ended: the keyed scope exited.
    assert_eq!(task.await.unwrap().unwrap_err().cause(), Cause::ScopeExited);
}
