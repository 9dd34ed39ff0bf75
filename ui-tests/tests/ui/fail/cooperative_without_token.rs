use scoped_cancel::scoped_cancel;

#[scoped_cancel(timeout = "1s", cooperative)]
async fn deaf() {
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
}

fn main() {}
