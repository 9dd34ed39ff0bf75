use scoped_cancel::{scoped_cancel, Registry};

static JOBS: Registry<u64> = Registry::new();

#[scoped_cancel(registry = JOBS, key = id)]
async fn count(id: u64) -> u64 {
    id * 2
}

fn main() {}
