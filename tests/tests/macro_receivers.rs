//! Methods with every receiver work with `registry = self.jobs`, whether the
//! field is a `Registry` or an `Arc<Registry<_>>`, natively and under
//! `#[async_trait]`, and each can be cancelled by key.

use std::future::pending;
use std::sync::Arc;

use async_trait::async_trait;
use scoped_cancel::{scoped_cancel, Cancelled, Cause, Registry};

struct Owned {
    jobs: Registry<u64>,
    hits: u64,
}

struct Shared {
    jobs: Arc<Registry<u64>>,
    id: u64,
}

impl Owned {
    #[scoped_cancel(registry = self.jobs, key = id)]
    async fn by_ref(&self, id: u64) -> Result<u64, Cancelled> {
        assert!(self.jobs.contains_key(&id));
        Ok(id)
    }

    #[scoped_cancel(registry = self.jobs, key = id)]
    async fn by_mut(&mut self, id: u64) -> Result<u64, Cancelled> {
        self.hits += 1;
        Ok(self.hits)
    }

    #[scoped_cancel(registry = self.jobs, key = id)]
    async fn wait(&self, id: u64) -> Result<(), Cancelled> {
        pending::<()>().await;
        Ok(())
    }
}

impl Shared {
    #[scoped_cancel(registry = self.jobs, key = self.id)]
    async fn by_value(self) -> Result<u64, Cancelled> {
        assert!(self.jobs.contains_key(&self.id));
        Ok(self.id)
    }

    #[scoped_cancel(registry = self.jobs, key = self.id)]
    async fn by_arc(self: Arc<Self>) -> Result<(), Cancelled> {
        pending::<()>().await;
        Ok(())
    }
}

#[tokio::test]
async fn ref_and_mut_receivers_with_a_registry_field() {
    let mut owned = Owned {
        jobs: Registry::new(),
        hits: 0,
    };
    assert_eq!(owned.by_ref(1).await, Ok(1));
    assert_eq!(owned.by_mut(2).await, Ok(1));
    assert_eq!(owned.by_mut(2).await, Ok(2));
    let (out, ()) = tokio::join!(owned.wait(3), async {
        while !owned.jobs.contains_key(&3) {
            tokio::task::yield_now().await;
        }
        owned.jobs.cancel(&3);
    });
    assert_eq!(out.unwrap_err().cause(), Cause::Requested);
    assert!(owned.jobs.is_empty());
}

#[tokio::test]
async fn value_and_arc_receivers_with_an_arc_registry_field() {
    let jobs = Arc::new(Registry::new());
    let shared = Shared {
        jobs: jobs.clone(),
        id: 4,
    };
    assert_eq!(shared.by_value().await, Ok(4));

    let shared = Arc::new(Shared {
        jobs: jobs.clone(),
        id: 5,
    });
    let call = tokio::spawn(shared.clone().by_arc());
    while !jobs.contains_key(&5) {
        tokio::task::yield_now().await;
    }
    assert!(jobs.cancel(&5));
    assert_eq!(call.await.unwrap().unwrap_err().cause(), Cause::Requested);
    assert!(jobs.is_empty());
    assert_eq!(
        Arc::strong_count(&shared),
        1,
        "the call released its receiver"
    );
}

#[async_trait]
trait Worker {
    async fn run(&self, id: u64) -> Result<u64, Cancelled>;
    async fn run_mut(&mut self, id: u64) -> Result<u64, Cancelled>;
    async fn run_arc(self: Arc<Self>, id: u64) -> Result<u64, Cancelled>;
}

#[async_trait]
impl Worker for Shared {
    #[scoped_cancel(registry = self.jobs, key = id)]
    async fn run(&self, id: u64) -> Result<u64, Cancelled> {
        assert!(self.jobs.contains_key(&id));
        Ok(id * 10)
    }

    #[scoped_cancel(registry = self.jobs, key = id)]
    async fn run_mut(&mut self, id: u64) -> Result<u64, Cancelled> {
        self.id += id;
        Ok(self.id)
    }

    #[scoped_cancel(registry = self.jobs, key = id)]
    async fn run_arc(self: Arc<Self>, id: u64) -> Result<u64, Cancelled> {
        pending::<()>().await;
        Ok(id)
    }
}

#[tokio::test]
async fn async_trait_methods_scope_the_boxed_future() {
    let jobs = Arc::new(Registry::new());
    let mut worker = Shared {
        jobs: jobs.clone(),
        id: 0,
    };
    let boxed = worker.run(6);
    assert!(
        jobs.is_empty(),
        "nothing is entered until the boxed future runs"
    );
    assert_eq!(boxed.await, Ok(60));
    assert_eq!(worker.run_mut(7).await, Ok(7));

    let worker = Arc::new(worker);
    let call = tokio::spawn(worker.clone().run_arc(8));
    while !jobs.contains_key(&8) {
        tokio::task::yield_now().await;
    }
    jobs.cancel(&8);
    assert_eq!(call.await.unwrap().unwrap_err().cause(), Cause::Requested);
    assert!(jobs.is_empty());
}
