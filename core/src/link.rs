//! The type-erased way back from a scope (or entry, or task) to its shard.
//!
//! `Scope` has no key type parameter, so it reaches its registry through a
//! trait object. It holds the *shard*, not the whole storage: each shard has
//! its own reference count, so many threads entering scopes of one registry
//! do not all bump the same atomic.

use std::sync::{Arc, Weak};

use crate::node::{Node, TaskCounter};

/// What a shard offers to the handles that point into it.
pub(crate) trait Shard: Send + Sync {
    /// Removes the entry with this hash whose token is `node` under entry
    /// number `entry` (identity, not key equality), if it is still there.
    fn unlink(&self, hash: u64, node: &Arc<Node>, entry: u64);
    /// The key of the entry with this hash whose token is `node`, formatted
    /// with `Debug`, if it is still there: for leak reports.
    fn key_text(&self, hash: u64, node: &Node) -> Option<String>;
    /// `n` tasks spawned below a scope of this registry are running, or
    /// one of them ended.
    fn tasks_started(&self, n: usize);
    fn task_ended(&self);
}

/// A handle to one entry of one shard.
pub(crate) struct Link {
    pub(crate) shard: Arc<dyn Shard>,
    pub(crate) hash: u64,
}

impl Link {
    pub(crate) fn new(shard: Arc<dyn Shard>, hash: u64) -> Link {
        Link { shard, hash }
    }

    /// Removes this link's entry: a scope's own (`entry` 0) or an insert's.
    pub(crate) fn unlink(&self, node: &Arc<Node>, entry: u64) {
        self.shard.unlink(self.hash, node, entry);
    }

    /// A second handle to the same shard, which removes nothing: where a
    /// keyed scope's tasks count once it has ended.
    pub(crate) fn for_child(&self) -> Link {
        Link {
            shard: self.shard.clone(),
            hash: self.hash,
        }
    }

    /// The key of this link's entry for `node`, formatted with `Debug`.
    pub(crate) fn key_text(&self, node: &Node) -> Option<String> {
        self.shard.key_text(self.hash, node)
    }

    /// A weak way back to this entry's key, for a tracking record.
    pub(crate) fn key_ref(&self) -> KeyRef {
        KeyRef {
            shard: Arc::downgrade(&self.shard),
            hash: self.hash,
        }
    }
}

/// How a tracked keyed scope's record finds its key when a report is taken:
/// the key stays in the registry, so recording a scope neither clones nor
/// formats it, and the record holds no user data.
#[derive(Clone)]
pub(crate) struct KeyRef {
    shard: Weak<dyn Shard>,
    hash: u64,
}

impl KeyRef {
    /// The key of `node`'s entry, formatted with `Debug`; `None` once the
    /// entry (or the whole registry) is gone.
    pub(crate) fn text(&self, node: &Node) -> Option<String> {
        self.shard.upgrade()?.key_text(self.hash, node)
    }
}

/// A keyed scope's tasks, still running when it ended, count in its
/// registry from then on (`node/tasks.rs`), so `shutdown` waits for them.
impl TaskCounter for Link {
    fn started(&self, n: usize) {
        self.shard.tasks_started(n);
    }

    fn ended(&self) {
        self.shard.task_ended();
    }
}
