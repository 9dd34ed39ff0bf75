//! The registry's storage: sharded hash tables of live entries.
//!
//! # Structure
//!
//! `Storage<K>` is created lazily behind an `Arc` (so `Registry::new` stays
//! `const`). It holds a power-of-two number of shards, each its own `Arc` with
//! a `Mutex<HashTable<Slot<K>>>`. A key's hash is computed once, at entry,
//! with a per-process seeded fast hasher (foldhash: the keys may come from
//! users, and foldhash is only minimally DoS-resistant; it is private and can
//! change). The hash picks the shard and is kept by the scope's guard (its
//! `Link`), so removal never hashes the key again and never runs `K: Eq`.
//! A slot is the key, the node, the hash and an entry number. The stored
//! hash is what the table uses when it grows or rehashes in place: calling
//! the user's `Hash` there would let a panic in it make the table drop
//! slots whose tokens are live. The entry number is 0 for a scope's own slot
//! and unique for each [`insert`](super::Registry::insert), so one token
//! indexed under two keys with colliding hashes still has two slots that
//! removal tells apart.
//!
//! `HashTable` is what lets removal find the slot by stored hash + token
//! identity. Shards are aligned to 128 bytes: as separate small allocations
//! they would otherwise share cache lines across threads. Each scope's
//! `Link` counts a reference to its shard, a second shared cache line next
//! to the shard's lock (what that costs under contention is measured in
//! BENCHMARKS.md).
//!
//! # Invariants
//!
//! 1. A key has at most one slot in its shard. Only `enter`/`insert` (and
//!    `enter_replacing`/`enter_waiting`) add slots, and only after seeing no
//!    slot with an equal key under the shard's lock.
//! 2. A slot is removed only by its own guard (`Scope`, `RegistryEntry`), found
//!    by `(hash, Arc::ptr_eq(node), entry number)`. A stale guard whose key
//!    was re-entered finds no slot with its node and removes nothing (no
//!    ABA); an entry of a token that also sits under a colliding key removes
//!    only its own slot. A slot's node may be *swapped* under the lock — by
//!    `enter_replacing` (`replace.rs`) or a hand-off to the key's oldest
//!    waiter (`queue.rs`) — and the displaced guard is then such a stale
//!    guard.
//! 3. The guard cancels its token *before* removing the slot, so a key that is
//!    absent implies the previous holder's token is cancelled.
//! 4. `refusing` is read under the shard lock by every insert and written
//!    before `cancel_all` takes the shard locks, so an insert racing
//!    `shutdown` is either refused or seen (and cancelled) by it.
//!
//! # Deadlock and user-code safety
//!
//! Only one shard lock is held at a time, and the only lock taken under it is
//! that shard's queues lock (`queue.rs`), always in that order: no node's
//! lock, no tokio-util lock, no collector's lock. No waker, no
//! `cancel()` and no `K::drop` runs under a shard lock: removed slots and
//! snapshots are dropped or acted on after unlocking. The user code that does
//! run under a lock is `K: Eq` (lookups), `K: Clone` (reports) and, in a
//! report of a shard that has waiters, `K: Hash` (to find each key's queue;
//! growth never hashes, it uses the stored hashes); a panic
//! there poisons the mutex, and every lock site ignores poisoning, since no
//! invariant spans a panic point (hashbrown leaves the table intact when a
//! lookup's `eq` panics, and the table's growth runs no user code). A `K::drop`
//! that panics during removal does so after the slot is gone and after a
//! pending `shutdown` was woken.

use std::hash::{BuildHasher, Hash};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use hashbrown::HashTable;
use tokio::sync::Notify;

use super::queue::Queues;
use super::Key;
use crate::link::Shard;
use crate::node::Node;
use crate::sync::{AtomicBool, AtomicU64, AtomicUsize, Mutex, MutexGuard};

pub(crate) struct Slot<K> {
    pub(crate) key: K,
    pub(crate) node: Arc<Node>,
    /// The key's hash, computed once at entry: growth never runs `K: Hash`.
    pub(crate) hash: u64,
    /// 0 for a scope's own slot; unique per `insert` (invariant 2).
    pub(crate) entry: u64,
}

