//! Two "nodes" (two registries, as two processes would have) share one
//! Redis: a job runs on node A, node B sees who holds it and cancels it
//! with a reason, which node A's job reports.
//!
//! ```text
//! redis-server --port 6379 --save "" &   # any Redis 6.2+
//! cargo run -p scoped-cancel-redis --example cluster_jobs
//! REDIS_URL=redis://127.0.0.1:6380/ cargo run -p scoped-cancel-redis --example cluster_jobs
//! ```

use std::time::Duration;

use scoped_cancel::Cancelled;
use scoped_cancel_redis::{ClusterError, ClusterRegistry};

async fn export(job: &str) -> Result<(), Cancelled> {
    println!("  [A] exporting {job}...");
    std::future::pending::<()>().await; // stands for slow work
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let connect = |name: &'static str| {
        ClusterRegistry::<String>::builder(&url)
            .namespace("cluster-jobs-example")
            .lease(Duration::from_secs(3))
            .node_name(name)
            .connect()
    };
    let a = connect("a")
        .await
        .map_err(|e| format!("{url}: {e} (is redis-server running?)"))?;
    let b = connect("b").await?;
    println!("node A = {}\nnode B = {}", a.node_id(), b.node_id());

    let job = "export-7".to_string();
    let running = a.spawn(job.clone(), async { export("export-7").await });
    while !a.holds(&job) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!("A holds {job} with fencing token {:?}", a.fence(&job));

    match b.enter(job.clone()).await {
        Err(e @ ClusterError::KeyOccupied { .. }) => println!("B: refused: {e}"),
        other => println!("B: unexpected {other:?}"),
    }
    for scope in b.report().await? {
        println!("B's cluster report: {scope}");
    }

    let found = b
        .cancel_with_reason(&job, "the customer closed the order")
        .await?;
    println!("B: cancel {job} with a reason -> {found}");
    match running.await?? {
        Ok(_) => println!("A: job ended"),
        // "cancelled: cancellation was requested (the customer closed the order)"
        Err(cancelled) => println!("A: job stopped: {cancelled}"),
    }

    // The claim is gone at once: B takes the key now.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let scope = b.enter(job.clone()).await?;
    println!("B now holds {job} (fence {:?})", b.fence(&job));
    drop(scope);

    a.shutdown(Duration::from_secs(1)).await;
    let report = b.shutdown(Duration::from_secs(1)).await;
    println!("shut down: {report}");
    Ok(())
}
