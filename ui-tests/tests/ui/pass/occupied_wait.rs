#![deny(warnings)]

// `occupied = wait`: calls for a held key queue and run one at a time, in
// the order they arrived; the timeout covers the wait.
use std::sync::Mutex;

use scoped_cancel::{scoped_cancel, Cancelled, Cause, Registry};

static TENANTS: Registry<&'static str> = Registry::new();
static LOG: Mutex<Vec<u32>> = Mutex::new(Vec::new());

#[scoped_cancel(registry = TENANTS, key = tenant, occupied = wait, timeout = "1m")]
async fn migrate(tenant: &'static str, step: u32) -> Result<u32, Cancelled> {
    LOG.lock().unwrap().push(step);
    tokio::task::yield_now().await;
    Ok(step)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let held = TENANTS.enter("acme").unwrap();
    let calls: Vec<_> = (0..3).map(|step| tokio::spawn(migrate("acme", step))).collect();
    while TENANTS.waiting() < 3 {
        tokio::task::yield_now().await;
    }
    drop(held);
    for (step, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.unwrap(), Ok(step as u32));
    }
    assert_eq!(*LOG.lock().unwrap(), [0, 1, 2]);

    tokio::time::pause();
    let held = TENANTS.enter("acme").unwrap();
    let late = migrate("acme", 9).await; // waits the whole minute in the queue
    assert_eq!(late.unwrap_err().cause(), Cause::Deadline);
    drop(held);
    assert!(TENANTS.is_empty());
}
