use scoped_cancel::scoped_cancel;

#[scoped_cancel(timeout = secs)]
async fn job(secs: u64) {
    let _ = secs;
}

fn main() {}
