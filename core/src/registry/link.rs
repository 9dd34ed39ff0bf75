//! The type-erased way back from a scope (or entry, or task) to its shard.
//!
//! `Scope` has no key type parameter, so it reaches its registry through a
//! trait object. It holds the *shard*, not the whole storage: each shard has
//! its own reference count, so many threads entering scopes of one registry
//! do not all bump the same atomic.

use std::sync::Arc;

use crate::token::Node;

/// What a shard offers to the handles that point into it.
pub(crate) trait Shard: Send + Sync {
    /// Removes the entry with this hash whose token is `node` (identity, not
    /// key equality), if it is still there.
    fn unlink(&self, hash: u64, node: &Arc<Node>);
    /// A task spawned from a scope of this registry started or ended.
    fn task_started(&self);
    fn task_ended(&self);
}

/// A handle to one entry of one shard.
pub(crate) struct Link {
    shard: Arc<dyn Shard>,
    hash: u64,
}

impl Link {
    pub(crate) fn new(shard: Arc<dyn Shard>, hash: u64) -> Link {
        Link { shard, hash }
    }

    pub(crate) fn unlink(self, node: &Arc<Node>) {
        self.shard.unlink(self.hash, node);
    }
}

/// Counts one task spawned from a keyed scope, so `shutdown` can wait for it.
pub(crate) struct TaskGuard {
    shard: Arc<dyn Shard>,
}

impl TaskGuard {
    pub(crate) fn new(link: &Link) -> TaskGuard {
        link.shard.task_started();
        TaskGuard {
            shard: link.shard.clone(),
        }
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.shard.task_ended();
    }
}
