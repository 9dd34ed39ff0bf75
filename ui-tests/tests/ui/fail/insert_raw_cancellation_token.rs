use scoped_cancel::Registry;
use tokio_util::sync::CancellationToken;

static JOBS: Registry<u64> = Registry::new();

fn main() {
    let _entry = JOBS.insert(1, CancellationToken::new());
}
