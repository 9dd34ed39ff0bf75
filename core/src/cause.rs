//! Why a token was cancelled, recorded once, before the token is cancelled.
//!
//! Every cause is defined once, in the table of the `causes!` invocation
//! below: its code (what a `CauseCell` stores), its snake_case label (the
//! `cause` label of metrics, the `cause` field of events, the dump's JSON)
//! and its message. Nothing else numbers or names causes.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::sync::AtomicU8;

/// Declares `Cause` and its table from one list: the variant, its code (its
/// position, counted from 1: append, never reorder), its label and its
/// `Display` text.
macro_rules! causes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $label:literal, $text:literal; )*) => {
        /// Why a scope's token was cancelled, or why a call could not enter its scope.
        ///
        /// The first cause recorded for a token wins and is never overwritten, so every
        /// reader of one token sees the same cause.
        #[non_exhaustive]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        pub enum Cause {
            $( $(#[$doc])* $variant, )*
        }

        impl Cause {
            /// Every cause, in the order of their codes.
            pub(crate) const ALL: &'static [Cause] = &[$(Cause::$variant,)*];

            /// Its code, from 1 (0 means "no cause yet" in a `CauseCell`):
            /// a match, so that a constant cause folds to a constant.
            #[inline]
            pub(crate) const fn code(self) -> u8 {
                match self { $( Cause::$variant => $code, )* }
            }

            /// The snake_case name: the `cause` label of metrics, the
            /// `cause` field of events and of the dump's JSON.
            pub(crate) fn label(self) -> &'static str {
                match self { $( Cause::$variant => $label, )* }
            }

            fn text(self) -> &'static str {
                match self { $( Cause::$variant => $text, )* }
            }

            /// The cause with this code; a match, so that it compiles to a
            /// range check (codes follow the variants' order).
            #[inline]
            fn from_code(code: u8) -> Option<Cause> {
                match code {
                    $( $code => Some(Cause::$variant), )*
                    _ => None,
                }
            }
        }
    };
}

causes! {
    /// Someone asked: [`Scope::cancel`](crate::Scope::cancel),
    /// [`Registry::cancel`](crate::Registry::cancel) or [`Token::cancel`](crate::Token::cancel).
    Requested = 1, "requested", "cancellation was requested";
    /// The scope's deadline passed.
    Deadline = 2, "deadline", "the deadline passed";
    /// An ancestor, or the foreign token this one was adopted from, was cancelled.
    Parent = 3, "parent", "a parent token was cancelled";
    /// The scope ended normally (its guard was dropped).
    ScopeExited = 4, "scope_exited", "the scope exited";
    /// The scope's guard was dropped while its thread was panicking.
    Panicked = 5, "panicked", "the scope exited by panicking";
    /// [`Registry::cancel_all`](crate::Registry::cancel_all) or
    /// [`Registry::shutdown`](crate::Registry::shutdown).
    Shutdown = 6, "shutdown", "the registry was shut down";
    /// Refusal: the key already had a live scope, so the call never entered one.
    KeyOccupied = 7, "key_occupied", "the key already had a live scope";
    /// Refusal: the registry is shutting down, so the call never entered a scope.
    ShuttingDown = 8, "shutting_down", "the registry is shutting down";
    /// A newer call took the key with
    /// [`Registry::enter_replacing`](crate::Registry::enter_replacing)
    /// (`occupied = replace`): latest wins.
    Superseded = 9, "superseded", "a newer call replaced it under its key";
    /// A watchdog found the scope older than its limit and was configured to
    /// cancel it (see [`watchdog`](crate::watchdog)).
    Expired = 10, "expired", "a watchdog found the scope older than its limit";
    /// Another task of its [`TaskGroup`](crate::TaskGroup) failed or
    /// panicked, and the group fails fast.
    SiblingFailed = 11, "sibling_failed", "a sibling task of its group failed";
    /// A token this scope was [linked](crate::Scope::link) to was cancelled.
    Linked = 12, "linked", "a linked token was cancelled";
}