impl<K> Slot<K> {
    /// Identity (invariant 2): this token's node, under this entry number.
    fn is(&self, node: &Node, entry: u64) -> bool {
        std::ptr::eq(&*self.node, node) && self.entry == entry
    }
}

/// State every shard shares.
pub(crate) struct Common {
    /// Set by `shutdown`; makes new inserts fail (invariant 4).
    pub(crate) refusing: AtomicBool,
    /// Tasks spawned from this registry's scopes and still running.
    pub(crate) tasks: AtomicUsize,
    /// The last entry number handed to an `insert`.
    pub(crate) entries: AtomicU64,
    /// Woken when a slot is removed or a task ends while a shutdown waits.
    pub(crate) ended: Notify,
    /// `shutdown` futures polled and not yet finished: they, not the
    /// `refusing` flag, decide whether an end wakes anyone, so a `reopen`
    /// during a pending shutdown does not leave it asleep until its deadline.
    pub(crate) waiting: AtomicUsize,
}

impl Common {
    /// Whether a `shutdown` future is waiting for entries and tasks to end.
    #[inline]
    fn shutdown_waiting(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) > 0
    }

    fn something_ended(&self) {
        if self.shutdown_waiting() {
            self.ended.notify_waiters();
        }
    }
}

/// Counts one waiting `shutdown` future in [`Common::waiting`] while it lives.
pub(crate) struct Waiting(pub(crate) Arc<Common>);

impl Waiting {
    pub(crate) fn new(common: Arc<Common>) -> Waiting {
        common.waiting.fetch_add(1, Ordering::SeqCst);
        Waiting(common)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Aligned to two cache lines (the adjacent-line prefetcher pairs them):
/// shards are separate allocations that would otherwise share lines, so
/// threads working on different shards would still contend.
#[repr(align(128))]
pub(crate) struct ShardImpl<K> {
    // scoped-cancel-audit: allow(the registry itself: each slot is removed by its Scope's Drop)
    table: Mutex<HashTable<Slot<K>>>,
    pub(crate) common: Arc<Common>,
    /// Waiters for this shard's keys (`enter_waiting`; see `queue.rs`).
    pub(crate) queues: Queues<K>,
}

impl<K> ShardImpl<K> {
    pub(crate) fn lock(&self) -> MutexGuard<'_, HashTable<Slot<K>>> {
        crate::sync::lock(&self.table)
    }
}

impl<K: Key> Shard for ShardImpl<K> {
    fn unlink(&self, hash: u64, node: &Arc<Node>, entry: u64) {
        let (removed, wake) = {
            let mut table = self.lock();
            // Read under the lock (it costs less there than after the
            // unlock): a shutdown that counts itself after this read takes
            // this lock after us, and then sees the slot gone.
            let wake = self.common.shutdown_waiting();
            match table.find_entry(hash, |slot| slot.is(node, entry)) {
                Ok(mut found) => {
                    // A key with waiters passes to the oldest (`queue.rs`);
                    // without waiters in the shard this is one load.
                    if self.queues.any() {
                        let handed = self.queues.hand_off(hash, found.get_mut(), &self.common);
                        if let Some(handed) = handed {
                            drop(table);
                            handed.finish();
                            return;
                        }
                    }
                    (Some(found.remove().0), wake)
                }
                Err(_) => (None, wake),
            }
        };
        // Woken before `K::drop` runs (outside the lock): a drop that panics
        // must not leave a pending shutdown waiting for a slot that is gone.
        if wake {
            self.common.ended.notify_waiters();
        }
        drop(removed);
    }

    fn key_text(&self, hash: u64, node: &Node) -> Option<String> {
        let key = {
            let table = self.lock();
            match table.find(hash, |slot| slot.is(node, 0)) {
                Some(slot) => slot.key.clone(),
                None => {
                    drop(table);
                    let key = self.queues.key_of(hash, node)?;
                    return Some(format!("{key:?}, waiting for it"));
                }
            }
        };
        // `Debug` and `K::drop` run here, outside the lock.
        Some(format!("{key:?}"))
    }

