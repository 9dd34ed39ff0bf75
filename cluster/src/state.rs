//! What a registry shares with its background tasks: the keys this node
//! holds, its settings and its connection, and the few operations on them
//! that the API, the claim, renewal and listener tasks all use.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use scoped_cancel::tokio_util::sync::CancellationToken;
use scoped_cancel::{Registry, Scope, Token};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;
use tokio::time::{timeout, timeout_at, Instant};

use crate::conn::Conn;
use crate::key::ClusterKey;
use crate::names::Names;
use crate::release::{Pending, Release};
use crate::scripts::Scripts;
use crate::settings::{Settings, FAR};

/// One key this node holds.
pub(crate) struct Held<K> {
    pub(crate) key: K,
    pub(crate) value: Arc<str>,
    pub(crate) fence: u64,
    /// Local lease end: when the last confirmed claim or renewal was sent,
    /// plus lease, minus margin.
    pub(crate) expires: Instant,
    /// The scope's parent, standing for the lease: dropped (the scope sees
    /// `Cause::Parent`) when the lease is lost. `None` once lost.
    pub(crate) lease: Option<Lease>,
}

/// The parent of a held key's scope, standing for its claim: dropping it
/// cancels the scope with `Cause::Parent`.
///
/// It is adopted from a token of its own, which its drop cancels first: a
/// cancel from outside the scope tree is what a `Cancelled` reports as
/// `Parent`. A plain parent scope would end with `ScopeExited`, and the
/// scope's call would return that (the root cause) for a lost claim.
pub(crate) struct Lease {
    source: CancellationToken,
    scope: Scope,
}

impl Lease {
    pub(crate) fn new() -> Lease {
        let source = CancellationToken::new();
        let scope = Token::adopt(&source).into_scope();
        Lease { source, scope }
    }

    pub(crate) fn scope(&self) -> &Scope {
        &self.scope
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.source.cancel();
    }
}

pub(crate) struct Inner<K> {
    pub(crate) names: Names,
    pub(crate) node: String,
    pub(crate) settings: Settings,
    /// Where to subscribe for cancels, tried in turn.
    pub(crate) pubsub_urls: Vec<String>,
    pub(crate) conn: Conn,
    pub(crate) scripts: Arc<Scripts>,
    pub(crate) local: Registry<K>,
    pub(crate) held: Mutex<HashMap<String, Held<K>>>,
    pub(crate) seq: AtomicU64,
    pub(crate) releases: mpsc::UnboundedSender<Release>,
    /// Lease keys with a release queued and not yet sent.
    pub(crate) pending: Arc<Pending>,
    /// Wakes the renew loop for a round at once.
    pub(crate) kick: Arc<Notify>,
    /// Set when `shutdown` starts: no new claim is kept.
    pub(crate) refusing: AtomicBool,
    /// Set when `shutdown` has waited: renewal goes on only until the
    /// stragglers' claims are released.
    pub(crate) draining: AtomicBool,
    /// Told whenever a scope's end released its claim.
    pub(crate) released: Notify,
    /// The release worker first, then renewal and the listener.
    pub(crate) tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl<K> Drop for Inner<K> {
    fn drop(&mut self) {
        // The release worker (first) is left to drain its queue: it ends
        // when `releases`, dropped with `self`, is closed.
        let tasks = self.tasks.get_mut().unwrap_or_else(PoisonError::into_inner);
        for task in tasks.drain(..).skip(1) {
            task.abort();
        }
    }
}

/// `at + span`, or 100 years from `at` when that cannot be represented.
pub(crate) fn later(at: Instant, span: Duration) -> Instant {
    at.checked_add(span)
        .or_else(|| at.checked_add(FAR))
        .unwrap_or(at)
}

/// `node|scope|`: unique to one scope, known before Redis adds the fence.
pub(crate) fn claim_prefix(value: &str) -> String {
    let mut parts = value.splitn(3, '|');
    let node = parts.next().unwrap_or_default();
    let scope = parts.next().unwrap_or_default();
    format!("{node}|{scope}|")
}

impl<K: ClusterKey> Inner<K> {
    pub(crate) fn held(&self) -> MutexGuard<'_, HashMap<String, Held<K>>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The local lease end for a claim or renewal sent at `sent`.
    pub(crate) fn expiry_from(&self, sent: Instant) -> Instant {
        later(sent, self.settings.lease - self.settings.margin)
    }

