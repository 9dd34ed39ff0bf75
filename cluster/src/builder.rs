//! `ClusterRegistry::builder(url)...connect()`.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use crate::conn::Endpoints;
use crate::error::ClusterError;
use crate::key::ClusterKey;
use crate::redact::redact;
use crate::registry::{ClusterRegistry, Config};
use crate::settings::{Asked, Settings};

/// Settings for [`ClusterRegistry`]; made by [`ClusterRegistry::builder`].
/// Its `Debug` form hides the URL's password.
#[derive(Clone)]
#[must_use = "call .connect().await"]
pub struct Builder<K> {
    endpoints: Endpoints,
    namespace: String,
    lease: Duration,
    margin: Option<Duration>,
    timeout: Option<Duration>,
    pubsub: bool,
    node_name: String,
    _key: PhantomData<fn() -> K>,
}

impl<K: ClusterKey> ClusterRegistry<K> {
    /// Settings for a registry on the Redis server at `url`
    /// (`redis://127.0.0.1:6379/`).
    pub fn builder(url: &str) -> Builder<K> {
        Builder::new(Endpoints::Server(url.to_owned()))
    }

    /// Settings for a registry on a Redis Cluster, given the URLs of some
    /// of its nodes (the others are discovered). The client follows
    /// `MOVED`/`ASK` redirections, so a namespace keeps working while its
    /// slot moves. Cancels are published on the namespace's slot and heard
    /// on a subscription to one of `nodes` (in a Redis Cluster a message
    /// published on any node reaches every node).
    #[cfg(feature = "redis-cluster")]
    pub fn builder_for_redis_cluster<I, S>(nodes: I) -> Builder<K>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Builder::new(Endpoints::Cluster(
            nodes.into_iter().map(Into::into).collect(),
        ))
    }
}

impl<K: ClusterKey> Builder<K> {
    fn new(endpoints: Endpoints) -> Builder<K> {
        Builder {
            endpoints,
            namespace: "scoped-cancel".to_owned(),
            lease: Duration::from_secs(10),
            margin: None,
            timeout: None,
            pubsub: true,
            node_name: String::new(),
            _key: PhantomData,
        }
    }

    /// The prefix of every Redis name this registry uses (default
    /// `scoped-cancel`). Nodes that share a namespace share keys. It is
    /// the hash tag of every name (without any `}`), so it must not be
    /// empty.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// How long a claim lives in Redis without renewal (default 10 s).
    /// Rounded up to whole milliseconds (Redis counts in ms); at least
    /// 1 ms (`connect` refuses less); longer than 100 years counts as 100
    /// years. Held keys are renewed every `lease / 3` (more often when the
    /// margin is over a third of the lease: see [`margin`](Self::margin)).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How much earlier than the lease a node that could not renew cancels
    /// its scopes, by its own clock (default `lease / 5`). It covers clock
    /// rate differences between this host and Redis, and the time the
    /// cancelled work needs to stop. `connect` refuses a margin not
    /// shorter than the lease (by 1 ms at least). Renewal runs at least
    /// twice per `lease − margin`.
    pub fn margin(mut self, margin: Duration) -> Self {
        self.margin = Some(margin);
        self
    }

    /// How long `connect`, `enter`, `cancel` and `report` wait for Redis
    /// (default `lease / 2`, at most 5 s). Not zero (`connect` refuses it);
    /// longer than 100 years counts as 100 years.
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Whether holders are told of a cancel at once by pub/sub (default
    /// `true`). Without it a cancel is seen at the holder's next renewal.
    pub fn pubsub(mut self, on: bool) -> Self {
        self.pubsub = on;
        self
    }

    /// A readable prefix for this node's id (default: none); the id adds
    /// 128 random bits (22 characters), so it is unique per registry. Every
    /// claim's value carries the id: a short name keeps claims small.
    pub fn node_name(mut self, name: impl Into<String>) -> Self {
        self.node_name = name.into();
        self
    }

    /// Checks the settings ([`ClusterError::InvalidSettings`]), connects to
    /// Redis (and subscribes for cancels) and starts renewing. Needs a
    /// tokio runtime with time and IO enabled.
    pub async fn connect(self) -> Result<ClusterRegistry<K>, ClusterError<K>> {
        let settings = Settings::check(Asked {
            namespace: self.namespace,
            lease: self.lease,
            margin: self.margin,
            timeout: self.timeout,
        })
        .map_err(ClusterError::InvalidSettings)?;
        ClusterRegistry::connect(Config {
            endpoints: self.endpoints,
            settings,
            pubsub: self.pubsub,
            node_name: self.node_name,
        })
        .await
    }
}

impl<K> fmt::Debug for Builder<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let urls: Vec<String> = self.endpoints.urls().iter().map(|u| redact(u)).collect();
        f.debug_struct("Builder")
            .field("urls", &urls)
            .field("namespace", &self.namespace)
            .field("lease", &self.lease)
            .field("margin", &self.margin)
            .field("command_timeout", &self.timeout)
            .field("pubsub", &self.pubsub)
            .field("node_name", &self.node_name)
            .finish()
    }
}