    fn tasks_started(&self, n: usize) {
        self.common.tasks.fetch_add(n, Ordering::SeqCst);
    }

    fn task_ended(&self) {
        self.common.tasks.fetch_sub(1, Ordering::SeqCst);
        self.common.something_ended();
    }
}

/// A shard locked to insert a key: what every insert (`enter`, `insert`,
/// `enter_replacing`, `enter_waiting`) does before it looks the key up.
pub(crate) struct Locked<'a, K> {
    pub(crate) hash: u64,
    pub(crate) shard: &'a Arc<ShardImpl<K>>,
    // scoped-cancel-audit: allow(a lock held for one insert: the registry's own table, whose slots their Scopes remove)
    pub(crate) table: MutexGuard<'a, HashTable<Slot<K>>>,
}

impl<K: Key> Locked<'_, K> {
    /// The table's entry for `key`. Growth uses the stored hashes: no user
    /// code runs while hashbrown moves slots (a panic there would make it
    /// drop them).
    #[inline]
    pub(crate) fn entry(&mut self, key: &K) -> hashbrown::hash_table::Entry<'_, Slot<K>> {
        self.table
            .entry(self.hash, |slot| slot.key == *key, |slot| slot.hash)
    }
}

pub(crate) struct Storage<K> {
    hasher: foldhash::fast::RandomState,
    shards: Box<[Arc<ShardImpl<K>>]>,
    pub(crate) common: Arc<Common>,
}

impl<K: Key> Storage<K> {
    pub(crate) fn new() -> Storage<K> {
        // A few shards per core keeps two threads on different keys apart
        // most of the time; more only costs memory per registry.
        let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
        let count = (cores * 4).clamp(4, 64).next_power_of_two();
        let common = Arc::new(Common {
            refusing: AtomicBool::new(false),
            tasks: AtomicUsize::new(0),
            entries: AtomicU64::new(0),
            ended: Notify::new(),
            waiting: AtomicUsize::new(0),
        });
        let shards = (0..count)
            .map(|_| {
                Arc::new(ShardImpl {
                    table: Mutex::new(HashTable::new()),
                    common: common.clone(),
                    queues: Queues::new(),
                })
            })
            .collect();
        Storage {
            hasher: foldhash::fast::RandomState::default(),
            shards,
            common,
        }
    }

    /// Hashes `key` and locks its shard to insert it; `None` if the
    /// registry is refusing inserts (invariant 4: the flag is read under the
    /// shard lock). Callers clone what they insert before this, so that no
    /// atomic increment lengthens the critical section.
    #[inline]
    pub(crate) fn lock_for_insert(&self, key: &K) -> Option<Locked<'_, K>> {
        let hash = self.hash(key);
        let shard = self.shard(hash);
        let table = shard.lock();
        if self.common.refusing.load(Ordering::SeqCst) {
            drop(table);
            return None;
        }
        Some(Locked { hash, shard, table })
    }

    pub(crate) fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    pub(crate) fn shard(&self, hash: u64) -> &Arc<ShardImpl<K>> {
        // hashbrown uses the low bits for buckets and the top 7 for tags;
        // the middle bits pick the shard.
        let index = (hash >> 32) as usize & (self.shards.len() - 1);
        &self.shards[index]
    }

    pub(crate) fn shards(&self) -> impl Iterator<Item = &Arc<ShardImpl<K>>> {
        self.shards.iter()
    }

    /// Clones of every live slot's node, taken shard by shard.
    pub(crate) fn nodes(&self) -> Vec<Arc<Node>> {
        let mut nodes = Vec::new();
        for shard in self.shards() {
            nodes.extend(shard.lock().iter().map(|slot| slot.node.clone()));
        }
        nodes
    }

    pub(crate) fn len(&self) -> usize {
        self.shards().map(|shard| shard.lock().len()).sum()
    }
}