    /// The scope's guard dropped: forget the key and delete it in Redis if
    /// it still holds this scope's value (by its `node|scope|` prefix).
    pub(crate) fn release(&self, rkey: &str, value: &Arc<str>) {
        let (lease, last) = {
            let mut held = self.held();
            let lease = match held.get(rkey) {
                Some(h) if Arc::ptr_eq(&h.value, value) => held.remove(rkey).and_then(|h| h.lease),
                _ => None,
            };
            // Queued under the lock: whoever sees the key gone from `held`
            // (a shutdown's flush, an `enter` of the same key) also sees
            // its delete pending.
            self.send_release(rkey.to_owned(), claim_prefix(value));
            (lease, held.is_empty())
        };
        drop(lease);
        self.released.notify_waiters();
        // After a shutdown, renewal runs only for the stragglers.
        if last && self.draining.load(std::sync::atomic::Ordering::SeqCst) {
            self.stop_renewing();
        }
    }

    /// Waits (at most the command timeout) until every held key is one of
    /// `keep`: a scope's end hook runs just after the local registry saw
    /// it end, so a shutdown may see the scope gone before its release.
    pub(crate) async fn settle(&self, keep: &HashSet<String>) {
        let deadline = later(Instant::now(), self.settings.timeout);
        loop {
            let notified = self.released.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.held().keys().all(|k| keep.contains(k)) {
                return;
            }
            if timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }

    /// Stops renewal and the listener; the release worker stays.
    pub(crate) fn stop_renewing(&self) {
        let tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        for task in tasks.iter().skip(1) {
            task.abort();
        }
    }

    /// Queues a compare-and-delete of `rkey` if its value starts with
    /// `prefix`.
    pub(crate) fn send_release(&self, rkey: String, prefix: String) {
        // Fails only once the worker is gone with the runtime; the lease
        // then expires on its own.
        self.pending.add(&rkey);
        if self
            .releases
            .send(Release::Key(rkey.clone(), prefix))
            .is_err()
        {
            self.pending.remove(&rkey);
        }
    }

    /// Waits until every release queued so far reached Redis (or failed).
    pub(crate) async fn flush_releases(&self) {
        let (tx, rx) = oneshot::channel();
        if self.releases.send(Release::Flush(tx)).is_ok() {
            let _ = timeout(self.settings.timeout, rx).await;
        }
    }

    /// Cancels the local scope holding `rkey` with `Cause::Requested` (and
    /// `reason`) if its value is still `value` (any value when `None`).
    /// `true` if there was such a scope, whether or not it was cancelled
    /// already.
    pub(crate) fn cancel_local(
        &self,
        rkey: &str,
        value: Option<&str>,
        reason: Option<Arc<str>>,
    ) -> bool {
        let key = {
            let held = self.held();
            match held.get(rkey) {
                Some(h) if h.lease.is_some() && value.is_none_or(|v| *h.value == *v) => {
                    h.key.clone()
                }
                _ => return false,
            }
        };
        self.cancel_key(&key, reason);
        true
    }

    /// Cancels the local scope of `key` with `Cause::Requested` and
    /// `reason`. The first cancel wins, reason included.
    pub(crate) fn cancel_key(&self, key: &K, reason: Option<Arc<str>>) {
        match reason {
            Some(reason) => self.local.cancel_with_reason(key, reason),
            None => self.local.cancel(key),
        };
    }
}
