//! `Scope::on_end`: work that must follow a scope's end, such as releasing a
//! lock held elsewhere (a cluster lease), attached without a new field in
//! `Scope`: the hook rides on the scope's registry link, chained after the
//! registry's own unlink.

use std::sync::{Arc, Mutex, PoisonError};

use crate::node::Node;
use crate::registry::link::{Link, Shard};
use crate::scope::Scope;

impl Scope {
    /// Attaches `hook`, run once when this scope's guard drops: after its
    /// token is cancelled and after its registry entry (if any) is removed.
    ///
    /// Cancelling the token while the guard lives ([`Scope::cancel`],
    /// [`Registry::cancel`](crate::Registry::cancel), a parent) does not run
    /// it: only the guard's end does, on every exit path (return, `?`, panic,
    /// the future dropped). Hooks chain: each later one runs after the
    /// earlier ones. The hook runs inside `Drop`, possibly while unwinding,
    /// so it must be quick and must not panic (hand slow work to a task).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use scoped_cancel::Scope;
    ///
    /// let released = Arc::new(AtomicBool::new(false));
    /// let flag = released.clone();
    /// let scope = Scope::root().on_end(move || flag.store(true, Ordering::SeqCst));
    /// let token = scope.token();
    ///
    /// scope.cancel();                       // cancelled, guard still alive
    /// assert!(!released.load(Ordering::SeqCst));
    /// drop(scope);                          // the guard's end runs the hook
    /// assert!(released.load(Ordering::SeqCst) && token.is_cancelled());
    /// ```
    pub fn on_end<F: FnOnce() + Send + 'static>(mut self, hook: F) -> Scope {
        let (prev, prev_unlinks) = self.take_link();
        let shard = Arc::new(EndHook {
            prev,
            prev_unlinks,
            hook: Mutex::new(Some(hook)),
        });
        self.set_own_link(Link::new(shard, 0));
        self
    }
}

/// A link that first does what the previous link did, then runs the hook.
struct EndHook<F> {
    prev: Option<Link>,
    /// `prev` is the scope's own entry (removed first), not a child's
    /// task counter.
    prev_unlinks: bool,
    hook: Mutex<Option<F>>,
}

impl<F: FnOnce() + Send + 'static> Shard for EndHook<F> {
    fn unlink(&self, _hash: u64, node: &Arc<Node>, entry: u64) {
        if let (Some(prev), true) = (&self.prev, self.prev_unlinks) {
            prev.shard.unlink(prev.hash, node, entry);
        }
        let hook = self
            .hook
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(hook) = hook {
            hook();
        }
    }

    fn key_text(&self, _hash: u64, node: &Node) -> Option<String> {
        let prev = self.prev.as_ref()?;
        prev.shard.key_text(prev.hash, node)
    }

    fn task_started(&self) {
        if let Some(prev) = &self.prev {
            prev.shard.task_started();
        }
    }

    fn task_ended(&self) {
        if let Some(prev) = &self.prev {
            prev.shard.task_ended();
        }
    }
}
