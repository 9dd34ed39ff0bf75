#![deny(warnings)]

// `timeout = "..."` literals, parsed at compile time; the deadline counts
// from the first poll and ends the call with `Cause::Deadline`.
use std::time::Duration;

use scoped_cancel::{scoped_cancel, Cancelled, Cause};
use tokio::time::{sleep, Instant};

#[scoped_cancel(timeout = "250ms")]
async fn slow() -> Result<(), Cancelled> {
    sleep(Duration::from_secs(10)).await;
    Ok(())
}

#[scoped_cancel(timeout = "1m30s")]
async fn fast() -> Result<u8, Cancelled> {
    sleep(Duration::from_secs(89)).await;
    Ok(1)
}

#[scoped_cancel(timeout = "1h2m3s")]
async fn hours() -> Option<()> {
    sleep(Duration::from_secs(3_724)).await;
    Some(())
}

#[scoped_cancel(timeout = "1500us")]
async fn micros() -> Option<()> {
    sleep(Duration::from_millis(10)).await;
    Some(())
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let start = Instant::now();
    assert_eq!(slow().await.unwrap_err().cause(), Cause::Deadline);
    assert_eq!(start.elapsed(), Duration::from_millis(250));

    assert_eq!(fast().await, Ok(1));

    let start = Instant::now();
    assert_eq!(hours().await, None);
    assert_eq!(start.elapsed(), Duration::from_secs(3_723));

    let start = Instant::now();
    assert_eq!(micros().await, None);
    assert!(start.elapsed() < Duration::from_millis(10));
}
