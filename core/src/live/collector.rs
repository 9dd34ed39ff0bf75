//! [`Collector`], its attachment guard, and the process-wide switch.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::sync::Mutex;

use super::{lock, LiveScope, Local, ACTIVE, COLLECTORS, CURRENT, HOOKED, PROCESS, PROCESS_ON};
use crate::link::KeyRef;
use crate::node::Node;

/// Switches process-wide tracking on or off.
///
/// While it is on, every scope created on a thread that has no collector of
/// its own (no test's or instrumented runtime's) is recorded in the process
/// collector, and [`live_scopes`](super::live_scopes) lists it.
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
/// production (see the [module docs](super) for the cost).
pub struct Collector {
    /// One list per attachment (a thread attached twice has two).
    pub(crate) locals: Mutex<Vec<Arc<Local>>>,
}

impl Collector {
    pub(crate) fn bare() -> Collector {
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
    pub(crate) fn new_local(&self) -> Arc<Local> {
        let local = Arc::new(Local::default());
        crate::sync::lock(&self.locals).push(local.clone());
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
            let mut locals = crate::sync::lock(&self.locals);
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

    /// The scopes recorded by this collector that are still alive, oldest first.
    pub fn scopes(&self) -> Vec<LiveScope> {
        LiveScope::list(self.snapshot())
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
