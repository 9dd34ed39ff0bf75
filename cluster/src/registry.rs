//! `ClusterRegistry<K>`: enter, cancel, fence, run, shutdown.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use scoped_cancel::{Cancelled, Cause, Key, Registry, Scope, ShutdownReport};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;
use tokio::time::{timeout, Instant};

use crate::builder::Builder;
use crate::error::ClusterError;
use crate::names::{Holder, Names};
use crate::release::{self, Release};
use crate::scripts::Scripts;

/// What a cluster key must be: a registry [`Key`] whose `Display` form
/// names it in Redis (equal keys must display alike on every node).
pub trait ClusterKey: Key + fmt::Display {}

impl<K: Key + fmt::Display> ClusterKey for K {}

/// What [`ClusterRegistry::run`] returns: the claim's outcome outside, the
/// body's race against cancellation inside.
pub type RunResult<T, K> = Result<Result<T, Cancelled>, ClusterError<K>>;

/// A registry of scopes whose keys are exclusive across every process that
/// shares a Redis server and a namespace. See the [crate docs](crate).
pub struct ClusterRegistry<K: ClusterKey> {
    pub(crate) inner: Arc<Inner<K>>,
}

impl<K: ClusterKey> Clone for ClusterRegistry<K> {
    fn clone(&self) -> Self {
        ClusterRegistry {
            inner: self.inner.clone(),
        }
    }
}

/// One key this node holds.
pub(crate) struct Held<K> {
    pub(crate) key: K,
    pub(crate) value: Arc<str>,
    pub(crate) fence: u64,
    /// Local lease end: when the last confirmed claim or renewal was sent,
    /// plus lease, minus margin.
    pub(crate) expires: Instant,
    /// The scope's parent, standing for the lease: cancelled (the scope
    /// sees [`Cause::Parent`]) when the lease is lost. `None` once lost.
    pub(crate) lease: Option<Scope>,
}

pub(crate) struct Inner<K> {
    pub(crate) names: Names,
    pub(crate) node: String,
    pub(crate) lease: Duration,
    pub(crate) margin: Duration,
    pub(crate) timeout: Duration,
    pub(crate) client: redis::Client,
    pub(crate) conn: ConnectionManager,
    pub(crate) scripts: Arc<Scripts>,
    pub(crate) local: Registry<K>,
    pub(crate) held: Mutex<HashMap<String, Held<K>>>,
    seq: AtomicU64,
    releases: mpsc::UnboundedSender<Release>,
    /// Lease keys with a release queued and not yet sent.
    pending: Arc<release::Pending>,
    pub(crate) kick: Arc<Notify>,
    refusing: AtomicBool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
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

impl<K: ClusterKey> Inner<K> {
    pub(crate) fn held(&self) -> MutexGuard<'_, HashMap<String, Held<K>>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The local lease end for a claim or renewal sent at `sent`.
    pub(crate) fn expiry_from(&self, sent: Instant) -> Instant {
        sent + self.lease - self.margin
    }

    /// The scope's guard dropped: forget the key and delete it in Redis if
    /// it still holds this scope's value (by its `node|scope|` prefix).
    fn release(&self, rkey: &str, value: &Arc<str>) {
        let lease = {
            let mut held = self.held();
            match held.get(rkey) {
                Some(h) if Arc::ptr_eq(&h.value, value) => held.remove(rkey).and_then(|h| h.lease),
                _ => None,
            }
        };
        drop(lease);
        self.send_release(rkey.to_owned(), claim_prefix(value));
    }

