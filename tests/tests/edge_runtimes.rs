//! Scopes across runtimes, threads and executors: shutdowns that overlap or
//! are undone, a `static` registry outliving runtimes, runtimes torn down
//! while tasks hold scopes, cancels that cross runtimes, blocking-pool
//! threads, and an executor that is not tokio at all.

use std::future::{pending, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::Duration;

use scoped_cancel::{scoped_cancel, Cancelled, Cause, Registry, Scope, Token};

/// Polls `fut` once; `true` if it is still pending.
async fn still_pending<F: Future>(mut fut: std::pin::Pin<&mut F>) -> bool {
    std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx).is_pending())).await
}

/// `reopen()` while a `shutdown()` waits: new scopes enter again, and the
/// pending shutdown still returns as soon as the registry is empty (on the
/// paused clock: at once, not at its one-hour deadline).
#[tokio::test(start_paused = true)]
async fn reopen_while_a_shutdown_is_pending() {
    static REG: Registry<u32> = Registry::new();
    let old = REG.enter(1).unwrap();
    let shutdown = REG.shutdown(Duration::from_secs(3600));
    let mut shutdown = std::pin::pin!(shutdown);
    assert!(still_pending(shutdown.as_mut()).await);

    REG.reopen();
    let new = REG.enter(2).expect("open again");
    assert!(!new.is_cancelled(), "a scope entered after reopen is live");
    assert_eq!(old.token().cause(), Some(Cause::Shutdown));
    drop(old);
    assert!(
        still_pending(shutdown.as_mut()).await,
        "scope 2 is still live"
    );
    drop(new);
    let report = shutdown.await;
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.elapsed(), Duration::ZERO);
    assert!(!REG.is_shutting_down());
}

/// Two shutdowns at once, with different graces: both cancel, both are
/// woken by the last end, both report clean; the short one alone reports a
/// straggler when the scope outlives it.
#[tokio::test(start_paused = true)]
async fn two_concurrent_shutdowns() {
    static REG: Registry<u32> = Registry::new();
    let a = REG.enter(1).unwrap();
    let b = REG.enter(2).unwrap();
    let short = REG.shutdown(Duration::from_secs(1));
    let long = REG.shutdown(Duration::from_secs(3600));
    assert!(a.is_cancelled() && b.is_cancelled());
    let (short, long) = (tokio::spawn(short), tokio::spawn(long));
    drop(a);
    // `b` outlives the short grace: the paused clock jumps there.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let short = short.await.unwrap();
    assert_eq!(short.stragglers().len(), 1, "{short}");
    assert_eq!(*short.stragglers()[0].key(), 2);
    drop(b);
    let long = long.await.unwrap();
    assert!(long.is_clean(), "{long}");
    assert_eq!(long.elapsed(), Duration::from_secs(2));
    REG.reopen();
}

/// A `static` registry outlives the runtime whose tasks held its scopes:
/// dropping the runtime drops the tasks, which end their scopes (cause
/// `ScopeExited`, entries removed), and a second runtime uses the registry
/// as new, shutdown included.
#[test]
fn a_static_registry_outlives_the_runtime_that_made_its_scopes() {
    static REG: Registry<u32> = Registry::new();
    let first = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tokens: Vec<Token> = first.block_on(async {
        (0..8)
            .map(|k| {
                let scope = REG.enter(k).unwrap();
                let token = scope.token();
                tokio::spawn(scope.run(pending::<()>()));
                token
            })
            .collect()
    });
    assert_eq!(REG.len(), 8);
    drop(first);
    assert!(REG.is_empty(), "{:?}", REG.report());
    assert!(tokens.iter().all(|t| t.cause() == Some(Cause::ScopeExited)));

    let second = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    second.block_on(async {
        let task = tokio::spawn(REG.enter(1).unwrap().run(pending::<()>()));
        let report = REG.shutdown(Duration::from_secs(60)).await;
        assert!(report.is_clean(), "{report}");
        assert_eq!(task.await.unwrap().unwrap_err().cause(), Cause::Shutdown);
        REG.reopen();
    });
}

/// `shutdown_background` of a runtime whose tasks hold scopes: once its
/// worker threads have dropped the tasks, the entries are gone and the
/// causes read `ScopeExited` (no panic, no shutdown cause).
#[test]
fn shutdown_background_while_tasks_hold_scopes() {
    static REG: Registry<u32> = Registry::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tokens: Vec<Token> = runtime.block_on(async {
        let tokens = (0..8)
            .map(|k| {
                let scope = REG.enter(k).unwrap();
                let token = scope.token();
                tokio::spawn(scope.run(pending::<()>()));
                token
            })
            .collect();
        tokio::task::yield_now().await;
        tokens
    });
    runtime.shutdown_background();
    assert!(REG.is_empty(), "{:?}", REG.report());
    assert!(tokens.iter().all(|t| t.cause() == Some(Cause::ScopeExited)));
}

