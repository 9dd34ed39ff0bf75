use scoped_cancel::scoped_cancel;

#[scoped_cancel(timeout = 30)]
async fn seconds_or_millis() {}

#[scoped_cancel(timeout = "30")]
async fn in_a_string() {}

fn main() {}
