#![deny(warnings)]

// `()` return: a cancelled or refused call returns `()`, and a refused call
// never runs its body.
use std::future::pending;
use std::sync::atomic::{AtomicU32, Ordering};

use scoped_cancel::{scoped_cancel, Registry};

static JOBS: Registry<&'static str> = Registry::new();
static RUNS: AtomicU32 = AtomicU32::new(0);

#[scoped_cancel(registry = JOBS, key = name)]
async fn job(name: &'static str, block: bool) {
    RUNS.fetch_add(1, Ordering::SeqCst);
    if block {
        pending::<()>().await;
    }
}

#[tokio::main]
async fn main() {
    job("a", false).await;
    assert_eq!(RUNS.load(Ordering::SeqCst), 1);

    let held = JOBS.enter("b").unwrap();
    job("b", false).await;
    assert_eq!(
        RUNS.load(Ordering::SeqCst),
        1,
        "a refused call must not run its body"
    );
    drop(held);

    let ((), ()) = tokio::join!(job("c", true), async {
        tokio::task::yield_now().await;
        assert!(JOBS.cancel("c"));
    });
    assert_eq!(RUNS.load(Ordering::SeqCst), 2);
    assert!(JOBS.is_empty());
}
