//! The ambient scope: which scope's future this thread is polling right now.
//!
//! One thread-local slot holds the node of the innermost scope being polled.
//! A [`Run`](crate::Run) swaps its own handle into the slot for the duration
//! of each poll of its body (and of the drop of a body that has not
//! finished) and swaps it back out afterwards: two 8-byte swaps, with no
//! reference count touched, no lock and no drop glue. Setting it per poll, never with an enter-guard held
//! across `.await`, is what keeps it from leaking into whatever the thread
//! polls next, and what gives each `select!`/`join!` branch its own scope:
//! only the branch wrapped in a `Run` sees it.
//!
//! No user code runs while the slot is emptied for reading: readers take
//! the handle out, make a child or a clone of it, and put it back.

use std::cell::Cell;
use std::mem::ManuallyDrop;
use std::sync::Arc;

use crate::node::Node;
use crate::site::Origin;

crate::sync::thread_local! {
    /// Holds a handle only during a poll, so there is never anything to
    /// drop at thread exit; `ManuallyDrop` says so, which spares every
    /// access the check for a registered destructor.
    static CURRENT: ManuallyDrop<Cell<Option<Arc<Node>>>> =
        const { ManuallyDrop::new(Cell::new(None)) };
}

/// Exchanges the slot's content with `handle`'s.
#[inline]
pub(crate) fn swap(handle: &mut Option<Arc<Node>>) {
    swap_cell(Cell::from_mut(handle));
}

#[inline]
fn swap_cell(handle: &Cell<Option<Arc<Node>>>) {
    // `try_with`: never fails in std (no destructor is registered for the
    // slot); under shuttle, a task's futures may be dropped after its
    // thread-locals, and then there is no slot to swap with.
    let _ = CURRENT.try_with(|slot| slot.swap(handle));
}

/// While alive, `handle`'s node is the current scope of this thread
/// (`handle` holds the previous one meanwhile); on drop, also while
/// unwinding, both are swapped back.
pub(crate) struct Entered<'a>(&'a Cell<Option<Arc<Node>>>);

impl<'a> Entered<'a> {
    #[inline]
    pub(crate) fn new(handle: &'a mut Option<Arc<Node>>) -> Entered<'a> {
        let handle = Cell::from_mut(handle);
        swap_cell(handle);
        Entered(handle)
    }
}

impl Drop for Entered<'_> {
    #[inline]
    fn drop(&mut self) {
        swap_cell(self.0);
    }
}

/// Puts a handle taken out of the slot back when dropped, also while
/// unwinding.
struct Refill<'a>(&'a Cell<Option<Arc<Node>>>, Option<Arc<Node>>);

impl Drop for Refill<'_> {
    #[inline]
    fn drop(&mut self) {
        // The slot is empty (taken): nothing is dropped here.
        self.0.swap(Cell::from_mut(&mut self.1));
    }
}

/// A new node under the current scope, or a root when there is none (a
/// keyed scope's node if `keyed`). The slot is empty meanwhile: no user
/// code runs here.
pub(crate) fn child_of_current(origin: Origin, keyed: bool) -> Arc<Node> {
    let make = |parent: Option<&Arc<Node>>| match keyed {
        true => Node::keyed_under(parent, origin),
        false => Node::under(parent, origin),
    };
    CURRENT
        .try_with(|slot| {
            let current = Refill(slot, slot.take());
            make(current.1.as_ref())
        })
        .unwrap_or_else(|_| make(None))
}

/// A new handle to the current scope's node, if any.
pub(crate) fn current() -> Option<Arc<Node>> {
    CURRENT
        .try_with(|slot| {
            let current = Refill(slot, slot.take());
            current.1.clone()
        })
        .ok()
        .flatten()
}

/// Marks the current scope as having a pending shield below it, for the
/// race that is polling its body (`race.rs`); nothing outside any scope.
pub(crate) fn mark_current_shielded() {
    let _ = CURRENT.try_with(|slot| {
        let current = Refill(slot, slot.take());
        if let Some(node) = &current.1 {
            node.mark_shielded();
        }
    });
}
