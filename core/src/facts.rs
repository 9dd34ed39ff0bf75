//! What every report says about one scope, whichever report lists it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::cause::Cause;
use crate::node::Node;

/// The accessors every report's entry has over its [`Facts`] (a field
/// `facts`): [`ScopeInfo`](crate::ScopeInfo) and
/// [`LiveScope`](crate::live::LiveScope) share them.
macro_rules! facts_accessors {
    () => {
        /// The scope's name: the annotated fn's path, or the name given
        /// when it was made.
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
        /// How long the scope had lived when listed (coarse: a few ms).
        pub fn age(&self) -> std::time::Duration {
            self.facts.age
        }
        /// `true` if its token was cancelled (its guard is still alive).
        pub fn is_cancelled(&self) -> bool {
            self.facts.cause.is_some()
        }
        /// Why its token was cancelled, if it was.
        pub fn cause(&self) -> Option<crate::Cause> {
            self.facts.cause
        }
        /// The reason given with the cancel that reached it, if any
        /// ([`Scope::cancel_with_reason`](crate::Scope::cancel_with_reason),
        /// [`Registry::cancel_with_reason`](crate::Registry::cancel_with_reason)).
        pub fn reason(&self) -> Option<std::sync::Arc<str>> {
            self.facts.reason.clone()
        }
    };
}
pub(crate) use facts_accessors;

/// A scope's name, site, age and state, read from its node when a report is
/// taken. [`ScopeInfo`](crate::ScopeInfo) and
/// [`LiveScope`](crate::testing::LiveScope) wrap it with their kind of key.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct Facts {
    pub(crate) name: &'static str,
    pub(crate) file: &'static str,
    pub(crate) line: u32,
    pub(crate) age: Duration,
    pub(crate) cause: Option<Cause>,
    /// The reason of the cancel that reached it, if one was given.
    pub(crate) reason: Option<Arc<str>>,
    /// The node's identity while it lives (its address), and its parent's:
    /// what a dump draws its tree with.
    pub(crate) id: usize,
    pub(crate) parent: Option<usize>,
    /// A [`shield`](crate::shield)'s scope.
    pub(crate) shield: bool,
}

impl Facts {
    /// Reads the node now; computes the cause (see [`Node::cause`]), so never
    /// call it under a lock.
    pub(crate) fn of(node: &Node) -> Facts {
        Facts {
            name: node.origin.name(),
            file: node.origin.file(),
            line: node.origin.line(),
            age: node.born.age(),
            cause: node.cause(),
            reason: node.reason(),
            id: node as *const Node as usize,
            parent: node.parent().map(|parent| Arc::as_ptr(parent) as usize),
            shield: node.is_shield(),
        }
    }

    /// The `Debug` form of a report's entry: its key, then the facts, flat.
    pub(crate) fn debug(
        &self,
        f: &mut fmt::Formatter<'_>,
        type_name: &str,
        key: &dyn fmt::Debug,
    ) -> fmt::Result {
        f.debug_struct(type_name)
            .field("key", key)
            .field("name", &self.name)
            .field("file", &self.file)
            .field("line", &self.line)
            .field("age", &self.age)
            .field("cause", &self.cause)
            .field("reason", &self.reason)
            .finish()
    }

    /// `name (key 7) at src/jobs.rs:42, age 1.2s, live`: the one-line form
    /// of every report; `key` is written as given.
    pub(crate) fn write(
        &self,
        f: &mut fmt::Formatter<'_>,
        key: Option<&dyn fmt::Display>,
    ) -> fmt::Result {
        f.write_str(self.name)?;
        if let Some(key) = key {
            write!(f, " (key {key})")?;
        }
        write!(f, " at {}:{}, age {:.1?}, ", self.file, self.line, self.age)?;
        write_state(f, self.cause, self.reason.as_deref())
    }
}

/// `live`, or `cancelled (cause: reason) but not ended`: a scope's state in
/// every report.
pub(crate) fn write_state(
    f: &mut fmt::Formatter<'_>,
    cause: Option<Cause>,
    reason: Option<&str>,
) -> fmt::Result {
    match (cause, reason) {
        (None, _) => f.write_str("live"),
        (Some(cause), None) => write!(f, "cancelled ({cause}) but not ended"),
        (Some(cause), Some(reason)) => write!(f, "cancelled ({cause}: {reason}) but not ended"),
    }
}
