//! Live-scope tracking: the mechanism under [`crate::testing`].
//!
//! # Structure
//!
//! A [`Collector`] holds one record list ([`Local`]) per thread attached to
//! it, so recording a scope locks only the creating thread's own list, a
//! lock no other thread takes except to read a report. A record is a weak
//! reference to the scope's node (and, for keyed scopes, a weak way back to
//! the registry entry that holds the key); a scope marks its node *ended*
//! when it drops, and a report lists the records whose node is alive and not
//! ended. The owner prunes dead records when its list has doubled since the
//! last prune, so a scope's end costs one store and no lock.
//!
//! A thread has at most one *current* list (the thread-local `CURRENT`): a
//! test's block-on thread and its runtime's threads while the test runs.
//! The *process* collector, while switched on with [`track_process`], takes
//! the scopes of every thread that has no current list, into a list per
//! thread made on first use. [`Scope::new`](crate::Scope) calls [`attach`].
//!
//! # Cost
//!
//! `ACTIVE` counts the attachments alive in the process, plus one while
//! process tracking is on. While it is zero, [`attach`] is one relaxed load
//! and a branch: the whole price of tracking when it is off.
//! When it is on, a scope costs a thread-local read, an uncontended lock, a
//! weak reference and a push; keyed scopes also keep a weak way back to
//! their registry entry ([`KeyRef`]), where a report finds and formats the
//! key. Its end costs a store (see `testing`'s docs for the measured
//! numbers).
//!
//! # Invariants
//!
//! 1. A record never keeps a node alive (it is weak), so a leak report can
//!    never be the reason something leaks; a record is dropped only once its
//!    node is gone.
//! 2. No lock of this module is held while user code runs (records hold no
//!    user data; keys are looked up and formatted from the snapshot), while
//!    a node is dropped, or while a cause is computed: snapshots upgrade the
//!    records under the lock and read them after unlocking.
//! 3. Locks nest in one order only: a collector's list of locals, then one
//!    local's records; `COLLECTORS` is never held while either is taken.

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};

use crate::registry::link::{KeyRef, Link};
use crate::sync::{Mutex as SyncMutex, MutexGuard as SyncMutexGuard};
use crate::token::Node;

/// Attachments alive in the process, plus one while process tracking is on.
/// The fast path reads only this.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Whether the process collector takes the scopes of unattached threads.
static PROCESS_ON: AtomicBool = AtomicBool::new(false);

/// The process collector, created the first time it is switched on.
static PROCESS: OnceLock<Collector> = OnceLock::new();

/// Every per-runtime collector ever created and not yet dropped, for
/// [`live_scopes`](crate::testing::live_scopes). Pruned when collectors are
/// created.
static COLLECTORS: Mutex<Vec<Weak<Collector>>> = Mutex::new(Vec::new());

thread_local! {
    /// This thread's list in the collector it is attached to, if any.
    static CURRENT: RefCell<Option<Arc<Local>>> = const { RefCell::new(None) };
    /// This thread's list in the process collector, made on first use.
    static PROCESS_LOCAL: RefCell<Option<Arc<Local>>> = const { RefCell::new(None) };
    /// The attachment a runtime's `on_thread_start` hook made on this thread.
    static HOOKED: RefCell<Option<AttachGuard>> = const { RefCell::new(None) };
}

/// `true` if a scope created on this thread now would be recorded.
#[cfg(test)]
fn would_record() -> bool {
    let local = CURRENT.try_with(|current| current.borrow().is_some());
    local.unwrap_or(false) || (PROCESS_ON.load(Ordering::Relaxed) && PROCESS.get().is_some())
}

/// Records a new scope (with the way back to its key, if it has a registry
/// entry) in this thread's list, or in the process collector's; `true` if it
/// was recorded, and then the scope must [`end`](Node::end_tracked) its node
/// when it drops.
#[inline]
pub(crate) fn attach(node: &Arc<Node>, link: Option<&Link>) -> bool {
    if ACTIVE.load(Ordering::Relaxed) == 0 {
        return false;
    }
    attach_slow(node, link)
}

#[inline(never)]
fn attach_slow(node: &Arc<Node>, link: Option<&Link>) -> bool {
    let mut record = Some(Record {
        node: Arc::downgrade(node),
        key: link.map(Link::key_ref),
    });
    // `try_with`: a scope may be created while thread-locals are torn down.
    let _ = CURRENT.try_with(|current| {
        if let Some(local) = &*current.borrow() {
            local.push(&mut record);
        }
    });
    if record.is_some() && PROCESS_ON.load(Ordering::Relaxed) {
        if let Some(process) = PROCESS.get() {
            let _ = PROCESS_LOCAL.try_with(|local| {
                local
                    .borrow_mut()
                    .get_or_insert_with(|| process.new_local())
                    .push(&mut record);
            });
        }
    }
    record.is_none()
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

/// One scope's record: weak, so that it never keeps the node alive, and
/// holding no user data, so that dropping it runs no user code.
struct Record {
    node: Weak<Node>,
    /// The way back to the key, for keyed scopes.
    key: Option<KeyRef>,
}

impl Record {
    /// The node is gone, so the scope has ended and no report can list it.
    fn is_gone(&self) -> bool {
        self.node.strong_count() == 0
    }
}

/// One thread's records in one collector. Only that thread pushes; reports
/// read it from anywhere. Its lock (and the node's `ended` flag) come from
/// `crate::sync`, so the shuttle models explore their interleavings.
#[derive(Default)]
struct Local {
    records: SyncMutex<Records>,
}

fn lock_records(records: &SyncMutex<Records>) -> SyncMutexGuard<'_, Records> {
    records.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Default)]
