//! What entering or cancelling can fail with.

use std::fmt;

use crate::names::Holder;

/// Why [`ClusterRegistry`](crate::ClusterRegistry) could not do what was asked.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClusterError<K> {
    /// The key has a live holder somewhere in the cluster (maybe this node).
    KeyOccupied {
        /// The key asked for.
        key: K,
        /// Who holds it.
        holder: Holder,
    },
    /// [`shutdown`](crate::ClusterRegistry::shutdown) was called on this node.
    ShuttingDown {
        /// The key asked for.
        key: K,
    },
    /// Redis could not be reached or answered with an error; nothing is held.
    Redis(redis::RedisError),
    /// Redis did not answer within the registry's command timeout; nothing is
    /// held (a claim that Redis did make is deleted in the background, or
    /// expires with its lease).
    Timeout,
    /// Redis answered with something this crate did not write (another
    /// program uses the namespace).
    Protocol(String),
    /// The builder's settings make no sense (a zero lease, a margin not
    /// shorter than the lease, ...); nothing was connected.
    InvalidSettings(String),
    /// The system gave no randomness for this node's id.
    NoRandomness(String),
}

impl<K: fmt::Debug> fmt::Display for ClusterError<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClusterError::KeyOccupied { key, holder } => {
                write!(f, "key {key:?} is held by {holder}")
            }
            ClusterError::ShuttingDown { key } => {
                write!(f, "key {key:?} refused: the registry is shutting down")
            }
            ClusterError::Redis(e) => write!(f, "redis: {e}"),
            ClusterError::Timeout => f.write_str("redis did not answer in time"),
            ClusterError::Protocol(what) => write!(f, "unexpected data in redis: {what}"),
            ClusterError::InvalidSettings(what) => write!(f, "invalid settings: {what}"),
            ClusterError::NoRandomness(what) => write!(f, "no randomness for the node id: {what}"),
        }
    }
}

impl<K: fmt::Debug> std::error::Error for ClusterError<K> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClusterError::Redis(e) => Some(e),
            _ => None,
        }
    }
}

impl<K> From<redis::RedisError> for ClusterError<K> {
    fn from(e: redis::RedisError) -> Self {
        ClusterError::Redis(e)
    }
}
