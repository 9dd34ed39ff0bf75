//! A cluster-wide [`scoped_cancel`] registry on Redis leases.
//!
//! [`ClusterRegistry<K>`] behaves like [`scoped_cancel::Registry<K>`] across
//! every process that shares a Redis server (or a Redis Cluster, with the
//! `redis-cluster` feature) and a namespace: a key has at most one live
//! scope in the cluster at a time (under the conditions in
//! [At most one at a time](#at-most-one-at-a-time-exactly-what-holds)),
//! any node can cancel it, and a node that crashes frees its keys when
//! their leases expire.
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
//! A cancel may carry a reason, which reaches the holder's node: its
//! token, the `Cancelled` its call returns and that node's reports show
//! it, as for a local [`Registry::cancel_with_reason`](scoped_cancel::Registry::cancel_with_reason).
//!
//! ```no_run
//! # async fn demo(jobs: scoped_cancel_redis::ClusterRegistry<String>) -> Result<(), Box<dyn std::error::Error>> {
//! // Node A: the job was entered on node B.
//! jobs.cancel_with_reason(&"export-7".to_string(), "user 42 deleted the report")
//!     .await?;
//!
//! // Node B, in the job's caller:
//! match jobs.run("export-7".to_string(), async { /* the export */ }).await? {
//!     Ok(()) => {}
//!     Err(cancelled) => eprintln!("export-7 stopped: {cancelled}"),
//!     // "cancelled: cancellation was requested (user 42 deleted the report)"
//! }
//! # Ok(()) }
//! ```
//!
//! # How it works
//!
//! - **Claim.** `enter` runs one script: if the key is free it takes a
//!   fencing token, and writes `node|scope|fence|since` with `PX lease`.
//!   The local lease clock starts *before* the script is sent. The script
//!   is sent by a task that always reads its reply, so an `enter` (or
//!   `run`) future dropped mid-way holds nothing: a claim made for it is
//!   deleted when the reply arrives. The returned
//!   [`Scope`](scoped_cancel::Scope) is an ordinary scope of a local
//!   [`Registry`](scoped_cancel::Registry), with an end hook
//!   ([`Scope::on_end`](scoped_cancel::Scope::on_end)): its end cancels the
//!   token first, then deletes the key only if it still holds this scope's
//!   value (compare-and-delete, sent by a background task).
//! - **Renewal.** Every `min(lease / 3, (lease − margin) / 2)`, one round
//!   of compare-and-extend scripts covers every held key. A key found lost
//!   cancels its scope. A scope whose last confirmed renewal was *sent*
//!   more than `lease − margin` ago is cancelled by the local clock,
//!   whether Redis is unreachable or the process was paused; Redis expires
//!   the key no earlier than `lease` after it *received* that renewal, so
//!   the old holder is cancelled before another node can take the key, as
//!   long as the clocks run at rates within `margin / lease` of each other
//!   (default margin: `lease / 5`, i.e. 20 %).
//! - **Fences.** Every grant raises the namespace's fence counter to at
//!   least the Redis server's clock in microseconds, then increments it:
//!   fences grow with every grant, also after Redis lost or rolled back the
//!   counter (a restart without persistence or from an older snapshot, an
//!   asynchronous replica promoted), as long as the server's clock does not
//!   step back. Work that must be safe whatever happens checks the
//!   [fencing token](ClusterRegistry::fence) at the resource.
//! - **Cancel.** `cancel` leaves a marker naming the holder's claim (kept
//!   two leases) and publishes to the holder's node. Pub/sub is at most
//!   once; the marker is read by the holder's next renewal, so a lost
//!   message costs at most one renewal interval. A marker never cancels a
//!   later holder of the key. Each resubscribe triggers a renewal round.
//! - **Reasons.** `cancel_with_reason` puts the reason in the marker, after
//!   the claim's value and a space, and at the end of the message, after
//!   the length-prefixed key: any text fits, and reasons over
//!   [`MAX_REASON_LEN`] bytes are cut. The holder's renewal reads the
//!   marker's reason with it. The first cancel of a holder wins, reason
//!   included: a marker already naming the holder is kept, and later
//!   cancels publish its reason, not theirs. A cancel asks Redis before it
//!   cancels a scope of its own node, which then gets the reason Redis
//!   kept. Nodes of the previous version hear such a cancel without its
//!   reason, and their own cancels may replace a pending one.
//! - **Redis restarted.** The connection is re-made on the next command. A
//!   key that survived (persistence on) still holds this scope's value, so
//!   renewal re-asserts it; a key that is gone cancels its scope
//!   ([`Cause::Parent`](scoped_cancel::Cause::Parent)). Scopes are never
//!   re-acquired behind the user's back: another node may have taken and
//!   released the key meanwhile, so the work may have run twice already,
//!   and its fencing token must change.
//! - **Shutdown.** [`shutdown`](ClusterRegistry::shutdown) cancels and waits
//!   as a local registry does; each claim is deleted as its scope ends.
//!   Stragglers keep their claims, renewed, until they end;
//!   [`shutdown_releasing`](ClusterRegistry::shutdown_releasing) deletes
//!   them at the deadline instead.
//!
//! # What a lease cannot promise
//!
//! A lease is a promise between two clocks, and some events break it
//! without either side seeing it in time. In each of these windows another
//! node may be granted a key while the old holder's scope is not yet
//! cancelled; only a [fencing token](ClusterRegistry::fence) checked at the
//! resource keeps the two apart:
//!
//! - **Redis expires keys by its wall clock.** A forward step of the Redis
//!   host's clock (NTP, a manual change) ends leases early; a large one
//!   frees every lease at once.
//! - **A suspended host's monotonic clock stops.** A node whose host is
//!   suspended (a laptop lid, a VM paused by its hypervisor) does not see
//!   the suspension on its clock, so on resuming it believes its leases run
//!   on, until its next renewal finds them lost. A `SIGSTOP`ped process is
//!   not affected: its clock keeps running, and it cancels first on waking.
//! - **A Redis restarted empty** (no persistence, or a failover to a
//!   replica that had not received the claim) has forgotten every claim:
//!   another node can claim a key before the old holder's next renewal
//!   finds its claim gone and cancels its scope (up to one renewal
//!   interval, plus that round's time).
//! - **Clock rates** further apart than `margin / lease`, and work that
//!   needs longer than the margin to stop once cancelled.
//!
//! # At most one at a time: exactly what holds
//!
//! What holds: while a key's claim exists in Redis, no other node's
//! `enter` for it succeeds; and a node's scope is cancelled (by its own
//! clock) no later than `lease − margin` after the sending of the last
//! renewal Redis confirmed, which is before Redis can expire the claim.
//! So at no moment do two nodes hold uncancelled scopes for one key,
//! outside the windows above. Stragglers of a shutdown keep their claims
//! until they end.
//!
//! What does not: that the work has *stopped* when its scope is cancelled
//! (it stops when it observes its token; the margin is its time to do so);
//! that a key runs only once over time (after a crash, an expiry or a lost
//! claim another node may run the same key again: "at most one at a time",
//! not "exactly once"); and anything across the windows above.
//!
//! # Causes
//!
//! | event | cause seen by the scope's token and by the `Cancelled` its call returns |
//! | --- | --- |
//! | `cancel(&key)` on any node | `Requested` |
//! | `cancel_with_reason(&key, reason)` on any node | `Requested`, with the reason |
//! | claim lost (deleted, taken, Redis restarted empty) or not renewed in time | `Parent` (the lease is the scope's parent, adopted from outside the scope tree, so the call reads `Parent` too) |
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
//! In namespace `ns`: `{ns}:k:<key>` (the claim `node|scope|fence|since`,
//! with a TTL), `{ns}:x:<key>` (a pending cancel: the claim it names, then
//! a space and the reason if one was given; TTL two leases), `{ns}:fence`
//! (one counter), channel `{ns}:cancel:<node>` (messages `claim len
//! lease-key[ reason]`, `len` the lease key's length in bytes). Every key starts with the hash
//! tag `{ns}` (which is why the namespace must not be empty), so a
//! namespace lives in one Redis Cluster slot and every script's keys are in
//! that slot.
//!
//! # Redis Cluster
//!
//! With the `redis-cluster` feature, `ClusterRegistry::builder_for_redis_cluster(nodes)`
//! connects to a Redis Cluster through any of its nodes: commands go to
//! the master of the namespace's slot and follow `MOVED`/`ASK` when the
//! slot moves; `report` scans that master; cancels are published there and
//! heard on a subscription to one of the given nodes (a cluster forwards
//! every published message to every node). A failover to a replica that
//! had not received a claim is a Redis restarted empty for that claim (see
//! above). Tested against a 3-master cluster, including a slot moved while
//! a claim is held. TLS (`rediss://`) is not offered yet.
//!
//! # Settings
//!
//! Durations of any size are accepted: a zero lease, a margin not shorter
//! than the lease or a zero command timeout are refused by `connect` with
//! [`ClusterError::InvalidSettings`]; anything over 100 years counts as
//! 100 years. The builder's `Debug` form hides the URL's password.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
// docs.rs (`--cfg docsrs`): label feature-gated items with their feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

// Layers, each using only those above it: `key`, `names`, `error`,
// `settings`, `identity`, `redact`, `reason` -> `scripts`, `conn` ->
// `release` -> `state` -> `claim`, `lease`, `listen` -> `registry` ->
// `cancel`, `report`, `builder`.
mod builder;
mod cancel;
mod claim;
mod conn;
mod error;
mod identity;
mod key;
mod lease;
mod listen;
mod names;
mod reason;
mod redact;
mod registry;
mod release;
mod report;
mod scripts;
mod settings;
mod state;

pub use builder::Builder;
pub use error::ClusterError;
pub use key::ClusterKey;
pub use names::Holder;
pub use reason::MAX_REASON_LEN;
pub use registry::{ClusterRegistry, RunResult};
pub use report::ClusterScope;
