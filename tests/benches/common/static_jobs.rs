//! The two keyed jobs as a user writes them, each with a `static` registry
//! or map and the key an argument: `--bench live_memory` measures their
//! live memory, and `tests/memory_future_size.rs` compares their futures'
//! sizes. No dependency on the rest of `common`, so that a test can include
//! this file alone.
//!
//! - [`ours_job`]: `#[scoped_cancel(registry = REG, key = id)]`.
//! - [`lean_job`], the leanest hand-written one: a foldhash `DashMap`,
//!   `entry()`, a root token, a guard of key + token (the map is static,
//!   so the guard holds no reference to it) that cancels and removes,
//!   `run_until_cancelled`, all in the job's own `async fn`: what a
//!   careful engineer writes by hand.

use std::future::pending;
use std::sync::LazyLock;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use scoped_cancel::{scoped_cancel, Cancelled, Registry};
use tokio_util::sync::CancellationToken;

pub static REG: Registry<u64> = Registry::new();

/// Ours, waiting until cancelled.
#[scoped_cancel(registry = REG, key = id)]
pub async fn ours_job(id: u64) -> Result<(), Cancelled> {
    pending::<()>().await;
    Ok(())
}

// scoped-cancel-audit: allow(the hand-written baseline measured against)
pub static MAP: LazyLock<DashMap<u64, CancellationToken, foldhash::fast::RandomState>> =
    LazyLock::new(|| DashMap::with_hasher(foldhash::fast::RandomState::default()));

/// Cancels the token, then removes the entry.
struct LeanGuard {
    id: u64,
    token: CancellationToken,
}

impl Drop for LeanGuard {
    fn drop(&mut self) {
        self.token.cancel();
        MAP.remove(&self.id);
    }
}

/// The leanest hand-written job, waiting until cancelled; `None` if `id`
/// is taken or when cancelled.
pub async fn lean_job(id: u64) -> Option<()> {
    let guard = match MAP.entry(id) {
        Entry::Occupied(_) => return None,
        Entry::Vacant(slot) => {
            let token = CancellationToken::new();
            slot.insert(token.clone());
            LeanGuard { id, token }
        }
    };
    guard.token.run_until_cancelled(pending::<()>()).await
}
