//! Tasks counted by a keyed scope's registry, wherever they are spawned
//! from below it.
//!
//! A task spawned from a keyed scope, or from anything below it (a child
//! scope, a nested call, a task group, a task of the group), is counted on
//! the nearest keyed ancestor node — the *anchor* — while that scope lives:
//! a count in the anchor's node, under its lock, costing nothing on any
//! call that spawns nothing. When the keyed scope ends with tasks still
//! counted, its guard hands the count over to its registry (under the same
//! lock, before it unlinks), and from then on those tasks count there
//! directly, so [`Registry::shutdown`](crate::Registry::shutdown) waits for
//! them.
//!
//! No lost count: the anchor's flag `TASKS_PENDING` is set by the first
//! start, which only code running inside the scope (or in a task already
//! counted) can make; so a scope that ends without seeing the flag had no
//! task, and one that sees it hands over under the lock every later start
//! and end takes too.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Node, KEYED, TASKS_PENDING};

/// Where a keyed scope's tasks are counted once it has ended: its registry.
pub(crate) trait TaskCounter: Send + Sync {
    /// `n` tasks started.
    fn started(&self, n: usize);
    /// A task ended.
    fn ended(&self);
}

/// Counts one task on its anchor until dropped.
pub(crate) struct TaskCount {
    anchor: Arc<Node>,
}

impl TaskCount {
    /// Counts a task spawned from `node`'s scope, if `node` or an ancestor
    /// of it is keyed.
    pub(crate) fn below(node: &Arc<Node>) -> Option<TaskCount> {
        let anchor = node.keyed_ancestor()?;
        {
            let mut shared = anchor.lock_shared();
            let more = shared.more.get_or_insert_with(Default::default);
            let tasks = &mut more.rare().tasks;
            match &tasks.counter {
                Some(counter) => counter.started(1),
                None => {
                    tasks.pending += 1;
                    anchor.flags.fetch_or(TASKS_PENDING, Ordering::SeqCst);
                }
            }
        }
        Some(TaskCount { anchor })
    }
}

impl Drop for TaskCount {
    fn drop(&mut self) {
        let mut shared = self.anchor.lock_shared();
        let Some(rare) = shared.more.as_mut().and_then(|more| more.rare.as_mut()) else {
            return;
        };
        match &rare.tasks.counter {
            Some(counter) => counter.ended(),
            None => rare.tasks.pending -= 1,
        }
    }
}

/// A keyed node's tasks: counted here until its scope ends, then by the
/// counter it handed them to.
#[derive(Default)]
pub(super) struct Tasks {
    pending: usize,
    counter: Option<Box<dyn TaskCounter>>,
}

impl Node {
    /// This node, or its nearest ancestor, that is a keyed scope's.
    fn keyed_ancestor(self: &Arc<Node>) -> Option<Arc<Node>> {
        let mut node = self;
        loop {
            if node.flags.load(Ordering::Relaxed) & KEYED != 0 {
                return Some(node.clone());
            }
            node = node.parent.as_ref()?;
        }
    }

    /// For a keyed scope's guard, before it unlinks: the tasks counted here
    /// go to `counter` (its registry), and later ones too. One load when
    /// the scope never spawned a task.
    #[inline]
    pub(crate) fn hand_tasks_over(&self, counter: impl FnOnce() -> Box<dyn TaskCounter>) {
        if self.flags.load(Ordering::SeqCst) & TASKS_PENDING != 0 {
            self.hand_tasks_over_slow(counter());
        }
    }

    #[cold]
    #[inline(never)]
    fn hand_tasks_over_slow(&self, counter: Box<dyn TaskCounter>) {
        let mut shared = self.lock_shared();
        let more = shared.more.get_or_insert_with(Default::default);
        let tasks = &mut more.rare().tasks;
        if tasks.counter.is_none() {
            counter.started(tasks.pending);
            tasks.pending = 0;
            tasks.counter = Some(counter);
        }
    }
}