impl Cause {
    /// `true` for the two refusals, which no live token ever reports.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Cause::KeyOccupied | Cause::ShuttingDown)
    }

    /// A dense index, for per-cause tables (`0..Cause::ALL.len()`).
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn index(self) -> usize {
        usize::from(self.code()) - 1
    }
}

/// How many causes there are.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) const CAUSES: usize = Cause::ALL.len();

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

/// The error a cancelled (or refused) call returns.
///
/// Its [`cause`](Cancelled::cause) says why the call was cancelled, however
/// deep the call was: a nested call that ended because its caller's scope
/// was cancelled carries the caller's cause (`Requested`, `Deadline`, ...),
/// as Go's `context.Cause` does, so a job that hands a nested helper's
/// error to its own caller reports why the job stopped, not "parent". The
/// nested call's own token still reads [`Cause::Parent`].
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Cancelled {
    cause: Cause,
    reason: Option<Arc<str>>,
}

impl Cancelled {
    /// A `Cancelled` carrying `cause`.
    pub fn new(cause: Cause) -> Self {
        Cancelled {
            cause,
            reason: None,
        }
    }

    /// A `Cancelled` carrying `cause` and the canceller's `reason`.
    pub fn with_reason(cause: Cause, reason: Option<Arc<str>>) -> Self {
        Cancelled { cause, reason }
    }

    /// Why the call was cancelled or refused.
    pub fn cause(&self) -> Cause {
        self.cause
    }

    /// The reason given by whoever cancelled it
    /// ([`Scope::cancel_with_reason`](crate::Scope::cancel_with_reason),
    /// [`Registry::cancel_with_reason`](crate::Registry::cancel_with_reason)),
    /// if any.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
}

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cancelled: {}", self.cause)?;
        if let Some(reason) = &self.reason {
            write!(f, " ({reason})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Cancelled {}

/// One token's cause, written at most once.
#[derive(Debug, Default)]
pub(crate) struct CauseCell(AtomicU8);

impl CauseCell {
    /// Records `cause` unless one is already recorded; `true` if this call won.
    /// `SeqCst`: a node's lazy token and waker rely on it (`node/mod.rs`).
    /// A cell that already holds a cause is seen with a plain load: a
    /// failing compare-exchange costs a locked instruction all the same.
    #[inline]
    pub(crate) fn record(&self, cause: Cause) -> bool {
        self.0.load(Ordering::Relaxed) == 0
            && self
                .0
                .compare_exchange(0, cause.code(), Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
    }

    /// `true` if `cause` is the one recorded: one load, no decoding.
    #[inline]
    pub(crate) fn holds(&self, cause: Cause) -> bool {
        self.0.load(Ordering::Acquire) == cause.code()
    }

    #[inline]
    pub(crate) fn get(&self) -> Option<Cause> {
        Cause::from_code(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_labels_are_unique_and_first_cause_wins() {
        for (i, c) in Cause::ALL.iter().enumerate() {
            assert_eq!(usize::from(c.code()), i + 1, "{c:?} is out of order");
            assert_eq!(c.index(), i);
            assert_eq!(Cause::from_code(c.code()), Some(*c));
        }
        let labels: std::collections::HashSet<_> = Cause::ALL.iter().map(|c| c.label()).collect();
        assert_eq!(labels.len(), CAUSES);
        assert_eq!(Cause::from_code(0), None);
        assert_eq!(Cause::from_code(200), None);
        let cell = CauseCell::default();
        assert!(cell.record(Cause::Deadline));
        assert!(!cell.record(Cause::Requested));
        assert_eq!(cell.get(), Some(Cause::Deadline));
    }

    #[test]
    fn the_labels_are_the_snake_case_of_the_variants() {
        for cause in Cause::ALL {
            let debug = format!("{cause:?}");
            let mut snake = String::new();
            for (i, ch) in debug.chars().enumerate() {
                if ch.is_uppercase() && i > 0 {
                    snake.push('_');
                }
                snake.push(ch.to_ascii_lowercase());
            }
            assert_eq!(cause.label(), snake);
        }
    }
}
