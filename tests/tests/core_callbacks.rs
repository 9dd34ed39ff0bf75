//! Callbacks on cancel (`Token::after_cancel`), links between scopes
//! (`Scope::link`) and reasons (`cancel_with_reason`).

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread;

use scoped_cancel::{Cause, Registry, Scope, Token};
use tokio_util::sync::CancellationToken;

fn counter() -> (Arc<AtomicUsize>, impl Fn() -> Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let handle = count.clone();
    (count, move || handle.clone())
}

#[test]
fn a_callback_runs_once_on_the_cancelling_thread_after_the_cause() {
    let scope = Scope::root();
    let token = scope.token();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let reader = token.clone();
    let _registration = token.after_cancel(move || {
        record
            .lock()
            .unwrap()
            .push((thread::current().id(), reader.cause(), reader.reason()));
    });
    let canceller = thread::spawn(move || {
        assert!(scope.cancel_with_reason("done elsewhere"));
        assert!(!scope.cancel());
        thread::current().id()
    });
    let canceller = canceller.join().unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, canceller, "on the thread that cancelled");
    assert_eq!(
        seen[0].1,
        Some(Cause::Requested),
        "after the cause was recorded"
    );
    assert_eq!(seen[0].2.as_deref(), Some("done elsewhere"));
}

#[test]
fn a_callback_on_a_cancelled_token_runs_at_once() {
    let scope = Scope::root();
    scope.cancel();
    let (count, handle) = counter();
    let c = handle();
    let registration = scope.token().after_cancel(move || {
        c.fetch_add(1, SeqCst);
    });
    assert_eq!(count.load(SeqCst), 1, "before after_cancel returned");
    assert!(!registration.stop(), "it has run");
}

#[test]
fn dropping_or_stopping_a_registration_unregisters_it() {
    let scope = Scope::root();
    let token = scope.token();
    let (count, handle) = counter();
    let c = handle();
    drop(token.after_cancel(move || {
        c.fetch_add(1, SeqCst);
    }));
    let c = handle();
    let stopped = token.after_cancel(move || {
        c.fetch_add(1, SeqCst);
    });
    assert!(stopped.stop(), "it had not run");
    let c = handle();
    let kept = token.after_cancel(move || {
        c.fetch_add(1, SeqCst);
    });
    drop(scope);
    assert_eq!(count.load(SeqCst), 1, "only the registration kept ran");
    assert!(!kept.stop());
    // Every closure was dropped: only the test's handles are left.
    assert_eq!(Arc::strong_count(&count), 2);
}

#[test]
fn a_callback_runs_for_a_cancel_that_reaches_it_from_an_ancestor() {
    let parent = Scope::root();
    let child = parent.child();
    let grandchild = child.child();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut registrations = Vec::new();
    for (name, token) in [("child", child.token()), ("grandchild", grandchild.token())] {
        let order = order.clone();
        let reader = token.clone();
        registrations.push(token.after_cancel(move || {
            order.lock().unwrap().push((name, reader.cause()));
        }));
    }
    parent.cancel();
    assert_eq!(
        *order.lock().unwrap(),
        [
            ("child", Some(Cause::Parent)),
            ("grandchild", Some(Cause::Parent))
        ]
    );
}

#[test]
fn a_callback_on_an_adopted_token_runs_when_the_foreign_token_is_cancelled() {
    let server = CancellationToken::new();
    let request = Token::adopt(&server).into_scope();
    let (count, handle) = counter();
    let c = handle();
    let _registration = request.token().after_cancel(move || {
        c.fetch_add(1, SeqCst);
    });
    let child = request.child();
    // Cancelled by code that never calls ours.
    thread::spawn(move || server.cancel()).join().unwrap();
    assert_eq!(count.load(SeqCst), 1, "run inside the foreign cancel");
    assert_eq!(child.token().cause(), Some(Cause::Parent));
}

#[test]
fn a_panicking_callback_lets_the_others_run_and_the_cancel_panics_after_them() {
    let scope = Scope::root();
    let token = scope.token();
    let (count, handle) = counter();
    let _first = token.after_cancel(|| panic!("callback failed"));
    let c = handle();
    let _second = token.after_cancel(move || {
        c.fetch_add(1, SeqCst);
    });
    let panic = scoped_cancel_tests::with_quiet_panics("callback failed", || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scope.cancel())).unwrap_err()
    });
    assert_eq!(scoped_cancel_tests::panic_text(&*panic), "callback failed");
    assert_eq!(count.load(SeqCst), 1);
    assert!(token.is_cancelled());
}

