//! The synchronisation primitives the crate's protocols rest on, swapped
//! for shuttle's under `--cfg shuttle` so that the model tests in
//! `core/tests/shuttle_*.rs` explore interleavings of the real code. Every
//! primitive on a path a model exercises comes from here.

#[cfg(not(shuttle))]
pub(crate) use std::sync::{
    atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, AtomicU8, AtomicUsize},
    Mutex, MutexGuard,
};

#[cfg(shuttle)]
pub(crate) use shuttle::sync::{
    atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, AtomicU8, AtomicUsize},
    Mutex, MutexGuard,
};

// Thread-locals too: shuttle runs each modelled thread (and each task) as
// its own "thread", which std's thread-locals cannot tell apart.
#[cfg(not(shuttle))]
pub(crate) use std::thread_local;

#[cfg(shuttle)]
pub(crate) use shuttle::thread_local;

/// Locks `mutex`, ignoring poisoning: every lock site of this crate keeps
/// no invariant across a panic point.
#[inline]
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
