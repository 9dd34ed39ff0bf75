//! Callbacks on a node: run once on its cancel ([`Node::listen`]) or when
//! its scope's guard drops ([`Node::on_end`]). User code runs here only
//! outside the node's lock, and a callback that panics does not stop the
//! others: the first panic is raised once all have run.

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::listeners::{Call, Listener, Listeners};
use super::{Node, HAS_ENDS};
use crate::cause::Cause;

/// A panic caught while running callbacks, raised by [`Deferred::finish`].
#[must_use = "call `finish` to raise a callback's panic"]
pub(crate) struct Deferred(Option<Box<dyn Any + Send>>);

impl Deferred {
    pub(crate) fn none() -> Deferred {
        Deferred(None)
    }

    /// Keeps the first panic of several.
    fn catch(&mut self, f: impl FnOnce()) {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(f)) {
            self.0.get_or_insert(panic);
        }
    }

    /// Raises the panic caught, unless this thread is already unwinding (a
    /// second panic would abort): then it is dropped.
    pub(crate) fn finish(self) {
        if let Some(panic) = self.0 {
            if !std::thread::panicking() {
                resume_unwind(panic);
            }
        }
    }
}

impl Node {
    /// Registers `call`, run once with this node right after its cause is
    /// recorded, on the cancelling thread. `None` if the node was already
    /// cancelled: then `call` has run here, before this returns.
    pub(crate) fn listen(&self, call: Call) -> Option<u32> {
        match self.add_listener(Listener::Call(call)) {
            Ok(index) => Some(index),
            Err(Listener::Call(call)) => {
                call(self);
                None
            }
            Err(Listener::Child(_)) => unreachable!("a callback was added"),
        }
    }

    /// Unregisters the callback at `index`; `true` if it had not run (it
    /// is dropped here, unlocked), `false` if a cancel took it (it has run,
    /// or is running on the cancelling thread).
    pub(crate) fn unlisten(&self, index: u32) -> bool {
        self.remove_listener(index).is_some()
    }

    /// Adds a hook run by [`Node::run_end_hooks`] (the scope's guard, at
    /// its end).
    pub(crate) fn on_end(&self, hook: Box<dyn FnOnce() + Send>) {
        let mut shared = self.lock_shared();
        shared
            .more
            .get_or_insert_with(Default::default)
            .ends
            .push(hook);
        self.flags.fetch_or(HAS_ENDS, Ordering::Relaxed);
    }

    /// Runs the end hooks, in the order they were added; for the scope's
    /// guard, after its cancel and unlink. One load when there are none.
    #[inline]
    pub(crate) fn run_end_hooks(&self, deferred: &mut Deferred) {
        if self.flags.load(Ordering::Relaxed) & HAS_ENDS != 0 {
            self.run_end_hooks_slow(deferred);
        }
    }

    #[cold]
    #[inline(never)]
    fn run_end_hooks_slow(&self, deferred: &mut Deferred) {
        let hooks = match self.lock_shared().more.as_mut() {
            Some(more) => std::mem::take(&mut more.ends),
            None => Vec::new(),
        };
        for hook in hooks {
            deferred.catch(hook);
        }
    }
}

impl Deferred {
    /// Joins another's panic, if this one has none.
    pub(crate) fn join(&mut self, other: Deferred) {
        if let Some(panic) = other.0 {
            self.0.get_or_insert(panic);
        }
    }
}

/// Acts on the listeners a cancel of `node` took: children are cancelled
/// with [`Cause::Parent`] and their own listeners acted on in turn, depth
/// first in the order they were added, without recursion (a deep tree
/// cannot overflow the stack); callbacks are called with their node.
#[inline(never)]
pub(super) fn run_listeners(node: &Node, taken: Listeners) -> Deferred {
    let mut deferred = Deferred::none();
    // Each level: the node whose listeners these are (`None`: `node`).
    let mut stack: Vec<(Option<Arc<Node>>, std::vec::IntoIter<Listener>)> =
        vec![(None, taken.into_list().into_iter())];
    while let Some((owner, level)) = stack.last_mut() {
        let Some(listener) = level.next() else {
            stack.pop();
            continue;
        };
        match listener {
            Listener::Child(child) => {
                if let Some(child) = child.upgrade() {
                    if let (_, Some(grandchildren)) = child.cancel_node(Cause::Parent, None) {
                        let list = grandchildren.into_list().into_iter();
                        stack.push((Some(child), list));
                    }
                }
            }
            Listener::Call(call) => {
                let owner: &Node = owner.as_deref().unwrap_or(node);
                deferred.catch(|| call(owner));
            }
        }
    }
    deferred
}
