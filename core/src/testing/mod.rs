//! Leak checks for tests: which scopes and tasks a test left behind.
//!
//! Two ways in, both built on the live-scope [`Collector`]
//! of [`live`](crate::live):
//!
//! - [`#[scoped_cancel::test]`](crate::test): a `#[tokio::test]` that fails
//!   when the test leaves a scope or a task behind.
//! - [`LeakCheck`] and [`check`]: the same check for code that builds its
//!   own runtime or runs under another harness.
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

pub use check::{check, LeakCheck, DEFAULT_GRACE};
pub use report::LeakReport;

// Their home is `live`; kept here, where earlier releases had them.
#[doc(no_inline)]
pub use crate::live::{
    is_tracking_process, live_scopes, track_process, AttachGuard, Collector, LiveScope,
};
