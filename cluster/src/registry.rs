//! `ClusterRegistry<K>`: connect, enter, cancel, fence, run, shutdown.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use scoped_cancel::{Cancelled, Cause, Registry, Scope, ShutdownReport};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tokio::time::{timeout, Instant};

use crate::claim::Claim;
use crate::conn::{self, Endpoints};
use crate::error::ClusterError;
use crate::key::ClusterKey;
use crate::names::{Holder, Names};
use crate::release::{self, Pending};
use crate::scripts::Scripts;
use crate::settings::Settings;
use crate::state::{claim_prefix, Held, Inner, Lease};

/// What [`ClusterRegistry::run`] returns: the claim's outcome outside, the
/// body's race against cancellation inside.
pub type RunResult<T, K> = Result<Result<T, Cancelled>, ClusterError<K>>;

/// A registry of scopes whose keys are exclusive across every process that
/// shares a Redis server (or Redis Cluster) and a namespace. See the
/// [crate docs](crate).
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

/// What a checked builder hands to [`ClusterRegistry::connect`].
pub(crate) struct Config {
    pub(crate) endpoints: Endpoints,
    pub(crate) settings: Settings,
    pub(crate) pubsub: bool,
    pub(crate) node_name: String,
}

impl<K: ClusterKey> ClusterRegistry<K> {
    pub(crate) async fn connect(config: Config) -> Result<Self, ClusterError<K>> {
        let Config {
            endpoints,
            settings,
            pubsub,
            node_name,
        } = config;
        let limit = settings.timeout;
        let replies = settings.lease;
        let conn = timeout(
            limit.saturating_mul(2),
            conn::connect(&endpoints, limit, replies),
        )
        .await
        .map_err(|_| ClusterError::Timeout)??;
        let names = Names::new(&settings.namespace);
        let node = crate::identity::node_id(&node_name)
            .map_err(|e| ClusterError::NoRandomness(e.to_string()))?;
        let scripts = Arc::new(Scripts::new());
        let (releases, queue) = mpsc::unbounded_channel();
        let pending = Arc::new(Pending::default());
        let pubsub_urls = endpoints.urls().to_vec();
        let subscription = if pubsub {
            let channel = names.channel(&node);
            Some(crate::listen::subscribe_any(&pubsub_urls, 0, &channel, limit).await?)
        } else {
            None
        };
        let inner = Arc::new(Inner {
            names,
            node,
            settings,
            pubsub_urls,
            conn: conn.clone(),
            scripts: scripts.clone(),
            local: Registry::new(),
            held: Mutex::new(HashMap::new()),
            seq: AtomicU64::new(1),
            releases,
            pending: pending.clone(),
            kick: Arc::new(Notify::new()),
            refusing: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            released: Notify::new(),
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

    /// This node's id, as [`Holder::node`] shows it on every node: the
    /// node name and 128 random bits.
    pub fn node_id(&self) -> &str {
        &self.inner.node
    }

    /// The lease length (as checked: whole milliseconds, at most 100 years).
    pub fn lease(&self) -> Duration {
        self.inner.settings.lease
    }

    /// How long before the lease a node that cannot renew cancels its scopes.
    pub fn margin(&self) -> Duration {
        self.inner.settings.margin
    }

    /// How often held keys are renewed: `min(lease / 3, (lease − margin) / 2)`.
    pub fn renewal_interval(&self) -> Duration {
        self.inner.settings.renew_every
    }

    /// Claims `key` cluster-wide and returns a local [`Scope`] for it.
    ///
    /// Refused with [`ClusterError::KeyOccupied`] (naming the holder) when
    /// any node holds the key. The scope's end cancels its token first, then
    /// deletes the claim only if it is still this scope's. While it lives:
    ///
    /// | event | the scope's token (and the [`Cancelled`] of its call) |
    /// | --- | --- |
    /// | [`cancel`](Self::cancel) from any node | [`Cause::Requested`] (at once by pub/sub, else at the next renewal) |
    /// | [`cancel_with_reason`](Self::cancel_with_reason) from any node | [`Cause::Requested`], with the reason |
    /// | claim found lost at renewal (deleted, taken, Redis restarted empty) | [`Cause::Parent`]: the lease is the scope's parent |
    /// | no renewal confirmed by `sent + lease − margin` (local clock) | [`Cause::Parent`] |
    /// | [`shutdown`](Self::shutdown) | [`Cause::Shutdown`] |
    ///
    /// A cancelled scope keeps its key until its guard drops. Dropping the
    /// returned future before it completes (a timeout, a lost `select!`
    /// branch) holds nothing: a claim Redis made for it is deleted as soon
    /// as its reply arrives.
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
            let lease = Lease::new();
            let scope = match Scope::builder()
                .name("ClusterRegistry::enter")
                .parent(lease.scope())
                .enter(&inner.local, key.clone())
            {
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
            let sent = Instant::now();
            let mut call = Claim::new(inner, rkey.clone(), format!("{}|{seq}", inner.node));
            // On a timeout `call` drops unfinished: it reads the late reply
            // on a task of its own and deletes what the claim got.
            let reply = timeout(inner.settings.timeout, &mut call).await;
            drop(call);
            let value = match reply {
                Ok(Ok((1, value))) => value,
                Ok(Ok((_, value))) => {
                    drop(scope);
                    let Some(holder) = Holder::parse(&value) else {
                        return Err(ClusterError::Protocol(format!("{rkey} = {value:?}")));
                    };
                    // Our own node's claim with no local scope: a release on
                    // its way to Redis. Let it land, then try again.
                    if holder.node() == inner.node && attempt < 3 {
                        inner.flush_releases().await;
                        continue;
                    }
                    return Err(ClusterError::KeyOccupied { key, holder });
                }
                Ok(Err(e)) => return Err(ClusterError::Redis(e)),
                Err(_) => return Err(ClusterError::Timeout),
            };
            let mut held = inner.held();
            // Checked under the lock `shutdown` takes to see what is left:
            // a claim granted after it started is not kept.
            if inner.refusing.load(Ordering::SeqCst) {
                drop(held);
                inner.send_release(rkey, claim_prefix(&value));
                return Err(ClusterError::ShuttingDown { key });
            }
            let value: Arc<str> = value.into();
            let Some(holder) = Holder::parse(&value) else {
                drop(held);
                inner.send_release(rkey.clone(), claim_prefix(&value));
                return Err(ClusterError::Protocol(format!("{rkey} = {value:?}")));
            };
            held.insert(
                rkey.clone(),
                Held {
                    key,
                    value: value.clone(),
                    fence: holder.fence(),
                    expires: inner.expiry_from(sent),
                    lease: Some(lease),
                },
            );
            drop(held);
            let hook = self.inner.clone();
            return Ok(scope.on_end(move || hook.release(&rkey, &value)));
        }
    }

    /// Enters `key`, runs `fut` raced against the scope's cancellation, and
    /// ends the scope (deleting the claim) when `fut` finishes or the
    /// returned future is dropped (during the claim too).
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

    /// The fencing token of this node's live claim on `key`: a number that
    /// grows with every grant of any key in the namespace, also across a
    /// Redis restart or rollback (see the [crate docs](crate#what-a-lease-cannot-promise)).
    /// Pass it to a resource that rejects numbers lower than the highest it
    /// has seen, so that a holder paused past its lease cannot act after
    /// its successor.
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
    /// cancels every local scope with [`Cause::Shutdown`] and waits for
    /// them (as [`Registry::shutdown`] does); each claim is deleted as its
    /// scope ends, so other nodes can take the keys at once.
    ///
    /// Stragglers (scopes still running at the deadline, already
    /// cancelled) are in the report, and their claims stay: they are
    /// renewed until each scope ends, so no other node starts a key this
    /// one still runs. [`shutdown_releasing`](Self::shutdown_releasing)
    /// deletes them at the deadline instead. `Duration::MAX` waits for
    /// every scope, however long.
    pub async fn shutdown(&self, grace: Duration) -> ShutdownReport<K> {
        self.shut_down(grace, false).await
    }

    /// [`shutdown`](Self::shutdown), but the stragglers' claims are deleted
    /// at the deadline too: another node may then start a key while a
    /// straggler here still runs it. For a process about to exit, whose
    /// stragglers end with it.
    pub async fn shutdown_releasing(&self, grace: Duration) -> ShutdownReport<K> {
        self.shut_down(grace, true).await
    }

    async fn shut_down(&self, grace: Duration, release: bool) -> ShutdownReport<K> {
        let inner = &self.inner;
        inner.refusing.store(true, Ordering::SeqCst);
        let report = inner.local.shutdown(grace).await;
        let stragglers: HashSet<String> = report
            .stragglers()
            .iter()
            .map(|s| inner.names.lease(&s.key().to_string()))
            .collect();
        inner.settle(&stragglers).await;
        inner.draining.store(true, Ordering::SeqCst);
        let stragglers: Vec<(String, Held<K>)> = {
            let mut held = inner.held();
            if release {
                held.drain().collect()
            } else {
                Vec::new()
            }
        };
        let none_left = inner.held().is_empty();
        for (rkey, held) in stragglers {
            inner.send_release(rkey, claim_prefix(&held.value));
        }
        if none_left {
            inner.stop_renewing();
        }
        inner.flush_releases().await;
        report
    }
}

impl<K: ClusterKey> fmt::Debug for ClusterRegistry<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterRegistry")
            .field("node", &self.inner.node)
            .field("lease", &self.inner.settings.lease)
            .field("margin", &self.inner.settings.margin)
            .field("held", &self.len())
            .finish()
    }
}