struct Records {
    list: Vec<Record>,
    /// The list's length after the last prune: the next prune waits until
    /// it has doubled (plus a little), so pruning costs O(1) per push.
    kept: usize,
}

/// Records kept before the first prune.
const PRUNE_SLACK: usize = 64;

impl Local {
    /// Moves `record` into the list, pruning first when it is due.
    fn push(&self, record: &mut Option<Record>) {
        let mut records = lock_records(&self.records);
        if records.list.len() >= 2 * records.kept + PRUNE_SLACK {
            records.prune();
        }
        records.list.extend(record.take());
    }

    /// The nodes of the records that are still alive, upgraded.
    fn upgrade_all(&self, out: &mut Vec<(Arc<Node>, Option<KeyRef>)>) {
        let records = lock_records(&self.records);
        out.extend(records.list.iter().filter_map(|record| {
            let node = record.node.upgrade()?;
            Some((node, record.key.clone()))
        }));
    }

    /// `true` if no record's node is alive.
    fn is_dead(&self) -> bool {
        let records = lock_records(&self.records);
        records.list.iter().all(Record::is_gone)
    }
}

impl Records {
    /// Drops the records whose node is gone.
    fn prune(&mut self) {
        self.list.retain(|record| !record.is_gone());
        self.kept = self.list.len();
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
    /// One list per attachment (a thread attached twice has two).
    locals: Mutex<Vec<Arc<Local>>>,
}

impl Collector {
    fn bare() -> Collector {
        Collector {
            locals: Mutex::new(Vec::new()),
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

    /// A new list for one thread, registered here for reports.
    fn new_local(&self) -> Arc<Local> {
        let local = Arc::new(Local::default());
        lock(&self.locals).push(local.clone());
        local
    }

    /// Makes this the current thread's collector until the guard drops, when
    /// the thread's previous collector (if any) is restored. Drop nested
    /// guards in reverse order.
    pub fn attach_current_thread(self: &Arc<Self>) -> AttachGuard {
        let local = self.new_local();
        let previous = CURRENT.with(|current| current.borrow_mut().replace(local));
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

    /// The live scopes' nodes and keys. Invariant 2: the records are
    /// upgraded under each list's lock; whether a scope has ended is read,
    /// and the nodes of ended ones released, after it.
    pub(crate) fn snapshot(&self) -> Vec<(Arc<Node>, Option<KeyRef>)> {
        let locals: Vec<Arc<Local>> = {
            let mut locals = lock(&self.locals);
            // A list no thread pushes to any more, whose scopes are all gone.
            locals.retain(|local| Arc::strong_count(local) > 1 || !local.is_dead());
            locals.clone()
        };
        let mut out = Vec::new();
        for local in &locals {
            local.upgrade_all(&mut out);
        }
        out.retain(|(node, _)| !node.has_ended());
        out
    }

    /// How many scopes recorded by this collector are still alive.
    pub fn len(&self) -> usize {
        self.snapshot().len()
    }

    /// `true` if no scope recorded by this collector is alive.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Collector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
    previous: Option<Arc<Local>>,
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

impl fmt::Debug for AttachGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AttachGuard").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scope;

    fn list_len(collector: &Collector) -> usize {
        let locals = lock(&collector.locals);
        locals
            .iter()
            .map(|local| lock_records(&local.records).list.len())
            .sum()
    }

    #[test]
    fn records_of_gone_scopes_are_pruned_as_the_list_grows() {
        let collector = Collector::new();
        let _attached = collector.attach_current_thread();
        for _ in 0..10_000 {
            drop(Scope::root());
        }
        assert!(collector.is_empty());
        // Pruned whenever the list reached 2 × kept + slack; nothing was kept.
        assert!(
            list_len(&collector) <= PRUNE_SLACK,
            "{}",
            list_len(&collector)
        );
        let live: Vec<Scope> = (0..1_000).map(|_| Scope::root()).collect();
        for _ in 0..10_000 {
            drop(Scope::root());
        }
        assert_eq!(collector.len(), 1_000);
        assert!(list_len(&collector) <= 2 * 1_000 + PRUNE_SLACK);
        drop(live);
        assert!(collector.is_empty());
    }

    #[test]
    fn an_ended_scope_is_not_listed_while_its_token_lives_and_no_record_keeps_a_node() {
        let collector = Collector::new();
        let _attached = collector.attach_current_thread();
        let scope = Scope::root();
        let token = scope.token();
        assert_eq!(collector.len(), 1);
        drop(scope);
        assert!(collector.is_empty(), "ended, though its token is alive");
        // The token is the node's only strong reference: records are weak.
        assert_eq!(Arc::strong_count(&token.node), 1);
        drop(token);
        assert!(collector.is_empty());
    }

    #[test]
    fn attach_records_only_while_attached_and_restores_the_previous() {
        let outer = Collector::new();
        let inner = Collector::new();
        assert!(!would_record() || is_tracking_process());
        let outer_guard = outer.attach_current_thread();
        assert!(would_record());
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
