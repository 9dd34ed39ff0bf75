#![deny(warnings)]

// `occupied = refuse` is the default: a call whose key is live returns
// `KeyOccupied` at once and its body never runs.
use scoped_cancel::{scoped_cancel, Cancelled, Cause, Registry};

static JOBS: Registry<u32> = Registry::new();

#[scoped_cancel(registry = JOBS, key = id, occupied = refuse)]
async fn job(id: u32) -> Result<u32, Cancelled> {
    Ok(id)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let held = JOBS.enter(1).unwrap();
    assert_eq!(job(1).await.unwrap_err().cause(), Cause::KeyOccupied);
    assert!(!held.is_cancelled());
    drop(held);
    assert_eq!(job(1).await, Ok(1));
    assert!(JOBS.is_empty());
}
