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

// The `'async_trait` lifetime says `#[async_trait]` rewrote this fn, but the
// return type is not the boxed future it produces.
#[scoped_cancel]
fn rewritten<'async_trait>() -> impl Future<Output = Option<u32>> + 'async_trait {
    work()
}

fn main() {}
