use std::time::Duration;

use scoped_cancel::Token;

async fn watch() {
    let token = Token::new();
    tokio::time::sleep(Duration::from_millis(1)).await;
    token.cancel();
}

#[tokio::main]
async fn main() {
    tokio::spawn(watch());
}
