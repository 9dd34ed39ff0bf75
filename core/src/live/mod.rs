//! Live scopes: which scopes are alive, per runtime or in the whole
//! process, for a `/debug/scopes` page, a watchdog, a support bundle — and
//! for the leak checks of [`testing`](crate::testing), which build on it.
//!
//! Registries list their own scopes ([`Registry::report`](crate::Registry::report));
//! a [`Collector`] also sees anonymous ones ([`Scope::root`](crate::Scope::root),
//! [`Scope::child`](crate::Scope::child), tasks' scopes). Two ways in:
//!
//! - [`track_process`]`(true)` + [`live_scopes`]: every scope of the whole
//!   process, switched on at run time (what [`dump`](crate::dump) and
//!   `/debug/scopes` list).
//! - a [`Collector`] attached to one runtime's threads
//!   ([`Collector::instrument`]) or to one thread.
//!
//! ```
//! use scoped_cancel::{live, Scope};
//!
//! live::track_process(true);
//! let scope = Scope::root();
//! assert!(live::live_scopes().iter().any(|s| s.line() == line!() - 1));
//! drop(scope);
//! live::track_process(false);
//! ```
//!
//! # Attribution
//!
//! A scope is recorded by the collector attached to the thread that
//! *creates* it, and removed when it drops, wherever that happens. A leak
//! check attaches its collector to its runtime's threads (workers and
//! blocking pool) and to the thread that runs the body, so tests running in
//! parallel in one binary never see each other's scopes. Scopes created on
//! other threads go to the process collector while [`track_process`] is on,
//! and are recorded by no one otherwise.
//!
//! # Cost
//!
//! While no collector is attached anywhere and process tracking is off,
//! creating a scope pays one relaxed atomic load and a branch for tracking.
//! While a collector records it, a scope also costs a thread-local read, an
//! uncontended lock (its thread's own record list), a weak reference and a
//! push; its end costs one store. Keyed scopes are recorded with a weak way
//! back to their registry entry, so a report shows the key without the key
//! being cloned or formatted when the scope is entered. On, a tracked call
//! costs a fifth or so more than an untracked one (the figures are in the
//! repository's BENCHMARKS.md): so nothing is recorded unless a check
//! attaches a collector or process tracking is switched on. (A cargo
//! feature would not make the off path cheaper than its one load, and a
//! run-time switch lets a production binary turn the listing on while
//! debugging.)
//!
//! # Structure
//!
//! A [`Collector`] holds one record list (`Local`) per thread attached to
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
//! thread made on first use. [`Scope`](crate::Scope)'s constructors call
//! `attach`. `ACTIVE` counts the attachments alive in the process, plus one
//! while process tracking is on: while it is zero, `attach` is one relaxed
//! load and a branch.
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

mod collector;
mod records;

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};

use crate::link::KeyRef;
use crate::node::Node;
pub use collector::{is_tracking_process, track_process, AttachGuard, Collector};
pub(crate) use records::{Local, Record};
pub use scope::LiveScope;

mod scope;

/// Attachments alive in the process, plus one while process tracking is on.
/// The fast path reads only this.
pub(crate) static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Whether the process collector takes the scopes of unattached threads.
pub(crate) static PROCESS_ON: AtomicBool = AtomicBool::new(false);

/// The process collector, created the first time it is switched on.
pub(crate) static PROCESS: OnceLock<Collector> = OnceLock::new();

/// Every per-runtime collector ever created and not yet dropped, for
/// [`live_scopes`](crate::testing::live_scopes). Pruned when collectors are
/// created.
pub(crate) static COLLECTORS: Mutex<Vec<Weak<Collector>>> = Mutex::new(Vec::new());

crate::sync::thread_local! {
    /// This thread's list in the collector it is attached to, if any.
    pub(crate) static CURRENT: RefCell<Option<Arc<Local>>> = const { RefCell::new(None) };
    /// This thread's list in the process collector, made on first use.
    static PROCESS_LOCAL: RefCell<Option<Arc<Local>>> = const { RefCell::new(None) };
    /// The attachment a runtime's `on_thread_start` hook made on this thread.
    pub(crate) static HOOKED: RefCell<Option<AttachGuard>> = const { RefCell::new(None) };
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
pub(crate) fn attach(node: &Arc<Node>, key: impl FnOnce() -> Option<KeyRef>) -> bool {
    if ACTIVE.load(Ordering::Relaxed) == 0 {
        return false;
    }
    attach_slow(node, key())
}

#[inline(never)]
fn attach_slow(node: &Arc<Node>, key: Option<KeyRef>) -> bool {
    let mut record = Some(Record {
        node: Arc::downgrade(node),
        key,
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

/// Every live scope recorded anywhere in the process: by the process
/// collector ([`track_process`]) and by every collector still alive (tests,
/// instrumented runtimes), oldest first.
pub fn live_scopes() -> Vec<LiveScope> {
    let mut records = Vec::new();
    all_collectors(|collector| records.extend(collector.snapshot()));
    LiveScope::list(records)
}

/// `true` if a scope created now, on some thread, could be recorded: a
/// collector is attached somewhere, or process tracking is on.
pub fn is_recording() -> bool {
    ACTIVE.load(Ordering::Relaxed) != 0
}

/// Every collector whose records [`live_scopes`] lists: the process
/// collector, then the others still alive.
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

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // No invariant spans a panic point: poisoning is ignored.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::records::{lock_records, PRUNE_SLACK};
    use super::*;
    use crate::Scope;

    fn list_len(collector: &Collector) -> usize {
        let locals = crate::sync::lock(&collector.locals);
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
