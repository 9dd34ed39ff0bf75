//! The five-minute tour: a keyed job, a cancel by id, a timeout, a leak report.
//!
//! ```text
//! cargo run -p scoped-cancel --example quickstart
//! ```

use std::time::Duration;

use scoped_cancel::{scoped_cancel, start, Cancelled, Registry, Scope};

/// The live exports, by id: cancel one by id, list them, shut them down.
static EXPORTS: Registry<u64> = Registry::new();

/// Registered under `id` while it runs. On every exit (return, `?`, panic,
/// timeout, the caller dropping it) its token is cancelled and its entry removed.
#[scoped_cancel(registry = EXPORTS, key = id, timeout = "1s")]
async fn export(id: u64, rows: u32) -> Result<u32, Cancelled> {
    for _ in 0..rows {
        tokio::time::sleep(Duration::from_millis(100)).await; // one row
    }
    Ok(rows)
}

#[tokio::main]
async fn main() {
    // A keyed job, started eagerly: key 7 is held once `start` returns,
    // and a second start of 7 is refused at once.
    let job = start(export(7, 50)).expect("key 7 is free");
    let refused = start(export(7, 1)).expect_err("key 7 is taken");
    println!("a second export 7: {}", refused.unwrap_err());

    // Cancel by id, from anywhere (an HTTP handler, another task).
    EXPORTS.cancel_with_reason(&7, "the user closed the tab");
    println!("export 7: {:?}", job.await.unwrap());

    // A timeout: 50 rows take 5 s, the budget is 1 s.
    println!("export 8: {:?}", export(8, 50).await);
    println!("export 9: {:?}", export(9, 3).await);

    // A leak report: a scope parked in a collection never ends by itself.
    let parked = vec![Scope::builder().name("parked").enter(&EXPORTS, 10).unwrap()];
    let report = EXPORTS.shutdown(Duration::from_millis(200)).await;
    println!("{report}");

    drop(parked); // its guard ends it: the registry is empty again
    assert!(EXPORTS.is_empty());
}
