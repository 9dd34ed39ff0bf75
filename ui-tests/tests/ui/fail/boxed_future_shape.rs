use std::future::Future;
use std::pin::Pin;

use scoped_cancel::scoped_cancel;

async fn work() -> Option<u32> {
    Some(1)
}

// Not the `Box::pin(async move { .. })` shape: a guard here would end as
// soon as the box is returned, before the work runs.
#[scoped_cancel]
fn boxed() -> Pin<Box<dyn Future<Output = Option<u32>> + Send>> {
    Box::pin(work())
}

fn main() {}
