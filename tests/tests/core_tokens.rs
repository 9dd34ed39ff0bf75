//! Tokens, causes and scopes outside any registry.

use std::future::{pending, Future};

use scoped_cancel::tokio_util::sync::CancellationToken;
use scoped_cancel::{Cancelled, Cause, Scope, Token};

#[test]
fn first_cause_wins_and_is_never_overwritten() {
    let scope = Scope::root();
    let token = scope.token();
    assert_eq!(token.cause(), None);
    assert!(scope.cancel());
    assert!(!scope.cancel());
    assert!(!token.cancel());
    drop(scope);
    assert_eq!(token.cause(), Some(Cause::Requested));
}

#[test]
fn a_parent_ending_reads_as_parent_in_children() {
    let root = Scope::root();
    let child = root.child();
    let grandchild = child.child();
    let (c, g) = (child.token(), grandchild.token());
    drop(root);
    assert_eq!(c.cause(), Some(Cause::Parent));
    assert_eq!(g.cause(), Some(Cause::Parent));
    // The children's own guards end later and do not overwrite the cause.
    drop(grandchild);
    drop(child);
    assert_eq!(g.cause(), Some(Cause::Parent));
}

#[test]
fn parent_cause_wins_even_if_nobody_looked_before_the_scope_exited() {
    let root = Scope::root();
    let child = root.child();
    let token = child.token();
    root.cancel();
    drop(child);
    assert_eq!(token.cause(), Some(Cause::Parent));
}

#[test]
fn a_child_ending_does_not_cancel_its_parent() {
    let root = Scope::root();
    drop(root.child());
    assert!(!root.is_cancelled());
}

#[test]
fn adopt_never_cancels_the_foreign_token() {
    let server = CancellationToken::new();
    let scope = Token::adopt(&server).into_scope();
    let token = scope.token();
    drop(scope);
    assert!(token.is_cancelled());
    assert!(
        !server.is_cancelled(),
        "the adopted source must survive the scope"
    );
}

#[test]
fn adopted_source_cancelled_reads_as_parent() {
    let server = CancellationToken::new();
    let scope = Token::adopt(&server).into_scope();
    let token = scope.token();
    server.cancel();
    assert!(token.is_cancelled());
    assert_eq!(token.cause(), Some(Cause::Parent));
}

#[test]
fn new_into_scope_and_unscoped_children() {
    let scope: Scope = Token::new().into_scope();
    let token: Token = scope.token();
    let unscoped = token.child();
    assert!(!unscoped.is_cancelled());
    let inner = unscoped.into_scope();
    drop(scope);
    assert_eq!(inner.token().cause(), Some(Cause::Parent));
}

#[test]
fn interop_token_is_a_child_that_cannot_cancel_the_scope() {
    let scope = Scope::root();
    let ct = scope.token().cancellation_token();
    ct.cancel();
    assert!(!scope.is_cancelled());
    let ct = scope.token().cancellation_token();
    drop(scope);
    assert!(ct.is_cancelled());
}

/// The owned wait is `'static + Send` (it goes into `tokio::spawn`), stays
/// pending while the scope lives, and completes when the scope is cancelled.
#[tokio::test]
async fn cancelled_owned_is_static_and_send() {
    fn assert_static_send<T: Send + 'static>(_: &T) {}
    let scope = Scope::root();
    let wait = scope.token().cancelled_owned();
    assert_static_send(&wait);
    let (polled_tx, polled) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let mut wait = std::pin::pin!(wait);
        let early =
            std::future::poll_fn(|cx| std::task::Poll::Ready(wait.as_mut().poll(cx).is_ready()))
                .await;
        polled_tx.send(early).unwrap();
        wait.await;
    });
    assert!(
        !polled.await.unwrap(),
        "the wait resolved before any cancel"
    );
    assert!(!task.is_finished());
    scope.cancel();
    task.await.expect("the wait completes");
}

#[tokio::test]
async fn spawn_runs_a_task_tied_to_the_scope() {
    let scope = Scope::root();
    let finished = scope.spawn(async { 5 });
    assert_eq!(finished.await.unwrap(), Ok(5));
    let stuck = scope.spawn(pending::<()>());
    drop(scope);
    // The task's call says why: the scope it was spawned from exited.
    assert_eq!(
        stuck.await.unwrap().unwrap_err().cause(),
        Cause::ScopeExited
    );
}

#[test]
fn cancelled_is_a_std_error_with_a_cause() {
    fn assert_error<E: std::error::Error + Send + Sync + 'static>(_: &E) {}
    let c = Cancelled::new(Cause::Deadline);
    assert_error(&c);
    assert_eq!(c.cause(), Cause::Deadline);
    assert_eq!(c.to_string(), "cancelled: the deadline passed");
    let boxed: Box<dyn std::error::Error + Send + Sync> = c.into();
    assert!(boxed.to_string().contains("deadline"));
}

#[test]
fn debug_output_names_the_scope() {
    let scope = Scope::builder().name("upload").build();
    let text = format!("{scope:?}");
    assert!(text.contains("upload"), "{text}");
    assert!(text.contains(file!()), "{text}");
    let token = format!("{:?}", scope.token());
    assert!(
        token.contains("Scoped") && token.contains("upload"),
        "{token}"
    );
    assert!(format!("{:?}", Token::new()).contains("Unscoped"));
}

#[test]
fn tokens_compare_by_identity() {
    let scope = Scope::root();
    assert_eq!(scope.token(), scope.token());
    assert_ne!(scope.token(), Scope::root().token());
}
