//! One live scope in a listing: keyed or anonymous.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::cause::Cause;
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

    /// The scope's name: the annotated fn's path, or the name given at creation.
    pub fn name(&self) -> &str {
        self.facts.name
    }
    /// The file where the scope was created.
    pub fn file(&self) -> &str {
        self.facts.file
    }
    /// The line where the scope was created.
    pub fn line(&self) -> u32 {
        self.facts.line
    }
    /// The key, formatted with `Debug`, for a scope entered in a registry.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }
    /// How long the scope had lived when listed (coarse: a few ms).
    pub fn age(&self) -> Duration {
        self.facts.age
    }
    /// `true` if its token was cancelled (the guard is still alive).
    pub fn is_cancelled(&self) -> bool {
        self.facts.cause.is_some()
    }
    /// Why its token was cancelled, if it was.
    pub fn cause(&self) -> Option<Cause> {
        self.facts.cause
    }
    /// The reason given with the cancel that reached it, if any.
    pub fn reason(&self) -> Option<Arc<str>> {
        self.facts.reason.clone()
    }
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
