use scoped_cancel::scoped_cancel;

#[scoped_cancel(timeout = "1s", name = "a", timeout = "2s")]
async fn twice() {}

#[scoped_cancel(token = token, cooperative, cooperative)]
async fn flag_twice() {
    token.cancelled().await;
}

fn main() {}
