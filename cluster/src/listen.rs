//! The pub/sub listener: cancels from other nodes (with their reasons), at
//! once when the message arrives. A dropped subscription is re-made (trying each given URL in
//! turn: in a Redis Cluster a message published on any node reaches every
//! node), and each (re)subscribe kicks a renewal round, which reads any
//! cancel marker missed meanwhile.

use std::sync::Weak;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::PubSub;
use tokio::time::timeout;

use crate::key::ClusterKey;
use crate::reason::clip;
use crate::scripts::parse_cancel;
use crate::state::Inner;

/// Subscribes to `channel` on the server at `url`, within `limit`.
pub(crate) async fn subscribe(
    url: &str,
    channel: &str,
    limit: Duration,
) -> redis::RedisResult<PubSub> {
    let connect = async {
        let client = redis::Client::open(url)?;
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        Ok(pubsub)
    };
    match timeout(limit, connect).await {
        Ok(done) => done,
        Err(_) => Err(redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "subscribing timed out",
        ))),
    }
}

/// Subscribes on the first of `urls` that answers.
pub(crate) async fn subscribe_any(
    urls: &[String],
    start: usize,
    channel: &str,
    limit: Duration,
) -> redis::RedisResult<PubSub> {
    let mut last = None;
    for i in 0..urls.len() {
        match subscribe(&urls[(start + i) % urls.len()], channel, limit).await {
            Ok(sub) => return Ok(sub),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no URL to subscribe on",
        ))
    }))
}

pub(crate) async fn listen<K: ClusterKey>(weak: Weak<Inner<K>>, first: PubSub) {
    let mut pubsub = Some(first);
    let mut attempt = 0;
    loop {
        if let Some(sub) = pubsub.take() {
            let mut messages = sub.into_on_message();
            while let Some(msg) = messages.next().await {
                let Some(inner) = weak.upgrade() else { return };
                if let Some(cancel) = parse_cancel(msg.get_payload_bytes()) {
                    let reason = cancel.reason.map(|r| clip(r.into()));
                    inner.cancel_local(cancel.rkey, Some(cancel.value), reason);
                }
            }
        }
        // Disconnected: wait a little, subscribe again, then reconcile.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let Some(inner) = weak.upgrade() else { return };
        let (urls, channel, limit) = (
            inner.pubsub_urls.clone(),
            inner.names.channel(&inner.node),
            inner.settings.timeout,
        );
        let kick = inner.kick.clone();
        drop(inner);
        attempt += 1;
        if let Ok(sub) = subscribe_any(&urls, attempt, &channel, limit).await {
            pubsub = Some(sub);
            kick.notify_one();
        }
    }
}
