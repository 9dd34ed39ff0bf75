//! The keyed jobs `--bench memory` spawns, one definition for it and for
//! `--bench live_memory`, which compares these shapes with the leanest
//! ones (`static_jobs.rs`): the registry or map an `Arc` argument, the
//! hand-written call through the shared `calls::best_keyed`.

use std::future::pending;
use std::sync::Arc;

use scoped_cancel::{scoped_cancel, Cancelled, Registry};

use super::calls::{self, BestMap};

/// Ours: a keyed call that waits until it is cancelled.
#[scoped_cancel(registry = reg, key = id)]
pub async fn ours(reg: Arc<Registry<u64>>, id: u64) -> Result<(), Cancelled> {
    pending::<()>().await;
    Ok(())
}

/// The best hand-written job (`calls::best_keyed` keeps its own copy of the
/// map reference and key, and a guard holding the map reference).
pub async fn best(map: Arc<BestMap>, id: u64) -> Option<()> {
    calls::best_keyed(&map, id, pending::<()>()).await
}
