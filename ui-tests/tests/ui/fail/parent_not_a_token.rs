use scoped_cancel::scoped_cancel;
use tokio_util::sync::CancellationToken;

#[scoped_cancel(parent = shutdown)]
async fn job(shutdown: CancellationToken) {
    let _ = shutdown;
}

fn main() {}
