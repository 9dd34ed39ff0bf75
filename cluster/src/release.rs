//! The release worker: compare-and-deletes from scope ends (which run in
//! `Drop`, so cannot wait on Redis), batched into one script call per
//! wake-up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, oneshot};

use crate::conn::Conn;
use crate::scripts::Scripts;

pub(crate) enum Release {
    /// Delete the lease key if its value starts with the prefix.
    Key(String, String),
    /// Answer once everything queued before it was sent.
    Flush(oneshot::Sender<()>),
}

/// Lease keys with a release queued, counted (a key may be entered and
/// left again before the first delete is sent).
#[derive(Default)]
pub(crate) struct Pending(Mutex<HashMap<String, usize>>);

impl Pending {
    pub(crate) fn add(&self, rkey: &str) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *map.entry(rkey.to_owned()).or_default() += 1;
    }

    pub(crate) fn remove(&self, rkey: &str) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(rkey) {
            *n -= 1;
            if *n == 0 {
                map.remove(rkey);
            }
        }
    }

    pub(crate) fn contains(&self, rkey: &str) -> bool {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.contains_key(rkey)
    }
}

/// Most keys per script call, so one call does not stall Redis for long.
const BATCH: usize = 256;

pub(crate) async fn worker(
    mut conn: Conn,
    scripts: Arc<Scripts>,
    mut queue: mpsc::UnboundedReceiver<Release>,
    pending: Arc<Pending>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let mut keys = Vec::new();
        let mut prefixes = Vec::new();
        let mut flushed = Vec::new();
        for item in batch.drain(..) {
            match item {
                Release::Key(key, prefix) => {
                    keys.push(key);
                    prefixes.push(prefix);
                }
                Release::Flush(done) => flushed.push(done),
            }
        }
        if !keys.is_empty() {
            let mut call = scripts.release.prepare_invoke();
            call.key(&keys).arg(prefixes);
            // On failure the claims expire with their leases; one retry
            // covers the reconnect that follows a dropped connection.
            if call.invoke_async::<i64>(&mut conn).await.is_err() {
                let _ = call.invoke_async::<i64>(&mut conn).await;
            }
            for key in &keys {
                pending.remove(key);
            }
        }
        for done in flushed {
            let _ = done.send(());
        }
    }
}
