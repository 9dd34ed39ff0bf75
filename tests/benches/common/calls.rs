//! The calls under test, ours and hand-written, shared by the bench targets.
//!
//! Each body is immediately ready (`black_box(id)`), so what is measured is
//! the scope machinery around it.

#![allow(dead_code)]

use std::hint::black_box;

use dashmap::DashMap;
use scoped_cancel::{scoped_cancel, Cancelled, Registry, Scope, Token};
use tokio_util::sync::CancellationToken;

/// Our registry for keyed calls.
pub static REG: Registry<u64> = Registry::new();

/// The keyed call through the macro itself.
#[scoped_cancel(registry = REG, key = id)]
pub async fn macro_keyed(id: u64) -> Result<u64, Cancelled> {
    Ok(black_box(id))
}

/// The keyed call through the macro, with a deadline.
#[scoped_cancel(registry = REG, key = id, timeout = "30s")]
pub async fn macro_keyed_timeout(id: u64) -> Result<u64, Cancelled> {
    Ok(black_box(id))
}

/// The anonymous call through the macro.
#[scoped_cancel]
pub async fn macro_anonymous(id: u64) -> Result<u64, Cancelled> {
    Ok(black_box(id))
}

/// The anonymous call through the macro, as a child of `parent`.
#[scoped_cancel(parent = parent)]
pub async fn macro_anonymous_child(id: u64, parent: &Token) -> Result<u64, Cancelled> {
    Ok(black_box(id))
}

/// The public API without the macro: `Registry::enter(k)?.run(fut)`.
pub async fn ours_registry_run(id: u64) -> Result<u64, Cancelled> {
    let scope = REG.enter(id)?;
    scope.run(async move { black_box(id) }).await
}

/// What people write today: a child of a parent token, indexed in a
/// `DashMap`, a drop guard, a biased select with `cancelled()` first.
pub struct Hand {
    // scoped-cancel-audit: allow(the tokio-util baseline the benchmarks measure)
    pub map: DashMap<u64, CancellationToken>,
    pub parent: CancellationToken,
}

impl Hand {
    pub fn new() -> Hand {
        Hand {
            map: DashMap::new(),
            parent: CancellationToken::new(),
        }
    }

    pub fn with_parent(parent: CancellationToken) -> Hand {
        Hand {
            map: DashMap::new(),
            parent,
        }
    }
}

impl Default for Hand {
    fn default() -> Self {
        Hand::new()
    }
}

/// The hand-written keyed call.
pub async fn hand_keyed(hand: &Hand, id: u64) -> Option<u64> {
    hand_keyed_in(&hand.map, &hand.parent, id).await
}

/// The hand-written keyed call on a given map and parent.
pub async fn hand_keyed_in(
    map: &DashMap<u64, CancellationToken>,
    parent: &CancellationToken,
    id: u64,
) -> Option<u64> {
    let token = parent.child_token();
    // scoped-cancel-audit: allow(baseline as people write it; no bench drops it)
    map.insert(id, token.clone());
    let _guard = token.clone().drop_guard();
    let out = tokio::select! {
        biased;
        _ = token.cancelled() => None,
        v = async move { black_box(id) } => Some(v),
    };
    map.remove(&id);
    out
}

/// The hand-written keyed call with a deadline, as people write it.
pub async fn hand_keyed_timeout(hand: &Hand, id: u64) -> Option<u64> {
    tokio::time::timeout(std::time::Duration::from_secs(30), hand_keyed(hand, id))
        .await
        .ok()
        .flatten()
}

/// The hand-written anonymous call: child token, drop guard, biased select.
pub async fn hand_anonymous(parent: &CancellationToken, id: u64) -> Option<u64> {
    let token = parent.child_token();
    let _guard = token.clone().drop_guard();
    tokio::select! {
        biased;
        _ = token.cancelled() => None,
        v = async move { black_box(id) } => Some(v),
    }
}

/// A call cancelled before its body can finish: the body is pending, the
/// token already cancelled.
pub async fn ours_cancelled() -> Result<(), Cancelled> {
    let scope = Scope::root();
    scope.cancel();
    scope.run(std::future::pending::<()>()).await
}

/// The same by hand.
pub async fn hand_cancelled(parent: &CancellationToken) -> Option<()> {
    let token = parent.child_token();
    token.cancel();
    let _guard = token.clone().drop_guard();
    tokio::select! {
        biased;
        _ = token.cancelled() => None,
        v = std::future::pending::<()>() => Some(v),
    }
}

/// Ours without the macro or a body: `Registry::enter` and drop.
pub fn ours_enter_drop(id: u64) {
    let scope = REG.enter(id).expect("key is free");
    drop(black_box(scope));
}

/// The same by hand: child token, map insert, drop guard, remove, cancel.
pub fn hand_enter_drop(hand: &Hand, id: u64) {
    hand_enter_drop_in(&hand.map, &hand.parent, id)
}

/// [`hand_enter_drop`] on a given map and parent.
pub fn hand_enter_drop_in(
    map: &DashMap<u64, CancellationToken>,
    parent: &CancellationToken,
    id: u64,
) {
    let token = parent.child_token();
    map.insert(id, token.clone());
    let guard = black_box(token.drop_guard());
    map.remove(&id);
    drop(guard);
}
