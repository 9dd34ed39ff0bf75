use scoped_cancel::scoped_cancel;

#[scoped_cancel(key = id)]
async fn job(id: u64) {
    let _ = id;
}

fn main() {}
