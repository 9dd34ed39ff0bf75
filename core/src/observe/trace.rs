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

use std::fmt;

use tracing::{event, Level};

use crate::cause::Cause;
use crate::facts::Facts;
use crate::link::Link;
use crate::node::Node;

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

fn millis(age: std::time::Duration) -> u64 {
    u64::try_from(age.as_millis()).unwrap_or(u64::MAX)
}

#[inline(never)]
pub(super) fn started(node: &Node, key: Option<&Link>) {
    if tracing::enabled!(target: TARGET, Level::TRACE) {
        let key = key.and_then(|link| link.key_text(node));
        event!(target: TARGET, Level::TRACE,
            name = node.origin.name(), file = node.origin.file(), line = node.origin.line(),
            key = key.as_deref(), "scope entered");
    }
}

#[inline(never)]
pub(super) fn cancelled(node: &Node, cause: Cause, key: impl FnOnce() -> Option<String>) {
    // Deadlines and watchdog expiries are worth a warning; the rest is the
    // program doing what it asked for.
    let warn = matches!(cause, Cause::Deadline | Cause::Expired);
    let enabled = if warn {
        tracing::enabled!(target: TARGET, Level::WARN)
    } else {
        tracing::enabled!(target: TARGET, Level::DEBUG)
    };
    if !enabled {
        return;
    }
    let key = key();
    let reason = node.reason();
    macro_rules! emit {
        ($level:expr) => {
            event!(target: TARGET, $level,
                name = node.origin.name(), file = node.origin.file(),
                line = node.origin.line(), key = key.as_deref(),
                cause = cause.label(), reason = reason.as_deref(),
                age_ms = age_ms(node), "scope cancelled")
        };
    }
    if warn {
        emit!(Level::WARN);
    } else {
        emit!(Level::DEBUG);
    }
}

#[inline(never)]
pub(super) fn ended(node: &Node, key: Option<&Link>) {
    let cause = node.recorded_cause().unwrap_or(Cause::Parent);
    let key = |node: &Node| key.and_then(|link| link.key_text(node));
    if cause == Cause::ScopeExited {
        if tracing::enabled!(target: TARGET, Level::TRACE) {
            event!(target: TARGET, Level::TRACE,
                name = node.origin.name(), file = node.origin.file(), line = node.origin.line(),
                key = key(node).as_deref(), cause = cause.label(), age_ms = age_ms(node),
                "scope ended");
        }
    } else if tracing::enabled!(target: TARGET, Level::DEBUG) {
        let reason = node.reason();
        event!(target: TARGET, Level::DEBUG,
            name = node.origin.name(), file = node.origin.file(), line = node.origin.line(),
            key = key(node).as_deref(), cause = cause.label(), reason = reason.as_deref(),
            age_ms = age_ms(node), "scope ended");
    }
}

pub(super) fn straggler(facts: &Facts, key: &dyn fmt::Debug) {
    if !tracing::enabled!(target: TARGET, Level::WARN) {
        return;
    }
    event!(target: TARGET, Level::WARN,
        name = facts.name, file = facts.file, line = facts.line,
        key = %format_args!("{key:?}"),
        cause = facts.cause.map(Cause::label),
        reason = facts.reason.as_deref(),
        age_ms = millis(facts.age),
        "shutdown straggler");
}

pub(super) fn overdue(facts: &Facts, key: Option<&str>, cancelled: bool) {
    event!(target: TARGET, Level::WARN,
        name = facts.name, file = facts.file, line = facts.line, key,
        cause = facts.cause.map(Cause::label),
        age_ms = millis(facts.age),
        cancelled, "scope overdue");
}
