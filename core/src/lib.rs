//! Cancellation scopes for async Rust: tokens that cannot leak from a registry.
//!
//! A `HashMap<Id, CancellationToken>` leaks when the code between its insert
//! and its remove exits early — by `?`, a panic, or the caller dropping the
//! future. Here every token belongs to a [`Scope`], an RAII guard that cancels
//! the token and removes its registry entry on every exit path, and the type
//! system keeps un-owned tokens out of registries and away from other threads.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use scoped_cancel::{Cancelled, Cause, Registry, Scope, Token};
//!
//! static JOBS: Registry<u64> = Registry::new();
//!
//! // A scope with a fresh token: `Token::new()` alone is un-scoped.
//! let scope: Scope = Token::new().into_scope();
//! let token: Token = scope.token();
//! drop(scope);
//! assert_eq!(token.cause(), Some(Cause::ScopeExited));
//!
//! // Keyed: enter, run raced against cancellation, and always clean up.
//! async fn work() -> Result<u32, Cancelled> { Ok(42) }
//! let out = JOBS.enter(7).unwrap().run(work()).await;
//! assert_eq!(out, Ok(Ok(42)));
//! assert!(JOBS.is_empty());
//! # }
//! ```
//!
//! # What the types cannot catch
//!
//! `Token<Unscoped>` is `!Send`, so it cannot reach a spawned task, a
//! `static` or anything shared between threads. That does not stop a token
//! hidden in a `thread_local!`, or an `Rc` moved into `spawn_local`; and no
//! guard runs under `mem::forget`, `Box::leak` or `panic = "abort"`. A scope
//! parked in a long-lived collection lives as long as that collection keeps
//! it. Leak reports ([`Registry::report`], [`testing`]) show forgotten and
//! parked scopes; an un-scoped token in a thread-local belongs to no scope,
//! and no report can show it.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cause;
mod from_cancelled;
mod registry;
mod run;
mod scope;
mod site;
mod storable;
mod sync;
mod token;
mod tracking;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use cause::{Cancelled, Cause};
pub use from_cancelled::FromCancelled;
pub use registry::{EnterError, Key, Registry, RegistryEntry, ScopeInfo, ShutdownReport};
pub use run::Run;
pub use scope::Scope;
pub use storable::Storable;
pub use token::{Scoped, Token, UnscopedTokenCannotCrossThreads_CallIntoScopeFirst, Unscoped};

/// The tokio-util crate this one builds on (a public dependency).
pub use tokio_util;

pub mod testing;

pub use scoped_cancel_macros::scoped_cancel;
/// Marks an `async fn` as a test that fails when it leaves a scope or a
/// task behind: `#[tokio::test]` plus a leak check.
///
/// The test builds its own tokio runtime (timer and I/O enabled), runs the
/// body on it, and then waits — looking again with exponential backoff, as
/// tokio's alive-task count lags on the multi-thread runtime — until every
/// scope created during the test has ended and no task spawned on its
/// runtime is still alive. If the grace period passes first, the test fails
/// with a report naming each leaked scope (name, file:line, key, age, live
/// or cancelled and why) and the number of tasks still alive:
///
/// ```text
/// leak check failed: 1 scope(s) and 1 task(s) still alive after waiting 500.4ms
///   - my_crate::jobs::run (key 7) at src/jobs.rs:42, age 502.0ms, live
///   - 1 task(s) still alive on the runtime (spawned and never finished)
/// ```
///
/// | argument | meaning |
/// | --- | --- |
/// | `flavor = "current_thread"` | the default: one thread runs the body and every task |
/// | `flavor = "multi_thread"` | a multi-thread runtime |
/// | `worker_threads = N` | its number of workers (multi-thread only) |
/// | `grace = "250ms"` | how long to wait for scopes and tasks that end a little after the body (default [`testing::DEFAULT_GRACE`], 500 ms; units `us`, `ms`, `s`, `m`) |
///
/// For a paused clock, call `tokio::time::pause()` first thing in the body
/// (tokio's `test-util` feature); the grace period is then measured on the
/// paused clock, which advances through it.
///
/// **Attribution.** A scope belongs to the test when it is created on the
/// test's runtime: the thread running the body, the runtime's workers, and
/// its blocking pool. Tests running in parallel in one binary never see each
/// other's scopes. Scopes created on threads the test starts itself
/// (`std::thread::spawn`, a second runtime) are attributed to no test, and
/// `spawn_blocking` closures still running are not counted as tasks
/// (tokio does not count them).
///
/// **Failures of the body.** A panic in the body fails the test as usual
/// (no leak check runs), so `#[should_panic]` works, and so do `#[ignore]`
/// and other attributes, which are kept. The fn may return `Result<T, E>`
/// as under `#[tokio::test]`: an `Err` fails the test with that error and
/// skips the leak check; an `Ok` is checked.
///
/// For other harnesses, or a runtime you build yourself, the same check is
/// [`testing::LeakCheck`] / [`testing::check`].
///
/// ```
/// use std::time::Duration;
/// use scoped_cancel::{Registry, Scope};
///
/// static JOBS: Registry<u64> = Registry::new();
///
/// #[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "200ms")]
/// async fn jobs_clean_up() {
///     let scope = JOBS.enter(7).unwrap();
///     let task = scope.spawn(tokio::time::sleep(Duration::from_millis(10)));
///     task.await.unwrap().unwrap();
///     // `scope` drops here; a scope parked in a static, or a task left
///     // running, would fail this test with a report naming this line.
/// }
/// # fn main() {}
/// ```
pub use scoped_cancel_macros::test;
