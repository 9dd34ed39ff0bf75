//! Per-key queues of waiters, one set per shard: what
//! [`Registry::enter_waiting`](crate::Registry::enter_waiting) builds on.
//!
//! # Protocol
//!
//! A waiter is queued, granted, and refused only under its shard's table
//! lock; the queues' own mutex is taken only inside that lock (or alone, by
//! readers), so the table lock orders every change. A slot whose holder
//! unlinks while its key has waiters is not removed: under the same lock its
//! node is swapped for the head waiter's (direct hand-off), so the key is
//! never free between two holders and waiters get it in arrival order. The
//! holder's stale guard then finds no slot with its node (identity-checked
//! removal), exactly as after a replace.
//!
//! `queued` counts the shard's waiters. It is written and read only under
//! the table lock, so a relaxed load is exact there: an unlink with no
//! waiters in its shard pays that one load and a branch.
//!
//! No waker runs, and no key or node is dropped, under either lock: the
//! granted or refused waiters and the emptied queues are handed back to the
//! caller, which acts on them after unlocking.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use hashbrown::HashTable;

use super::storage::{Common, Slot};
use super::Key;
use crate::node::Node;
use crate::sync::{lock, AtomicU8, AtomicUsize, Mutex, MutexGuard};

const QUEUED: u8 = 0;
const GRANTED: u8 = 1;
const REFUSED: u8 = 2;

/// One queued call: its future's node (the scope it becomes), its state and
/// its waker.
pub(crate) struct Waiter {
    pub(crate) node: Arc<Node>,
    /// `QUEUED` → `GRANTED` or `REFUSED`, changed once, under the table lock.
    state: AtomicU8,
    waker: Mutex<Option<Waker>>,
}

/// Where a waiter stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum State {
    Queued,
    Granted,
    Refused,
}

impl Waiter {
    pub(crate) fn new(node: Arc<Node>) -> Arc<Waiter> {
        Arc::new(Waiter {
            node,
            state: AtomicU8::new(QUEUED),
            waker: Mutex::new(None),
        })
    }

    pub(crate) fn state(&self) -> State {
        match self.state.load(Ordering::SeqCst) {
            GRANTED => State::Granted,
            REFUSED => State::Refused,
            _ => State::Queued,
        }
    }

