//! `ClusterRegistry::cancel` and `cancel_with_reason`: from any node, to
//! the holder Redis names.

use std::sync::Arc;

use tokio::time::timeout;

use crate::error::ClusterError;
use crate::key::ClusterKey;
use crate::reason::clip;
use crate::registry::ClusterRegistry;
use crate::scripts::split_marker;

impl<K: ClusterKey> ClusterRegistry<K> {
    /// Cancels the holder of `key`, on whichever node it lives, with
    /// [`Cause::Requested`](scoped_cancel::Cause::Requested). `Ok(false)`
    /// if nobody holds it.
    ///
    /// The holder's node is told by pub/sub (at most once), and a cancel
    /// marker naming the holder's claim (kept for two leases) is read at
    /// its next renewal, so the cancel arrives within one renewal interval
    /// even when the message is lost. The marker names that claim only: a
    /// later holder of the key is not cancelled by it. A scope of this node
    /// on the key is cancelled when Redis has answered, or when the command
    /// times out (Redis, not this node's view, says who holds the key).
    pub async fn cancel(&self, key: &K) -> Result<bool, ClusterError<K>> {
        self.cancel_as(key, None).await
    }

    /// [`cancel`](Self::cancel) with a reason, which the holder's scope
    /// carries on its node as any local cancel's reason: its token
    /// ([`Token::reason`](scoped_cancel::Token::reason)), the
    /// [`Cancelled`](scoped_cancel::Cancelled) its call returns, and its
    /// node's reports ([`local_report`](Self::local_report), the dump).
    ///
    /// The first cancel of a holder wins, reason included, from whichever
    /// node it came: a later `cancel_with_reason` (or `cancel`) of the same
    /// holder still returns `Ok(true)`, and its reason is dropped. A local
    /// holder, too, is cancelled with the reason Redis kept.
    ///
    /// The reason may hold any text (spaces, newlines, any script); over
    /// [`MAX_REASON_LEN`](crate::MAX_REASON_LEN) bytes it is cut at a
    /// character boundary and ends with `…`. It is for people (logs,
    /// reports), never a metric label.
    ///
    /// ```no_run
    /// # async fn demo(jobs: scoped_cancel_redis::ClusterRegistry<String>) -> Result<(), Box<dyn std::error::Error>> {
    /// // On any node; the scope of "export-7", wherever it runs, reads it.
    /// jobs.cancel_with_reason(&"export-7".to_string(), "user 42 deleted the report")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn cancel_with_reason(
        &self,
        key: &K,
        reason: impl Into<Arc<str>>,
    ) -> Result<bool, ClusterError<K>> {
        self.cancel_as(key, Some(clip(reason.into()))).await
    }

    /// Redis first: it, not this node's view, says who holds the key and
    /// which reason the holder's first cancel carries. A local scope on the
    /// key is cancelled whatever Redis answers (after a restart without
    /// persistence another node may hold the key already, and this node's
    /// scope has lost its claim), at the latest when the command times out.
    async fn cancel_as(&self, key: &K, reason: Option<Arc<str>>) -> Result<bool, ClusterError<K>> {
        let inner = &self.inner;
        let text = key.to_string();
        let rkey = inner.names.lease(&text);
        let mut conn = inner.conn.clone();
        let mut call = inner.scripts.cancel.prepare_invoke();
        call.key(&rkey)
            .key(inner.names.marker(&text))
            .arg(inner.settings.marker_ms)
            .arg(inner.names.channel_prefix());
        if let Some(reason) = &reason {
            call.arg(reason.as_bytes());
        }
        let marker = match timeout(
            inner.settings.timeout,
            call.invoke_async::<Option<Vec<u8>>>(&mut conn),
        )
        .await
        {
            Ok(Ok(marker)) => marker,
            Ok(Err(e)) => {
                inner.cancel_local(&rkey, None, reason);
                return Err(ClusterError::Redis(e));
            }
            Err(_) => {
                inner.cancel_local(&rkey, None, reason);
                return Err(ClusterError::Timeout);
            }
        };
        let Some(marker) = marker else {
            return Ok(inner.cancel_local(&rkey, None, reason));
        };
        let marker = String::from_utf8_lossy(&marker);
        let (value, kept) = split_marker(&marker);
        let kept = kept.map(|kept| clip(kept.into()));
        // This node's claim: the reason Redis kept. Another claim (this
        // node's scope outlived its claim): this call's.
        if !inner.cancel_local(&rkey, Some(value), kept) {
            inner.cancel_local(&rkey, None, reason);
        }
        Ok(true)
    }
}
