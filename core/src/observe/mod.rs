//! The observability hooks: the few places where the core tells `tracing`
//! and `metrics` about a scope. They take plain facts (a node, a cause, a
//! way to the key's text), never a registry's types.
//!
//! | hook | called from | what it does |
//! | --- | --- | --- |
//! | [`started`] | `Scope::new` | live gauge +1; `scope entered` event |
//! | [`cancelled`] | whoever cancels with a cause of its own (`Scope::cancel`, `Registry::cancel`, a deadline, ...), when it won | `scope cancelled` event |
//! | [`ended`] | `Scope`'s drop, after the cancel, before the unlink | live gauge −1, exit counter, duration histogram, `scope ended` event |
//! | [`straggler`] | `Registry::shutdown`, per straggler | `shutdown straggler` event |
//! | [`overdue`] | the watchdog, once per scope | counter, `scope overdue` event |
//!
//! Without the `tracing` and `metrics` features every hook is an empty
//! inline fn: the default build compiles them out, and a node carries
//! nothing for them.

#[cfg(feature = "metrics")]
pub(crate) mod metrics;
#[cfg(feature = "tracing")]
mod trace;

use std::fmt;

use crate::cause::Cause;
use crate::facts::Facts;
use crate::link::Link;
use crate::node::Node;

/// A scope was created around `node` (with the link to its key, if keyed).
#[inline]
pub(crate) fn started(node: &Node, key: Option<&Link>) {
    #[cfg(feature = "metrics")]
    metrics::started(node);
    #[cfg(feature = "tracing")]
    if trace::listening() {
        trace::started(node, key);
    }
    let _ = (node, key);
}

/// `node` was just cancelled with `cause` by a call that won (its own
/// cancel, not an ancestor's); `key` gives the key's text, read only if an
/// event is emitted.
#[inline]
pub(crate) fn cancelled(node: &Node, cause: Cause, key: impl FnOnce() -> Option<String>) {
    // A scope's own end is the `scope ended` event.
    #[cfg(feature = "tracing")]
    if cause != Cause::ScopeExited && trace::listening() {
        trace::cancelled(node, cause, key);
        return;
    }
    let _ = (node, cause, key);
}

/// The scope owning `node` is ending: its token is cancelled and its cause
/// recorded; its registry entry (if any) is still there.
#[inline]
pub(crate) fn ended(node: &Node, key: Option<&Link>) {
    #[cfg(feature = "metrics")]
    metrics::ended(node);
    #[cfg(feature = "tracing")]
    if trace::listening() {
        trace::ended(node, key);
    }
    let _ = (node, key);
}

/// A shutdown's grace ran out with this scope alive.
#[inline]
pub(crate) fn straggler(facts: &Facts, key: &dyn fmt::Debug) {
    #[cfg(feature = "tracing")]
    trace::straggler(facts, key);
    let _ = (facts, key);
}

/// The watchdog found a scope older than its limit (reported once per scope).
#[inline]
pub(crate) fn overdue(facts: &Facts, key: Option<&str>, cancelled: bool) {
    #[cfg(feature = "metrics")]
    metrics::overdue(facts.name);
    #[cfg(feature = "tracing")]
    trace::overdue(facts, key, cancelled);
    let _ = (facts, key, cancelled);
}
