//! The record store: one list of weak records per attached thread.

use std::sync::{Arc, Weak};

use crate::link::KeyRef;
use crate::node::Node;
use crate::sync::{Mutex as SyncMutex, MutexGuard as SyncMutexGuard};

/// One scope's record: weak, so that it never keeps the node alive, and
/// holding no user data, so that dropping it runs no user code.
pub(crate) struct Record {
    pub(crate) node: Weak<Node>,
    /// The way back to the key, for keyed scopes.
    pub(crate) key: Option<KeyRef>,
}

impl Record {
    /// The node is gone, so the scope has ended and no report can list it.
    fn is_gone(&self) -> bool {
        self.node.strong_count() == 0
    }
}

/// One thread's records in one collector. Only that thread pushes; reports
/// read it from anywhere. Its lock (and the node's `ended` flag) come from
/// `crate::sync`, so the shuttle models explore their interleavings.
#[derive(Default)]
pub(crate) struct Local {
    pub(crate) records: SyncMutex<Records>,
}

pub(crate) fn lock_records(records: &SyncMutex<Records>) -> SyncMutexGuard<'_, Records> {
    crate::sync::lock(records)
}

#[derive(Default)]
pub(crate) struct Records {
    pub(crate) list: Vec<Record>,
    /// The list's length after the last prune: the next prune waits until
    /// it has doubled (plus a little), so pruning costs O(1) per push.
    kept: usize,
}

/// Records kept before the first prune.
pub(crate) const PRUNE_SLACK: usize = 64;

impl Local {
    /// Moves `record` into the list, pruning first when it is due.
    pub(crate) fn push(&self, record: &mut Option<Record>) {
        let mut records = lock_records(&self.records);
        if records.list.len() >= 2 * records.kept + PRUNE_SLACK {
            records.prune();
        }
        records.list.extend(record.take());
    }

    /// The nodes of the records that are still alive, upgraded.
    pub(crate) fn upgrade_all(&self, out: &mut Vec<(Arc<Node>, Option<KeyRef>)>) {
        let records = lock_records(&self.records);
        out.extend(records.list.iter().filter_map(|record| {
            let node = record.node.upgrade()?;
            Some((node, record.key.clone()))
        }));
    }

    /// `true` if no record's node is alive.
    pub(crate) fn is_dead(&self) -> bool {
        let records = lock_records(&self.records);
        records.list.iter().all(Record::is_gone)
    }
}

impl Records {
    /// Drops the records whose node is gone.
    fn prune(&mut self) {
        self.list.retain(|record| !record.is_gone());
        self.kept = self.list.len();
    }
}
