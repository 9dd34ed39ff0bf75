use scoped_cancel::scoped_cancel;

#[scoped_cancel(on_cancel = "cancelled")]
async fn count() -> u64 {
    1
}

fn main() {}
