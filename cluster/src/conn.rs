//! The connection to Redis: one server (a `ConnectionManager` that
//! reconnects) or, with the `redis-cluster` feature, a Redis Cluster (a
//! cluster connection that follows `MOVED`/`ASK` and discovers the nodes).
//! Both answer the same commands; only `SCAN` needs a route in a cluster.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue, Pipeline, RedisFuture, RedisResult, Value};

/// Where Redis is.
#[derive(Clone)]
pub(crate) enum Endpoints {
    /// One server's URL.
    Server(String),
    /// Some nodes of a Redis Cluster (the rest are discovered).
    #[cfg(feature = "redis-cluster")]
    Cluster(Vec<String>),
}

impl Endpoints {
    /// Every URL given, in order.
    pub(crate) fn urls(&self) -> &[String] {
        match self {
            Endpoints::Server(url) => std::slice::from_ref(url),
            #[cfg(feature = "redis-cluster")]
            Endpoints::Cluster(urls) => urls,
        }
    }
}

/// A handle to send commands on; cheap to clone, shared by every task.
#[derive(Clone)]
pub(crate) enum Conn {
    Server(ConnectionManager),
    #[cfg(feature = "redis-cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

/// Connects, each attempt bounded by `limit`. Replies are awaited up to
/// `replies` (the lease): each caller bounds its own wait, and a claim's
/// task keeps reading a late reply so that it can release what it got.
pub(crate) async fn connect(
    endpoints: &Endpoints,
    limit: Duration,
    replies: Duration,
) -> RedisResult<Conn> {
    match endpoints {
        Endpoints::Server(url) => {
            let client = redis::Client::open(url.as_str())?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(limit))
                .set_response_timeout(Some(replies))
                .set_number_of_retries(2)
                .set_max_delay(Duration::from_millis(200));
            Ok(Conn::Server(
                ConnectionManager::new_with_config(client, config).await?,
            ))
        }
        #[cfg(feature = "redis-cluster")]
        Endpoints::Cluster(urls) => {
            let client = redis::cluster::ClusterClientBuilder::new(urls.iter().map(String::as_str))
                .connection_timeout(limit)
                .response_timeout(replies)
                .build()?;
            Ok(Conn::Cluster(client.get_async_connection().await?))
        }
    }
}

impl Conn {
    /// Runs `cmd` (a keyless command such as `SCAN`) on the node that holds
    /// `key`'s slot; on one server, on that server.
    pub(crate) async fn on_node_of<T: FromRedisValue>(
        &mut self,
        key: &str,
        cmd: Cmd,
    ) -> RedisResult<T> {
        match self {
            Conn::Server(conn) => {
                let _ = key;
                cmd.query_async(conn).await
            }
            #[cfg(feature = "redis-cluster")]
            Conn::Cluster(conn) => {
                use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
                let route = Route::with_key(key, SlotAddr::Master);
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
                let value = conn.route_command(cmd, routing).await?;
                Ok(T::from_redis_value(value)?)
            }
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Server(conn) => conn.req_packed_command(cmd),
            #[cfg(feature = "redis-cluster")]
            Conn::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Server(conn) => conn.req_packed_commands(cmd, offset, count),
            #[cfg(feature = "redis-cluster")]
            Conn::Cluster(conn) => conn.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Server(conn) => conn.get_db(),
            #[cfg(feature = "redis-cluster")]
            Conn::Cluster(conn) => conn.get_db(),
        }
    }
}
