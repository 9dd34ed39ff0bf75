//! A site's metric handles (feature `metrics`): registered once per site
//! and kept, so a scope pays an atomic add per handle, not a lookup.

use metrics::{Counter, Gauge, Histogram};

use crate::cause::{Cause, CAUSES};

/// Live scopes per scope name (gauge).
pub const LIVE_SCOPES: &str = "scoped_cancel_live_scopes";
/// Scope exits per scope name and cause (counter).
pub const SCOPE_EXITS: &str = "scoped_cancel_scope_exits_total";
/// Scope lifetimes per scope name, in seconds (histogram).
pub const SCOPE_DURATION: &str = "scoped_cancel_scope_duration_seconds";

/// One site's handles: the gauge and histogram for its name, and an exit
/// counter per cause, indexed by [`Cause::index`].
#[derive(Debug)]
pub(crate) struct Handles {
    pub(crate) live: Gauge,
    pub(crate) duration: Histogram,
    pub(crate) exits: [Counter; CAUSES],
}

impl Handles {
    /// Registers the handles of the scopes named `name` with the recorder
    /// current now (metrics' rule: a handle belongs to that recorder).
    pub(crate) fn register(name: &'static str) -> Handles {
        Handles {
            live: metrics::gauge!(LIVE_SCOPES, "name" => name),
            duration: metrics::histogram!(SCOPE_DURATION, "name" => name),
            exits: exits(name),
        }
    }
}

/// An exit counter per cause, labels in one fixed order: `name`, `cause`.
/// No series for the refusals: a call refused never had a scope.
fn exits(name: &'static str) -> [Counter; CAUSES] {
    let mut exits = [const { Counter::noop() }; CAUSES];
    for cause in Cause::ALL.iter().filter(|cause| !cause.is_refusal()) {
        exits[cause.index()] =
            metrics::counter!(SCOPE_EXITS, "name" => name, "cause" => cause.label());
    }
    exits
}