    fn send_release(&self, rkey: String, prefix: String) {
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
    async fn flush_releases(&self) {
        let (tx, rx) = oneshot::channel();
        if self.releases.send(Release::Flush(tx)).is_ok() {
            let _ = timeout(self.timeout, rx).await;
        }
    }

    /// Cancels the local scope holding `rkey` with [`Cause::Requested`] if
    /// its value is still `value`. `true` if it did.
    pub(crate) fn cancel_local(&self, rkey: &str, value: Option<&str>) -> bool {
        let key = {
            let held = self.held();
            match held.get(rkey) {
                Some(h) if h.lease.is_some() && value.is_none_or(|v| *h.value == *v) => {
                    h.key.clone()
                }
                _ => return false,
            }
        };
        self.local.cancel(&key);
        true
    }
}

/// `node|scope|`: unique to one scope, known before Redis adds the fence.
fn claim_prefix(value: &str) -> String {
    let mut parts = value.splitn(3, '|');
    let node = parts.next().unwrap_or_default();
    let scope = parts.next().unwrap_or_default();
    format!("{node}|{scope}|")
}

fn node_id(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut random = std::collections::hash_map::RandomState::new().build_hasher();
    random.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!(
        "{clean}-{}-{:08x}",
        std::process::id(),
        random.finish() as u32
    )
}

impl<K: ClusterKey> ClusterRegistry<K> {
    /// Settings for a registry on the Redis server at `url`
    /// (`redis://127.0.0.1:6379/`).
    pub fn builder(url: &str) -> Builder<K> {
        Builder::new(url)
    }

    pub(crate) async fn connect(b: Builder<K>) -> Result<Self, ClusterError<K>> {
        let lease = b.lease;
        let margin = b.margin.unwrap_or(lease / 5).min(lease / 2);
        let command_timeout = b.timeout.unwrap_or((lease / 2).min(Duration::from_secs(5)));
        let client = redis::Client::open(b.url.as_str())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(command_timeout))
            .set_response_timeout(Some(command_timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(200));
        let conn = timeout(
            command_timeout * 2,
            ConnectionManager::new_with_config(client.clone(), config),
        )
        .await
        .map_err(|_| ClusterError::Timeout)??;
        let names = Names::new(&b.namespace);
        let node = node_id(&b.node_name);
        let scripts = Arc::new(Scripts::new());
        let (releases, queue) = mpsc::unbounded_channel();
        let pending = Arc::new(release::Pending::default());
        let subscription = if b.pubsub {
            Some(crate::listen::subscribe(&client, &names, &node, command_timeout).await?)
        } else {
            None
        };
        let inner = Arc::new(Inner {
            names,
            node,
            lease,
            margin,
            timeout: command_timeout,
            client,
            conn: conn.clone(),
            scripts: scripts.clone(),
            local: Registry::new(),
            held: Mutex::new(HashMap::new()),
            seq: AtomicU64::new(1),
            releases,
            pending: pending.clone(),
            kick: Arc::new(Notify::new()),
            refusing: AtomicBool::new(false),
            tasks: Mutex::new(Vec::new()),
        });
        let mut tasks = vec![
            tokio::spawn(release::worker(conn, scripts, queue, pending)),
            tokio::spawn(crate::lease::renew_loop(Arc::downgrade(&inner))),
        ];
        if let Some(sub) = subscription {
            tasks.push(tokio::spawn(crate::listen::listen(
                Arc::downgrade(&inner),
                sub,
            )));
        }
        *inner.tasks.lock().unwrap_or_else(PoisonError::into_inner) = tasks;
        Ok(ClusterRegistry { inner })
    }

    /// This node's id, as [`Holder::node`] shows it on every node.
    pub fn node_id(&self) -> &str {
        &self.inner.node
    }

    /// The lease length.
    pub fn lease(&self) -> Duration {
        self.inner.lease
    }

    /// How long before the lease a node that cannot renew cancels its scopes.
    pub fn margin(&self) -> Duration {
        self.inner.margin
    }

