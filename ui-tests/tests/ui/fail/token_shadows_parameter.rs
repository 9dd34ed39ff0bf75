use scoped_cancel::{scoped_cancel, Token};

#[scoped_cancel(token = token)]
async fn watch(token: Token) -> bool {
    token.is_cancelled()
}

fn main() {}
