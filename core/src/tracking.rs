//! Live-scope tracking: the mechanism under [`crate::testing`].
//!
//! # Structure
//!
//! A [`Collector`] holds one record (the scope's node and its key as text)
//! per live scope, in a few mutex-guarded slabs ("shards"); a thread always
//! uses the same shard, so the threads of one runtime rarely meet on a lock.
//! A thread has at most one *current* collector (the thread-local
//! `CURRENT`): a test's block-on thread and its runtime's threads while the
//! test runs. The *process* collector, while switched on with
//! [`track_process`], takes the scopes of every thread that has no current
//! collector. [`Scope::new`](crate::Scope) asks [`attach`] for a record; the
//! returned [`Tracked`] handle lives in the scope and removes the record when
//! the scope drops, on whatever thread that happens.
//!
//! # Cost
//!
//! `ACTIVE` counts the attachments alive in the process, plus one while
//! process tracking is on. While it is zero, [`attach`] and [`is_active`] are
//! one relaxed load and a branch: the whole price of tracking when it is off.
//! When it is on, a scope costs a thread-local read, a boxed handle, an
//! uncontended lock, a slab insert and — for keyed scopes — a shared clone of
//! the key ([`KeyRef`]), formatted only when a report is taken (see
//! `testing`'s docs for the measured numbers).
//!
//! # Invariants
//!
//! 1. A record is removed only through its own `Tracked` handle, which the
//!    scope owns; a slot index is reused only after that removal.
//! 2. No lock of this module is held while user code runs (`Debug` for keys
//!    runs on the snapshot, a key's `Drop` after the record is removed),
//!    while a node is dropped, or while a cause is computed: snapshots clone
//!    the `Arc`s out and work after unlocking.
//! 3. Only one shard lock is held at a time, and no other lock is taken under
//!    it, except the `COLLECTORS` list lock, which is never held while a
//!    shard lock is taken.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};

use crate::token::Node;

/// Attachments alive in the process, plus one while process tracking is on.
/// The fast path reads only this.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Whether the process collector takes the scopes of unattached threads.
static PROCESS_ON: AtomicBool = AtomicBool::new(false);

/// The process collector, created the first time it is switched on. A
/// `&'static` so that its records hold no reference count that every thread
/// would write.
static PROCESS: OnceLock<Collector> = OnceLock::new();

/// Every per-runtime collector ever created and not yet dropped, for
/// [`live_scopes`]. Pruned when collectors are created.
static COLLECTORS: Mutex<Vec<Weak<Collector>>> = Mutex::new(Vec::new());

/// Shards per collector. A thread keeps its shard for life.
const SHARDS: usize = 16;

/// Hands out shard indices to threads in turn.
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static CURRENT: RefCell<Option<Arc<Collector>>> = const { RefCell::new(None) };
    static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
    /// The attachment a runtime's `on_thread_start` hook made on this thread.
    static HOOKED: RefCell<Option<AttachGuard>> = const { RefCell::new(None) };
}

/// A keyed scope's key as a record keeps it: a clone, formatted with `Debug`
/// only when a report is taken. Formatting at entry cost more than the rest
/// of the record (≈ 560 of 940 instructions per tracked keyed scope).
pub(crate) type KeyRef = Arc<dyn fmt::Debug + Send + Sync>;

/// `true` if a scope created on this thread now would be recorded, so a
/// registry knows whether to keep a clone of the key. One relaxed load while no
/// collector is attached anywhere and process tracking is off.
#[inline]
pub(crate) fn is_active() -> bool {
    ACTIVE.load(Ordering::Relaxed) != 0 && would_record()
}

fn would_record() -> bool {
    let local = CURRENT.try_with(|current| current.borrow().is_some());
    local.unwrap_or(false) || (PROCESS_ON.load(Ordering::Relaxed) && PROCESS.get().is_some())
}

/// Records a new scope in this thread's collector, or the process one.
#[inline]
pub(crate) fn attach(node: &Arc<Node>, key: Option<KeyRef>) -> Option<Tracked> {
    if ACTIVE.load(Ordering::Relaxed) == 0 {
        return None;
    }
    attach_slow(node, key)
}

#[inline(never)]
fn attach_slow(node: &Arc<Node>, key: Option<KeyRef>) -> Option<Tracked> {
    let owner = current_owner()?;
    let shard = shard_index();
    let slot = lock(&owner.get().shards[shard].0).insert(Record {
        node: node.clone(),
        key,
    });
    Some(Tracked(Box::new(TrackedInner { owner, shard, slot })))
}

