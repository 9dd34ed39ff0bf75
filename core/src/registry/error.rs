//! `EnterError`: why a key could not be entered.

use std::fmt;

use crate::cause::{Cancelled, Cause};

/// Why [`Registry::enter`](crate::Registry::enter) or
/// [`Registry::insert`](crate::Registry::insert) refused a key. Carries the key back.
#[derive(Clone, PartialEq, Eq)]
pub enum EnterError<K> {
    /// The key already has a live scope; that scope was left untouched.
    Occupied(K),
    /// The registry is shutting down (until [`Registry::reopen`](crate::Registry::reopen)).
    ShuttingDown(K),
}

impl<K> EnterError<K> {
    /// The key that was refused.
    pub fn key(&self) -> &K {
        match self {
            EnterError::Occupied(key) | EnterError::ShuttingDown(key) => key,
        }
    }

    /// The refused key, by value.
    pub fn into_key(self) -> K {
        match self {
            EnterError::Occupied(key) | EnterError::ShuttingDown(key) => key,
        }
    }

    /// The refusal as a cause: [`Cause::KeyOccupied`] or [`Cause::ShuttingDown`].
    pub fn cause(&self) -> Cause {
        match self {
            EnterError::Occupied(_) => Cause::KeyOccupied,
            EnterError::ShuttingDown(_) => Cause::ShuttingDown,
        }
    }
}

impl<K> From<EnterError<K>> for Cancelled {
    fn from(err: EnterError<K>) -> Cancelled {
        Cancelled::new(err.cause())
    }
}

impl<K: fmt::Debug> fmt::Debug for EnterError<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnterError::Occupied(key) => f.debug_tuple("Occupied").field(key).finish(),
            EnterError::ShuttingDown(key) => f.debug_tuple("ShuttingDown").field(key).finish(),
        }
    }
}

impl<K: fmt::Debug> fmt::Display for EnterError<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnterError::Occupied(key) => write!(f, "key {key:?} already has a live scope"),
            EnterError::ShuttingDown(key) => {
                write!(f, "key {key:?} refused: the registry is shutting down")
            }
        }
    }
}

impl<K: fmt::Debug> std::error::Error for EnterError<K> {}
