#![deny(warnings)]

// The positive side of the type states: a `Token<Scoped>` may be stored in
// a registry, a `static` collection, or moved into a task; a scope moved
// into a task makes the task own it.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use scoped_cancel::{Cause, Registry, Scope, Token};

static WATCHED: Mutex<Vec<Token>> = Mutex::new(Vec::new());
static ALIASES: Registry<&'static str> = Registry::new();

async fn worker(scope: Scope) -> Option<Cause> {
    let token = scope.token();
    drop(scope);
    token.cause()
}

#[tokio::main]
async fn main() {
    let root = Scope::root();
    let token: Token = root.token();

    WATCHED.lock().unwrap().push(token.clone());
    let entry = ALIASES.insert("root", token.clone()).unwrap();
    assert!(ALIASES.contains_key("root"));

    let shared: Arc<Mutex<HashMap<u8, Token>>> = Arc::default();
    shared.lock().unwrap().insert(1, root.token());
    let map = shared.clone();
    let watcher = tokio::spawn(async move {
        let token = map.lock().unwrap()[&1].clone();
        token.cancelled().await;
        token.cause()
    });

    let child = Token::new().into_scope();
    assert_eq!(
        tokio::spawn(worker(child)).await.unwrap(),
        Some(Cause::ScopeExited)
    );
    assert_eq!(
        tokio::spawn(worker(root.child())).await.unwrap(),
        Some(Cause::ScopeExited)
    );

    drop(entry);
    drop(root);
    assert_eq!(watcher.await.unwrap(), Some(Cause::ScopeExited));
    assert!(WATCHED.lock().unwrap()[0].is_cancelled());
    assert!(ALIASES.is_empty());
}