    /// Claims `key` cluster-wide and returns a local [`Scope`] for it.
    ///
    /// Refused with [`ClusterError::KeyOccupied`] (naming the holder) when
    /// any node holds the key. The scope's end cancels its token first, then
    /// deletes the claim only if it is still this scope's. While it lives:
    ///
    /// | event | the scope's token |
    /// | --- | --- |
    /// | [`cancel`](Self::cancel) from any node | [`Cause::Requested`] (at once by pub/sub, else at the next renewal) |
    /// | claim found lost at renewal (deleted, taken, Redis restarted empty) | [`Cause::Parent`]: the lease is the scope's parent |
    /// | no renewal confirmed by `sent + lease − margin` (local clock) | [`Cause::Parent`] |
    /// | [`shutdown`](Self::shutdown) | [`Cause::Shutdown`] |
    ///
    /// A cancelled scope keeps its key until its guard drops.
    pub async fn enter(&self, key: K) -> Result<Scope, ClusterError<K>> {
        let inner = &self.inner;
        let text = key.to_string();
        let rkey = inner.names.lease(&text);
        let mut attempt = 0;
        loop {
            attempt += 1;
            if inner.refusing.load(Ordering::SeqCst) {
                return Err(ClusterError::ShuttingDown { key });
            }
            let lease = Scope::root_named("ClusterRegistry lease");
            let scope = match inner.local.enter_child(key.clone(), &lease.token()) {
                Ok(scope) => scope,
                Err(e) if e.cause() == Cause::ShuttingDown => {
                    return Err(ClusterError::ShuttingDown { key })
                }
                Err(_) => {
                    let holder = inner
                        .held()
                        .get(&rkey)
                        .and_then(|h| Holder::parse(&h.value));
                    return match holder {
                        Some(holder) => Err(ClusterError::KeyOccupied { key, holder }),
                        // Between a guard's end and its hook: try again.
                        None if attempt < 3 => {
                            tokio::task::yield_now().await;
                            continue;
                        }
                        None => Err(ClusterError::Protocol(format!(
                            "key {key:?} held locally without a claim"
                        ))),
                    };
                }
            };
            // This node's previous scope on the key ended a moment ago: let
            // its delete land first rather than be refused by it.
            if inner.pending.contains(&rkey) {
                inner.flush_releases().await;
            }
            let seq = inner.seq.fetch_add(1, Ordering::Relaxed);
            let claim = format!("{}|{seq}", inner.node);
            let sent = Instant::now();
            let mut conn = inner.conn.clone();
            let mut call = inner.scripts.acquire.prepare_invoke();
            call.key(&rkey)
                .key(inner.names.fence())
                .arg(&claim)
                .arg(inner.lease.as_millis() as u64);
            let reply = timeout(inner.timeout, call.invoke_async::<(i64, String)>(&mut conn)).await;
            let (won, value) = match reply {
                Ok(Ok(reply)) => reply,
                failed => {
                    drop(scope);
                    // The claim may have been made: delete it if so.
                    inner.send_release(rkey, format!("{claim}|"));
                    return Err(match failed {
                        Ok(Err(e)) => ClusterError::Redis(e),
                        _ => ClusterError::Timeout,
                    });
                }
            };
            let Some(holder) = Holder::parse(&value) else {
                return Err(ClusterError::Protocol(format!("{rkey} = {value:?}")));
            };
            if won != 1 {
                drop(scope);
                // Our own node's claim with no local scope: a release on its
                // way to Redis. Let it land, then try again.
                if holder.node() == inner.node && attempt < 3 {
                    inner.flush_releases().await;
                    continue;
                }
                return Err(ClusterError::KeyOccupied { key, holder });
            }
            let value: Arc<str> = value.into();
            inner.held().insert(
                rkey.clone(),
                Held {
                    key,
                    value: value.clone(),
                    fence: holder.fence(),
                    expires: inner.expiry_from(sent),
                    lease: Some(lease),
                },
            );
            let hook = self.inner.clone();
            return Ok(scope.on_end(move || hook.release(&rkey, &value)));
        }
    }

    /// Enters `key`, runs `fut` raced against the scope's cancellation, and
    /// ends the scope (deleting the claim) when `fut` finishes or the
    /// returned future is dropped.
    ///
    /// `#[scoped_cancel(registry = CLUSTER, key = id)]` does not take a
    /// `ClusterRegistry`: the attribute enters synchronously and turns a
    /// refusal into a [`Cancelled`] value, while entering here is a network
    /// round trip that can also fail for reasons no [`Cause`] names (Redis
    /// unreachable). `run` keeps both visible: the outer `Result` is the
    /// claim, the inner one the body's race against cancellation.
    pub async fn run<F: Future>(&self, key: K, fut: F) -> RunResult<F::Output, K> {
        let scope = self.enter(key).await?;
        Ok(scope.run(fut).await)
    }

