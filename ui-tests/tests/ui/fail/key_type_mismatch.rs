use scoped_cancel::{scoped_cancel, Registry};

static JOBS: Registry<u64> = Registry::new();

#[scoped_cancel(registry = JOBS, key = name)]
async fn job(name: String) -> Option<()> {
    let _ = name;
    Some(())
}

fn main() {}
