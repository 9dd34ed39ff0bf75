//! A managed node's list of children: a slab of weak references with an
//! intrusive free list, so that a child's place is found, freed and reused
//! in O(1).

use std::sync::Weak;

use super::Node;

/// A managed node's children, weak (a child that is gone needs no cancel),
/// each at the index it keeps in its `slot`: a child leaves its place when
/// it drops, and the place is reused. Place 0 is inline, so a parent with
/// one child at a time (a nested call's caller) makes one allocation.
pub(super) struct Children {
    first: Place,
    /// Places 1 and up.
    rest: Vec<Place>,
    /// The first free place, `NO_PLACE` if none.
    free: u32,
}

enum Place {
    Child(Weak<Node>),
    /// A place whose child dropped, and the next free one.
    Free(u32),
}

const NO_PLACE: u32 = u32::MAX;

impl Children {
    pub(super) fn new(first: Weak<Node>) -> Children {
        Children {
            first: Place::Child(first),
            rest: Vec::new(),
            free: NO_PLACE,
        }
    }

    fn place(&mut self, index: u32) -> Option<&mut Place> {
        match index {
            0 => Some(&mut self.first),
            _ => self.rest.get_mut(index as usize - 1),
        }
    }

    /// Puts `child` in a free place, or a new one; its index.
    pub(super) fn add(&mut self, child: Weak<Node>) -> u32 {
        let free = self.free;
        if let Some(place) = self.place(free) {
            let Place::Free(next) = *place else {
                unreachable!("the free list holds only free places")
            };
            *place = Place::Child(child);
            self.free = next;
            return free;
        }
        self.rest.push(Place::Child(child));
        // Never more live children than `u32` counts: each is an allocation
        // of over 100 bytes.
        u32::try_from(self.rest.len()).unwrap_or(NO_PLACE)
    }

    /// Frees the place at `index`.
    pub(super) fn remove(&mut self, index: u32) {
        let free = self.free;
        if let Some(place) = self.place(index) {
            // The dropping child's `Weak`: freed under the parent's lock,
            // which runs no user code.
            *place = Place::Free(free);
            self.free = index;
        }
    }

    /// The children still in their places, in the order of their places.
    pub(super) fn into_list(self) -> Vec<Weak<Node>> {
        std::iter::once(self.first)
            .chain(self.rest)
            .filter_map(|place| match place {
                Place::Child(child) => Some(child),
                Place::Free(_) => None,
            })
            .collect()
    }
}

#[cfg(test)]
impl Children {
    /// Places, free or not.
    pub(super) fn places(&self) -> usize {
        1 + self.rest.len()
    }

    /// Children whose node is still alive.
    pub(super) fn alive(&self) -> usize {
        std::iter::once(&self.first)
            .chain(&self.rest)
            .filter(|place| matches!(place, Place::Child(c) if c.strong_count() > 0))
            .count()
    }
}
