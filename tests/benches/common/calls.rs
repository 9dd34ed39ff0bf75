//! The calls under test, ours and hand-written, shared by the bench targets.
//!
//! Each body is immediately ready (`black_box(id)`), so what is measured is
//! the scope machinery around it.

#![allow(dead_code)]

use std::hint::black_box;

use dashmap::DashMap;
use scoped_cancel::__private;
use scoped_cancel::{scoped_cancel, Cancelled, Registry, Token};
use tokio_util::sync::CancellationToken;

/// Our registry for keyed calls.
pub static REG: Registry<u64> = Registry::new();

static SITE_KEYED: __private::Site = __private::Site::new("bench::ours_keyed", file!(), line!());
static SITE_ANON: __private::Site = __private::Site::new("bench::ours_anonymous", file!(), line!());

/// What `#[scoped_cancel(registry = REG, key = id)]` expands to, written by
/// hand against the same `__private` calls the macro emits.
pub async fn ours_keyed_expanded(id: u64) -> Result<u64, Cancelled> {
    let scope = match __private::enter(&REG, &id, &SITE_KEYED, None) {
        Ok(scope) => scope,
        Err(cancelled) => return __private::cancelled(cancelled),
    };
    let body = async move {
        let out: Result<u64, Cancelled> = { Ok(black_box(id)) };
        out
    };
    match __private::run(scope, body, None, false).await {
        Ok(out) => out,
        Err(cancelled) => __private::cancelled(cancelled),
    }
}

/// What `#[scoped_cancel]` (no registry; `parent` optional) expands to.
pub async fn ours_anonymous_expanded(
    id: u64,
    parent: Option<&CancellationToken>,
) -> Result<u64, Cancelled> {
    let scope = __private::enter_anonymous(&SITE_ANON, parent);
    let body = async move {
        let out: Result<u64, Cancelled> = { Ok(black_box(id)) };
        out
    };
    match __private::run(scope, body, None, false).await {
        Ok(out) => out,
        Err(cancelled) => __private::cancelled(cancelled),
    }
}

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
