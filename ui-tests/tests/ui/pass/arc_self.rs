#![deny(warnings)]

// `self: Arc<Self>` with an `Arc<Registry<_>>` field, spawned as a task and
// cancelled by key from outside.
use std::sync::Arc;
use std::time::Duration;

use scoped_cancel::{scoped_cancel, Cancelled, Cause, Registry};

struct Server {
    sessions: Arc<Registry<String>>,
}

impl Server {
    #[scoped_cancel(registry = self.sessions, key = user)]
    async fn session(self: Arc<Self>, user: String) -> Result<String, Cancelled> {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(user)
    }
}

#[tokio::main]
async fn main() {
    let sessions = Arc::new(Registry::new());
    let server = Arc::new(Server {
        sessions: sessions.clone(),
    });
    let task = tokio::spawn(server.clone().session("ada".to_owned()));
    while !sessions.contains_key("ada") {
        tokio::task::yield_now().await;
    }
    assert!(sessions.cancel("ada"));
    let out = task.await.unwrap();
    assert_eq!(out.unwrap_err().cause(), Cause::Requested);
    assert!(sessions.is_empty());
    assert_eq!(Arc::strong_count(&server), 1);
}
