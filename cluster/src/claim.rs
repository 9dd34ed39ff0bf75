//! Sending a claim. The script runs on a task of its own, which always
//! reads the reply: when the caller's `enter` was dropped meanwhile (a
//! timeout, a lost `select!` branch, an aborted task) or the reply never
//! came, a claim Redis may have made is released at once instead of
//! blocking the key for a whole lease.

use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::time::timeout;

use crate::key::ClusterKey;
use crate::state::Inner;

/// What the claim script answered.
pub(crate) enum Reply<K: ClusterKey> {
    /// This claim holds the key now.
    Won(Granted<K>),
    /// Someone holds the key: their value.
    Held(String),
    /// Redis answered with an error; a claim it may have made is released.
    Failed(redis::RedisError),
    /// No answer within the command timeout; a claim Redis makes later is
    /// released when its reply comes.
    TimedOut,
}

/// A claim Redis granted, released on drop unless [`keep`](Self::keep)
/// hands it to a scope.
pub(crate) struct Granted<K: ClusterKey> {
    inner: Arc<Inner<K>>,
    rkey: String,
    value: Option<String>,
}

impl<K: ClusterKey> Granted<K> {
    /// The claim's value, now the caller's to release.
    pub(crate) fn keep(mut self) -> String {
        self.value.take().unwrap_or_default()
    }
}

impl<K: ClusterKey> Drop for Granted<K> {
    fn drop(&mut self) {
        if let Some(value) = self.value.take() {
            self.inner.send_release(
                std::mem::take(&mut self.rkey),
                crate::state::claim_prefix(&value),
            );
        }
    }
}

/// Sends the claim `claim` (`node|scope`) on `rkey` from a new task; the
/// receiver gets its reply, or [`Reply::TimedOut`] after the command
/// timeout. Dropping the receiver at any point releases whatever the claim
/// got.
pub(crate) fn send<K: ClusterKey>(
    inner: &Arc<Inner<K>>,
    rkey: String,
    claim: String,
) -> oneshot::Receiver<Reply<K>> {
    let (tx, rx) = oneshot::channel();
    let inner = inner.clone();
    tokio::spawn(async move {
        let mut conn = inner.conn.clone();
        let mut call = inner.scripts.acquire.prepare_invoke();
        call.key(&rkey)
            .key(inner.names.fence())
            .arg(&claim)
            .arg(inner.settings.lease_ms);
        let answer = call.invoke_async::<(i64, String)>(&mut conn);
        tokio::pin!(answer);
        let first = timeout(inner.settings.timeout, &mut answer).await;
        let answer = match first {
            Ok(answer) => answer,
            Err(_) => {
                // The caller gives up; this task reads the reply on (the
                // connection bounds it by the lease, after which the claim
                // has expired anyway) and releases what it got.
                let _ = tx.send(Reply::TimedOut);
                match answer.await {
                    Ok((1, value)) => {
                        inner.send_release(rkey, crate::state::claim_prefix(&value));
                    }
                    Ok(_) => {}
                    Err(_) => inner.send_release(rkey, format!("{claim}|")),
                }
                return;
            }
        };
        let reply = match answer {
            Ok((1, value)) => Reply::Won(Granted {
                inner: inner.clone(),
                rkey,
                value: Some(value),
            }),
            Ok((_, holder)) => Reply::Held(holder),
            Err(e) => {
                // The claim may have been made before the error: delete it
                // by its prefix.
                inner.send_release(rkey, format!("{claim}|"));
                Reply::Failed(e)
            }
        };
        // If the receiver is gone, the reply drops here, and a granted
        // claim with it; if it is dropped unread later, the same.
        let _ = tx.send(reply);
    });
    rx
}
