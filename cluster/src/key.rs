//! What a cluster key must be.

use std::fmt;

use scoped_cancel::Key;

/// What a cluster key must be: a registry [`Key`] whose `Display` form
/// names it in Redis (equal keys must display alike on every node).
pub trait ClusterKey: Key + fmt::Display {}

impl<K: Key + fmt::Display> ClusterKey for K {}