/// The collector a scope created on this thread now would be recorded in.
fn current_owner() -> Option<Owner> {
    // `try_with`: a scope may be created while thread-locals are torn down.
    let local = CURRENT
        .try_with(|current| current.borrow().clone())
        .ok()
        .flatten();
    if let Some(collector) = local {
        return Some(Owner::Local(collector));
    }
    if PROCESS_ON.load(Ordering::Relaxed) {
        return PROCESS.get().map(Owner::Process);
    }
    None
}

fn shard_index() -> usize {
    SHARD
        .try_with(|shard| {
            if shard.get() == usize::MAX {
                shard.set(NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS);
            }
            shard.get()
        })
        .unwrap_or(0)
}

/// Switches process-wide tracking on or off.
///
/// While it is on, every scope created on a thread that has no collector of
/// its own (no test's or instrumented runtime's) is recorded in the process
/// collector, and [`live_scopes`](crate::testing::live_scopes) lists it.
/// Scopes created while it was off are not listed. Switching it off stops
/// recording new scopes; those already recorded stay listed until they end.
pub fn track_process(on: bool) {
    PROCESS.get_or_init(Collector::bare);
    let was = PROCESS_ON.swap(on, Ordering::SeqCst);
    match (was, on) {
        (false, true) => {
            ACTIVE.fetch_add(1, Ordering::SeqCst);
        }
        (true, false) => {
            ACTIVE.fetch_sub(1, Ordering::SeqCst);
        }
        _ => {}
    }
}

/// `true` while process-wide tracking is on.
pub fn is_tracking_process() -> bool {
    PROCESS_ON.load(Ordering::SeqCst)
}

/// Every collector whose records [`live_scopes`](crate::testing::live_scopes)
/// lists: the process collector, then the others still alive.
pub(crate) fn all_collectors(mut f: impl FnMut(&Collector)) {
    if let Some(process) = PROCESS.get() {
        f(process);
    }
    let collectors: Vec<Arc<Collector>> =
        lock(&COLLECTORS).iter().filter_map(Weak::upgrade).collect();
    for collector in &collectors {
        f(collector);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // No invariant spans a panic point: poisoning is ignored.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One live scope's record.
pub(crate) struct Record {
    pub(crate) node: Arc<Node>,
    /// The key, for keyed scopes.
    pub(crate) key: Option<KeyRef>,
}

/// A slab of records: a freed slot is reused by the next insert.
#[derive(Default)]
struct Slab {
    slots: Vec<Option<Record>>,
    free: Vec<usize>,
    len: usize,
}

impl Slab {
    fn insert(&mut self, record: Record) -> usize {
        self.len += 1;
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(record);
                slot
            }
            None => {
                self.slots.push(Some(record));
                self.slots.len() - 1
            }
        }
    }

    fn remove(&mut self, slot: usize) -> Option<Record> {
        let record = self.slots.get_mut(slot)?.take()?;
        self.len -= 1;
        self.free.push(slot);
        Some(record)
    }
}

/// Records every scope created on the threads it is attached to, until the
/// scope ends.
///
/// Attach it to a thread with [`attach_current_thread`](Collector::attach_current_thread),
/// or to every thread of a runtime with [`instrument`](Collector::instrument);
/// list what is alive with [`scopes`](Collector::scopes). A scope is
/// recorded by the collector current on the thread that *creates* it, and
/// leaves the collector when it drops, wherever that happens.
///
/// [`LeakCheck`](crate::testing::LeakCheck) and `#[scoped_cancel::test]`
/// build on this; use a collector directly to watch one runtime in
/// production (see the module docs for the cost).
pub struct Collector {
    shards: [Shard; SHARDS],
}

/// One shard, alone on its cache lines (two threads writing neighbouring
/// shards would otherwise contend as if they shared one).
#[repr(align(128))]
#[derive(Default)]
struct Shard(Mutex<Slab>);

impl Collector {
    fn bare() -> Collector {
        Collector {
            shards: std::array::from_fn(|_| Shard::default()),
        }
    }

    /// A new, empty collector, attached to no thread yet.
    pub fn new() -> Arc<Collector> {
        let collector = Arc::new(Collector::bare());
        let mut all = lock(&COLLECTORS);
        all.retain(|weak| weak.strong_count() > 0);
        all.push(Arc::downgrade(&collector));
        collector
    }

    /// Makes this the current thread's collector until the guard drops, when
    /// the thread's previous collector (if any) is restored. Drop nested
    /// guards in reverse order.
    pub fn attach_current_thread(self: &Arc<Self>) -> AttachGuard {
        let previous = CURRENT.with(|current| current.borrow_mut().replace(self.clone()));
        ACTIVE.fetch_add(1, Ordering::SeqCst);
        AttachGuard {
            previous,
            _thread_bound: PhantomData,
        }
    }

