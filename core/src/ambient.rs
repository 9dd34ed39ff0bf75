//! The ambient scope: which scope's future this thread is polling right now.
//!
//! One thread-local slot holds the node of the innermost scope being polled.
//! A [`Run`](crate::Run) moves its own handle into the slot for the duration
//! of each poll of its body (and of the body's drop) and moves it back out
//! afterwards, so a poll costs two thread-local swaps of a pointer, with no
//! reference count touched and no lock. Setting it per poll, never with an
//! enter-guard held across `.await`, is what keeps it from leaking into
//! whatever the thread polls next, and what gives each `select!`/`join!`
//! branch its own scope: only the branch wrapped in a `Run` sees it.
//!
//! No user code runs while the slot is borrowed: readers take the handle
//! out, clone it, and put it back, within one thread-local access.

use std::cell::Cell;
use std::sync::Arc;

use crate::token::Node;

thread_local! {
    static CURRENT: Cell<Option<Arc<Node>>> = const { Cell::new(None) };
}

/// While alive, `handle`'s node is the current scope of this thread; on drop
/// (also while unwinding) the previous one is back and `handle` refilled.
///
/// One thread-local access each way (a swap inside one `try_with`): the
/// ambient scope is set on every poll of every `Run`.
pub(crate) struct Entered<'a> {
    handle: &'a mut Option<Arc<Node>>,
    /// `None` if the slot was gone (thread exit): nothing to restore.
    previous: Option<Option<Arc<Node>>>,
}

impl<'a> Entered<'a> {
    /// Makes `handle`'s node current. `handle` is empty until the guard drops.
    pub(crate) fn new(handle: &'a mut Option<Arc<Node>>) -> Entered<'a> {
        // If the slot is gone the closure never runs and `handle` keeps
        // its node: nothing is current, nothing to restore.
        let previous = CURRENT.try_with(|slot| slot.replace(handle.take())).ok();
        Entered { handle, previous }
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            let handle = &mut *self.handle;
            // The slot outlives any guard made while it existed: this
            // cannot fail, and if it did the handle would merely stay empty.
            let _ = CURRENT.try_with(|slot| *handle = slot.replace(previous));
        }
    }
}

/// Calls `f` with the current scope's node, if any (a handle of its own:
/// the slot is left as it is while `f` runs).
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Arc<Node>>) -> R) -> R {
    f(current().as_ref())
}

/// A new handle to the current scope's node, if any: one thread-local
/// access, and no reference count touched when there is none.
pub(crate) fn current() -> Option<Arc<Node>> {
    CURRENT
        .try_with(|slot| {
            let node = slot.take();
            let copy = node.clone();
            slot.set(node);
            copy
        })
        .ok()
        .flatten()
}
