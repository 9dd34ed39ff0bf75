use std::collections::HashMap;

use scoped_cancel::scoped_cancel;

struct Service {
    jobs: HashMap<u64, ()>,
}

impl Service {
    #[scoped_cancel(registry = self.jobs, key = id)]
    async fn job(&self, id: u64) {
        let _ = id;
    }
}

fn main() {}
