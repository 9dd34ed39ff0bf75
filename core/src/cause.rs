//! Why a token was cancelled, recorded once, before the token is cancelled.

use std::fmt;
use std::sync::atomic::Ordering;

use crate::sync::AtomicU8;

/// Why a scope's token was cancelled, or why a call could not enter its scope.
///
/// The first cause recorded for a token wins and is never overwritten, so every
/// reader of one token sees the same cause.
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Cause {
    /// Someone asked: [`Scope::cancel`](crate::Scope::cancel),
    /// [`Registry::cancel`](crate::Registry::cancel) or [`Token::cancel`](crate::Token::cancel).
    Requested,
    /// The scope's deadline passed.
    Deadline,
    /// An ancestor, or the foreign token this one was adopted from, was cancelled.
    Parent,
    /// The scope ended normally (its guard was dropped).
    ScopeExited,
    /// The scope's guard was dropped while its thread was panicking.
    Panicked,
    /// [`Registry::cancel_all`](crate::Registry::cancel_all) or
    /// [`Registry::shutdown`](crate::Registry::shutdown).
    Shutdown,
    /// A watchdog found the scope older than its limit and was configured to
    /// cancel it (see [`watchdog`](crate::watchdog)).
    Expired,
    /// Refusal: the key already had a live scope, so the call never entered one.
    KeyOccupied,
    /// Refusal: the registry is shutting down, so the call never entered a scope.
    ShuttingDown,
    /// A newer call took the key with
    /// [`Registry::enter_replacing`](crate::Registry::enter_replacing)
    /// (`occupied = replace`): latest wins.
    Superseded,
}

impl Cause {
    // Codes are positions in this list: append new causes, never reorder.
    pub(crate) const ALL: [Cause; 10] = [
        Cause::Requested,
        Cause::Deadline,
        Cause::Parent,
        Cause::ScopeExited,
        Cause::Panicked,
        Cause::Shutdown,
        Cause::KeyOccupied,
        Cause::ShuttingDown,
        Cause::Superseded,
        Cause::Expired,
    ];

    /// The position in [`Cause::ALL`] plus one (0 means "no cause yet" in a
    /// `CauseCell`), spelled out so that a constant cause folds to a
    /// constant; the unit test checks it against `ALL`.
    pub(crate) fn code(&self) -> u8 {
        match self {
            Cause::Requested => 1,
            Cause::Deadline => 2,
            Cause::Parent => 3,
            Cause::ScopeExited => 4,
            Cause::Panicked => 5,
            Cause::Shutdown => 6,
            Cause::KeyOccupied => 7,
            Cause::ShuttingDown => 8,
            Cause::Superseded => 9,
            Cause::Expired => 10,
        }
    }

    fn from_code(code: u8) -> Option<Cause> {
        Cause::ALL.get(usize::from(code).checked_sub(1)?).cloned()
    }

    /// `true` for the two refusals, which no live token ever reports.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Cause::KeyOccupied | Cause::ShuttingDown)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cause::Requested => "cancellation was requested",
            Cause::Deadline => "the deadline passed",
            Cause::Parent => "a parent token was cancelled",
            Cause::ScopeExited => "the scope exited",
            Cause::Panicked => "the scope exited by panicking",
            Cause::Shutdown => "the registry was shut down",
            Cause::Expired => "a watchdog found the scope older than its limit",
            Cause::KeyOccupied => "the key already had a live scope",
            Cause::ShuttingDown => "the registry is shutting down",
            Cause::Superseded => "a newer call replaced it under its key",
        })
    }
}

/// The error a cancelled (or refused) call returns.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Cancelled {
    cause: Cause,
}

impl Cancelled {
    /// A `Cancelled` carrying `cause`.
    pub fn new(cause: Cause) -> Self {
        Cancelled { cause }
    }

    /// Why the call was cancelled or refused.
    pub fn cause(&self) -> Cause {
        self.cause.clone()
    }
}

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cancelled: {}", self.cause)
    }
}

impl std::error::Error for Cancelled {}

/// One token's cause, written at most once.
#[derive(Debug, Default)]
pub(crate) struct CauseCell(AtomicU8);

impl CauseCell {
    /// Records `cause` unless one is already recorded; `true` if this call won.
    /// `SeqCst`: a root's lazy token and waker rely on it (`token.rs`).
    pub(crate) fn record(&self, cause: Cause) -> bool {
        self.0
            .compare_exchange(0, cause.code(), Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// `true` if `cause` is the one recorded: one load, no decoding.
    #[inline]
    pub(crate) fn holds(&self, cause: &Cause) -> bool {
        self.0.load(Ordering::Acquire) == cause.code()
    }

    pub(crate) fn get(&self) -> Option<Cause> {
        Cause::from_code(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_first_cause_wins() {
        for (i, c) in Cause::ALL.iter().enumerate() {
            assert_eq!(usize::from(c.code()), i + 1);
            assert_eq!(Cause::from_code(c.code()), Some(c.clone()));
        }
        assert_eq!(Cause::from_code(0), None);
        assert_eq!(Cause::from_code(200), None);
        let cell = CauseCell::default();
        assert!(cell.record(Cause::Deadline));
        assert!(!cell.record(Cause::Requested));
        assert_eq!(cell.get(), Some(Cause::Deadline));
    }
}
