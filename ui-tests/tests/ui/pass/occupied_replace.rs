#![deny(warnings)]

// `occupied = replace`: the newest call takes the key; the one running
// under it ends with `Superseded`.
use scoped_cancel::{scoped_cancel, Cancelled, Cause, Registry};

static SEARCHES: Registry<u32> = Registry::new();

#[scoped_cancel(registry = SEARCHES, key = session, occupied = replace)]
async fn search(session: u32, query: &'static str) -> Result<&'static str, Cancelled> {
    if query.len() < 4 {
        std::future::pending::<()>().await; // a slow search, typed over
    }
    Ok(query)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let first = tokio::spawn(search(1, "rus"));
    while !SEARCHES.contains_key(&1) {
        tokio::task::yield_now().await;
    }
    assert_eq!(search(1, "rust").await, Ok("rust"));
    assert_eq!(first.await.unwrap().unwrap_err().cause(), Cause::Superseded);
    assert!(SEARCHES.is_empty());
}
