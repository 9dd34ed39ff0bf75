#![deny(warnings)]

// Native `async fn` in traits: in an impl, and as a default method body.
use scoped_cancel::{scoped_cancel, Cancelled, Registry};

static FETCHES: Registry<u64> = Registry::new();

trait Fetch {
    async fn fetch(&self, id: u64) -> Result<String, Cancelled>;

    #[scoped_cancel(registry = FETCHES, key = id + 1000)]
    async fn fetch_default(&self, id: u64) -> Result<String, Cancelled> {
        assert!(FETCHES.contains_key(&(id + 1000)));
        Ok(format!("default {id}"))
    }
}

struct Http;

impl Fetch for Http {
    #[scoped_cancel(registry = FETCHES, key = id)]
    async fn fetch(&self, id: u64) -> Result<String, Cancelled> {
        assert!(FETCHES.contains_key(&id));
        tokio::task::yield_now().await;
        Ok(format!("page {id}"))
    }
}

#[tokio::main]
async fn main() {
    assert_eq!(Http.fetch(1).await.unwrap(), "page 1");
    assert_eq!(Http.fetch_default(2).await.unwrap(), "default 2");
    assert!(FETCHES.is_empty());
}
