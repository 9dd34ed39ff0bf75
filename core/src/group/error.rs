//! `GroupError`: why a task group's `join` did not return every value.

use std::any::Any;
use std::fmt;

use crate::cause::Cancelled;

/// Why [`TaskGroup::join`](crate::TaskGroup::join) failed: the first
/// failure of a task, in time, or the group's own cancellation.
pub enum GroupError<E> {
    /// A task returned `Err`.
    Failed(E),
    /// A task panicked; the panic's payload, as `std::panic::catch_unwind`
    /// gives it (`resume_unwind` it to carry the panic on).
    Panicked(Box<dyn Any + Send + 'static>),
    /// The group itself was cancelled ([`TaskGroup::cancel`](crate::TaskGroup::cancel), or the scope
    /// it was made in) before every task returned a value.
    Cancelled(Cancelled),
}

impl<E> GroupError<E> {
    /// The panic's message, for a panic with a `&str` or `String` payload.
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            GroupError::Panicked(payload) => payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str)),
            _ => None,
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupError::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
            GroupError::Panicked(_) => f
                .debug_tuple("Panicked")
                .field(&self.panic_message().unwrap_or("<non-string payload>"))
                .finish(),
            GroupError::Cancelled(c) => f.debug_tuple("Cancelled").field(c).finish(),
        }
    }
}

impl<E: fmt::Display> fmt::Display for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupError::Failed(e) => write!(f, "a task of the group failed: {e}"),
            GroupError::Panicked(_) => match self.panic_message() {
                Some(message) => write!(f, "a task of the group panicked: {message}"),
                None => f.write_str("a task of the group panicked"),
            },
            GroupError::Cancelled(c) => write!(f, "the group was {c}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for GroupError<E> {}
