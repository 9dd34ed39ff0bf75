//! One live scope in a listing: keyed or anonymous.

use std::fmt;
use std::sync::Arc;

use crate::facts::Facts;
use crate::link::KeyRef;
use crate::node::Node;

/// One live scope, as a [`Collector`](super::Collector) recorded it: keyed
/// or anonymous.
///
/// Its `Display` is the line [`ScopeInfo`](crate::ScopeInfo) prints, minus
/// the key for anonymous scopes:
/// `jobs::run (key 7) at src/jobs.rs:42, age 1.2s, live`.
#[derive(Clone, PartialEq, Eq)]
pub struct LiveScope {
    key: Option<String>,
    facts: Facts,
}

impl LiveScope {
    pub(crate) fn new(node: &Arc<Node>, key: Option<&KeyRef>) -> LiveScope {
        LiveScope {
            key: key.and_then(|key| key.text(node)),
            facts: Facts::of(node),
        }
    }

    /// Every record's scope, oldest first (the likeliest leaks lead).
    pub(crate) fn list(records: Vec<(Arc<Node>, Option<KeyRef>)>) -> Vec<LiveScope> {
        let mut scopes: Vec<LiveScope> = records
            .iter()
            .map(|(node, key)| LiveScope::new(node, key.as_ref()))
            .collect();
        scopes.sort_by_key(|scope| std::cmp::Reverse(scope.facts.age));
        scopes
    }

    pub(crate) fn facts(&self) -> &Facts {
        &self.facts
    }

    /// The key, formatted with `Debug`, for a scope entered in a registry.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }
    crate::facts::facts_accessors!();
}

impl fmt::Debug for LiveScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.facts.debug(f, "LiveScope", &self.key)
    }
}

impl fmt::Display for LiveScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.key.as_ref().map(|key| key as &dyn fmt::Display);
        self.facts.write(f, key)
    }
}
