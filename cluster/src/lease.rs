//! The renew loop: one round of compare-and-extend scripts for every held
//! key each renewal interval, and the local lease clock that cancels scopes
//! whose renewal was not confirmed in time.

use std::sync::{Arc, Weak};

use futures_util::future::try_join_all;
use tokio::time::{sleep_until, timeout, Instant};

use crate::key::ClusterKey;
use crate::scripts::Renewed;
use crate::state::{later, Inner, Lease};

/// Most keys per script call within a round.
const BATCH: usize = 256;

/// One held claim as a round sends it: lease key, marker key, value.
type Claim = (String, String, Arc<str>);

pub(crate) async fn renew_loop<K: ClusterKey>(weak: Weak<Inner<K>>) {
    let Some(kick) = weak.upgrade().map(|inner| inner.kick.clone()) else {
        return;
    };
    let mut next = Instant::now();
    loop {
        let wake = match weak.upgrade() {
            Some(inner) => inner.earliest_expiry().map_or(next, |e| e.min(next)),
            None => return,
        };
        let kicked = tokio::select! {
            () = sleep_until(wake) => false,
            () = kick.notified() => true,
        };
        let Some(inner) = weak.upgrade() else { return };
        // The clock first: after a pause (SIGSTOP, a stalled VM) no scope
        // acts on a lease that may have passed, and none is renewed.
        inner.expire_overdue(Instant::now());
        if kicked || Instant::now() >= next {
            next = later(Instant::now(), inner.settings.renew_every);
            inner.renew_round(next).await;
        }
    }
}

impl<K: ClusterKey> Inner<K> {
    fn earliest_expiry(&self) -> Option<Instant> {
        self.held()
            .values()
            .filter(|h| h.lease.is_some())
            .map(|h| h.expires)
            .min()
    }

    /// Cancels (with `Cause::Parent`) every scope whose local lease is over.
    fn expire_overdue(&self, now: Instant) {
        let lost: Vec<Lease> = self
            .held()
            .values_mut()
            .filter(|h| h.expires <= now)
            .filter_map(|h| h.lease.take())
            .collect();
        drop(lost);
    }

    /// One round: extend every live claim, cancel the lost ones, pass on
    /// pending cancels with their reasons. Gives up at `by` or the earliest
    /// local lease end.
    async fn renew_round(&self, by: Instant) {
        let (claims, earliest) = {
            let held = self.held();
            let claims: Vec<Claim> = held
                .iter()
                .filter(|(_, h)| h.lease.is_some())
                .map(|(rkey, h)| {
                    let text = &rkey[self.names.lease_prefix().len()..];
                    (rkey.clone(), self.names.marker(text), h.value.clone())
                })
                .collect();
            let earliest = held
                .values()
                .filter(|h| h.lease.is_some())
                .map(|h| h.expires)
                .min();
            (claims, earliest)
        };
        if claims.is_empty() {
            return;
        }
        let limit = earliest.map_or(by, |e| e.min(by));
        let sent = Instant::now();
        let Ok(Ok(statuses)) =
            timeout(limit.saturating_duration_since(sent), self.extend(&claims)).await
        else {
            return; // the local clock cancels what cannot be confirmed
        };
        let expires = self.expiry_from(sent);
        let mut lost = Vec::new();
        let mut cancel = Vec::new();
        {
            let mut held = self.held();
            for ((rkey, _, value), status) in claims.iter().zip(statuses) {
                let Some(h) = held.get_mut(rkey) else {
                    continue;
                };
                if !Arc::ptr_eq(&h.value, value) || h.lease.is_none() {
                    continue;
                }
                match status {
                    Renewed::Lost => lost.extend(h.lease.take()),
                    Renewed::Kept => h.expires = expires,
                    Renewed::Cancel(reason) => {
                        h.expires = expires;
                        cancel.push((h.key.clone(), reason));
                    }
                }
            }
        }
        drop(lost);
        for (key, reason) in cancel {
            self.cancel_key(&key, reason);
        }
    }

    /// Sends the round as one script call per batch, all at once (they
    /// share the connection's pipeline). A script cache emptied by a restart
    /// or failover (`NOSCRIPT`) is refilled by the call itself.
    async fn extend(&self, claims: &[Claim]) -> redis::RedisResult<Vec<Renewed>> {
        let calls = claims.chunks(BATCH).map(|chunk| {
            let mut conn = self.conn.clone();
            let mut call = self.scripts.renew.prepare_invoke();
            for (rkey, marker, _) in chunk {
                call.key(rkey).key(marker);
            }
            call.arg(self.settings.lease_ms);
            for (_, _, value) in chunk {
                call.arg(&**value);
            }
            async move { call.invoke_async::<Vec<Renewed>>(&mut conn).await }
        });
        let replies = try_join_all(calls).await?;
        Ok(replies.into_iter().flatten().collect())
    }
}
