#![deny(warnings)]

// `cooperative`: the body is not raced. At the deadline the token is
// cancelled with `Cause::Deadline` and the body finishes on its own terms
// (here: it flushes what it has), so its result is kept.
use std::time::Duration;

use scoped_cancel::{scoped_cancel, Cancelled, Cause, Registry};
use tokio::time::sleep;

static BATCHES: Registry<u32> = Registry::new();

#[scoped_cancel(registry = BATCHES, key = batch, timeout = "1s", cooperative, token = token)]
async fn copy(batch: u32, rows: u32) -> Result<(u32, Option<Cause>), Cancelled> {
    let mut copied = 0;
    while copied < rows {
        tokio::select! {
            biased;
            _ = token.cancelled() => break,
            _ = sleep(Duration::from_millis(300)) => copied += 1,
        }
    }
    Ok((copied, token.cause()))
}

// A deliberately deaf body binds `_token` and always runs to the end.
#[scoped_cancel(timeout = "10ms", cooperative, token = _token)]
async fn deaf() -> Option<&'static str> {
    sleep(Duration::from_millis(50)).await;
    Some("finished")
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    assert_eq!(copy(1, 2).await, Ok((2, None)));
    assert_eq!(copy(2, 10).await, Ok((3, Some(Cause::Deadline))));
    assert_eq!(deaf().await, Some("finished"));
    // Cancel by key: the cooperative body sees `Requested`.
    let (out, ()) = tokio::join!(copy(3, 100), async {
        sleep(Duration::from_millis(450)).await;
        BATCHES.cancel(&3);
    });
    assert_eq!(out, Ok((1, Some(Cause::Requested))));
    assert!(BATCHES.is_empty());
}
