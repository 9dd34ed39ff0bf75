//! Per-key policies: what `enter_replacing` and `enter_waiting` cost against
//! the code people write for "latest wins" and "wait your turn".
//!
//! - `replace, free key`: `enter_replacing` + drop vs `enter` + drop on keys
//!   nobody holds: the policy must cost nothing when there is no holder.
//! - `replace, live holder`: one key, each new call supersedes the one
//!   before (cancelled with `Superseded`), whose guard then exits. The
//!   hand-written side is the careful version: a `DashMap` with a fast
//!   hasher (foldhash) of `(generation, CancellationToken)`; `insert`
//!   swaps atomically, the old token is cancelled, and the old guard
//!   removes the entry only if its generation still holds it (without that
//!   check the old guard deletes the new entry, the bug identity-checked
//!   removal prevents). A cancel-and-retry loop over `entry()` is slower
//!   still, so this is the harder baseline.
//! - `replace, running calls`: the same through `#[scoped_cancel(..,
//!   occupied = replace)]`: 500 spawned calls in a row, each superseding
//!   the one running (whose body is raced against its token and returns
//!   `Superseded`). Hand-written: the guard above plus a biased `select!` on
//!   the token. Spawns count on both sides.
//! - `wait hand-off`: 500 tasks queue for one key behind a holder, then
//!   take it in turn (each gets a scope with a token under the key, and
//!   ends at once). Hand-written: a per-key `tokio::sync::Mutex` found in a
//!   `DashMap`, and under its lock a child token indexed in a second
//!   `DashMap` with a drop guard, so that `cancel(k)` works as it does on
//!   ours. Both sides spawn the same tasks on a current-thread runtime.
//!
//! `cargo bench -p scoped-cancel-tests --bench policy [-- FILTER...]`.

mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::{ns_per, paired, print_table, Options, Row};
use dashmap::DashMap;
use scoped_cancel::{scoped_cancel, Cancelled, Registry, Scope};
use tokio_util::sync::CancellationToken;

type Fast = foldhash::fast::RandomState;

static REG: Registry<u64> = Registry::new();

/// "Latest wins" by hand: generation-checked removal.
struct HandReplace {
    // scoped-cancel-audit: allow(the hand-written baseline this bench measures against)
    map: DashMap<u64, (u64, CancellationToken), Fast>,
    generation: AtomicU64,
}

struct HandGuard<'a> {
    // scoped-cancel-audit: allow(the hand-written baseline this bench measures against)
    map: &'a DashMap<u64, (u64, CancellationToken), Fast>,
    key: u64,
    generation: u64,
    token: CancellationToken,
}

impl HandReplace {
    #[inline(never)]
    fn enter(&self, key: u64) -> HandGuard<'_> {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let token = CancellationToken::new();
        if let Some((_, old)) = self.map.insert(key, (generation, token.clone())) {
            old.cancel();
        }
        HandGuard {
            map: &self.map,
            key,
            generation,
            token,
        }
    }
}

impl Drop for HandGuard<'_> {
    fn drop(&mut self) {
        self.token.cancel();
        self.map
            .remove_if(&self.key, |_, (g, _)| *g == self.generation);
    }
}

/// A call that runs until a newer one supersedes it.
#[scoped_cancel(registry = REG, key = key, occupied = replace)]
async fn ours_latest(key: u64) -> Result<(), Cancelled> {
    std::future::pending::<()>().await;
    Ok(())
}

static HAND: std::sync::LazyLock<HandReplace> = std::sync::LazyLock::new(|| HandReplace {
    map: DashMap::with_hasher(Fast::default()),
    generation: AtomicU64::new(0),
});

async fn hand_latest(key: u64) -> Result<(), ()> {
    let guard = HAND.enter(key);
    tokio::select! {
        biased;
        () = std::future::pending::<()>() => Ok(()),
        () = guard.token.cancelled() => Err(()),
    }
}

#[inline(never)]
fn ours_replace(key: u64) -> Scope {
    REG.enter_replacing(key).unwrap()
}

#[inline(never)]
fn ours_enter(key: u64) -> Scope {
    REG.enter(key).unwrap()
}

/// "Wait your turn" by hand: a per-key async mutex, and the token indexed
/// under the key while the lock is held.
#[derive(Default)]
struct HandQueue {
    locks: DashMap<u64, Arc<tokio::sync::Mutex<()>>, Fast>,
    // scoped-cancel-audit: allow(the hand-written baseline this bench measures against)
    tokens: DashMap<u64, CancellationToken, Fast>,
}

impl HandQueue {
    fn lock_of(&self, key: u64) -> Arc<tokio::sync::Mutex<()>> {
        self.locks.entry(key).or_default().clone()
    }
}

