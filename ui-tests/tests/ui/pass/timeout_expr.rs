#![deny(warnings)]

// `timeout = <Duration expression>`: a const, a parameter, a field. It is
// evaluated before the body takes the parameters.
use std::time::Duration;

use scoped_cancel::{scoped_cancel, Cancelled, Cause};
use tokio::time::{sleep, Instant};

const LIMIT: Duration = Duration::from_millis(100);

#[scoped_cancel(timeout = LIMIT)]
async fn with_const() -> Option<()> {
    sleep(Duration::from_secs(1)).await;
    Some(())
}

struct Config {
    limit: Duration,
    label: String,
}

#[scoped_cancel(timeout = config.limit)]
async fn with_field(config: Config) -> Result<String, Cancelled> {
    sleep(Duration::from_secs(1)).await;
    Ok(config.label)
}

#[scoped_cancel(timeout = Duration::from_millis(ms))]
async fn with_param(ms: u64) -> Result<u64, Cancelled> {
    sleep(Duration::from_millis(50)).await;
    Ok(ms)
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let start = Instant::now();
    assert_eq!(with_const().await, None);
    assert_eq!(start.elapsed(), LIMIT);

    let config = Config {
        limit: Duration::from_secs(5),
        label: "ok".into(),
    };
    assert_eq!(with_field(config).await, Ok("ok".to_owned()));
    let config = Config {
        limit: Duration::from_millis(5),
        label: "late".into(),
    };
    assert_eq!(
        with_field(config).await.unwrap_err().cause(),
        Cause::Deadline
    );

    assert_eq!(with_param(60).await, Ok(60));
    assert_eq!(with_param(40).await.unwrap_err().cause(), Cause::Deadline);
}
