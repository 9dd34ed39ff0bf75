use scoped_cancel::{scoped_cancel, Token};

#[scoped_cancel(parent = request, detached)]
async fn audit(request: Token) {
    drop(request);
}

fn main() {}