async fn hand_turn(queue: Arc<HandQueue>, key: u64) {
    let lock = queue.lock_of(key);
    let held = lock.lock_owned().await;
    let token = CancellationToken::new();
    queue.tokens.insert(key, token.clone());
    let guard = token.drop_guard();
    black_box(&guard);
    queue.tokens.remove(&key);
    drop(guard);
    drop(held);
}

async fn ours_turn(key: u64) {
    let scope = REG.enter_waiting(key).await.unwrap();
    black_box(&scope);
    drop(scope);
}

const TASKS: usize = 500;

fn main() {
    let opts = Options::from_env();
    let rt = common::current_thread();
    let n = opts.scaled(5_000);
    let tasks = opts.scaled(TASKS);
    let rounds = opts.rounds(101);
    let warmup = 5;
    let mut rows: Vec<Row> = Vec::new();
    let mut case = |name: &str,
                    target: Option<f64>,
                    ours: &mut dyn FnMut() -> f64,
                    theirs: &mut dyn FnMut() -> f64| {
        if opts.wants(name) {
            rows.push(paired(name, "ns", target, warmup, rounds, ours, theirs));
        }
    };

    case(
        "replace, free key: enter_replacing + drop vs enter + drop",
        Some(1.05),
        &mut || ns_per(n, || (0..n as u64).for_each(|k| drop(ours_replace(k)))),
        &mut || ns_per(n, || (0..n as u64).for_each(|k| drop(ours_enter(k)))),
    );

    let hand = HandReplace {
        map: DashMap::with_hasher(Fast::default()),
        generation: AtomicU64::new(0),
    };
    case(
        "replace, live holder: enter_replacing, old guard exits vs DashMap insert+cancel, generation-checked remove",
        Some(1.00),
        &mut || {
            let mut held = ours_replace(u64::MAX);
            let ns = ns_per(n, || {
                for _ in 0..n {
                    let next = ours_replace(u64::MAX);
                    drop(std::mem::replace(&mut held, next));
                }
            });
            drop(held);
            ns
        },
        &mut || {
            let mut held = hand.enter(u64::MAX);
            let ns = ns_per(n, || {
                for _ in 0..n {
                    let next = hand.enter(u64::MAX);
                    drop(std::mem::replace(&mut held, next));
                }
            });
            drop(held);
            ns
        },
    );

    case(
        "replace, running calls: #[scoped_cancel(occupied = replace)], 500 in a row vs guard + biased select",
        Some(1.00),
        &mut || {
            rt.block_on(async {
                let start = std::time::Instant::now();
                let mut handles = Vec::with_capacity(tasks);
                for _ in 0..tasks {
                    handles.push(tokio::spawn(ours_latest(9)));
                    tokio::task::yield_now().await; // it enters, superseding the last
                }
                REG.cancel(&9);
                for handle in handles {
                    let _ = black_box(handle.await.unwrap());
                }
                start.elapsed().as_nanos() as f64 / tasks as f64
            })
        },
        &mut || {
            rt.block_on(async {
                let start = std::time::Instant::now();
                let mut handles = Vec::with_capacity(tasks);
                for _ in 0..tasks {
                    handles.push(tokio::spawn(hand_latest(9)));
                    tokio::task::yield_now().await;
                }
                if let Some(last) = HAND.map.get(&9) {
                    last.1.cancel();
                }
                for handle in handles {
                    let _ = black_box(handle.await.unwrap());
                }
                start.elapsed().as_nanos() as f64 / tasks as f64
            })
        },
    );

    let queue = Arc::new(HandQueue::default());
    case(
        "wait hand-off: enter_waiting, 500 queued vs per-key tokio Mutex + DashMap token",
        Some(1.00),
        &mut || {
            rt.block_on(async {
                let holder = REG.enter(7).unwrap();
                let start = std::time::Instant::now();
                let handles: Vec<_> = (0..tasks).map(|_| tokio::spawn(ours_turn(7))).collect();
                tokio::task::yield_now().await; // every task queues
                drop(holder);
                for handle in handles {
                    handle.await.unwrap();
                }
                start.elapsed().as_nanos() as f64 / tasks as f64
            })
        },
        &mut || {
            rt.block_on(async {
                let lock = queue.lock_of(7);
                let holder = lock.lock_owned().await;
                let start = std::time::Instant::now();
                let handles: Vec<_> = (0..tasks)
                    .map(|_| tokio::spawn(hand_turn(queue.clone(), 7)))
                    .collect();
                tokio::task::yield_now().await;
                drop(holder);
                for handle in handles {
                    handle.await.unwrap();
                }
                start.elapsed().as_nanos() as f64 / tasks as f64
            })
        },
    );
    assert!(REG.is_empty());
    assert_eq!(REG.waiting(), 0);
    print_table("Per-key policies (current-thread runtime)", &rows);
}
