//! Nesting by default: a `#[scoped_cancel]` call made inside another scope's
//! body gets a child of that scope, so cancelling the caller cancels it;
//! `detached` opts out, `parent = ..` overrides, and explicit constructors
//! never read the current scope.

// Some tests start a call inside a caller and hand its future back out of
// the caller's body on purpose, to run it after the caller has ended.
#![allow(clippy::async_yields_async)]

use std::future::pending;
use std::time::Duration;

use scoped_cancel::{scoped_cancel, Cancelled, Cause, Registry, Scope, Token};
use tokio::sync::oneshot;

/// Generous bound for "promptly" on a loaded machine (never reached when
/// the code is right; only keeps a broken build from hanging).
const PROMPT: Duration = Duration::from_secs(10);

/// The innermost call: reports its token, then waits to be cancelled.
#[scoped_cancel(token = token)]
async fn leaf(started: oneshot::Sender<Token>) -> Result<(), Cancelled> {
    let _ = started.send(token);
    pending::<()>().await;
    Ok(())
}

#[scoped_cancel]
async fn middle(started: oneshot::Sender<Token>) -> Result<(), Cancelled> {
    leaf(started).await
}

#[scoped_cancel]
async fn outer(started: oneshot::Sender<Token>) -> Result<(), Cancelled> {
    middle(started).await
}

#[tokio::test]
async fn a_nested_call_is_cancelled_with_its_caller_at_depth_three() {
    let (tx, rx) = oneshot::channel();
    let request = Scope::root();
    let request_token = request.token();
    let call = tokio::spawn(request.run(outer(tx)));
    let leaf_token = tokio::time::timeout(PROMPT, rx).await.unwrap().unwrap();
    assert!(!leaf_token.is_cancelled());
    request_token.cancel();
    let out = tokio::time::timeout(PROMPT, call).await.unwrap().unwrap();
    // The body is polled first, so the call chain itself returns: each
    // nested call saw the cancellation come from above, and its error says
    // why the caller was cancelled (the tokens below still read `Parent`).
    assert_eq!(out.unwrap().unwrap_err().cause(), Cause::Requested);
    assert_eq!(request_token.cause(), Some(Cause::Requested));
    assert!(leaf_token.is_cancelled());
    assert_eq!(leaf_token.cause(), Some(Cause::Parent));
}

#[tokio::test]
async fn a_keyed_nested_call_is_a_child_of_its_caller() {
    static JOBS: Registry<u32> = Registry::new();

    #[scoped_cancel(registry = JOBS, key = id, token = token)]
    async fn keyed(id: u32, started: oneshot::Sender<Token>) -> Result<(), Cancelled> {
        let _ = started.send(token);
        pending::<()>().await;
        Ok(())
    }

    #[scoped_cancel(token = token)]
    async fn caller(started: oneshot::Sender<Token>, me: oneshot::Sender<Token>) {
        let _ = me.send(token);
        let _ = keyed(7, started).await;
    }

    let (tx, rx) = oneshot::channel();
    let (me_tx, me_rx) = oneshot::channel();
    let call = tokio::spawn(caller(tx, me_tx));
    let keyed_token = rx.await.unwrap();
    let caller_token = me_rx.await.unwrap();
    assert!(JOBS.contains_key(&7));
    caller_token.cancel();
    tokio::time::timeout(PROMPT, call).await.unwrap().unwrap();
    assert_eq!(keyed_token.cause(), Some(Cause::Parent));
    assert!(JOBS.is_empty());
}

/// Polls `fut` once with a no-op waker.
fn poll_once<F: std::future::Future + ?Sized>(
    fut: std::pin::Pin<&mut F>,
) -> std::task::Poll<F::Output> {
    fut.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
}

#[tokio::test]
async fn a_detached_call_outlives_its_caller() {
    #[scoped_cancel(detached, token = token, on_cancel = 0)]
    async fn background(started: oneshot::Sender<Token>, done: oneshot::Receiver<()>) -> u8 {
        let _ = started.send(token);
        let _ = done.await;
        7
    }

    let (tx, rx) = oneshot::channel();
    let (done_tx, done_rx) = oneshot::channel();
    let request = Scope::root();
    let request_token = request.token();
    // The call starts (enters its scope) inside the request, which then
    // ends, handing the call's future back to run on.
    let call = request
        .run(async move {
            let mut call = Box::pin(background(tx, done_rx));
            assert!(poll_once(call.as_mut()).is_pending());
            call
        })
        .await
        .unwrap();
    let detached = rx.await.unwrap();
    assert!(request_token.is_cancelled(), "the caller's scope has ended");
    assert!(!detached.is_cancelled());
    done_tx.send(()).unwrap();
    assert_eq!(call.await, 7);
}

