//! Cancellation scopes for async Rust: every token has an owner that
//! cancels it, and registries of tokens cannot leak.
//!
//! A `HashMap<Id, CancellationToken>` leaks when the code between its insert
//! and its remove exits early — by `?`, a panic, or the caller dropping the
//! future: the entry stays, and every task waiting on its token waits for
//! ever. Here every token belongs to a [`Scope`], an RAII guard that cancels
//! the token and removes its registry entry on every exit path;
//! [`#[scoped_cancel]`](macro@scoped_cancel) writes that guard for each
//! call of an `async fn`; the type system keeps un-owned tokens out of
//! registries and away from other threads; leak reports, dumps and a test
//! attribute show what is still alive.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! use std::time::Duration;
//! use scoped_cancel::{scoped_cancel, start, Cancelled, Cause, Registry};
//!
//! static EXPORTS: Registry<u64> = Registry::new();
//!
//! /// Registered under `id` while it runs; on every exit its token is
//! /// cancelled and its entry removed.
//! #[scoped_cancel(registry = EXPORTS, key = id, timeout = "30s")]
//! async fn export(id: u64) -> Result<u64, Cancelled> {
//!     tokio::time::sleep(Duration::from_secs(60)).await; // stands for the rows
//!     Ok(id)
//! }
//!
//! let job = start(export(7)).expect("key 7 is free"); // holds the key now
//! assert!(EXPORTS.cancel(&7));                         // cancel by id
//! assert_eq!(job.await.unwrap().unwrap_err().cause(), Cause::Requested);
//!
//! assert_eq!(export(8).await.unwrap_err().cause(), Cause::Deadline);
//! assert!(EXPORTS.is_empty());                         // nothing left behind
//! # }
//! ```
//!
//! # Where to find what
//!
//! | you want | look at |
//! | --- | --- |
//! | a scope per call of an `async fn` | [`#[scoped_cancel]`](macro@scoped_cancel): keys, timeouts, nesting, cancel safety |
//! | the guard and its token | [`Scope`], [`Token`], [`ScopeBuilder`] (names, parents) |
//! | cancel by id, list, shut down | [`Registry`]; refuse, replace or wait for a taken key: [`guide::policies`] |
//! | why a call stopped | [`Cancelled`], [`Cause`], reasons: [`guide::nesting`] |
//! | tasks that end with their scope | [`TaskGroup`], [`shield()`], [`start()`], [`Registry::spawn`]: [`guide::structured`] |
#![cfg_attr(
    feature = "tower",
    doc = "| a scope per HTTP or gRPC request | [`tower`] (feature `tower`): [`guide::servers`] |"
)]
#![cfg_attr(
    not(feature = "tower"),
    doc = "| a scope per HTTP or gRPC request | `tower` (feature `tower`): [`guide::servers`] |"
)]
#![cfg_attr(
    feature = "metrics",
    doc = "| what is alive, in production | [`dump`], [`live`], [`watchdog`], [`metrics`] and tracing events: [`guide::production`] |"
)]
#![cfg_attr(
    not(feature = "metrics"),
    doc = "| what is alive, in production | [`dump`], [`live`], [`watchdog`], `metrics` and tracing events: [`guide::production`] |"
)]
//! | tests that fail on a leak | [`#[scoped_cancel::test]`](macro@test), [`testing`]: [`guide::testing`] |
//! | one registry across processes | the `scoped-cancel-redis` crate: [`guide::cluster`] |
//! | leaks in code that does not use this crate yet | the `scoped-cancel-audit` tool: [`guide::migration`] |
//! | what is promised, and what is not | [`guide::guarantees`], [`guide::limits`] |
//!
//! # Modules
//!
//! | module | holds |
//! | --- | --- |
//! | (root) | [`Scope`], [`Token`], [`Registry`], [`Cancelled`], [`Cause`], [`TaskGroup`], [`shield()`], [`start()`], the two attributes |
//! | [`live`] | which scopes are alive: process-wide tracking, per-runtime collectors |
//! | [`dump`] | the live scopes as text or JSON, grouped by site and drawn as a tree |
//! | [`watchdog`] | reports, and may cancel, scopes older than a limit |
//! | [`testing`] | leak checks for tests and other harnesses |
#![cfg_attr(
    feature = "tower",
    doc = "| [`tower`] | per-request scopes, deadline headers, `/debug/scopes` (feature `tower`) |"
)]
#![cfg_attr(
    not(feature = "tower"),
    doc = "| `tower` | per-request scopes, deadline headers, `/debug/scopes` (feature `tower`) |"
)]
#![cfg_attr(
    feature = "metrics",
    doc = "| [`metrics`] | metric names and descriptions (feature `metrics`) |"
)]
#![cfg_attr(
    not(feature = "metrics"),
    doc = "| `metrics` | metric names and descriptions (feature `metrics`) |"
)]
//! | [`guide`] | guides with tested examples; no code |
//!
//! # Cargo features
//!
//! None is on by default; the default build depends on tokio (`sync`,
//! `time`, `rt`) and tokio-util only.
//!
//! | feature | adds | pulls in |
//! | --- | --- | --- |
#![cfg_attr(
    feature = "tower",
    doc = "| `tower` | [`tower`]: `ScopeLayer`, `PropagateDeadlineLayer`, `DebugScopes` | `tower-service`, `tower-layer`, `http`, `http-body` |"
)]
#![cfg_attr(
    not(feature = "tower"),
    doc = "| `tower` | `tower`: `ScopeLayer`, `PropagateDeadlineLayer`, `DebugScopes` | `tower-service`, `tower-layer`, `http`, `http-body` |"
)]
//! | `tracing` | events under the target `scoped_cancel` ([`guide::production`]) | `tracing` |
#![cfg_attr(
    feature = "metrics",
    doc = "| `metrics` | a live-scope gauge, exit counters, a duration histogram ([`metrics`]) | `metrics` |"
)]
#![cfg_attr(
    not(feature = "metrics"),
    doc = "| `metrics` | a live-scope gauge, exit counters, a duration histogram (`metrics`) | `metrics` |"
)]
//!
//! # Runtimes
//!
//! Scopes, tokens, registries and [`Scope::run`] without a deadline work on
//! any executor. A deadline ([`Scope::run_timeout`], the macro's `timeout`),
//! [`Scope::spawn`], [`TaskGroup::spawn`], [`start()`] and the wait of
//! [`Registry::shutdown`] need a tokio runtime (with time enabled, for the
//! deadlines); without one they panic with a message naming the API and
//! what it needs.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
// docs.rs (`--cfg docsrs`): label feature-gated items with their feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