    /// [`run`](Self::run) on a new tokio task.
    pub fn spawn<F>(&self, key: K, fut: F) -> JoinHandle<RunResult<F::Output, K>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let this = self.clone();
        tokio::spawn(async move { this.run(key, fut).await })
    }

    /// Cancels the holder of `key`, on whichever node it lives, with
    /// [`Cause::Requested`]. `Ok(false)` if nobody holds it.
    ///
    /// The holder's node is told by pub/sub (at most once), and a cancel
    /// marker naming the holder (kept for two leases) is read at its next
    /// renewal, so the cancel arrives within one renewal interval
    /// (`lease / 3`) even when the message is lost.
    pub async fn cancel(&self, key: &K) -> Result<bool, ClusterError<K>> {
        let inner = &self.inner;
        let text = key.to_string();
        let rkey = inner.names.lease(&text);
        // A local holder is cancelled at once; Redis is asked all the same,
        // since it, not this node's view, says who holds the key (after a
        // restart without persistence another node may hold it already).
        let local = inner.cancel_local(&rkey, None);
        let mut conn = inner.conn.clone();
        let mut call = inner.scripts.cancel.prepare_invoke();
        call.key(&rkey)
            .key(inner.names.marker(&text))
            .arg((inner.lease * 2).as_millis() as u64)
            .arg(inner.names.channel_prefix());
        let holder = timeout(
            inner.timeout,
            call.invoke_async::<Option<String>>(&mut conn),
        )
        .await
        .map_err(|_| ClusterError::Timeout)??;
        Ok(local || holder.is_some())
    }

    /// The fencing token of this node's live claim on `key`: a number that
    /// grows with every grant of any key in the namespace. Pass it to a
    /// resource that rejects numbers lower than the highest it has seen, so
    /// that a holder paused past its lease cannot act after its successor.
    pub fn fence(&self, key: &K) -> Option<u64> {
        let rkey = self.inner.names.lease(&key.to_string());
        let held = self.inner.held();
        held.get(&rkey)
            .filter(|h| h.lease.is_some())
            .map(|h| h.fence)
    }

    /// `true` while this node holds `key` by its own clock: claimed, not
    /// found lost, and the last confirmed renewal's local lease not over.
    pub fn holds(&self, key: &K) -> bool {
        let rkey = self.inner.names.lease(&key.to_string());
        let held = self.inner.held();
        held.get(&rkey)
            .is_some_and(|h| h.lease.is_some() && h.expires > Instant::now())
    }

    /// How many keys this node holds (its live claims).
    pub fn len(&self) -> usize {
        self.inner
            .held()
            .values()
            .filter(|h| h.lease.is_some())
            .count()
    }

    /// `true` when this node holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Shuts this node's side down within `grace`: refuses new entries,
    /// cancels every local scope with [`Cause::Shutdown`], waits for them
    /// (as [`Registry::shutdown`] does), then stops renewing and deletes
    /// every claim this node still has at once, so other nodes can take the
    /// keys without waiting for leases to expire. Stragglers still alive
    /// then are in the report, already cancelled.
    pub async fn shutdown(&self, grace: Duration) -> ShutdownReport<K> {
        let inner = &self.inner;
        inner.refusing.store(true, Ordering::SeqCst);
        let report = inner.local.shutdown(grace).await;
        // The release worker (first) stays: it has the last deletes to send.
        for task in inner
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .skip(1)
        {
            task.abort();
        }
        let rest: Vec<(String, Held<K>)> = inner.held().drain().collect();
        for (rkey, held) in rest {
            inner.send_release(rkey, claim_prefix(&held.value));
        }
        inner.flush_releases().await;
        report
    }
}

impl<K: ClusterKey> fmt::Debug for ClusterRegistry<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterRegistry")
            .field("node", &self.inner.node)
            .field("lease", &self.inner.lease)
            .field("margin", &self.inner.margin)
            .field("held", &self.len())
            .finish()
    }
}
