// Attributes, doc comments and inner attributes are kept; the expansion
// adds no warnings of its own (this case denies them all).
#![deny(warnings, unused, unreachable_code, clippy::all)]

use scoped_cancel::{scoped_cancel, Cancelled, Registry};

static JOBS: Registry<u32> = Registry::new();

/// Documented, `#[must_use]` and `#[inline]`: all still apply.
#[must_use = "the result says whether it ran"]
#[inline]
#[scoped_cancel(registry = JOBS, key = id)]
#[allow(clippy::needless_return)]
async fn documented(id: u32) -> Result<u32, Cancelled> {
    #![allow(unused_variables)]
    let unused = 1;
    return Ok(id);
}

// A body that never returns normally (a server loop) is not "unreachable".
#[scoped_cancel(token = token)]
async fn serve() -> Result<(), Cancelled> {
    loop {
        if token.is_cancelled() {
            return Ok(());
        }
        token.cancel();
    }
}

#[cfg_attr(all(), scoped_cancel(timeout = "1s"))]
async fn conditional() -> Option<u8> {
    Some(1)
}

#[tokio::main]
async fn main() {
    assert_eq!(documented(3).await, Ok(3));
    assert_eq!(serve().await, Ok(()));
    assert_eq!(conditional().await, Some(1));
}
