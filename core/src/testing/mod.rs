//! Leak detection: which scopes are alive, per test, per runtime, or in the
//! whole process.
//!
//! Registries list their own scopes ([`Registry::report`](crate::Registry::report));
//! this module also sees anonymous ones ([`Scope::root`](crate::Scope::root),
//! [`Scope::child`](crate::Scope::child), tasks' scopes). Three ways in:
//!
//! - [`#[scoped_cancel::test]`](crate::test): a `#[tokio::test]` that fails
//!   when the test leaves a scope or a task behind.
//! - [`LeakCheck`] and [`check`]: the same check for code that builds its
//!   own runtime or runs under another harness.
//! - [`Collector`] (one runtime, via [`Collector::instrument`]) and
//!   [`track_process`] + [`live_scopes`] (the whole process): live listings
//!   for debugging a running program.
//!
//! # Attribution
//!
//! A scope is recorded by the collector attached to the thread that
//! *creates* it, and removed when it drops, wherever that happens. A check
//! attaches its collector to its runtime's threads (workers and blocking
//! pool) and to the thread that runs the body, so tests running in parallel
//! in one binary never see each other's scopes. Scopes created on threads
//! that a test starts itself (`std::thread::spawn`, a second runtime) are
//! attributed to no test. With [`track_process`] on, they go to the process
//! collector instead.
//!
//! # Cost
//!
//! While no collector is attached anywhere and process tracking is off,
//! creating a scope pays one relaxed atomic load for tracking. While a
//! collector records it, a scope costs a thread-local read, a small
//! allocation, a lock and a slab insert, and keyed scopes format their key
//! with `Debug`. Measured on a 2-core VM (release build, 2 million scopes
//! per row, 1 thread / 2 threads):
//!
//! | scope | off | on, per-runtime collector | on, process-wide |
//! | --- | --- | --- | --- |
//! | `Scope::root()` + drop | see README | | |
//!
//! That is not negligible next to entering a scope, so process-wide
//! tracking is opt-in at run time ([`track_process`]`(true)`), and nothing
//! is recorded unless a test, a check or you attach a collector. A cargo
//! feature would not make the off path cheaper than its one load.
//!
//! # Leak reports
//!
//! [`LeakReport`]'s `Display` lists each leaked scope on a line of the same
//! shape as [`ScopeInfo`](crate::ScopeInfo)'s:
//!
//! ```text
//! leak check failed: 2 scope(s) and 1 task(s) still alive after waiting 500.3ms
//!   - jobs::run (key 7) at tests/jobs.rs:42, age 501.0ms, live
//!   - Scope::root at tests/jobs.rs:50, age 498.0ms, cancelled (requested) but not ended
//!   - 1 task(s) still alive on the runtime (spawned and never finished)
//! ```

mod check;
#[doc(hidden)]
pub mod private;
mod report;

pub use crate::tracking::{is_tracking_process, track_process, AttachGuard, Collector};
pub use check::{check, live_scopes, LeakCheck, DEFAULT_GRACE};
pub use report::{LeakReport, LiveScope};
