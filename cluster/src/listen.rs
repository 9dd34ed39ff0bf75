//! The pub/sub listener: cancels from other nodes, at once when the message
//! arrives. A dropped subscription is re-made, and each (re)subscribe kicks
//! a renewal round, which reads any cancel marker missed meanwhile.

use std::sync::Weak;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::PubSub;
use tokio::time::timeout;

use crate::names::Names;
use crate::registry::{ClusterKey, Inner};

pub(crate) async fn subscribe(
    client: &redis::Client,
    names: &Names,
    node: &str,
    limit: Duration,
) -> redis::RedisResult<PubSub> {
    let channel = format!("{}{node}", names.channel_prefix());
    let connect = async {
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

pub(crate) async fn listen<K: ClusterKey>(weak: Weak<Inner<K>>, first: PubSub) {
    let mut pubsub = Some(first);
    loop {
        if let Some(sub) = pubsub.take() {
            let mut messages = sub.into_on_message();
            while let Some(msg) = messages.next().await {
                let Some(inner) = weak.upgrade() else { return };
                let payload = String::from_utf8_lossy(msg.get_payload_bytes());
                if let Some((value, rkey)) = payload.split_once(' ') {
                    inner.cancel_local(rkey, Some(value));
                }
            }
        }
        // Disconnected: wait a little, subscribe again, then reconcile.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let Some(inner) = weak.upgrade() else { return };
        let (client, names, node, limit) = (
            inner.client.clone(),
            inner.names.clone(),
            inner.node.clone(),
            inner.timeout,
        );
        let kick = inner.kick.clone();
        drop(inner);
        if let Ok(sub) = subscribe(&client, &names, &node, limit).await {
            pubsub = Some(sub);
            kick.notify_one();
        }
    }
}
