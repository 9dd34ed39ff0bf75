use scoped_cancel::{scoped_cancel, Registry};

static JOBS: Registry<u64> = Registry::new();

#[scoped_cancel(registry = JOBS, key = id, occupied = queue)]
async fn job(id: u64) {
    let _ = id;
}

fn main() {}
