//! The observability hooks: the few places where the core tells `tracing`
//! and `metrics` about a scope.
//!
//! The core calls four functions, each from one place:
//!
//! | hook | called from | what it does |
//! | --- | --- | --- |
//! | [`started`] | `Scope::new` | live gauge +1; keeps the way back to the key for events |
//! | [`cancelled`] | `Node::cancel_with`, when it cancelled the token | `scope cancelled` event |
//! | [`ended`] | `Scope`'s drop, after the cancel, before the unlink | live gauge −1, exit counter, duration histogram, `scope ended` event |
//! | [`stragglers`] | `Registry::shutdown`, with its report | one `WARN` per straggler |
//!
//! Without the `tracing` and `metrics` features every hook is an empty
//! inline fn and [`NodeState`] / [`SiteState`] are zero-sized: the default
//! build compiles them out.

mod label;
#[cfg(feature = "metrics")]
pub(crate) mod metrics;
#[cfg(feature = "tracing")]
mod trace;

use crate::cause::Cause;
use crate::node::Node;
use crate::registry::link::Link;
use crate::registry::ShutdownReport;

pub(crate) use label::cause_label;
#[cfg(feature = "metrics")]
pub(crate) use label::{cause_index, CAUSES};

/// What a node keeps for the hooks: with `tracing`, the way back to its
/// registry key (set only while cancel events are enabled); else nothing.
#[derive(Default)]
pub(crate) struct NodeState {
    #[cfg(feature = "tracing")]
    pub(crate) key: std::sync::OnceLock<crate::registry::link::KeyRef>,
}

/// What a `#[scoped_cancel]` fn's static site record keeps for the hooks:
/// with `metrics`, its metric handles, registered on first use.
#[derive(Debug)]
pub(crate) struct SiteState {
    #[cfg(feature = "metrics")]
    pub(crate) metrics: std::sync::OnceLock<metrics::Handles>,
}

impl SiteState {
    pub(crate) const fn new() -> SiteState {
        SiteState {
            #[cfg(feature = "metrics")]
            metrics: std::sync::OnceLock::new(),
        }
    }
}

/// A scope was created around `node` (with its registry entry, if keyed).
#[inline]
pub(crate) fn started(node: &Node, link: Option<&Link>) {
    let _ = &node.observe;
    #[cfg(feature = "metrics")]
    metrics::started(node);
    #[cfg(feature = "tracing")]
    if trace::listening() {
        trace::started(node, link);
    }
    let _ = (node, link);
}

/// `node`'s token was just cancelled with `cause`; `won` if this call
/// recorded the cause (a token already cancelled reports nothing again).
#[inline]
pub(crate) fn cancelled(node: &Node, cause: &Cause, won: bool) {
    // A scope's own end is the `scope ended` event.
    #[cfg(feature = "tracing")]
    if won && *cause != Cause::ScopeExited && trace::listening() {
        trace::cancelled(node, cause);
    }
    let _ = (node, cause, won);
}

/// The scope owning `node` is ending: its token is cancelled and its cause
/// recorded; its registry entry (if any) is still there.
#[inline]
pub(crate) fn ended(node: &Node, link: Option<&Link>) {
    #[cfg(feature = "metrics")]
    metrics::ended(node);
    #[cfg(feature = "tracing")]
    if trace::listening() {
        trace::ended(node, link);
    }
    let _ = (node, link);
}

/// A shutdown finished: one event per scope still alive at its deadline.
#[inline]
pub(crate) fn stragglers<K: std::fmt::Debug>(report: &ShutdownReport<K>) {
    #[cfg(feature = "tracing")]
    trace::stragglers(report);
    let _ = report;
}

/// The watchdog found a scope older than its limit (reported once per scope).
#[inline]
pub(crate) fn overdue(facts: &crate::facts::Facts, key: Option<&str>, cancelled: bool) {
    #[cfg(feature = "metrics")]
    metrics::overdue(facts.name);
    #[cfg(feature = "tracing")]
    trace::overdue(facts, key, cancelled);
    let _ = (facts, key, cancelled);
}
