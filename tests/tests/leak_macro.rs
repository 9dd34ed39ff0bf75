//! `#[scoped_cancel::test]`: leaky tests fail with a report naming the
//! leaked scope's file and line, clean tests pass, the grace period lets a
//! late scope end, and panics, `#[should_panic]`, `#[ignore]` and `Result`
//! tests behave as under `#[tokio::test]`.
//!
//! The `expected` strings name lines of this file: keep them in step when
//! editing above them.

use std::sync::Mutex;
use std::time::Duration;

use scoped_cancel::{Registry, Scope};

static PARKED: Mutex<Vec<Scope>> = Mutex::new(Vec::new());

fn park(scope: Scope) {
    PARKED.lock().unwrap().push(scope);
}

#[scoped_cancel::test(grace = "50ms")]
#[should_panic(expected = "- parked-by-macro-test at tests/tests/leak_macro.rs:23, age")]
async fn a_parked_scope_fails_the_test_naming_its_file_and_line() {
    let scope = Scope::builder().name("parked-by-macro-test").build();
    park(scope);
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "50ms")]
#[should_panic(expected = "failed: 0 scope(s) and 1 task(s) still alive")]
async fn a_stuck_task_fails_the_test() {
    tokio::spawn(std::future::pending::<()>());
}

static JOBS: Registry<u64> = Registry::new();

#[scoped_cancel::test(flavor = "multi_thread", grace = "50ms")]
#[should_panic(expected = "Registry::enter (key 42) at tests/tests/leak_macro.rs:38")]
async fn a_keyed_scope_held_by_a_stuck_task_shows_its_key() {
    let scope = JOBS.enter(42).unwrap();
    tokio::spawn(scope.run(std::future::pending::<()>()));
}

#[scoped_cancel::test]
async fn a_clean_current_thread_test_passes() {
    let root = Scope::root();
    let child = root.child();
    let task = child.spawn(async { 2 + 2 });
    assert_eq!(task.await.unwrap().unwrap(), 4);
    assert!(JOBS.enter(1).unwrap().run(async {}).await.is_ok());
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn a_clean_multi_thread_test_passes() {
    let mut set = tokio::task::JoinSet::new();
    let root = Scope::root();
    for i in 100..200u64 {
        let scope = JOBS.enter(i).unwrap();
        let child = root.child();
        set.spawn(async move {
            let _child = child;
            scope.run(tokio::task::yield_now()).await
        });
    }
    while let Some(out) = set.join_next().await {
        out.unwrap().unwrap();
    }
}

/// The task ends the scope once the body has returned (the body's end
/// drops the sender it waits on): no clock involved.
#[scoped_cancel::test(flavor = "multi_thread", grace = "60s")]
async fn the_grace_period_lets_a_scope_end_a_little_after_the_body() {
    let scope = Scope::builder().name("ends-late").build();
    let (body_alive, body_ended) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = body_ended.await;
        drop(scope);
    });
    let _body_alive = body_alive;
}

/// On a current-thread runtime only the check's waiting drives the task
/// that ends the scope after the body.
#[scoped_cancel::test(grace = "60s")]
async fn current_thread_tasks_are_driven_during_the_grace_period() {
    let scope = Scope::builder().name("ends-late-current-thread").build();
    let (body_alive, body_ended) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = body_ended.await;
        tokio::task::yield_now().await;
        drop(scope);
    });
    let _body_alive = body_alive;
}

#[scoped_cancel::test]
#[should_panic(expected = "the body's own panic")]
async fn a_panicking_body_fails_as_usual() {
    park(Scope::builder().name("parked-before-a-panic").build());
    panic!("the body's own panic");
}

/// `true` if the harness was asked to run ignored tests.
fn ignored_tests_requested() -> bool {
    std::env::args().any(|arg| arg == "--ignored" || arg == "--include-ignored")
}

/// The harness lists this as ignored. Run without `--ignored` or
/// `--include-ignored` (a plain `cargo test`), it fails: so it passes in a
/// plain run only if the macro kept `#[ignore]` and it did not run. The
/// helpers below are ignored too and check the same way.
#[scoped_cancel::test]
#[ignore = "proves #[ignore] is kept"]
async fn ignored_tests_stay_ignored() {
    assert!(
        ignored_tests_requested(),
        "an #[ignore] test ran in a plain run: the macro dropped #[ignore]"
    );
}

