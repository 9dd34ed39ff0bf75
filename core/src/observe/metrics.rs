//! Metric handles, registered once per site and kept.
//!
//! A `#[scoped_cancel]` fn's handles live in its static site record; scopes
//! made by explicit constructors (`Scope::root`, `Registry::enter`, ...)
//! find theirs by name through a small per-thread cache (a shared table on
//! a miss). Either way a scope pays an atomic add per handle it touches, not
//! a registration.
//!
//! Handles belong to the recorder that was current when they were
//! registered (metrics' rule): install the recorder before the first scope
//! of a site runs, or that site's scopes go unrecorded for the life of the
//! process.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use metrics::{IntoF64, Unit};

use crate::cause::Cause;
use crate::node::Node;
use crate::site::handles::Handles;
pub use crate::site::handles::{LIVE_SCOPES, SCOPE_DURATION, SCOPE_EXITS};
use crate::site::{Origin, Stamp};

/// Scopes a watchdog found older than its limit, per scope name (counter).
pub const WATCHDOG_OVERDUE: &str = "scoped_cancel_watchdog_overdue_total";

/// Handles of scopes that have no static site, leaked once per distinct
/// name (names are `&'static str`, so there are finitely many).
static BY_NAME: Mutex<Option<HashMap<(usize, usize), &'static Handles>>> = Mutex::new(None);

const CACHE_SLOTS: usize = 16;

/// A cached name (address, length) and its handles.
type Cached = Option<(usize, usize, &'static Handles)>;

thread_local! {
    /// Direct-mapped by the name's address: a hit is a compare, no lock.
    static CACHE: [Cell<Cached>; CACHE_SLOTS] =
        const { [const { Cell::new(None) }; CACHE_SLOTS] };
}

#[inline(never)]
fn by_name(name: &'static str) -> &'static Handles {
    let id = (name.as_ptr() as usize, name.len());
    let slot = (id.0 >> 3) % CACHE_SLOTS;
    let cached = CACHE.try_with(|cache| cache[slot].get()).ok().flatten();
    if let Some((ptr, len, handles)) = cached {
        if (ptr, len) == id {
            return handles;
        }
    }
    let handles = {
        let mut table = BY_NAME.lock().unwrap_or_else(PoisonError::into_inner);
        *table
            .get_or_insert_with(HashMap::new)
            .entry(id)
            .or_insert_with(|| Box::leak(Box::new(Handles::register(name))))
    };
    let _ = CACHE.try_with(|cache| cache[slot].set(Some((id.0, id.1, handles))));
    handles
}

#[inline]
fn handles(origin: &Origin) -> &'static Handles {
    match origin {
        Origin::Site(site) => site
            .metrics
            .get_or_init(|| Handles::register(origin.name())),
        Origin::Caller { name, .. } => by_name(name),
    }
}

#[inline]
pub(super) fn started(node: &Node) {
    handles(&node.origin).live.increment(1.0);
}

#[inline]
pub(super) fn ended(node: &Node) {
    let handles = handles(&node.origin);
    handles.live.decrement(1.0);
    let cause = node.recorded_cause().unwrap_or(Cause::Parent);
    handles.exits[cause.index()].increment(1);
    handles.duration.record(AgeOf(&node.born));
}

/// A scope's age in seconds, read only if the histogram records it: a
/// no-op handle (no recorder) never calls `into_f64`, so it costs no clock
/// read.
struct AgeOf<'a>(&'a Stamp);

impl IntoF64 for AgeOf<'_> {
    fn into_f64(self) -> f64 {
        self.0.age().as_secs_f64()
    }
}

pub(super) fn overdue(name: &'static str) {
    metrics::counter!(WATCHDOG_OVERDUE, "name" => name).increment(1);
}

/// Describes this crate's metrics (help text and units) to the recorder
/// installed now.
///
/// `metrics` sends descriptions to the recorder current at the call, and
/// drops them when there is none: call this once, after installing yours.
pub fn describe_metrics() {
    metrics::describe_gauge!(LIVE_SCOPES, Unit::Count, "Scopes alive now, by scope name.");
    metrics::describe_counter!(
        SCOPE_EXITS,
        Unit::Count,
        "Scopes ended, by scope name and by the cause their token was cancelled with."
    );
    metrics::describe_histogram!(
        SCOPE_DURATION,
        Unit::Seconds,
        "How long scopes lived, by scope name (coarse clock: a few milliseconds)."
    );
    metrics::describe_counter!(
        WATCHDOG_OVERDUE,
        Unit::Count,
        "Scopes a watchdog found older than its limit, by scope name (each counted once)."
    );
}
