//! Counting a runtime's live tasks, which lags on the multi-thread runtime.

use std::time::{Duration, Instant};

use tokio::runtime::Handle;

/// Tasks still alive on the current runtime after giving them up to `settle`
/// to finish, looking again with backoff: tokio's count lags task completion
/// on the multi-thread runtime, so one sample would over-count.
pub async fn alive_tasks(settle: Duration) -> usize {
    let started = Instant::now();
    let mut pause = Duration::from_micros(50);
    loop {
        let alive = Handle::current().metrics().num_alive_tasks();
        if alive == 0 || started.elapsed() >= settle {
            return alive;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}
