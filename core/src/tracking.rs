//! Live-scope tracking for leak checks: which scopes exist right now, per
//! collector, with no cost beyond one relaxed load while no collector exists.
//!
//! A [`Collector`] is attached to threads (a test's runtime threads); every
//! scope created on such a thread is recorded in it until the scope drops.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::token::Node;

/// Collectors alive in the process; the fast path reads only this.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static CURRENT: RefCell<Option<Arc<Collector>>> = const { RefCell::new(None) };
}

/// `true` while any collector exists anywhere in the process.
#[inline]
pub(crate) fn is_active() -> bool {
    ACTIVE.load(Ordering::Relaxed) != 0
}

/// Records a new scope in the current thread's collector, if any.
#[inline]
pub(crate) fn attach(node: &Arc<Node>, key: Option<String>) -> Option<Tracked> {
    if !is_active() {
        return None;
    }
    let collector = CURRENT.with(|current| current.borrow().clone())?;
    let id = collector.next.fetch_add(1, Ordering::Relaxed);
    collector.lock().insert(
        id,
        Record {
            node: node.clone(),
            key,
        },
    );
    Some(Tracked { collector, id })
}

pub(crate) struct Record {
    pub(crate) node: Arc<Node>,
    pub(crate) key: Option<String>,
}

/// Scopes created on the threads a collector is attached to, while alive.
pub struct Collector {
    records: Mutex<HashMap<u64, Record>>,
    next: AtomicU64,
}

impl Collector {
    /// A new, empty collector, attached to no thread yet.
    pub fn new() -> Arc<Collector> {
        ACTIVE.fetch_add(1, Ordering::SeqCst);
        Arc::new(Collector {
            records: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Record>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Attaches this collector to the current thread until the guard drops
    /// (restoring whatever was attached before).
    pub fn attach_current_thread(self: &Arc<Self>) -> AttachGuard {
        let previous = CURRENT.with(|current| current.borrow_mut().replace(self.clone()));
        AttachGuard { previous }
    }

    /// Snapshots the records (node, key text) without holding the lock
    /// while the caller formats them.
    pub(crate) fn with_records<T>(&self, f: impl FnOnce(&mut dyn Iterator<Item = &Record>) -> T) -> T {
        let records = self.lock();
        f(&mut records.values())
    }

    /// How many scopes recorded by this collector are still alive.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// `true` if no scope recorded by this collector is alive.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Restores the thread's previous collector when dropped.
pub struct AttachGuard {
    previous: Option<Arc<Collector>>,
}

impl Drop for AttachGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // `try_with`: the thread may be tearing its thread-locals down.
        let _ = CURRENT.try_with(|current| *current.borrow_mut() = previous);
    }
}

/// A scope's record in a collector; removes it when the scope drops.
pub(crate) struct Tracked {
    collector: Arc<Collector>,
    id: u64,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let record = self.collector.lock().remove(&self.id);
        drop(record);
    }
}
