//! `ClusterRegistry::report`: every holder in the namespace, on any node;
//! `local_report`: this node's scopes, as its local registry sees them.

use std::fmt;
use std::time::Duration;

use scoped_cancel::ScopeInfo;
use tokio::time::timeout;

use crate::error::ClusterError;
use crate::key::ClusterKey;
use crate::names::Holder;
use crate::registry::ClusterRegistry;

/// One held key, as Redis shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterScope {
    key: String,
    holder: Holder,
    age: Duration,
}

impl ClusterScope {
    /// The key, in its `Display` form.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Who holds it.
    pub fn holder(&self) -> &Holder {
        &self.holder
    }

    /// How long it has been held, by the Redis server's clock.
    pub fn age(&self) -> Duration {
        self.age
    }
}

impl fmt::Display for ClusterScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} held by {} for {:?}", self.key, self.holder, self.age)
    }
}

impl<K: ClusterKey> ClusterRegistry<K> {
    /// This node's scopes, as a local [`Registry::report`](scoped_cancel::Registry::report)
    /// lists them: key, name, age, and for a cancelled one its cause and
    /// [reason](ScopeInfo::reason) (a reason given on another node
    /// included). No round trip: for a `/debug` page or a log line on the
    /// node that runs the work.
    pub fn local_report(&self) -> Vec<ScopeInfo<K>> {
        self.inner.local.report()
    }

    /// Every key held in this namespace, by any node, with its holder and
    /// age, sorted by key. Reads Redis with `SCAN` (a consistent list of
    /// keys held throughout the scan; keys entered or released meanwhile
    /// may or may not appear). In a Redis Cluster the scan runs on the node
    /// that holds the namespace's slot.
    pub async fn report(&self) -> Result<Vec<ClusterScope>, ClusterError<K>> {
        let inner = &self.inner;
        let read = async {
            let mut conn = inner.conn.clone();
            let pattern = inner.names.lease_pattern();
            let slot_of = inner.names.fence();
            let mut keys: Vec<String> = Vec::new();
            let mut cursor: u64 = 0;
            loop {
                let mut scan = redis::cmd("SCAN");
                scan.arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000);
                let (next, batch): (u64, Vec<String>) = conn.on_node_of(&slot_of, scan).await?;
                keys.extend(batch);
                cursor = next;
                if cursor == 0 {
                    break;
                }
            }
            keys.sort();
            keys.dedup();
            let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(&mut conn).await?;
            let now_ms = secs * 1000 + micros / 1000;
            let mut out = Vec::with_capacity(keys.len());
            for chunk in keys.chunks(500) {
                let values: Vec<Option<String>> =
                    redis::cmd("MGET").arg(chunk).query_async(&mut conn).await?;
                for (rkey, value) in chunk.iter().zip(values) {
                    let Some(holder) = value.as_deref().and_then(Holder::parse) else {
                        continue; // released meanwhile, or not ours
                    };
                    out.push(ClusterScope {
                        key: rkey[inner.names.lease_prefix().len()..].to_owned(),
                        age: holder.age_at(now_ms),
                        holder,
                    });
                }
            }
            Ok::<_, redis::RedisError>(out)
        };
        Ok(timeout(inner.settings.timeout.saturating_mul(4), read)
            .await
            .map_err(|_| ClusterError::Timeout)??)
    }
}
