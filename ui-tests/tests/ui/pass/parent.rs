#![deny(warnings)]

// `parent = ..`: the call's scope is a child of the given token; ending the
// parent ends the call, whose error carries the parent's cause (its token
// reads `Cause::Parent`).
use std::future::pending;

use scoped_cancel::{scoped_cancel, Cancelled, Cause, Registry, Scope, Token};

static JOBS: Registry<u32> = Registry::new();

#[scoped_cancel(registry = JOBS, key = id, parent = shutdown, token = token)]
async fn job(id: u32, shutdown: &Token) -> Result<Token, Cancelled> {
    let _ = id;
    Ok(token)
}

#[scoped_cancel(parent = &request)]
async fn wait(request: Token) -> Result<(), Cancelled> {
    pending::<()>().await;
    Ok(())
}

#[scoped_cancel(parent = scope)]
async fn under_scope(scope: &Scope) -> Result<(), Cancelled> {
    pending::<()>().await;
    Ok(())
}

#[tokio::main]
async fn main() {
    let server = Scope::root();
    let token = job(1, &server.token()).await.unwrap();
    assert_eq!(token.cause(), Some(Cause::ScopeExited));

    let request = Scope::root();
    let call = tokio::spawn(wait(request.token()));
    tokio::task::yield_now().await;
    drop(request);
    // The call reports why its parent ended.
    assert_eq!(call.await.unwrap().unwrap_err().cause(), Cause::ScopeExited);

    let outer = Scope::root();
    let (out, ()) = tokio::join!(under_scope(&outer), async {
        tokio::task::yield_now().await;
        outer.cancel();
    });
    assert_eq!(out.unwrap_err().cause(), Cause::Requested);
    assert!(JOBS.is_empty());
}