    /// Stores the waker to wake on a grant or refusal. The caller looks at
    /// the state again afterwards: a grant that took the waker slot before
    /// this store has already set the state.
    pub(crate) fn register(&self, waker: &Waker) {
        let mut slot = lock(&self.waker);
        match &*slot {
            Some(old) if old.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }

    /// Wakes the waiting future; call after unlocking the shard.
    pub(crate) fn wake(&self) {
        let waker = lock(&self.waker).take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The waiters of one key, oldest first.
struct Queue<K> {
    hash: u64,
    key: K,
    // scoped-cancel-audit: allow(the registry's own wait queues: a waiter leaves its queue when its future drops or it is handed the key)
    line: VecDeque<Arc<Waiter>>,
}

/// A shard's queues. Every method except the readers must be called with
/// the shard's table lock held.
pub(crate) struct Queues<K> {
    queued: AtomicUsize,
    // scoped-cancel-audit: allow(the registry's own wait queues: a waiter leaves its queue when its future drops or it is handed the key)
    queues: Mutex<HashTable<Queue<K>>>,
}

/// A hand-off done under the lock: wake the new holder and drop the old
/// node after unlocking.
pub(crate) struct Handed<K> {
    next: Arc<Waiter>,
    old: Arc<Node>,
    emptied: Option<Queue<K>>,
}

impl<K> Handed<K> {
    /// Wakes the new holder; the old node and an emptied queue drop here.
    pub(crate) fn finish(self) {
        self.next.wake();
        drop((self.old, self.emptied));
    }
}

/// What [`Queues::refuse_all`] took out of a shard: wake each waiter after
/// unlocking.
pub(crate) struct Refused<K> {
    // scoped-cancel-audit: allow(the registry's own wait queues: a waiter leaves its queue when its future drops or it is handed the key)
    waiters: Vec<Arc<Waiter>>,
    // scoped-cancel-audit: allow(the registry's own wait queues: a waiter leaves its queue when its future drops or it is handed the key)
    _queues: Vec<Queue<K>>,
}

impl<K> Refused<K> {
    pub(crate) fn finish(self) {
        for waiter in &self.waiters {
            waiter.wake();
        }
    }
}

/// A waiter that left its queue; drop it after unlocking.
pub(crate) struct Left<K>(#[allow(dead_code)] Option<Queue<K>>);

/// How many wait under one key, and how long the oldest has.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) struct Waiting {
    pub(crate) count: usize,
    pub(crate) oldest: Option<Duration>,
}

impl<K: Key> Queues<K> {
    pub(crate) fn new() -> Queues<K> {
        Queues {
            queued: AtomicUsize::new(0),
            queues: Mutex::new(HashTable::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashTable<Queue<K>>> {
        lock(&self.queues)
    }

    /// `true` if the shard has waiters (exact under the table lock).
    #[inline]
    pub(crate) fn any(&self) -> bool {
        self.queued.load(Ordering::Relaxed) != 0
    }

    /// Queues `waiter` behind `key`'s other waiters. The key is cloned
    /// only for a key's first waiter.
    pub(crate) fn push(&self, hash: u64, key: &K, waiter: Arc<Waiter>) {
        let mut queues = self.lock();
        let found = queues.find_mut(hash, |q| q.key == *key);
        match found {
            // scoped-cancel-audit: allow(the registry's own wait queues: a waiter leaves its queue when its future drops or it is handed the key)
            Some(queue) => queue.line.push_back(waiter),
            None => {
                let queue = Queue {
                    hash,
                    key: key.clone(),
                    line: VecDeque::from([waiter]),
                };
                queues.insert_unique(hash, queue, |q| q.hash);
            }
        }
        self.queued.fetch_add(1, Ordering::Relaxed);
    }

    /// If `slot`'s key has waiters, gives the slot to the oldest: its node
    /// replaces the holder's, and it is marked granted. Called by the
    /// holder's unlink under the table lock, with the slot it found, when
    /// [`any`](Queues::any) says the shard has waiters. No hand-off while
    /// the registry is shutting down: its waiters are being refused, and a
    /// new holder could miss `cancel_all`'s snapshot.
    #[cold]
    #[inline(never)]
    pub(crate) fn hand_off(
        &self,
        hash: u64,
        slot: &mut Slot<K>,
        common: &Common,
    ) -> Option<Handed<K>> {
        if common.refusing.load(Ordering::SeqCst) {
            return None;
        }
        let mut queues = self.lock();
        let Ok(mut entry) = queues.find_entry(hash, |q| q.key == slot.key) else {
            return None;
        };
        let next = entry.get_mut().line.pop_front()?;
        self.queued.fetch_sub(1, Ordering::Relaxed);
        let emptied = if entry.get().line.is_empty() {
            Some(entry.remove().0)
        } else {
            None
        };
        let old = std::mem::replace(&mut slot.node, next.node.clone());
        // The waiter's scope owns the slot now: its guard unlinks entry 0,
        // whatever entry (a scope's or an `insert`'s) held it before.
        slot.entry = 0;
        next.state.store(GRANTED, Ordering::SeqCst);
        Some(Handed { next, old, emptied })
    }

    /// Takes a waiter whose future was dropped out of its queue. `false` if
    /// it was no longer queued (granted or refused meanwhile).
    pub(crate) fn leave(&self, hash: u64, waiter: &Arc<Waiter>) -> (bool, Left<K>) {
        if waiter.state() != State::Queued {
            return (false, Left(None));
        }
        let mut queues = self.lock();
        let found = queues.find_entry(hash, |q| q.line.iter().any(|w| Arc::ptr_eq(w, waiter)));
        let Ok(mut entry) = found else {
            return (false, Left(None));
        };
        entry.get_mut().line.retain(|w| !Arc::ptr_eq(w, waiter));
        self.queued.fetch_sub(1, Ordering::Relaxed);
        let emptied = if entry.get().line.is_empty() {
            Some(entry.remove().0)
        } else {
            None
        };
        (true, Left(emptied))
    }

    /// Refuses every waiter (the registry is shutting down).
    pub(crate) fn refuse_all(&self) -> Refused<K> {
        let mut queues = self.lock();
        // scoped-cancel-audit: allow(the registry's own wait queues: a waiter leaves its queue when its future drops or it is handed the key)
        let taken: Vec<Queue<K>> = queues.drain().collect();
        self.queued.store(0, Ordering::Relaxed);
        let mut waiters = Vec::new();
        for queue in &taken {
            for waiter in &queue.line {
                waiter.state.store(REFUSED, Ordering::SeqCst);
                waiters.push(waiter.clone());
            }
        }
        Refused {
            waiters,
            _queues: taken,
        }
    }

    /// How many wait under `key` and the oldest one's wait, for reports.
    pub(crate) fn waiting(&self, hash: u64, key: &K) -> Waiting {
        if !self.any() {
            return Waiting::default();
        }
        let queues = self.lock();
        let Some(queue) = queues.find(hash, |q| q.key == *key) else {
            return Waiting::default();
        };
        Waiting {
            count: queue.line.len(),
            oldest: queue.line.front().map(|w| w.node.born.age()),
        }
    }

    /// The key `node` waits for, cloned (for leak reports; takes only the
    /// queues' lock).
    pub(crate) fn key_of(&self, hash: u64, node: &Node) -> Option<K> {
        let queues = self.lock();
        let queue = queues.find(hash, |q| {
            q.line.iter().any(|w| std::ptr::eq(&*w.node, node))
        })?;
        Some(queue.key.clone())
    }

    /// The number of waiters in this shard.
    pub(crate) fn len(&self) -> usize {
        self.lock().iter().map(|q| q.line.len()).sum()
    }
}
