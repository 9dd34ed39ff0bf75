use std::sync::Mutex;

use scoped_cancel::{Token, Unscoped};

static PENDING: Mutex<Vec<Token<Unscoped>>> = Mutex::new(Vec::new());

fn main() {
    PENDING.lock().unwrap().push(Token::new());
}
