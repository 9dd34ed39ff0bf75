#![deny(warnings)]

// `&self` methods with `registry = self.jobs`: a cancelled call stops at
// once, the other call is unaffected.
use std::future::pending;

use scoped_cancel::{scoped_cancel, Cancelled, Cause, Registry};

struct Service {
    jobs: Registry<u64>,
    name: String,
}

impl Service {
    #[scoped_cancel(registry = self.jobs, key = id)]
    async fn forever(&self, id: u64) -> Result<(), Cancelled> {
        pending::<()>().await;
        Ok(())
    }

    #[scoped_cancel(registry = self.jobs, key = id)]
    async fn greet(&self, id: u64) -> Result<String, Cancelled> {
        tokio::task::yield_now().await;
        Ok(format!("{} {id}", self.name))
    }
}

#[tokio::main]
async fn main() {
    let service = Service {
        jobs: Registry::new(),
        name: "job".into(),
    };
    let forever = service.forever(1);
    let greet = service.greet(2);
    let cancel = async {
        while !service.jobs.contains_key(&1) {
            tokio::task::yield_now().await;
        }
        assert!(service.jobs.cancel(&1));
    };
    let (forever, greet, ()) = tokio::join!(forever, greet, cancel);
    assert_eq!(forever.unwrap_err().cause(), Cause::Requested);
    assert_eq!(greet.unwrap(), "job 2");
    assert!(service.jobs.is_empty());
}
