//! What registries report: live scopes and shutdown stragglers.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::queue::Waiting;
use super::storage::Storage;
use super::{Key, Registry};
use crate::facts::Facts;
use crate::node::Node;

/// One live scope (or indexed token), as [`Registry::report`] and
/// [`ShutdownReport::stragglers`] list it.
#[derive(Clone, PartialEq, Eq)]
pub struct ScopeInfo<K> {
    key: K,
    facts: Facts,
    /// The calls queued behind this scope for its key.
    waiting: Waiting,
}

impl<K> ScopeInfo<K> {
    pub(crate) fn new(key: K, node: &Node, waiting: Waiting) -> Self {
        ScopeInfo {
            key,
            facts: Facts::of(node),
            waiting,
        }
    }

    /// How many calls wait for this scope's key
    /// ([`Registry::enter_waiting`], `occupied = wait`).
    pub fn waiting(&self) -> usize {
        self.waiting.count
    }
    /// How long the oldest of them has waited; `None` when none waits.
    pub fn oldest_wait(&self) -> Option<Duration> {
        self.waiting.oldest
    }

    pub(crate) fn facts(&self) -> &Facts {
        &self.facts
    }

    /// The scope's key.
    pub fn key(&self) -> &K {
        &self.key
    }
    crate::facts::facts_accessors!();
}

impl<K: fmt::Debug> fmt::Debug for ScopeInfo<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.facts.debug(f, "ScopeInfo", &self.key)
    }
}

/// `name (key 7) at src/jobs.rs:42, age 1.2s, live` — one line per scope.
impl<K: fmt::Debug> fmt::Display for ScopeInfo<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.facts.write(f, Some(&format_args!("{:?}", self.key)))?;
        if let Some(oldest) = self.waiting.oldest {
            let count = self.waiting.count;
            write!(f, ", {count} waiting (oldest {oldest:.1?})")?;
        }
        Ok(())
    }
}

impl<K: Key> Registry<K> {
    /// Every live entry: key, name, file, line, age and state, and how many
    /// calls wait for its key.
    ///
    /// Keys are cloned under the shard's lock; the rest is read after it.
    pub fn report(&self) -> Vec<ScopeInfo<K>> {
        self.storage.get().map_or_else(Vec::new, |s| report(s))
    }
}

pub(crate) fn report<K: Key>(storage: &Storage<K>) -> Vec<ScopeInfo<K>> {
    // scoped-cancel-audit: allow(a snapshot for one report, dropped when it returns)
    let mut live: Vec<(K, Arc<Node>, Waiting)> = Vec::new();
    for shard in storage.shards() {
        let table = shard.lock();
        // Hashing again only in shards that have waiters.
        let waiting = |key: &K| match shard.queues.any() {
            true => shard.queues.waiting(storage.hash(key), key),
            false => Waiting::default(),
        };
        live.extend(
            table
                .iter()
                .map(|slot| (slot.key.clone(), slot.node.clone(), waiting(&slot.key))),
        );
    }
    let mut infos: Vec<ScopeInfo<K>> = live
        .into_iter()
        .map(|(key, node, waiting)| ScopeInfo::new(key, &node, waiting))
        .collect();
    // Oldest first: the likeliest leaks lead the list.
    infos.sort_by_key(|info| std::cmp::Reverse(info.facts.age));
    infos
}

/// What [`Registry::shutdown`] left behind at its deadline.
#[derive(Clone, Debug)]
pub struct ShutdownReport<K> {
    pub(crate) stragglers: Vec<ScopeInfo<K>>,
    pub(crate) tasks: usize,
    pub(crate) elapsed: Duration,
}

impl<K> ShutdownReport<K> {
    /// The scopes still alive at the deadline, oldest first.
    pub fn stragglers(&self) -> &[ScopeInfo<K>] {
        &self.stragglers
    }
    /// Tasks spawned with [`Scope::spawn`](crate::Scope::spawn) from this
    /// registry's scopes and still running at the deadline.
    pub fn tasks(&self) -> usize {
        self.tasks
    }
    /// How long the shutdown waited.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
    /// `true` if every scope and task ended before the deadline.
    pub fn is_clean(&self) -> bool {
        self.stragglers.is_empty() && self.tasks == 0
    }
}

impl<K: fmt::Debug> fmt::Display for ShutdownReport<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_clean() {
            return write!(f, "shutdown clean after {:.1?}", self.elapsed);
        }
        write!(
            f,
            "shutdown left {} scope(s) and {} task(s) after {:.1?}:",
            self.stragglers.len(),
            self.tasks,
            self.elapsed
        )?;
        for info in &self.stragglers {
            write!(f, "\n  - {info}")?;
        }
        Ok(())
    }
}
