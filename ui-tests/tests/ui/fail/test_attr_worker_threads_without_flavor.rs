// Worker threads only exist on the multi-thread runtime.
#[scoped_cancel::test(worker_threads = 2)]
async fn on_one_thread() {}

fn main() {}
