//! What a watchdog looks at: one registry's entries, or every tracked scope.

use std::fmt;
use std::sync::{Arc, Weak};

use crate::link::KeyRef;
use crate::live::all_collectors;
use crate::node::Node;
use crate::registry::storage::Storage;
use crate::registry::{Key, Registry};

/// A set of live scopes, snapshotted under its locks and read after.
pub(super) trait Source: Send + 'static {
    /// How a snapshot names a scope's key.
    type Key: Send;
    /// The live scopes now; `None` once the source is gone (stop).
    fn live(&self) -> Option<Vec<(Arc<Node>, Self::Key)>>;
    /// The key's text for a report (outside every lock).
    fn key_text(key: &Self::Key, node: &Node) -> Option<String>;
}

pub(super) struct RegistrySource<K> {
    storage: Weak<Storage<K>>,
}

impl<K: Key> RegistrySource<K> {
    pub(super) fn new(registry: &Registry<K>) -> Self {
        RegistrySource {
            storage: Arc::downgrade(registry.storage()),
        }
    }
}

impl<K: Key> Source for RegistrySource<K> {
    type Key = K;

    fn live(&self) -> Option<Vec<(Arc<Node>, K)>> {
        let storage = self.storage.upgrade()?;
        let mut live = Vec::new();
        for shard in storage.shards() {
            live.extend(
                shard
                    .lock()
                    .iter()
                    .map(|slot| (slot.node.clone(), slot.key.clone())),
            );
        }
        Some(live)
    }

    fn key_text(key: &K, _: &Node) -> Option<String> {
        Some(format!("{key:?}"))
    }
}

pub(super) struct TrackedSource;

impl Source for TrackedSource {
    type Key = Option<KeyRef>;

    fn live(&self) -> Option<Vec<(Arc<Node>, Option<KeyRef>)>> {
        let mut live = Vec::new();
        all_collectors(|collector| live.extend(collector.snapshot()));
        Some(live)
    }

    fn key_text(key: &Option<KeyRef>, node: &Node) -> Option<String> {
        key.as_ref()?.text(node)
    }
}

impl<K> fmt::Debug for RegistrySource<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrySource").finish_non_exhaustive()
    }
}