/// `cancel(&k)` called on another runtime (another thread) wakes the task
/// waiting on the first.
#[test]
fn cancel_from_another_runtime_wakes_the_task() {
    static REG: Registry<u32> = Registry::new();
    let first = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let (entered_tx, entered) = mpsc::channel();
    let task = first.spawn(async move {
        let scope = REG.enter(7).unwrap();
        entered_tx.send(()).unwrap();
        scope.run(pending::<()>()).await
    });
    entered.recv().unwrap();
    std::thread::spawn(|| {
        let other = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(other.block_on(async { REG.cancel(&7) }));
    })
    .join()
    .unwrap();
    let out = first.block_on(task).unwrap();
    assert_eq!(out.unwrap_err().cause(), Cause::Requested);
    assert!(REG.is_empty());
}

/// Scopes made and dropped on blocking-pool threads (and one made on a
/// worker and dropped on the pool): entries removed, causes right, and the
/// test's leak check, which watches the pool's threads too, passes.
#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn scopes_on_spawn_blocking_threads() {
    static REG: Registry<u32> = Registry::new();
    let handles: Vec<_> = (0..8u32)
        .map(|k| {
            tokio::task::spawn_blocking(move || {
                let scope = REG.enter(k).unwrap();
                let child = scope.child();
                let token = child.token();
                assert!(REG.contains_key(&k));
                drop(scope);
                assert_eq!(token.cause(), Some(Cause::Parent));
                drop(child);
                token
            })
        })
        .collect();
    for handle in handles {
        assert!(handle.await.unwrap().is_cancelled());
    }
    let scope = REG.enter(100).unwrap();
    let token = scope.token();
    tokio::task::spawn_blocking(move || drop(scope))
        .await
        .unwrap();
    assert_eq!(token.cause(), Some(Cause::ScopeExited));
    assert!(REG.is_empty());
}

fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("it panics");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// On a non-tokio executor, `Scope::run` works, raced against a cancel from
/// another thread, and keyed scopes enter, cancel and leave as usual.
#[test]
fn scope_run_works_on_a_non_tokio_executor() {
    static REG: Registry<u32> = Registry::new();
    let done = futures::executor::block_on(Scope::root().run(async { 6 * 7 }));
    assert_eq!(done, Ok(42));

    let scope = REG.enter(1).unwrap();
    let (entered_tx, entered) = mpsc::channel();
    let canceller = std::thread::spawn(move || {
        entered.recv().unwrap();
        assert!(REG.cancel(&1));
    });
    let out = futures::executor::block_on(scope.run(async move {
        entered_tx.send(()).unwrap();
        pending::<()>().await
    }));
    canceller.join().unwrap();
    assert_eq!(out.unwrap_err().cause(), Cause::Requested);
    assert!(REG.is_empty());
}

/// Every API that needs tokio fails without it with a panic that names the
/// API and what it needs (not tokio's generic message).
#[test]
fn apis_that_need_tokio_say_so_on_another_executor() {
    static REG: Registry<u32> = Registry::new();

    let msg = panic_message(|| {
        let _ = futures::executor::block_on(
            Scope::root().run_timeout(Duration::from_secs(1), pending::<()>()),
        );
    });
    assert!(
        msg.contains("`Scope::run_timeout`") && msg.contains("needs a tokio runtime"),
        "{msg}"
    );

    // A deadline needs its timer once the body waits.
    #[scoped_cancel(timeout = "1s")]
    async fn with_deadline(wait: bool) -> Result<(), Cancelled> {
        if wait {
            pending::<()>().await;
        }
        Ok(())
    }
    assert_eq!(futures::executor::block_on(with_deadline(false)), Ok(()));
    let msg = panic_message(|| {
        let _ = futures::executor::block_on(with_deadline(true));
    });
    assert!(
        msg.contains("timeout = ..") && msg.contains("needs a tokio runtime"),
        "{msg}"
    );

    let msg = panic_message(|| {
        drop(Scope::root().spawn(async {}));
    });
    assert!(
        msg.contains("`Scope::spawn`") && msg.contains("needs a tokio runtime"),
        "{msg}"
    );

    let scope = REG.enter(1).unwrap();
    let msg = panic_message(|| {
        let _ = futures::executor::block_on(REG.shutdown(Duration::from_secs(1)));
    });
    assert!(
        msg.contains("`Registry::shutdown`") && msg.contains("needs a tokio runtime"),
        "{msg}"
    );
    // The call itself (refuse, cancel) needed no runtime.
    assert_eq!(scope.token().cause(), Some(Cause::Shutdown));
    drop(scope);
    REG.reopen();
    assert!(REG.is_empty());
}
