//! Events under the target `scoped_cancel`, emitted from these functions so
//! that the target and the callsites are this crate's, not the caller's
//! (`RUST_LOG=scoped_cancel=debug` selects them all).
//!
//! | message | level | when |
//! | --- | --- | --- |
//! | `scope entered` | TRACE | a scope was created |
//! | `scope cancelled` | WARN for `deadline` and `expired`, else DEBUG | its token was cancelled (not by its own normal end) |
//! | `scope ended` | TRACE for `scope_exited`, else DEBUG | its guard dropped |
//! | `shutdown straggler` | WARN | alive when a shutdown's grace ran out, one per scope |
//! | `scope overdue` | WARN | older than a watchdog's limit, once per scope |
//!
//! Fields: `name`, `file`, `line`, `key` (keyed scopes, `Debug`-formatted),
//! `cause` (snake_case), `age_ms`.
//!
//! Events, not a span per scope: a span must be created, registered and
//! entered on every poll to serve as context, whether or not anything
//! happens to the scope, while events cost nothing until a scope is
//! cancelled (the comparison is in BENCHMARKS.md, "Observability"). The
//! fields a span would carry are on each event instead. With no subscriber,
//! each hook is one relaxed load of tracing's global level filter
//! ([`listening`]).

use tracing::{event, Level};

use crate::cause::Cause;
use crate::facts::Facts;
use crate::node::Node;
use crate::registry::link::Link;
use crate::registry::ShutdownReport;

use super::cause_label;

const TARGET: &str = "scoped_cancel";

/// The one check on the hot path: is any level an event of ours uses
/// (WARN and below) enabled anywhere? One relaxed load of tracing's global
/// max level, which is OFF while no subscriber is installed.
#[inline]
pub(super) fn listening() -> bool {
    tracing::level_enabled!(Level::WARN)
}

fn age_ms(node: &Node) -> u64 {
    u64::try_from(node.born.age().as_millis()).unwrap_or(u64::MAX)
}

#[inline(never)]
pub(super) fn started(node: &Node, link: Option<&Link>) {
    // Cancel events may come from anywhere, with only the node at hand:
    // keep the way back to the key while someone listens to them. A scope
    // created before a subscriber cared has events without a key.
    if let Some(link) = link {
        if tracing::enabled!(target: TARGET, Level::DEBUG) {
            let _ = node.observe.key.set(link.key_ref());
        }
    }
    if tracing::enabled!(target: TARGET, Level::TRACE) {
        let key = link.and_then(|link| link.key_ref().text(node));
        event!(target: TARGET, Level::TRACE,
            name = node.origin.name(), file = node.origin.file(), line = node.origin.line(),
            key = key.as_deref(), "scope entered");
    }
}

#[inline(never)]
pub(super) fn cancelled(node: &Node, cause: &Cause) {
    match cause {
        // A scope's own end is the `scope ended` event.
        Cause::ScopeExited => {}
        Cause::Deadline | Cause::Expired => {
            if tracing::enabled!(target: TARGET, Level::WARN) {
                let key = node.observe.key.get().and_then(|key| key.text(node));
                event!(target: TARGET, Level::WARN,
                    name = node.origin.name(), file = node.origin.file(),
                    line = node.origin.line(), key = key.as_deref(),
                    cause = cause_label(cause), age_ms = age_ms(node), "scope cancelled");
            }
        }
        _ => {
            if tracing::enabled!(target: TARGET, Level::DEBUG) {
                let key = node.observe.key.get().and_then(|key| key.text(node));
                event!(target: TARGET, Level::DEBUG,
                    name = node.origin.name(), file = node.origin.file(),
                    line = node.origin.line(), key = key.as_deref(),
                    cause = cause_label(cause), age_ms = age_ms(node), "scope cancelled");
            }
        }
    }
}

#[inline(never)]
pub(super) fn ended(node: &Node, link: Option<&Link>) {
    let cause = &node.recorded_cause().unwrap_or(Cause::Parent);
    let key = |node: &Node| link.and_then(|link| link.key_ref().text(node));
    if *cause == Cause::ScopeExited {
        if tracing::enabled!(target: TARGET, Level::TRACE) {
            event!(target: TARGET, Level::TRACE,
                name = node.origin.name(), file = node.origin.file(), line = node.origin.line(),
                key = key(node).as_deref(), cause = cause_label(cause), age_ms = age_ms(node),
                "scope ended");
        }
    } else if tracing::enabled!(target: TARGET, Level::DEBUG) {
        event!(target: TARGET, Level::DEBUG,
            name = node.origin.name(), file = node.origin.file(), line = node.origin.line(),
            key = key(node).as_deref(), cause = cause_label(cause), age_ms = age_ms(node),
            "scope ended");
    }
}

pub(super) fn stragglers<K: std::fmt::Debug>(report: &ShutdownReport<K>) {
    if !tracing::enabled!(target: TARGET, Level::WARN) {
        return;
    }
    for info in report.stragglers() {
        let facts = info.facts();
        event!(target: TARGET, Level::WARN,
            name = facts.name, file = facts.file, line = facts.line,
            key = %format_args!("{:?}", info.key()),
            cause = facts.cause.as_ref().map(cause_label),
            age_ms = u64::try_from(facts.age.as_millis()).unwrap_or(u64::MAX),
            "shutdown straggler");
    }
}

pub(super) fn overdue(facts: &Facts, key: Option<&str>, cancelled: bool) {
    event!(target: TARGET, Level::WARN,
        name = facts.name, file = facts.file, line = facts.line, key,
        cause = facts.cause.as_ref().map(cause_label),
        age_ms = u64::try_from(facts.age.as_millis()).unwrap_or(u64::MAX),
        cancelled, "scope overdue");
}
