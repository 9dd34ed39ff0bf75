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
pub use scoped_cancel_macros::test;
