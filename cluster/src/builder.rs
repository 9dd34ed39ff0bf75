//! `ClusterRegistry::builder(url)...connect()`.

use std::marker::PhantomData;
use std::time::Duration;

use crate::error::ClusterError;
use crate::registry::{ClusterKey, ClusterRegistry};

/// Settings for [`ClusterRegistry`]; made by [`ClusterRegistry::builder`].
#[derive(Debug, Clone)]
#[must_use = "call .connect().await"]
pub struct Builder<K> {
    pub(crate) url: String,
    pub(crate) namespace: String,
    pub(crate) lease: Duration,
    pub(crate) margin: Option<Duration>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) pubsub: bool,
    pub(crate) node_name: String,
    _key: PhantomData<fn() -> K>,
}

impl<K: ClusterKey> Builder<K> {
    pub(crate) fn new(url: &str) -> Builder<K> {
        Builder {
            url: url.to_owned(),
            namespace: "scoped-cancel".to_owned(),
            lease: Duration::from_secs(10),
            margin: None,
            timeout: None,
            pubsub: true,
            node_name: "node".to_owned(),
            _key: PhantomData,
        }
    }

    /// The prefix of every Redis name this registry uses (default
    /// `scoped-cancel`). Nodes that share a namespace share keys.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// How long a claim lives in Redis without renewal (default 10 s; at
    /// least 30 ms). Held keys are renewed every `lease / 3`.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(30));
        self
    }

    /// How much earlier than the lease a node that could not renew cancels
    /// its scopes, by its own clock (default `lease / 5`). It covers clock
    /// rate differences between this host and Redis, and the time the
    /// cancelled work needs to stop. Capped at half the lease.
    pub fn margin(mut self, margin: Duration) -> Self {
        self.margin = Some(margin);
        self
    }

    /// How long `enter`, `cancel` and `report` wait for Redis (default
    /// `lease / 2`, at most 5 s).
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Whether holders are told of a cancel at once by pub/sub (default
    /// `true`). Without it a cancel is seen at the holder's next renewal,
    /// within `lease / 3`.
    pub fn pubsub(mut self, on: bool) -> Self {
        self.pubsub = on;
        self
    }

    /// A readable prefix for this node's id (default `node`); the id adds
    /// the process id and a random part, so it is unique per registry.
    pub fn node_name(mut self, name: impl Into<String>) -> Self {
        self.node_name = name.into();
        self
    }

    /// Connects to Redis (and subscribes for cancels) and starts renewing.
    /// Needs a tokio runtime with time and IO enabled.
    pub async fn connect(self) -> Result<ClusterRegistry<K>, ClusterError<K>> {
        ClusterRegistry::connect(self).await
    }
}
