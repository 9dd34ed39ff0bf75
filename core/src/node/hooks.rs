//! Callbacks on a node: run once on its cancel ([`Node::listen`]) or when
//! its scope's guard drops ([`Node::on_end`]). User code runs here only
//! outside the node's lock, and a callback that panics does not stop the
//! others: the first panic is raised once all have run.

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Weak;

use super::listeners::{Call, Listener, Listeners};
use super::{Node, HAS_ENDS};
use crate::cause::Cause;

/// A panic caught while running callbacks, raised by [`Deferred::finish`].
#[must_use = "call `finish` to raise a callback's panic"]
pub(crate) struct Deferred(Option<Box<dyn Any + Send>>);

impl Deferred {
    #[inline]
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
    #[inline]
    pub(crate) fn finish(self) {
        if let Some(panic) = self.0 {
            raise(panic);
        }
    }
}

#[cold]
#[inline(never)]
fn raise(panic: Box<dyn Any + Send>) {
    if !std::thread::panicking() {
        resume_unwind(panic);
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
        let more = shared.more.get_or_insert_with(Default::default);
        more.rare().ends.push(hook);
        self.flags.fetch_or(HAS_ENDS, Ordering::Relaxed);
    }

    /// Runs the end hooks, in the order they were added, for the scope's
    /// guard, last thing in its drop: a hook that panics does not stop the
    /// others, and the first panic is raised after them. One load when
    /// there are none.
    #[inline]
    pub(crate) fn run_end_hooks(&self) {
        if self.flags.load(Ordering::Relaxed) & HAS_ENDS != 0 {
            self.run_end_hooks_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn run_end_hooks_slow(&self) {
        let hooks = match self
            .lock_shared()
            .more
            .as_mut()
            .and_then(|m| m.rare.as_mut())
        {
            Some(rare) => std::mem::take(&mut rare.ends),
            None => Vec::new(),
        };
        let mut deferred = Deferred::none();
        for hook in hooks {
            deferred.catch(hook);
        }
        deferred.finish();
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

/// Acts on the listeners a cancel of `node` took: first its callbacks, in
/// the order they were added, each with its node; then its children, each
/// cancelled with [`Cause::Parent`] and acted on in turn the same way, depth
/// first in the order they were added, without recursion (a deep tree
/// cannot overflow the stack). So a node's callbacks run right after its
/// cause is recorded, before those of its descendants.
#[inline(never)]
pub(super) fn run_listeners(node: &Node, taken: Listeners) -> Deferred {
    let mut deferred = Deferred::none();
    let mut stack = vec![calls_then_children(node, taken, &mut deferred)];
    while let Some(level) = stack.last_mut() {
        let Some(child) = level.next() else {
            stack.pop();
            continue;
        };
        if let Some(child) = child.upgrade() {
            if let (_, Some(grandchildren)) = child.cancel_node(Cause::Parent, None) {
                stack.push(calls_then_children(&child, grandchildren, &mut deferred));
            }
        }
    }
    deferred
}

/// Runs the callbacks of `owner`'s list, and returns its children (the
/// callbacks' places emptied in place: no second list is allocated).
fn calls_then_children(
    owner: &Node,
    taken: Listeners,
    deferred: &mut Deferred,
) -> impl Iterator<Item = Weak<Node>> {
    let mut list = taken.into_list();
    for listener in &mut list {
        if let Listener::Call(call) = listener {
            // A closure that captures nothing: boxed without allocating.
            let call = std::mem::replace(call, Box::new(|_| {}));
            deferred.catch(|| call(owner));
        }
    }
    list.into_iter().filter_map(|listener| match listener {
        Listener::Child(child) => Some(child),
        Listener::Call(_) => None,
    })
}