#[test]
fn a_panicking_callback_in_a_scopes_end_does_not_keep_its_key() {
    static JOBS: Registry<u8> = Registry::new();
    let scope = JOBS.enter(1).unwrap();
    let _registration = scope
        .token()
        .after_cancel(|| panic!("callback failed at the end"));
    let ended = scoped_cancel_tests::with_quiet_panics("callback failed at the end", || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(scope)))
    });
    assert!(ended.is_err(), "the panic is raised after the unlink");
    assert!(JOBS.is_empty());
}

#[test]
fn a_linked_scope_is_cancelled_with_linked_and_the_link_ends_with_it() {
    let server = Scope::root();
    let request = Scope::root();
    let below = request.child();
    request.link(&server.token());
    server.cancel_with_reason("draining");
    assert_eq!(request.token().cause(), Some(Cause::Linked));
    assert_eq!(below.token().cause(), Some(Cause::Parent));

    // A link to a token that is already cancelled cancels at once.
    let late = Scope::root();
    late.link(&server.token());
    assert_eq!(late.token().cause(), Some(Cause::Linked));
}

#[tokio::test]
async fn a_call_in_a_linked_scope_returns_linked() {
    let shutdown = Scope::root();
    let job = Scope::root();
    job.link(&shutdown.token());
    let call = tokio::spawn(job.run(std::future::pending::<()>()));
    tokio::task::yield_now().await;
    drop(shutdown);
    assert_eq!(call.await.unwrap().unwrap_err().cause(), Cause::Linked);
}

#[test]
fn an_ended_linked_scope_leaves_no_registration_in_the_other() {
    let long_lived = Scope::root();
    let token = long_lived.token();
    for _ in 0..10_000 {
        let short = Scope::root();
        short.link(&token);
        drop(short);
    }
    // Had any registration stayed, cancelling now would reach it; and the
    // linked scopes' nodes would still be counted by their weak handles.
    let (count, handle) = counter();
    let c = handle();
    let _probe = token.after_cancel(move || {
        c.fetch_add(1, SeqCst);
    });
    drop(long_lived);
    assert_eq!(count.load(SeqCst), 1);
}

static EXPORTS: Registry<u64> = Registry::new();

#[tokio::test]
async fn a_reason_reaches_the_call_its_descendants_and_the_reports() {
    let scope = EXPORTS.enter(7).unwrap();
    let token = scope.token();
    let child = scope.child();
    let call = tokio::spawn(scope.run(std::future::pending::<()>()));
    tokio::task::yield_now().await;
    assert!(EXPORTS.cancel_with_reason(&7, "user 42 deleted the report"));
    assert!(
        !EXPORTS.cancel_with_reason(&7, "second"),
        "the first cancel wins"
    );
    let report = EXPORTS.report();
    assert_eq!(
        report[0].reason().as_deref(),
        Some("user 42 deleted the report")
    );
    assert!(
        report[0].to_string().contains("user 42 deleted the report"),
        "{}",
        report[0]
    );
    let cancelled = call.await.unwrap().unwrap_err();
    assert_eq!(cancelled.cause(), Cause::Requested);
    assert_eq!(cancelled.reason(), Some("user 42 deleted the report"));
    assert!(cancelled.to_string().contains("user 42 deleted the report"));
    assert_eq!(
        token.reason().as_deref(),
        Some("user 42 deleted the report")
    );
    assert_eq!(child.token().cause(), Some(Cause::Parent));
    assert_eq!(
        child.token().reason().as_deref(),
        Some("user 42 deleted the report")
    );
}

#[test]
fn a_cancel_without_a_reason_has_none_and_a_later_reason_is_dropped() {
    let scope = Scope::root();
    scope.cancel();
    assert!(!scope.cancel_with_reason("too late"));
    assert_eq!(scope.token().reason(), None);
    let live = Scope::root();
    assert_eq!(live.token().reason(), None);
}
