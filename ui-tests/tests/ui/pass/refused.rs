#![deny(warnings)]

// A call that cannot enter its scope does not run its body and returns the
// refusal: `KeyOccupied` while the key is live, `ShuttingDown` after
// `shutdown` (until `reopen`).
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use scoped_cancel::{scoped_cancel, Cancelled, Cause, Registry};

static JOBS: Registry<u32> = Registry::new();
static RUNS: AtomicU32 = AtomicU32::new(0);

#[scoped_cancel(registry = JOBS, key = id)]
async fn job(id: u32) -> Result<u32, Cancelled> {
    RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(id)
}

#[tokio::main]
async fn main() {
    let held = JOBS.enter(1).unwrap();
    assert_eq!(job(1).await.unwrap_err().cause(), Cause::KeyOccupied);
    assert!(!held.is_cancelled(), "the live scope is left untouched");
    drop(held);
    assert_eq!(job(1).await, Ok(1));

    let report = JOBS.shutdown(Duration::from_millis(10)).await;
    assert!(report.is_clean());
    assert_eq!(job(2).await.unwrap_err().cause(), Cause::ShuttingDown);
    JOBS.reopen();
    assert_eq!(job(2).await, Ok(2));
    assert_eq!(RUNS.load(Ordering::SeqCst), 2);
    assert!(JOBS.is_empty());
}
