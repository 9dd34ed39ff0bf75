//! What a leak check reports: the live scopes, the tasks, and how long it waited.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::cause::Cause;
use crate::facts::Facts;
use crate::node::Node;
use crate::registry::link::KeyRef;

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
        self.facts.cause.clone()
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

/// The result of a leak check: the scopes and tasks still alive when it
/// gave up waiting.
///
/// Its `Display` is the failure message of `#[scoped_cancel::test]`: one
/// line per leaked scope (name, file:line, key, age, state), oldest first,
/// then the tasks. It is an `Error`, so a test returning `Result` can `?` it.
#[derive(Clone, Debug)]
pub struct LeakReport {
    pub(crate) scopes: Vec<LiveScope>,
    pub(crate) tasks: usize,
    pub(crate) waited: Duration,
}

impl LeakReport {
    /// The scopes still alive, oldest first.
    pub fn scopes(&self) -> &[LiveScope] {
        &self.scopes
    }
    /// Tasks still alive on the checked runtime (`spawn_blocking` closures
    /// are not counted: tokio does not count them).
    pub fn tasks(&self) -> usize {
        self.tasks
    }
    /// How long the check waited for things to end.
    pub fn waited(&self) -> Duration {
        self.waited
    }
    /// `true` if no scope and no task was left.
    pub fn is_clean(&self) -> bool {
        self.scopes.is_empty() && self.tasks == 0
    }
}

impl fmt::Display for LeakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_clean() {
            return write!(f, "no leaks (all ended within {:.1?})", self.waited);
        }
        write!(
            f,
            "leak check failed: {} scope(s) and {} task(s) still alive after waiting {:.1?}",
            self.scopes.len(),
            self.tasks,
            self.waited
        )?;
        for scope in &self.scopes {
            write!(f, "\n  - {scope}")?;
        }
        if self.tasks > 0 {
            write!(
                f,
                "\n  - {} task(s) still alive on the runtime (spawned and never finished)",
                self.tasks
            )?;
        }
        if !self.scopes.is_empty() {
            f.write_str(
                "\n  a scope ends when its guard drops: look for one parked in a static or \
                 a collection, forgotten, or held by a task that never ends",
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for LeakReport {}
