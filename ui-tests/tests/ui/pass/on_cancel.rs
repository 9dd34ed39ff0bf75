#![deny(warnings)]

// `on_cancel = ..` gives the value of a cancelled or refused call, for
// return types without `FromCancelled`, or to override it.
use std::future::pending;

use scoped_cancel::{scoped_cancel, Cancelled, Registry};

static JOBS: Registry<u8> = Registry::new();

#[derive(Debug, PartialEq)]
enum Outcome {
    Done(u32),
    Stopped,
}

#[scoped_cancel(registry = JOBS, key = id, on_cancel = Outcome::Stopped)]
async fn work(id: u8, finish: bool) -> Outcome {
    if !finish {
        pending::<()>().await;
    }
    Outcome::Done(u32::from(id))
}

#[scoped_cancel(timeout = "1ms", on_cancel = Ok(u32::MAX))]
async fn overridden() -> Result<u32, Cancelled> {
    pending::<()>().await;
    Ok(0)
}

#[scoped_cancel(registry = JOBS, key = 9, on_cancel = -1)]
async fn number() -> i64 {
    7
}

#[tokio::main]
async fn main() {
    assert_eq!(work(1, true).await, Outcome::Done(1));
    let (stopped, ()) = tokio::join!(work(2, false), async {
        tokio::task::yield_now().await;
        JOBS.cancel(&2);
    });
    assert_eq!(stopped, Outcome::Stopped);

    // A refused call (key already live) returns `on_cancel` too.
    let holder = JOBS.enter(3).unwrap();
    assert_eq!(work(3, true).await, Outcome::Stopped);
    drop(holder);

    assert_eq!(overridden().await, Ok(u32::MAX));
    assert_eq!(number().await, 7);
    assert!(JOBS.is_empty());
}
