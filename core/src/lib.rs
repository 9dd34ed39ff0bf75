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
//!
//! # Servers and clients
//!
//! With the feature `tower`, `tower::ScopeLayer` runs each request of an
//! axum, tonic or hyper service in its own scope, with a deadline taken
//! from the caller's `grpc-timeout` (or a plain-HTTP header), and
//! `tower::PropagateDeadlineLayer` passes a scope's remaining budget on
//! to the next service. The default build has no such dependency.
//!
//! # Runtimes
//!
//! Scopes, tokens, registries and [`Scope::run`] without a deadline work on
//! any executor. A deadline ([`Scope::run_timeout`], the macro's `timeout`),
//! [`Scope::spawn`] and the wait of [`Registry::shutdown`] need a tokio
//! runtime (with time enabled, for the deadlines); without one they panic
//! with a message naming the API and what it needs. `shutdown` waits for
//! tasks spawned with [`Scope::spawn`] from a keyed scope or its children:
//! a bare `tokio::spawn` is invisible to it.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

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

/// Runs each call of an `async fn` inside its own [`Scope`]: registered
/// under a key, raced against cancellation and an optional deadline, and
/// cleaned up on every exit.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use scoped_cancel::{scoped_cancel, Cancelled, Cause, Registry};
///
/// static JOBS: Registry<u64> = Registry::new();
///
/// #[scoped_cancel(registry = JOBS, key = id, timeout = "30s")]
/// async fn export(id: u64) -> Result<usize, Cancelled> {
///     std::future::pending::<()>().await; // stands for slow work
///     Ok(0)
/// }
///
/// let call = tokio::spawn(export(7));
/// while !JOBS.contains_key(&7) {
///     tokio::task::yield_now().await;
/// }
/// JOBS.cancel(&7);                                   // from anywhere
/// let out = call.await.unwrap();
/// assert_eq!(out.unwrap_err().cause(), Cause::Requested);
/// assert!(JOBS.is_empty());                          // always cleaned up
/// # }
/// ```
///
/// # What it expands to
///
/// The fn keeps its signature, visibility, attributes, doc comments and
/// generics: callers cannot tell it was annotated. Only its body changes.
/// When the call's future is first polled, the new body enters a scope —
/// under `key` in `registry`, or an anonymous one — whose name, file and
/// line come from one `static` record per fn. If the key already has a
/// live scope, or the registry is shutting down, the call returns at once
/// and the original body never runs. Otherwise the original body (emitted
/// once, unchanged) runs as a future that races the scope's token and the
/// deadline; the body is polled first on every wake-up, so work that has
/// finished is never thrown away. When the token wins, the body is dropped
/// at its current `.await` and the call returns a "cancelled" value. Either
/// way the scope is dropped last, which cancels its token and removes its
/// entry: on return, `?`, panic, and when the caller drops the future.
/// Generated code refers only to `::scoped_cancel::__private`; its locals
/// are hygienic, so they can neither see nor shadow the body's names.
///
/// # Arguments
///
/// All optional, in any order, each at most once. With none,
/// `#[scoped_cancel]` gives every call an anonymous scope (no registry).
///
/// | argument | meaning |
/// | --- | --- |
/// | `registry = EXPR` | a place that derefs to a [`Registry<K>`](Registry): `JOBS`, `self.jobs`, an `Arc<Registry<K>>` field |
/// | `key = EXPR` | the key; required with `registry`, rejected without it |
/// | `parent = EXPR` | a `Token`, `&Token` or `&Scope`: this call's token is a child of it (default: the [current scope](Token::current)) |
/// | `detached` | a root scope even inside another scope: for work that must outlive its caller |
/// | `timeout = ..` | a literal such as `"250ms"`, `"30s"`, `"1m30s"`, or a `Duration` expression |
/// | `token = IDENT` | binds the scope's [`Token`] under that name inside the body |
/// | `on_cancel = EXPR` | the value returned when cancelled or refused (instead of [`FromCancelled`]) |
/// | `cooperative` | do not race the body: it watches `token` itself |
/// | `name = "..."` | the scope's name in reports (default: the fn's path) |
/// | `occupied = ..` | when the key is held: `refuse` (the default), `replace` or `wait`; needs `registry` |
///
/// ## `registry` and `key`
///
/// The key expression is evaluated by reference and cloned, when the call
/// starts: `key = name` does not move the parameter `name`, and any
/// expression of the registry's key type works. `registry` is taken by
/// reference too, so `self.jobs` works with `&self`, `&mut self`, `self`
/// and `self: Arc<Self>` receivers.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::sync::Arc;
/// use scoped_cancel::{scoped_cancel, Cancelled, Registry};
///
/// struct Sessions {
///     live: Arc<Registry<String>>,
/// }
///
/// impl Sessions {
///     #[scoped_cancel(registry = self.live, key = user)]
///     async fn open(&self, user: String) -> Result<String, Cancelled> {
///         assert!(self.live.contains_key(&user));
///         Ok(user) // `user` was only borrowed by `key = user`
///     }
/// }
///
/// let sessions = Sessions { live: Arc::new(Registry::new()) };
/// assert_eq!(sessions.open("ada".into()).await.unwrap(), "ada");
/// assert!(sessions.live.is_empty());
/// # }
/// ```
///
/// ## Nesting: the current scope, `parent` and `detached`
///
/// Without `parent`, a call made inside another scope's future — the body
/// of a `#[scoped_cancel]` fn, [`Scope::run`], a [`Scope::spawn`] task —
/// gets a child of that scope ([`Token::current`]), keyed or not: cancelling
/// or ending the caller cancels the call, and the call inherits the
/// caller's [deadline](Token::deadline). Outside any scope it gets a root.
/// The current scope is read when the call's future is first polled: a call
/// handed to a plain `tokio::spawn` before that starts as a root, since
/// spawned tasks carry no current scope ([`Scope::spawn`] does).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use scoped_cancel::{scoped_cancel, Cancelled, Cause, Token};
///
/// #[scoped_cancel]
/// async fn lookup() -> Result<(), Cancelled> {
///     std::future::pending::<()>().await;
///     Ok(())
/// }
///
/// #[scoped_cancel(token = token)]
/// async fn handler() -> Result<(), Cancelled> {
///     token.cancel(); // e.g. the client went away
///     lookup().await  // a child of this call: cancelled with it
/// }
///
/// // The nested call's error says why its caller was cancelled (its own
/// // token reads `Cause::Parent`).
/// assert_eq!(handler().await.unwrap_err().cause(), Cause::Requested);
/// # }
/// ```
///
/// `parent = ..` names the parent explicitly instead. Cancelling it (or
/// ending its scope) ends the call, whose `Cancelled` carries the parent's
/// cause. A tokio-util `CancellationToken` becomes a parent through a
/// scope: `Token::adopt(&ct).into_scope()`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use scoped_cancel::{scoped_cancel, Cancelled, Cause, Scope, Token};
///
/// #[scoped_cancel(parent = request)]
/// async fn lookup(request: &Token) -> Result<u32, Cancelled> {
///     std::future::pending::<()>().await;
///     Ok(1)
/// }
///
/// let request = Scope::root();
/// request.cancel();
/// let out = lookup(&request.token()).await;
/// assert_eq!(out.unwrap_err().cause(), Cause::Requested);
/// # }
/// ```
///
/// `detached` makes a root scope even inside another scope, for work that
/// must outlive the call that started it (a cache fill shared by several
/// requests, an audit write): it is not cancelled with its caller and
/// inherits no deadline. It cannot be combined with `parent`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use scoped_cancel::scoped_cancel;
///
/// #[scoped_cancel(detached, on_cancel = "cancelled")]
/// async fn audit() -> &'static str {
///     tokio::task::yield_now().await; // stands for the write
///     "written"
/// }
///
/// #[scoped_cancel(on_cancel = "cancelled")]
/// async fn nested_audit() -> &'static str {
///     tokio::task::yield_now().await;
///     "written"
/// }
///
/// #[scoped_cancel(cooperative, token = token)]
/// async fn handler() -> Option<(&'static str, &'static str)> {
///     token.cancel(); // the request is over; it still writes its audit
///     Some((audit().await, nested_audit().await))
/// }
///
/// assert_eq!(handler().await, Some(("written", "cancelled")));
/// # }
/// ```
///
/// ## `timeout`
///
/// A string literal is parsed at compile time: whole numbers with units
/// `h`, `m`, `s`, `ms`, `us` and `ns`, largest first (`"1h30m"`,
/// `"1s500ms"`). Anything else must be an expression of type
/// [`Duration`](std::time::Duration), evaluated when the call starts
/// (`timeout = self.limit`, `timeout = Duration::from_millis(ms)`). The
/// deadline counts from the first poll, needs a tokio runtime with time
/// enabled, and ends the call with [`Cause::Deadline`]. From that first poll
/// the body reads it with [`Token::deadline`] / [`Token::remaining`]; it is
/// never later than a deadline the call inherited from its caller, which
/// ends the call (with the caller's [`Cause::Deadline`]) when it passes
/// first.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// use std::time::Duration;
/// use scoped_cancel::{scoped_cancel, Cancelled, Cause};
///
/// #[scoped_cancel(timeout = "250ms")]
/// async fn slow() -> Result<(), Cancelled> {
///     tokio::time::sleep(Duration::from_secs(10)).await;
///     Ok(())
/// }
///
/// assert_eq!(slow().await.unwrap_err().cause(), Cause::Deadline);
/// # }
/// ```
///
/// ## `token`
///
/// Binds the scope's `Token` (a [`Token<Scoped>`](Scoped)): `Send`,
/// `'static`, cancelled no later than the call ends. Hand it to work the
/// body starts, or watch it. The name must not be one of the fn's
/// parameters.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use scoped_cancel::{scoped_cancel, Cause, Token};
///
/// #[scoped_cancel(token = token)]
/// async fn start() -> Option<Token> {
///     let watcher = token.clone();
///     tokio::spawn(async move { watcher.cancelled().await });
///     Some(token)
/// }
///
/// let token = start().await.unwrap();
/// assert_eq!(token.cause(), Some(Cause::ScopeExited)); // the watcher is released
/// # }
/// ```
///
/// ## `on_cancel`, and what a cancelled call returns
///
/// By default a cancelled or refused call returns
/// [`FromCancelled::from_cancelled`]: `()` for `()`, `None` for
/// `Option<T>`, and `Err(e)` with `e` converted from [`Cancelled`] for
/// `Result<T, E>` where `E: From<Cancelled>` (implement `From<Cancelled>`
/// for your error type). Any other return type needs `on_cancel`, or a
/// `FromCancelled` impl of its own; without either, the compiler points at
/// the return type. `on_cancel` may also override a type that has one. The
/// expression is evaluated only when needed; it should not use parameters
/// that the body consumes.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use scoped_cancel::{scoped_cancel, Registry};
///
/// static JOBS: Registry<u8> = Registry::new();
///
/// #[scoped_cancel(registry = JOBS, key = 1, on_cancel = -1)]
/// async fn count() -> i64 {
///     41 + 1
/// }
///
/// assert_eq!(count().await, 42);
/// let _held = JOBS.enter(1).unwrap();
/// assert_eq!(count().await, -1); // refused: the key is live
/// # }
/// ```
///
/// ## `cooperative`: racing and cancel safety
///
/// By default the body is *raced*: when the token is cancelled or the
/// deadline passes, the body's future is dropped wherever it is waiting.
/// That is right for cancel-safe bodies (reads, requests, waits) and wrong
/// for bodies that must not stop half-way: a multi-step write, a
/// transaction, a buffer that must be flushed. Mark those `cooperative`:
/// the body is never dropped early; on cancellation (or at the deadline,
/// with [`Cause::Deadline`]) only its token is cancelled, and the body
/// decides when to stop and what to return. `cooperative` requires
/// `token = ..`, since otherwise the body could never notice; a body that
/// deliberately ignores cancellation binds `token = _token`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// use std::time::Duration;
/// use scoped_cancel::{scoped_cancel, Cancelled, Cause};
///
/// #[scoped_cancel(timeout = "1s", cooperative, token = token)]
/// async fn copy_rows() -> Result<(u32, Option<Cause>), Cancelled> {
///     let mut copied = 0;
///     while !token.is_cancelled() {
///         tokio::time::sleep(Duration::from_millis(300)).await; // one whole row
///         copied += 1;
///     }
///     Ok((copied, token.cause())) // stopped between rows, never inside one
/// }
///
/// assert_eq!(copy_rows().await, Ok((4, Some(Cause::Deadline))));
/// # }
/// ```
///
/// ## `name`
///
/// The scope's name in [`Registry::report`], shutdown reports and leak
/// checks. The default is the fn's path, `module_path!()` + `::` + its name,
/// and reports always give the file and the line of the fn's name.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use scoped_cancel::{scoped_cancel, Registry};
///
/// static JOBS: Registry<u8> = Registry::new();
///
/// #[scoped_cancel(registry = JOBS, key = 1, name = "billing: charge")]
/// async fn charge() -> Option<String> {
///     let info = &JOBS.report()[0];
///     Some(format!("{} at {}:{}", info.name(), info.file(), info.line()))
/// }
///
/// let where_ = charge().await.unwrap();
/// assert!(where_.starts_with("billing: charge at "), "{where_}");
/// # }
/// ```
///
/// ## `occupied`
///
/// What a call does when its key already has a live scope — RxJS's
/// `exhaustMap`, `switchMap` and `concatMap` for cancellation scopes:
///
/// - `refuse` (the default; first wins): return at once with
///   [`Cause::KeyOccupied`], leaving the holder alone
///   ([`Registry::enter`]).
/// - `replace` (latest wins): take the key; the holder's token is
///   cancelled with [`Cause::Superseded`] and its body returns that cause
///   ([`Registry::enter_replacing`]).
/// - `wait` (one at a time, in order): queue until the key is free; calls
///   get it in the order they started ([`Registry::enter_waiting`]). The
///   `timeout` counts from the call's start, so time in the queue is part
///   of it and a call still queued at its deadline returns
///   [`Cause::Deadline`]; a cancelled `parent` ends a queued call with
///   the parent's cause; `shutdown` refuses queued calls with
///   [`Cause::ShuttingDown`]. A dropped call leaves the queue.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use scoped_cancel::{scoped_cancel, Cancelled, Cause, Registry};
///
/// static SEARCHES: Registry<u32> = Registry::new();
/// static MIGRATIONS: Registry<&str> = Registry::new();
///
/// // Search-as-you-type: the newest query supersedes the running one.
/// #[scoped_cancel(registry = SEARCHES, key = session, occupied = replace)]
/// async fn search(session: u32, query: &'static str) -> Result<&'static str, Cancelled> {
///     if query.len() < 4 {
///         std::future::pending::<()>().await; // slow; typed over
///     }
///     Ok(query)
/// }
///
/// // One migration per tenant at a time, queued, 10 minutes all told.
/// #[scoped_cancel(registry = MIGRATIONS, key = tenant, occupied = wait, timeout = "10m")]
/// async fn migrate(tenant: &'static str, version: u32) -> Result<u32, Cancelled> {
///     Ok(version)
/// }
///
/// let typing = tokio::spawn(search(1, "rus"));
/// while !SEARCHES.contains_key(&1) {
///     tokio::task::yield_now().await;
/// }
/// assert_eq!(search(1, "rust").await, Ok("rust"));
/// assert_eq!(typing.await.unwrap().unwrap_err().cause(), Cause::Superseded);
///
/// let running = MIGRATIONS.enter("acme").unwrap();
/// let queued = tokio::spawn(migrate("acme", 2));
/// while MIGRATIONS.waiting() == 0 {
///     tokio::task::yield_now().await;
/// }
/// drop(running);                                   // the queued call goes next
/// assert_eq!(queued.await.unwrap(), Ok(2));
/// # }
/// ```
///
/// # The scope is entered at the first poll
///
/// An `async fn` runs nothing until its future is polled, and neither does
/// this attribute: after `tokio::spawn(job(7))`, `JOBS.cancel(&7)` may run
/// before the task does and find nothing to cancel, and `JOBS.contains_key`
/// may say `false`. When the scope must exist before the work is handed
/// off, enter it eagerly and move it along: [`Registry::enter`] returns the
/// [`Scope`] at once, [`Scope::run`] races a future inside it, and
/// [`Scope::spawn`] spawns a task that owns a child of it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use scoped_cancel::{Cause, Registry};
///
/// static JOBS: Registry<u64> = Registry::new();
///
/// let scope = JOBS.enter(7).unwrap();          // live now
/// let task = tokio::spawn(scope.run(std::future::pending::<()>()));
/// assert!(JOBS.cancel(&7));                    // cannot miss it
/// assert_eq!(task.await.unwrap().unwrap_err().cause(), Cause::Requested);
/// # }
/// ```
///
/// # Where it works
///
/// Free fns and methods (`&self`, `&mut self`, `self`, `self: Arc<Self>`),
/// generic fns with bounds and `where` clauses, `impl Trait` arguments and
/// return types, explicit lifetimes, `?` and early `return`, `async fn` in
/// traits and their impls, and methods of `#[async_trait]` impls, where the
/// scope is placed inside the boxed future (`Box::pin(async move { .. })`),
/// not around the code that creates it. The call's future is `Send`
/// whenever the body's is.
///
/// # Compile-time errors
///
/// Each points at the offending token and says what to write instead: the
/// attribute on something other than an `async fn`; `key` without
/// `registry` or the reverse; an unknown or repeated argument; a malformed
/// duration; a `token` name that hides a parameter; `cooperative` without
/// `token`; an `occupied` value other than `refuse`, `replace` or `wait`,
/// or `occupied` without `registry`; a boxed-future fn whose body is not
/// `Box::pin(async move { .. })`;
/// and a return type that cannot express cancellation with no `on_cancel`.
/// The fn itself is still emitted unchanged, so the rest of the crate keeps
/// compiling (and the IDE keeps working) while the attribute is fixed.
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
/// | `flavor = "multi_thread"` | a multi-thread runtime (needs tokio's `rt-multi-thread` feature in your crate, as `#[tokio::test]` does) |
/// | `worker_threads = N` | its number of workers (multi-thread only) |
/// | `grace = "250ms"` | *after* the body returns: how long to wait for scopes and tasks that end a little after it (default [`testing::DEFAULT_GRACE`], 500 ms) |
/// | `timeout = "30s"` | *while* the body runs: a test still running then fails with the tree of its live scopes (which scope waits, where it was made, since when; see [`dump`]) instead of hanging CI (default: no limit) |
///
/// Durations are literals: whole numbers with units `h`, `m`, `s`, `ms`,
/// `us`, `ns`, largest first, e.g. `"1m30s"`. Both are measured on the
/// runtime's clock, so a paused clock (below) runs through them at once
/// when the test is idle. A body that blocks its thread without awaiting
/// cannot be stopped by `timeout` on the current-thread runtime.
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
