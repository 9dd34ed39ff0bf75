//! What a leak check reports: the live scopes, the tasks, and how long it waited.

use std::fmt;
use std::time::Duration;

use crate::live::LiveScope;

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