std::thread_local! {
    /// Set while a wrapper test calls an ignored helper.
    static WRAPPED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Calls a helper test fn the way its wrapper wants it called.
fn wrapped<R>(helper: fn() -> R) -> std::thread::Result<R> {
    WRAPPED.with(|w| w.set(true));
    let out = std::panic::catch_unwind(helper);
    WRAPPED.with(|w| w.set(false));
    out
}

fn is_wrapped() -> bool {
    WRAPPED.with(std::cell::Cell::get)
}

#[scoped_cancel::test]
async fn result_tests_can_use_question_mark() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = "7".parse()?;
    if n == 0 {
        return Err(Box::new(std::fmt::Error));
    }
    let scope = JOBS.enter(u64::from(n) + 1000)?;
    scope.run(async {}).await?;
    Ok(())
}

mod ok_result {
    use super::*;

    #[scoped_cancel::test(grace = "50ms")]
    #[ignore = "called by `an_ok_result_is_still_checked`"]
    pub async fn ok_with_a_parked_scope() -> Result<(), String> {
        if !is_wrapped() {
            return Ok(());
        }
        park(Scope::builder().name("parked-in-result-test").build());
        Ok(())
    }
}

#[test]
fn an_ok_result_is_still_checked() {
    let payload = wrapped(ok_result::ok_with_a_parked_scope).unwrap_err();
    let message = payload.downcast_ref::<String>().unwrap();
    assert!(message.contains("parked-in-result-test at "), "{message}");
}

/// An `Err` fails the test on its own; the leak check is skipped so the
/// error is what the test reports. (Called below instead of run as a test.)
mod failing_result {
    use super::*;

    #[scoped_cancel::test(grace = "10s")]
    #[ignore = "called by `an_err_result_skips_the_leak_check`"]
    pub async fn err_with_a_parked_scope() -> Result<(), String> {
        if !is_wrapped() {
            return Ok(());
        }
        park(Scope::builder().name("parked-before-err").build());
        Err("the body's own error".to_string())
    }
}

#[test]
fn an_err_result_skips_the_leak_check() {
    let started = std::time::Instant::now();
    assert_eq!(
        wrapped(failing_result::err_with_a_parked_scope).unwrap(),
        Err("the body's own error".to_string())
    );
    // No 10 s grace period was waited out.
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// The panic message is the report: catch it to look at all of it.
mod reports {
    use super::*;

    #[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "50ms")]
    #[ignore = "called by `the_panic_message_is_the_full_report`"]
    pub async fn leaks_two_scopes_and_a_task() {
        if !is_wrapped() {
            return;
        }
        let root = Scope::builder().name("report-root").build();
        let child = Scope::builder().name("report-child").parent(&root).build();
        root.cancel();
        park(root);
        tokio::spawn(async move {
            let _child = child;
            std::future::pending::<()>().await
        });
    }
}

#[test]
fn the_panic_message_is_the_full_report() {
    let payload = wrapped(reports::leaks_two_scopes_and_a_task).unwrap_err();
    let message = payload.downcast_ref::<String>().unwrap();
    assert!(
        message
            .starts_with("leak check failed: 2 scope(s) and 1 task(s) still alive after waiting"),
        "{message}"
    );
    let file = file!();
    assert!(
        message.contains(&format!("report-root at {file}:")),
        "{message}"
    );
    assert!(
        message.contains("cancelled (cancellation was requested) but not ended"),
        "{message}"
    );
    assert!(
        message.contains(&format!("report-child at {file}:")),
        "{message}"
    );
    assert!(
        message.contains("cancelled (a parent token was cancelled) but not ended"),
        "{message}"
    );
    assert!(
        message.contains("1 task(s) still alive on the runtime"),
        "{message}"
    );
}

/// With the clock paused, the grace period is measured on the paused clock,
/// which advances through it: a scope that ends 10 virtual seconds after the
/// body passes a 20 s grace period in a moment of wall time.
mod paused {
    use super::*;

    #[scoped_cancel::test(grace = "20s")]
    #[ignore = "called by `a_paused_clock_advances_through_the_grace_period`"]
    pub async fn ends_ten_virtual_seconds_later() {
        tokio::time::pause();
        let scope = Scope::builder().name("ends-in-virtual-time").build();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(10)).await;
            drop(scope);
        });
    }
}

#[test]
fn a_paused_clock_advances_through_the_grace_period() {
    let started = std::time::Instant::now();
    wrapped(paused::ends_ten_virtual_seconds_later).unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
}