    /// Attaches this collector to every thread the runtime built by
    /// `builder` starts (workers and blocking-pool threads), from start to
    /// stop, through the builder's `on_thread_start` and `on_thread_stop`
    /// hooks — which replaces hooks set on it before.
    ///
    /// A current-thread runtime runs its tasks on the thread that calls
    /// `block_on`: attach that thread too ([`attach_current_thread`](Collector::attach_current_thread)).
    pub fn instrument<'b>(
        self: &Arc<Self>,
        builder: &'b mut tokio::runtime::Builder,
    ) -> &'b mut tokio::runtime::Builder {
        let collector = self.clone();
        builder
            .on_thread_start(move || {
                let guard = collector.attach_current_thread();
                let _ = HOOKED.try_with(|hooked| hooked.borrow_mut().replace(guard));
            })
            .on_thread_stop(|| {
                let guard = HOOKED.try_with(|hooked| hooked.borrow_mut().take());
                drop(guard);
            })
    }

    /// Clones of the records, taken shard by shard (invariant 2: callers
    /// read causes and ages after the locks are released).
    pub(crate) fn snapshot(&self) -> Vec<(Arc<Node>, Option<KeyRef>)> {
        let mut out = Vec::new();
        for shard in &self.shards {
            let slab = lock(&shard.0);
            out.extend(
                slab.slots
                    .iter()
                    .flatten()
                    .map(|record| (record.node.clone(), record.key.clone())),
            );
        }
        out
    }

    /// How many scopes recorded by this collector are still alive.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|shard| lock(&shard.0).len).sum()
    }

    /// `true` if no scope recorded by this collector is alive.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("live", &self.len())
            .finish()
    }
}

/// Restores the thread's previous collector when dropped.
///
/// Bound to the thread it was made on (`!Send`).
#[must_use = "the collector is detached again when this guard drops"]
pub struct AttachGuard {
    previous: Option<Arc<Collector>>,
    _thread_bound: PhantomData<*const ()>,
}

impl Drop for AttachGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // `try_with`: the thread may be tearing its thread-locals down.
        let _ = CURRENT.try_with(|current| *current.borrow_mut() = previous);
        ACTIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for AttachGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachGuard").finish_non_exhaustive()
    }
}

/// Who holds a record: the process collector (no reference count to bump)
/// or a per-runtime one.
enum Owner {
    Process(&'static Collector),
    Local(Arc<Collector>),
}

impl Owner {
    fn get(&self) -> &Collector {
        match self {
            Owner::Process(collector) => collector,
            Owner::Local(collector) => collector,
        }
    }
}

/// A scope's record in a collector; removes it when the scope drops.
///
/// Boxed, so that an untracked scope pays one null pointer for it.
pub(crate) struct Tracked(Box<TrackedInner>);

struct TrackedInner {
    owner: Owner,
    shard: usize,
    slot: usize,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let inner = &self.0;
        let record = lock(&inner.owner.get().shards[inner.shard].0).remove(inner.slot);
        // Invariant 2: the node is released after the lock.
        drop(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scope;

    #[test]
    fn slab_reuses_freed_slots() {
        let mut slab = Slab::default();
        let node = || Record {
            node: Node::new(
                tokio_util::sync::CancellationToken::new(),
                crate::site::Origin::caller("t"),
            ),
            key: None,
        };
        let a = slab.insert(node());
        let b = slab.insert(node());
        assert_eq!((a, b, slab.len), (0, 1, 2));
        assert!(slab.remove(a).is_some());
        assert!(slab.remove(a).is_none());
        assert_eq!(slab.insert(node()), a);
        assert_eq!(slab.len, 2);
    }

    #[test]
    fn attach_records_only_while_attached_and_restores_the_previous() {
        let outer = Collector::new();
        let inner = Collector::new();
        assert!(!would_record() || is_tracking_process());
        let outer_guard = outer.attach_current_thread();
        assert!(is_active());
        let a = Scope::root();
        {
            let _inner_guard = inner.attach_current_thread();
            let b = Scope::root();
            assert_eq!((outer.len(), inner.len()), (1, 1));
            drop(b);
            assert!(inner.is_empty());
        }
        let c = Scope::root();
        assert_eq!(outer.len(), 2);
        drop(outer_guard);
        let d = Scope::root();
        assert_eq!(outer.len(), 2);
        // Records leave when their scopes drop, attached or not.
        drop((a, c, d));
        assert!(outer.is_empty());
    }

    #[test]
    fn a_scope_dropped_on_another_thread_leaves_its_collector() {
        let collector = Collector::new();
        let scope = {
            let _attached = collector.attach_current_thread();
            Scope::root()
        };
        assert_eq!(collector.len(), 1);
        std::thread::spawn(move || drop(scope)).join().unwrap();
        assert!(collector.is_empty());
    }
}
