//! The leanest hand-written keyed job: a `static` foldhash `DashMap`,
//! `entry()`, a root token, a guard of key + token (the map is static, so
//! the guard holds no reference to it) that cancels and removes,
//! `run_until_cancelled`, all in the job's own `async fn`. What a careful
//! engineer writes by hand; `--bench live_memory` measures ours against it
//! and `tests/memory_future_size.rs` compares the futures' sizes. No
//! dependency on the rest of `common`, so that a test can include it alone.

use std::future::pending;
use std::sync::LazyLock;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use tokio_util::sync::CancellationToken;

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
