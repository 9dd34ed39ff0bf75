#![deny(warnings)]

// `token = name` binds the scope's `Token<Scoped>` in the body: it can go
// to a spawned task, and it is cancelled when the call ends.
use scoped_cancel::{scoped_cancel, Cause, Token};

#[scoped_cancel(token = token)]
async fn start_watcher() -> Option<Token> {
    let watcher = token.clone();
    tokio::spawn(async move { watcher.cancelled().await });
    assert!(!token.is_cancelled());
    Some(token)
}

// The body is polled first: work that finishes in the same poll as the
// cancellation is kept, not thrown away.
#[scoped_cancel(token = stop)]
async fn cancels_itself() -> Option<u32> {
    stop.cancel();
    Some(42)
}

#[tokio::main]
async fn main() {
    let token = start_watcher().await.unwrap();
    assert!(token.is_cancelled());
    assert_eq!(token.cause(), Some(Cause::ScopeExited));
    assert_eq!(cancels_itself().await, Some(42));
}
