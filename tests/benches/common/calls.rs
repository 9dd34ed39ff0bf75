//! The calls under test, ours and hand-written, shared by the bench targets.
//!
//! Two hand-written baselines:
//!
//! - **best**: what a careful engineer writes with tokio-util today for the
//!   same work. A `DashMap` with a per-process seeded fast hasher (foldhash,
//!   the class our registry uses), an `entry()` occupancy check (a key has
//!   one live job, as in a registry), a root token per call (ours are roots
//!   too), an RAII guard that cancels and then removes the entry, and the
//!   body raced body-first: `token.run_until_cancelled(body)`, or a `biased`
//!   `select!` with the body first. No token clone beyond the one stored in
//!   the map.
//! - **naive**: what people often write: a child of one long-lived parent
//!   token per call, SipHash (`DashMap::new()`), `insert` without an
//!   occupancy check, `token.clone().drop_guard()`, a biased `select!` that
//!   polls `token.cancelled()` before the body, and `map.remove` after it.
//!
//! Bodies come in two kinds: **instant** (`black_box(id)`, ready on the first
//! poll: what is timed is the scope machinery) and **wait** (pending once,
//! woken at once, so both sides register a waiter on their token before
//! finishing).

#![allow(dead_code)]

use std::future::Future;
use std::hint::black_box;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use scoped_cancel::{scoped_cancel, Cancelled, Registry, Scope, Token};
use tokio_util::sync::CancellationToken;

/// Our registry for keyed calls.
pub static REG: Registry<u64> = Registry::new();

/// The body that waits once before finishing: its first poll wakes its own
/// waker and returns `Pending` (as a channel woken by another task on this
/// thread would), so the race around it registers a waiter and is polled
/// again. (`tokio::task::yield_now` would defer the wake-up to the driver's
/// park, a syscall that would dominate the measure.)
pub async fn wait_once(id: u64) -> u64 {
    let mut waited = false;
    std::future::poll_fn(|cx| {
        if waited {
            return std::task::Poll::Ready(());
        }
        waited = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await;
    black_box(id)
}

// ---------------------------------------------------------------- ours ---

/// The keyed call through the macro itself.
#[scoped_cancel(registry = REG, key = id)]
pub async fn macro_keyed(id: u64) -> Result<u64, Cancelled> {
    Ok(black_box(id))
}

/// The keyed call whose body waits once.
#[scoped_cancel(registry = REG, key = id)]
pub async fn macro_keyed_wait(id: u64) -> Result<u64, Cancelled> {
    Ok(wait_once(id).await)
}

/// The keyed call through the macro, with a deadline.
#[scoped_cancel(registry = REG, key = id, timeout = "30s")]
pub async fn macro_keyed_timeout(id: u64) -> Result<u64, Cancelled> {
    Ok(black_box(id))
}

/// The keyed call with a deadline, whose body waits once.
#[scoped_cancel(registry = REG, key = id, timeout = "30s")]
pub async fn macro_keyed_timeout_wait(id: u64) -> Result<u64, Cancelled> {
    Ok(wait_once(id).await)
}

/// The keyed call as a child of a per-request parent.
#[scoped_cancel(registry = REG, key = id, parent = parent)]
pub async fn macro_keyed_child(id: u64, parent: &Token) -> Result<u64, Cancelled> {
    Ok(black_box(id))
}

/// The keyed child call whose body waits once.
#[scoped_cancel(registry = REG, key = id, parent = parent)]
pub async fn macro_keyed_child_wait(id: u64, parent: &Token) -> Result<u64, Cancelled> {
    Ok(wait_once(id).await)
}

/// The anonymous call through the macro.
#[scoped_cancel]
pub async fn macro_anonymous(id: u64) -> Result<u64, Cancelled> {
    Ok(black_box(id))
}

/// The anonymous call whose body waits once.
#[scoped_cancel]
pub async fn macro_anonymous_wait(id: u64) -> Result<u64, Cancelled> {
    Ok(wait_once(id).await)
}

/// The anonymous call through the macro, as a child of `parent`.
#[scoped_cancel(parent = parent)]
pub async fn macro_anonymous_child(id: u64, parent: &Token) -> Result<u64, Cancelled> {
    Ok(black_box(id))
}

/// The anonymous child call whose body waits once.
#[scoped_cancel(parent = parent)]
pub async fn macro_anonymous_child_wait(id: u64, parent: &Token) -> Result<u64, Cancelled> {
    Ok(wait_once(id).await)
}

/// The public API without the macro: `Registry::enter(k)?.run(fut)`.
pub async fn ours_registry_run(id: u64) -> Result<u64, Cancelled> {
    let scope = REG.enter(id)?;
    scope.run(async move { black_box(id) }).await
}

/// A call cancelled before its body can finish: the body is pending, the
/// token already cancelled.
pub async fn ours_cancelled() -> Result<(), Cancelled> {
    let scope = Scope::root();
    scope.cancel();
    scope.run(std::future::pending::<()>()).await
}

/// Ours without the macro or a body: `Registry::enter` and drop.
pub fn ours_enter_drop(id: u64) {
    let scope = REG.enter(id).expect("key is free");
    drop(black_box(scope));
}

// ---------------------------------------------------------------- best ---

/// The hand-written registry: a `DashMap` with a seeded fast hasher.
// scoped-cancel-audit: allow(the hand-written baseline this bench measures against)
pub type BestMap = DashMap<u64, CancellationToken, foldhash::fast::RandomState>;

/// A fresh [`BestMap`] (seeded per process, like ours).
pub fn best_map() -> BestMap {
    DashMap::with_hasher(foldhash::fast::RandomState::default())
}

/// The hand-written RAII guard: cancels its token, then removes its entry
/// (so a key that is gone implies its token is cancelled, as ours).
pub struct KeyGuard<'a> {
    // scoped-cancel-audit: allow(the hand-written baseline this bench measures against)
    map: &'a BestMap,
    id: u64,
    pub token: CancellationToken,
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        self.token.cancel();
        self.map.remove(&self.id);
    }
}

