// Every argument mistake is reported at once, each at its own token.
#[scoped_cancel::test(flavour = "multi_thread", grace = "1.5s", worker_threads = 0)]
async fn leaky() {}

fn main() {}
