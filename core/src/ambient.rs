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
//! out, clone it, and put it back.

use std::cell::Cell;
use std::sync::Arc;

use crate::token::Node;

thread_local! {
    static CURRENT: Cell<Option<Arc<Node>>> = const { Cell::new(None) };
}

/// Puts `node` in the slot and gives back what was there, or hands `node`
/// back as `Err` if the thread is tearing down its thread-locals.
fn replace(node: Option<Arc<Node>>) -> Result<Option<Arc<Node>>, Option<Arc<Node>>> {
    let mut node = Some(node);
    let swapped = CURRENT.try_with(|slot| {
        // `take` cannot fail: `node` is `Some` until here.
        slot.replace(node.take().unwrap_or_default())
    });
    swapped.map_err(|_| node.unwrap_or_default())
}

/// While alive, `handle`'s node is the current scope of this thread; on drop
/// (also while unwinding) the previous one is back and `handle` refilled.
pub(crate) struct Entered<'a> {
    handle: &'a mut Option<Arc<Node>>,
    previous: Option<Option<Arc<Node>>>,
}

impl<'a> Entered<'a> {
    /// Makes `handle`'s node current. `handle` is empty until the guard drops.
    pub(crate) fn new(handle: &'a mut Option<Arc<Node>>) -> Entered<'a> {
        let previous = match replace(handle.take()) {
            Ok(previous) => Some(previous),
            Err(node) => {
                // No slot (thread exit): nothing is current, nothing to restore.
                *handle = node;
                None
            }
        };
        Entered { handle, previous }
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            // The slot outlives any guard made while it existed: this
            // cannot fail, and if it did the handle would merely stay empty.
            if let Ok(ours) = replace(previous) {
                *self.handle = ours;
            }
        }
    }
}

/// Calls `f` with the current scope's node, if any. `f` must not run user
/// code: the slot is empty while it runs.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Arc<Node>>) -> R) -> R {
    let mut current = replace(None).unwrap_or_default();
    // Restores the slot even if `f` unwinds.
    let refill = Refill(&mut current);
    f(refill.0.as_ref())
}

/// Puts a node taken out of the slot back when dropped.
struct Refill<'a>(&'a mut Option<Arc<Node>>);

impl Drop for Refill<'_> {
    fn drop(&mut self) {
        // The slot is empty (taken above), so nothing is dropped here.
        let _ = replace(self.0.take());
    }
}

/// A new handle to the current scope's node, if any.
pub(crate) fn current() -> Option<Arc<Node>> {
    with_current(|node| node.cloned())
}
