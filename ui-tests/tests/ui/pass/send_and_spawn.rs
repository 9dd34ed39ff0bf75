#![deny(warnings)]

// The call's future is `Send` whenever the body's is: free fns and methods
// can be given to `tokio::spawn` and `JoinSet`.
use std::future::Future;
use std::sync::Arc;

use scoped_cancel::{scoped_cancel, Cancelled, Registry};
use tokio::task::JoinSet;

static JOBS: Registry<u64> = Registry::new();

fn assert_send<F: Future + Send + 'static>(f: F) -> F {
    f
}

#[scoped_cancel(registry = JOBS, key = id, timeout = "5s", token = token)]
async fn job(id: u64) -> Result<u64, Cancelled> {
    let child = token.clone();
    tokio::task::yield_now().await;
    assert!(!child.is_cancelled());
    Ok(id)
}

struct Pool {
    jobs: Registry<u64>,
}

impl Pool {
    #[scoped_cancel(registry = self.jobs, key = id)]
    async fn run(self: Arc<Self>, id: u64) -> Result<u64, Cancelled> {
        tokio::task::yield_now().await;
        Ok(id + 100)
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut set = JoinSet::new();
    for id in 0..8 {
        set.spawn(assert_send(job(id)));
    }
    let pool = Arc::new(Pool {
        jobs: Registry::new(),
    });
    for id in 0..8 {
        set.spawn(assert_send(pool.clone().run(id)));
    }
    let mut sum = 0;
    while let Some(out) = set.join_next().await {
        sum += out.unwrap().unwrap();
    }
    assert_eq!(sum, 2 * 28 + 800);
    assert!(JOBS.is_empty());
    assert!(pool.jobs.is_empty());
}
