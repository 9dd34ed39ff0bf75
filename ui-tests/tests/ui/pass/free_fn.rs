#![deny(warnings)]

// A free fn with a keyed scope: the key is live while the body runs and
// gone once the call returns.
use scoped_cancel::{scoped_cancel, Cancelled, Registry};

static JOBS: Registry<u64> = Registry::new();

#[scoped_cancel(registry = JOBS, key = id)]
async fn double(id: u64) -> Result<u64, Cancelled> {
    assert!(JOBS.contains_key(&id));
    Ok(id * 2)
}

// A user type with its own `FromCancelled`, and no arguments at all.
#[scoped_cancel]
async fn anonymous(x: u32) -> Answer {
    Answer::Value(x)
}

#[derive(Debug, PartialEq)]
enum Answer {
    Value(u32),
    Cancelled,
}

impl scoped_cancel::FromCancelled for Answer {
    fn from_cancelled(_: Cancelled) -> Self {
        Answer::Cancelled
    }
}

#[tokio::main]
async fn main() {
    assert!(JOBS.is_empty());
    assert_eq!(double(21).await, Ok(42));
    assert!(JOBS.is_empty());
    assert_eq!(anonymous(7).await, Answer::Value(7));
    assert_ne!(anonymous(7).await, Answer::Cancelled);
}