// Layers, bottom up; each imports only from the layers below it (a test,
// `tests/tests/layers.rs`, fails on any import cycle across modules):
//
// 1. `sync`, `cause`, `needs_tokio`: primitives (std's or shuttle's), the
//    one table of causes.
// 2. `deadline`, `site`: a deadline in one word; where a scope was made.
// 3. `node`: the shared state behind a token: the tree, the callbacks on
//    cancel (children, `after_cancel`, links, end hooks), reasons.
// 4. `link`: the type-erased way from a scope back to its registry entry.
// 5. `facts`, `ambient`, `live`, `observe`: what reports say about a node;
//    the current scope; live-scope tracking; tracing and metrics hooks.
// 6. `token`, `scope`, `run`, `race`, `after_cancel`, `shield`: the public
//    handles and the one race of a body against its scope.
// 7. `registry`, `storable`, `from_cancelled`, `builder`, `group`, `start`:
//    keyed scopes, the one way to name a scope, task groups, eager starts.
// 8. `testing`, `watchdog`, `dump`, `tower`, `__private`: built on all the
//    above.
mod after_cancel;
mod ambient;
mod builder;
mod cause;
mod deadline;
mod facts;
mod from_cancelled;
mod group;
mod link;
mod needs_tokio;
mod node;
mod observe;
mod race;
mod registry;
mod run;
mod scope;
mod shield;
mod site;
mod start;
mod storable;
mod sync;
mod token;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use after_cancel::AfterCancel;
pub use builder::{AsParentScope, ScopeBuilder};
pub use cause::{Cancelled, Cause};
pub use from_cancelled::FromCancelled;
pub use group::{GroupError, TaskGroup};
pub use registry::{
    EnterError, EnterWaiting, Key, Registry, RegistryEntry, ScopeInfo, ShutdownReport,
};
pub use run::Run;
pub use scope::Scope;
pub use shield::{shield, Shield};
pub use start::start;
pub use storable::Storable;
pub use token::{Scoped, Token, Unscoped, UnscopedTokenCannotCrossThreads_CallIntoScopeFirst};

/// The tokio-util crate this one builds on (a public dependency).
pub use tokio_util;

pub mod dump;
pub mod live;
pub mod testing;
pub mod watchdog;

/// Metric names and [`describe_metrics`](metrics::describe_metrics) (feature `metrics`).
///
/// Scopes emit to whatever recorder the service installed, with nothing to
/// call: `scoped_cancel_live_scopes{name}` (gauge),
/// `scoped_cancel_scope_exits_total{name,cause}` (counter),
/// `scoped_cancel_scope_duration_seconds{name}` (histogram) and
/// `scoped_cancel_watchdog_overdue_total{name}` (counter). `name` is the
/// scope's (static) name and `cause` the snake_case of its [`Cause`]
/// (`requested`, `deadline`, `parent`, `scope_exited`, `panicked`,
/// `shutdown`, `expired`, `superseded`, `sibling_failed`, `linked`); keys never
/// become labels.
///
/// Handles are registered once per site, with the recorder current at the
/// site's first scope: install the recorder before the first scope runs.
#[cfg(feature = "metrics")]
pub mod metrics {
    pub use crate::observe::metrics::{
        describe_metrics, LIVE_SCOPES, SCOPE_DURATION, SCOPE_EXITS, WATCHDOG_OVERDUE,
    };
}

#[cfg(feature = "tower")]
pub mod tower;

// Documentation only: compiled for rustdoc and its doc tests, empty otherwise.
#[cfg(any(doc, doctest))]
pub mod guide;

// The README's examples, compiled and run as doc tests. They use the
// `tower` feature (which `cargo test --workspace` turns on) and the
// dev-dependencies `axum` and `scoped-cancel-redis`.
#[cfg(all(doctest, feature = "tower"))]
#[doc = include_str!("../../README.md")]
mod readme {}

#[doc = include_str!("doc/scoped_cancel.md")]
pub use scoped_cancel_macros::scoped_cancel;
#[doc = include_str!("doc/test.md")]
pub use scoped_cancel_macros::test;
