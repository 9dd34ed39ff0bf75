//! Sending a claim. The claim script's call is polled in place by `enter`;
//! if `enter` lets go of it before its reply (the caller's future dropped
//! by a timeout, a lost `select!` branch or an aborted task, or `enter`'s
//! own command timeout), the call moves to a task of its own that reads the
//! reply and deletes whatever the claim got, instead of leaving the key
//! blocked for a whole lease.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::time::timeout;

use crate::key::ClusterKey;
use crate::state::{claim_prefix, Inner};

type Call = Pin<Box<dyn Future<Output = redis::RedisResult<(i64, String)>> + Send>>;

/// The claim script's call for `node|scope` on a lease key; resolves to
/// `(1, value)` when granted, `(0, holder's value)` when held.
pub(crate) struct Claim<K: ClusterKey> {
    inner: Arc<Inner<K>>,
    rkey: String,
    claim: String,
    call: Option<Call>,
}

impl<K: ClusterKey> Claim<K> {
    pub(crate) fn new(inner: &Arc<Inner<K>>, rkey: String, claim: String) -> Claim<K> {
        let call: Call = {
            let inner = inner.clone();
            let (rkey, claim) = (rkey.clone(), claim.clone());
            Box::pin(async move {
                let mut conn = inner.conn.clone();
                let mut call = inner.scripts.acquire.prepare_invoke();
                call.key(&rkey)
                    .key(inner.names.fence())
                    .arg(&claim)
                    .arg(inner.settings.lease_ms);
                call.invoke_async(&mut conn).await
            })
        };
        Claim {
            inner: inner.clone(),
            rkey,
            claim,
            call: Some(call),
        }
    }
}

impl<K: ClusterKey> Future for Claim<K> {
    type Output = redis::RedisResult<(i64, String)>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(call) = self.call.as_mut() else {
            return Poll::Pending; // polled after completion: never again ready
        };
        let out = std::task::ready!(call.as_mut().poll(cx));
        self.call = None;
        if out.is_err() {
            // The claim may have been made before the error: delete it by
            // its prefix.
            self.inner
                .send_release(self.rkey.clone(), format!("{}|", self.claim));
        }
        Poll::Ready(out)
    }
}

impl<K: ClusterKey> Drop for Claim<K> {
    fn drop(&mut self) {
        let Some(call) = self.call.take() else {
            return; // the reply was read: the caller owns what it says
        };
        let inner = self.inner.clone();
        let rkey = std::mem::take(&mut self.rkey);
        let prefix = format!("{}|", self.claim);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime to read the reply on: a delete by prefix, queued
            // behind the claim on the same connection.
            return inner.send_release(rkey, prefix);
        };
        runtime.spawn(async move {
            // The connection bounds the wait by the lease, after which the
            // claim has expired anyway.
            match timeout(inner.settings.lease, call).await {
                Ok(Ok((1, value))) => inner.send_release(rkey, claim_prefix(&value)),
                Ok(Ok(_)) => {}
                _ => inner.send_release(rkey, prefix),
            }
        });
    }
}
