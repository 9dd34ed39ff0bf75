//! `detached`: a root scope even when the call starts inside another
//! scope, so cancelling the caller leaves it running; without it the call
//! nests and ends with its caller.

#![deny(warnings)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Waker};

use scoped_cancel::{scoped_cancel, Registry, Scope};
use tokio::sync::oneshot;

static JOBS: Registry<u8> = Registry::new();

#[scoped_cancel(detached, registry = JOBS, key = 1, on_cancel = "cancelled")]
async fn detached(done: oneshot::Receiver<()>) -> &'static str {
    let _ = done.await;
    "finished"
}

#[scoped_cancel(on_cancel = "cancelled")]
async fn nested(done: oneshot::Receiver<()>) -> &'static str {
    let _ = done.await;
    "finished"
}

type Call = Pin<Box<dyn Future<Output = &'static str> + Send>>;

/// Starts both calls inside `caller` (a call enters its scope at its first
/// poll), then ends `caller` and hands the calls' futures back.
async fn start_in(caller: Scope, a: Call, b: Call) -> (Call, Call) {
    caller
        .run(async move {
            let (mut a, mut b) = (a, b);
            let mut cx = Context::from_waker(Waker::noop());
            assert!(a.as_mut().poll(&mut cx).is_pending());
            assert!(b.as_mut().poll(&mut cx).is_pending());
            (a, b)
        })
        .await
        .unwrap()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (a_done, a_rx) = oneshot::channel();
    let (_b_done, b_rx) = oneshot::channel::<()>(); // never sent: `b` waits
    let (a, b) = start_in(Scope::root(), Box::pin(detached(a_rx)), Box::pin(nested(b_rx))).await;
    assert!(JOBS.contains_key(&1));
    a_done.send(()).unwrap();
    assert_eq!(a.await, "finished");
    assert_eq!(b.await, "cancelled");
}
