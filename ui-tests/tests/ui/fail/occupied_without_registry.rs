use scoped_cancel::scoped_cancel;

#[scoped_cancel(occupied = wait)]
async fn job(id: u64) {
    let _ = id;
}

fn main() {}
