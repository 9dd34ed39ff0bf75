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
//! creating a scope pays one relaxed atomic load and a branch for tracking.
//! While a collector records it, a scope also costs a thread-local read, an
//! uncontended lock (its thread's own record list), a weak reference and a
//! push; its end costs one store. Keyed scopes are recorded with a weak way
//! back to their registry entry, so a report shows the key without the key
//! being cloned or formatted when the scope is entered. Off, a scope pays
//! one relaxed load and a branch; on, a tracked call costs a fifth or so
//! more than an untracked one (the figures are in the repository's
//! BENCHMARKS.md). That is not negligible, so nothing is recorded unless a test or a check
//! attaches a collector, or you switch process-wide tracking on at run time
//! with [`track_process`]`(true)`. (A cargo feature would not make the off
//! path cheaper than its one load, and a run-time switch lets a production
//! binary turn the listing on while debugging.)
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
mod collector;
#[doc(hidden)]
pub mod private;
mod report;

pub use check::{check, live_scopes, LeakCheck, DEFAULT_GRACE};
pub use collector::{is_tracking_process, track_process, AttachGuard, Collector};
pub use report::{LeakReport, LiveScope};
