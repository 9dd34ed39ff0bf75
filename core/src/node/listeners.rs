//! A node's listeners: its children and its callbacks, in one slab of
//! places with an intrusive free list, so that a place is found, freed and
//! reused in O(1), and a cancel takes them all at once.

use std::sync::Weak;

use super::Node;

/// A callback run once when its node is cancelled, with the node.
pub(crate) type Call = Box<dyn FnOnce(&Node) + Send>;

/// What a node's cancel reaches.
pub(super) enum Listener {
    /// A child, weak (a child that is gone needs no cancel): cancelled
    /// with [`Cause::Parent`](crate::Cause::Parent).
    Child(Weak<Node>),
    /// A callback ([`Token::after_cancel`](crate::Token::after_cancel), a
    /// link, an observe hook).
    Call(Call),
}

enum Place {
    Used(Listener),
    /// A free place, and the next free one.
    Free(u32),
}

/// No place: a child born cancelled never had one.
pub(super) const NO_PLACE: u32 = u32::MAX;

/// Each listener sits at the index its owner keeps (a child in its `slot`,
/// a callback in its registration) until the owner frees it or a cancel
/// takes the list. Place 0 is inline, so a parent with one child at a time
/// (a nested call's caller) needs no second allocation.
pub(crate) struct Listeners {
    first: Place,
    /// Places 1 and up.
    rest: Vec<Place>,
    /// The first free place, `NO_PLACE` if none.
    free: u32,
    /// Places in use: a list whose listeners all left (a caller's nested
    /// calls that returned) is not walked when its node is cancelled.
    used: u32,
}

impl Listeners {
    pub(super) fn new() -> Listeners {
        Listeners {
            first: Place::Free(NO_PLACE),
            rest: Vec::new(),
            free: 0,
            used: 0,
        }
    }

    /// No listener left.
    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.used == 0
    }

    fn place(&mut self, index: u32) -> Option<&mut Place> {
        match index {
            0 => Some(&mut self.first),
            NO_PLACE => None,
            _ => self.rest.get_mut(index as usize - 1),
        }
    }

    /// Puts `listener` in a free place, or a new one; its index.
    #[inline]
    pub(super) fn add(&mut self, listener: Listener) -> u32 {
        self.used += 1;
        let free = self.free;
        if let Some(place) = self.place(free) {
            let Place::Free(next) = *place else {
                unreachable!("the free list holds only free places")
            };
            *place = Place::Used(listener);
            self.free = next;
            return free;
        }
        self.rest.push(Place::Used(listener));
        // Never more live listeners than `u32` counts: each is an
        // allocation of its own.
        u32::try_from(self.rest.len()).unwrap_or(NO_PLACE)
    }

    /// Frees the place at `index`, dropping what was there in place: for a
    /// child's `Weak`, whose drop runs no user code.
    #[inline]
    pub(super) fn free(&mut self, index: u32) {
        let free = self.free;
        if let Some(place) = self.place(index) {
            if matches!(place, Place::Used(_)) {
                *place = Place::Free(free);
                self.free = index;
                self.used -= 1;
            }
        }
    }

    /// Frees the place at `index` and returns what was there, for the
    /// caller to drop after unlocking; `None` if the place is not in use
    /// (a cancel took the list since).
    pub(super) fn remove(&mut self, index: u32) -> Option<Listener> {
        let free = self.free;
        let place = self.place(index)?;
        if matches!(place, Place::Free(_)) {
            return None;
        }
        let Place::Used(listener) = std::mem::replace(place, Place::Free(free)) else {
            unreachable!("checked above")
        };
        self.free = index;
        self.used -= 1;
        Some(listener)
    }

    /// The listeners in their places' order (the order they were added,
    /// where no place was reused).
    pub(super) fn into_list(self) -> Vec<Listener> {
        std::iter::once(self.first)
            .chain(self.rest)
            .filter_map(|place| match place {
                Place::Used(listener) => Some(listener),
                Place::Free(_) => None,
            })
            .collect()
    }
}

#[cfg(test)]
impl Listeners {
    /// Places, free or not.
    pub(super) fn places(&self) -> usize {
        1 + self.rest.len()
    }

    /// Children whose node is still alive, and callbacks.
    pub(super) fn alive(&self) -> usize {
        std::iter::once(&self.first)
            .chain(&self.rest)
            .filter(|place| match place {
                Place::Used(Listener::Child(c)) => c.strong_count() > 0,
                Place::Used(Listener::Call(_)) => true,
                Place::Free(_) => false,
            })
            .count()
    }
}
