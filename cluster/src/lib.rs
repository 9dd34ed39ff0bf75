//! A cluster-wide [`scoped_cancel`] registry on Redis leases.
//!
//! [`ClusterRegistry<K>`] behaves like [`scoped_cancel::Registry<K>`] across
//! every process that shares a Redis server and a namespace: a key has at
//! most one live scope in the cluster, any node can cancel it, and a node
//! that crashes frees its keys when their leases expire.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use scoped_cancel_redis::ClusterRegistry;
//!
//! let jobs = ClusterRegistry::<String>::builder("redis://127.0.0.1:6379/")
//!     .namespace("jobs")
//!     .lease(Duration::from_secs(10))
//!     .connect()
//!     .await?;
//!
//! // Claims "job-7" on every node; refused (naming the holder) if taken.
//! let scope = jobs.enter("job-7".to_string()).await?;
//! let out = scope.run(async { 42 }).await; // raced against cancellation
//! assert_eq!(out, Ok(42));                 // the claim is deleted at once
//!
//! // From any node: the holder's token is cancelled with Cause::Requested.
//! jobs.cancel(&"job-8".to_string()).await?;
//! jobs.shutdown(Duration::from_secs(5)).await;
//! # Ok(()) }
//! ```
//!
//! # How it works
//!
//! - **Claim.** `enter` runs one script: if the key is free it takes a
//!   fencing token (`INCR`), and writes `node|scope|fence|since` with
//!   `PX lease`. The local lease clock starts *before* the script is sent.
//!   The returned [`Scope`](scoped_cancel::Scope) is an ordinary scope of a
//!   local [`Registry`](scoped_cancel::Registry), with an end hook
//!   ([`Scope::on_end`](scoped_cancel::Scope::on_end)): its end cancels the
//!   token first, then deletes the key only if it still holds this scope's
//!   value (compare-and-delete, sent by a background task).
//! - **Renewal.** Every `lease / 3`, one pipelined round of compare-and-
//!   extend scripts covers every held key. A key found lost cancels its
//!   scope. A scope whose last confirmed renewal was *sent* more than
//!   `lease − margin` ago is cancelled by the local clock, whether Redis is
//!   unreachable or the process was paused; Redis expires the key no
//!   earlier than `lease` after it *received* that renewal, so the old holder
//!   has stopped before another node can take the key, as long as clocks
//!   run at rates within `margin / lease` of each other (default margin:
//!   `lease / 5`, i.e. 20 %). Work that must be safe even then checks the
//!   [fencing token](ClusterRegistry::fence) at the resource.
//! - **Cancel.** `cancel` leaves a marker naming the holder's value (kept
//!   two leases) and publishes to the holder's node. Pub/sub is at most
//!   once; the marker is read by the holder's next renewal, so a lost
//!   message costs at most one renewal interval. Each resubscribe triggers a
//!   renewal round at once.
//! - **Redis restarted.** The connection is re-made on the next command. A
//!   key that survived (persistence on) still holds this scope's value, so
//!   renewal re-asserts it; a key that is gone cancels its scope
//!   ([`Cause::Parent`](scoped_cancel::Cause::Parent)). Scopes are never
//!   re-acquired behind the user's back: another node may have taken and
//!   released the key meanwhile, so the work may have run twice already,
//!   and its fencing token must change. The fence counter, if lost, starts
//!   again above the server's clock in microseconds, so it still grows.
//! - **Shutdown.** [`shutdown`](ClusterRegistry::shutdown) cancels and waits
//!   as a local registry does, then deletes this node's claims at once.
//!
//! # Causes
//!
//! | event | cause seen by the scope's token |
//! | --- | --- |
//! | `cancel(&key)` on any node | `Requested` |
//! | claim lost (deleted, taken, Redis restarted empty) or not renewed in time | `Parent` (the lease is the scope's parent) |
//! | `shutdown` | `Shutdown` |
//! | the scope's own end | `ScopeExited` / `Panicked`, as for any scope |
//!
//! # Why no `#[scoped_cancel(registry = ...)]`
//!
//! The attribute enters its scope synchronously and reports a refusal as a
//! [`Cancelled`](scoped_cancel::Cancelled) value. Entering a cluster key is
//! a network round trip that can also fail for reasons no cause names
//! (Redis unreachable, a timeout), so it is an `async` call with its own
//! error: use [`ClusterRegistry::run`] or [`ClusterRegistry::spawn`], which
//! enter, race the body against cancellation and end the scope.
//!
//! # Redis layout
//!
//! In namespace `ns`: `{ns}:k:<key>` (the claim, with a TTL),
//! `{ns}:x:<key>` (a pending cancel, TTL two leases), `{ns}:fence` (one
//! counter), channel `{ns}:cancel:<node>`. The `{ns}` hash tag keeps a
//! namespace in one Redis Cluster slot.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod builder;
mod error;
mod lease;
mod listen;
mod names;
mod registry;
mod release;
mod report;
mod scripts;

pub use builder::Builder;
pub use error::ClusterError;
pub use names::Holder;
pub use registry::{ClusterKey, ClusterRegistry, RunResult};
pub use report::ClusterScope;