#[tokio::test]
async fn without_detached_the_same_call_ends_with_its_caller() {
    #[scoped_cancel(token = token, on_cancel = 0)]
    async fn nested(started: oneshot::Sender<Token>, done: oneshot::Receiver<()>) -> u8 {
        let _ = started.send(token);
        let _ = done.await;
        7
    }

    let (tx, rx) = oneshot::channel();
    let (_done_tx, done_rx) = oneshot::channel();
    let call = Scope::root()
        .run(async move {
            let mut call = Box::pin(nested(tx, done_rx));
            assert!(poll_once(call.as_mut()).is_pending());
            call
        })
        .await
        .unwrap();
    let token = rx.await.unwrap();
    assert_eq!(token.cause(), Some(Cause::Parent));
    assert_eq!(call.await, 0);
}

#[tokio::test]
async fn a_call_first_polled_by_a_plain_spawn_is_a_root() {
    // The scope is entered at the first poll, where the current scope is
    // read: a future handed to `tokio::spawn` before that starts with none.
    #[scoped_cancel(token = token)]
    async fn started(out: oneshot::Sender<Token>) {
        let _ = out.send(token);
        std::future::pending::<()>().await;
    }

    let (tx, rx) = oneshot::channel();
    let request = Scope::root();
    let task = request
        .run(async move { tokio::spawn(started(tx)) })
        .await
        .unwrap();
    let token = rx.await.unwrap();
    assert!(!token.is_cancelled());
    task.abort();
}

#[tokio::test]
async fn a_detached_call_made_inside_a_scope_is_a_root() {
    #[scoped_cancel(detached, token = token)]
    async fn root_call() -> Option<Token> {
        Some(token)
    }

    let request = Scope::root();
    let request_token = request.token();
    let inner = request.run(root_call()).await.unwrap().unwrap();
    // Not a child: it ended by itself, not because its caller did.
    assert_eq!(inner.cause(), Some(Cause::ScopeExited));
    assert_ne!(inner, request_token);
    assert_eq!(Token::current(), None);
}

#[tokio::test]
async fn explicit_parent_wins_over_the_current_scope() {
    #[scoped_cancel(parent = parent, token = token)]
    async fn under(parent: Token, started: oneshot::Sender<Token>) -> Result<(), Cancelled> {
        let _ = started.send(token);
        pending::<()>().await;
        Ok(())
    }

    let other = Scope::root();
    let other_token = other.token();
    let request = Scope::root();
    let request_token = request.token();
    let (tx, rx) = oneshot::channel();
    let call = tokio::spawn(request.run(under(other_token.clone(), tx)));
    let child = rx.await.unwrap();
    request_token.cancel();
    tokio::time::timeout(PROMPT, call)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    // The call ended with its caller's run, but as a scope it hangs under
    // `other`: its token was cancelled by its own scope's end, not by a parent.
    assert_eq!(child.cause(), Some(Cause::ScopeExited));
    drop(other);
}

#[tokio::test]
async fn explicit_constructors_never_read_the_current_scope() {
    static JOBS: Registry<u8> = Registry::new();

    let request = Scope::root();
    let request_token = request.token();
    let (root, new, entered, child) = request
        .run(async {
            assert!(Token::current().is_some());
            let root = Scope::root();
            let new = Token::new().into_scope();
            let entered = JOBS.enter(1).unwrap();
            let child = JOBS.enter_child(2, &Token::current().unwrap()).unwrap();
            (root, new, entered, child)
        })
        .await
        .unwrap();
    assert!(request_token.is_cancelled());
    assert!(!root.is_cancelled());
    assert!(!new.is_cancelled());
    assert!(!entered.is_cancelled());
    // `enter_child` takes its parent explicitly, and honours it.
    assert!(child.is_cancelled());
    assert_eq!(child.token().cause(), Some(Cause::Parent));
}

#[tokio::test]
async fn inside_a_body_the_current_token_is_the_calls_own() {
    #[scoped_cancel(token = token)]
    async fn own() -> Option<bool> {
        Some(Token::current() == Some(token))
    }

    assert_eq!(own().await, Some(true));
    assert_eq!(Token::current(), None);
}
