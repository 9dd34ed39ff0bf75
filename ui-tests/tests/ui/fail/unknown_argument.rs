use scoped_cancel::{scoped_cancel, Registry};

static JOBS: Registry<u64> = Registry::new();

#[scoped_cancel(registy = JOBS, key = id)]
async fn typo(id: u64) {
    let _ = id;
}

#[scoped_cancel(deadline = "5s")]
async fn unknown() {}

fn main() {}
