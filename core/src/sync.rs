//! The synchronisation primitives the registry's protocol rests on, swapped
//! for shuttle's under `--cfg shuttle` so that the model tests in
//! `core/tests/shuttle_model.rs` explore interleavings of the real code.

#[cfg(not(shuttle))]
pub(crate) use std::sync::{
    atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize},
    Mutex, MutexGuard,
};

#[cfg(shuttle)]
pub(crate) use shuttle::sync::{
    atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize},
    Mutex, MutexGuard,
};
