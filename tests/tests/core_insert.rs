//! `cancel_all` and `shutdown` over entries made with `Registry::insert`
//! (a scoped token indexed under a key, its scope living elsewhere): the
//! token is cancelled (once, however many keys index it), the entries stay
//! until their guards drop, `shutdown` waits for those guards and names the
//! ones still held, and refuses new inserts.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use scoped_cancel::{Cause, EnterError, Registry, Scope};

/// Polls `fut` once; `true` if it is still pending.
async fn pending_once<F: Future>(fut: Pin<&mut F>) -> bool {
    let mut fut = Some(fut);
    std::future::poll_fn(|cx| {
        let fut = fut.take().expect("polled once");
        std::task::Poll::Ready(fut.poll(cx).is_pending())
    })
    .await
}

#[test]
fn cancel_all_cancels_each_indexed_token_once_and_removes_nothing() {
    let reg = Registry::<u32>::new();
    // A token whose scope is not in the registry, indexed under two keys.
    let owner = Scope::root();
    let under_1 = reg.insert(1, owner.token()).unwrap();
    let under_2 = reg.insert(2, owner.token()).unwrap();
    // A keyed scope whose token is indexed again under another key.
    let keyed = reg.enter(3).unwrap();
    let under_4 = reg.insert(4, keyed.token()).unwrap();
    assert_eq!(reg.len(), 4);

    assert_eq!(reg.cancel_all(), 2, "two tokens, each cancelled once");
    assert_eq!(owner.token().cause(), Some(Cause::Shutdown));
    assert_eq!(keyed.token().cause(), Some(Cause::Shutdown));
    assert_eq!(under_1.token().cause(), Some(Cause::Shutdown));
    // Entries leave only with their guards.
    assert_eq!(reg.len(), 4);
    assert!(!reg.cancel(&2), "already cancelled");
    assert_eq!(reg.cancel_all(), 0);
    // `cancel_all` refuses nothing.
    let later = reg.insert(5, Scope::root().token()).unwrap();
    drop((under_1, under_2, under_4, later));
    assert!(owner.is_cancelled());
    assert_eq!(reg.len(), 1, "only the keyed scope's own entry is left");
    drop(keyed);
    assert!(reg.is_empty());
}

#[tokio::test(start_paused = true)]
async fn shutdown_waits_for_indexed_entries_and_names_those_still_held() {
    let reg = Registry::<u32>::new();
    let owner = Scope::builder().name("indexed owner").build();
    let held = reg.insert(1, owner.token()).unwrap();
    let released = reg.insert(2, owner.token()).unwrap();

    let shutdown = reg.shutdown(Duration::from_secs(5));
    // Refused from the moment shutdown is called.
    assert!(matches!(
        reg.insert(3, owner.token()),
        Err(EnterError::ShuttingDown(3))
    ));
    assert_eq!(owner.token().cause(), Some(Cause::Shutdown));
    let mut shutdown = std::pin::pin!(shutdown);
    assert!(
        pending_once(shutdown.as_mut()).await,
        "shutdown must wait for the entries' guards"
    );
    drop(released);
    let report = shutdown.await;
    // The guard still held at the deadline is the one straggler.
    assert_eq!(report.elapsed(), Duration::from_secs(5));
    let stragglers: Vec<(u32, &str)> = report
        .stragglers()
        .iter()
        .map(|s| (*s.key(), s.name()))
        .collect();
    assert_eq!(stragglers, [(1, "indexed owner")], "{report}");
    assert_eq!(report.stragglers()[0].cause(), Some(Cause::Shutdown));

    // Once the last guard drops, a shutdown ends at once, clean, although
    // the owner's scope (not the registry's) lives on.
    let again = reg.shutdown(Duration::from_secs(60));
    drop(held);
    let report = again.await;
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.elapsed(), Duration::ZERO);
    assert!(reg.is_empty());
    drop(owner);
    reg.reopen();
    assert!(reg.insert(3, Scope::root().token()).is_ok());
}