/// Enters key `id`: `None` if it is taken (the occupant is left alone).
#[inline]
pub fn best_enter(map: &BestMap, id: u64, token: CancellationToken) -> Option<KeyGuard<'_>> {
    match map.entry(id) {
        Entry::Occupied(_) => None,
        Entry::Vacant(slot) => {
            slot.insert(token.clone());
            Some(KeyGuard { map, id, token })
        }
    }
}

/// The best hand-written keyed call: root token, `entry()`, guard,
/// `run_until_cancelled` (body polled first).
pub async fn best_keyed<F: Future>(map: &BestMap, id: u64, body: F) -> Option<F::Output> {
    let guard = best_enter(map, id, CancellationToken::new())?;
    guard.token.run_until_cancelled(body).await
}

/// The same with a biased `select!`, body first: no `is_cancelled` lock
/// before the body's first poll (`run_until_cancelled` takes one).
pub async fn best_keyed_select<F: Future>(map: &BestMap, id: u64, body: F) -> Option<F::Output> {
    let guard = best_enter(map, id, CancellationToken::new())?;
    tokio::select! {
        biased;
        v = body => Some(v),
        _ = guard.token.cancelled() => None,
    }
}

/// The best keyed call as a child of a per-request parent.
pub async fn best_keyed_child<F: Future>(
    map: &BestMap,
    parent: &CancellationToken,
    id: u64,
    body: F,
) -> Option<F::Output> {
    let guard = best_enter(map, id, parent.child_token())?;
    guard.token.run_until_cancelled(body).await
}

/// The best keyed call inside `tokio::time::timeout`.
pub async fn best_keyed_timeout<F: Future>(map: &BestMap, id: u64, body: F) -> Option<F::Output> {
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        best_keyed(map, id, body),
    )
    .await
    .ok()
    .flatten()
}

/// The best anonymous call: a root token, cancelled by a borrowed drop
/// guard (no clone), `run_until_cancelled`.
pub async fn best_anonymous<F: Future>(body: F) -> Option<F::Output> {
    let token = CancellationToken::new();
    let _guard = token.drop_guard_ref();
    token.run_until_cancelled(body).await
}

/// The same with a biased `select!`, body first.
pub async fn best_anonymous_select<F: Future>(body: F) -> Option<F::Output> {
    let token = CancellationToken::new();
    let _guard = token.drop_guard_ref();
    tokio::select! {
        biased;
        v = body => Some(v),
        _ = token.cancelled() => None,
    }
}

/// The best anonymous call as a child of a per-request parent.
pub async fn best_anonymous_child<F: Future>(
    parent: &CancellationToken,
    body: F,
) -> Option<F::Output> {
    let token = parent.child_token();
    let _guard = token.drop_guard_ref();
    token.run_until_cancelled(body).await
}

/// A call cancelled before its body can finish, by hand.
pub async fn best_cancelled() -> Option<()> {
    let token = CancellationToken::new();
    let _guard = token.drop_guard_ref();
    token.cancel();
    token
        .run_until_cancelled(std::future::pending::<()>())
        .await
}

/// Enter and leave a key by hand, without a body.
pub fn best_enter_drop(map: &BestMap, id: u64) {
    let guard = best_enter(map, id, CancellationToken::new()).expect("key is free");
    drop(black_box(guard));
}

// --------------------------------------------------------------- naive ---

/// The naive hand-written state: a SipHash `DashMap` and one parent token.
pub struct Naive {
    // scoped-cancel-audit: allow(the hand-written baseline this bench measures against)
    pub map: DashMap<u64, CancellationToken>,
    pub parent: CancellationToken,
}

impl Naive {
    pub fn new() -> Naive {
        Naive {
            map: DashMap::new(),
            parent: CancellationToken::new(),
        }
    }
}

impl Default for Naive {
    fn default() -> Self {
        Naive::new()
    }
}

/// The naive keyed call.
pub async fn naive_keyed<F: Future>(naive: &Naive, id: u64, body: F) -> Option<F::Output> {
    naive_keyed_in(&naive.map, &naive.parent, id, body).await
}

/// The naive keyed call on a given map and parent.
pub async fn naive_keyed_in<F: Future>(
    map: &DashMap<u64, CancellationToken>,
    parent: &CancellationToken,
    id: u64,
    body: F,
) -> Option<F::Output> {
    let token = parent.child_token();
    map.insert(id, token.clone());
    let _guard = token.clone().drop_guard();
    let out = tokio::select! {
        biased;
        _ = token.cancelled() => None,
        v = body => Some(v),
    };
    map.remove(&id);
    out
}

/// The naive anonymous call: child token, cloned drop guard, cancel-first
/// select.
pub async fn naive_anonymous<F: Future>(parent: &CancellationToken, body: F) -> Option<F::Output> {
    let token = parent.child_token();
    let _guard = token.clone().drop_guard();
    tokio::select! {
        biased;
        _ = token.cancelled() => None,
        v = body => Some(v),
    }
}

/// The naive enter and leave, without a body.
pub fn naive_enter_drop_in(
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
