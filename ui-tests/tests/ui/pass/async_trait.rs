#![deny(warnings)]

// `#[async_trait]` impls: the scope lives inside the boxed future, so it is
// entered when the future first runs and lasts until it finishes.
use std::sync::Arc;

use async_trait::async_trait;
use scoped_cancel::{scoped_cancel, Cancelled, Cause, Registry};

#[async_trait]
trait Store {
    async fn load(&self, key: String) -> Result<usize, Cancelled>;
    async fn store(&mut self, key: String, value: usize);
    async fn hang(self: Arc<Self>, key: String) -> Result<(), Cancelled>;
}

struct Memory {
    jobs: Arc<Registry<String>>,
    values: Vec<(String, usize)>,
}

#[async_trait]
impl Store for Memory {
    #[scoped_cancel(registry = self.jobs, key = key)]
    async fn load(&self, key: String) -> Result<usize, Cancelled> {
        assert!(self.jobs.contains_key(&key));
        tokio::task::yield_now().await;
        Ok(self
            .values
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(0, |(_, v)| *v))
    }

    #[scoped_cancel(registry = self.jobs, key = key, name = "memory::store")]
    async fn store(&mut self, key: String, value: usize) {
        assert_eq!(self.jobs.report()[0].name(), "memory::store");
        self.values.push((key, value));
    }

    #[scoped_cancel(registry = self.jobs, key = key)]
    async fn hang(self: Arc<Self>, key: String) -> Result<(), Cancelled> {
        std::future::pending::<()>().await;
        Ok(())
    }
}

#[async_trait(?Send)]
trait Local {
    async fn local(&self) -> Option<u8>;
}

#[async_trait(?Send)]
impl Local for Memory {
    #[scoped_cancel(timeout = "1s")]
    async fn local(&self) -> Option<u8> {
        Some(self.values.len() as u8)
    }
}

#[tokio::main]
async fn main() {
    let jobs = Arc::new(Registry::new());
    let mut memory = Memory {
        jobs: jobs.clone(),
        values: Vec::new(),
    };
    memory.store("a".into(), 1).await;
    // Creating the boxed future enters nothing: the guard is inside it.
    let pending = memory.load("a".into());
    assert!(jobs.is_empty());
    assert_eq!(pending.await, Ok(1));
    assert!(jobs.is_empty());
    assert_eq!(memory.local().await, Some(1));

    let memory = Arc::new(memory);
    let task = tokio::spawn(memory.clone().hang("h".into()));
    while !jobs.contains_key("h") {
        tokio::task::yield_now().await;
    }
    jobs.cancel("h");
    assert_eq!(task.await.unwrap().unwrap_err().cause(), Cause::Requested);
    assert!(jobs.is_empty());
}
