use scoped_cancel::scoped_cancel;

#[scoped_cancel(key = id, timeout = "10 s", toekn = t, name = "a", name = "b")]
async fn job(id: u64) {
    let _ = id;
}

fn main() {}
