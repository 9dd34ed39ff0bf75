use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use scoped_cancel::{Token, Unscoped};

#[tokio::main]
async fn main() {
    let jobs: Arc<Mutex<HashMap<u64, Token<Unscoped>>>> = Arc::default();
    jobs.lock().unwrap().insert(1, Token::new());
    let shared = jobs.clone();
    tokio::spawn(async move {
        if let Some(token) = shared.lock().unwrap().remove(&1) {
            token.cancel();
        }
    });
}
