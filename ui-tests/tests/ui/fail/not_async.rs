use scoped_cancel::{scoped_cancel, Registry};

static JOBS: Registry<u64> = Registry::new();

#[scoped_cancel(registry = JOBS, key = id)]
fn job(id: u64) -> Option<u64> {
    Some(id)
}

fn main() {
    let _ = job(1);
}
