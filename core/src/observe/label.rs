//! The one snake_case name of each cause: the `cause` label of the exit
//! counter, the `cause` field of events, and the dump's JSON.

use crate::cause::Cause;

/// An exhaustive match (no `_` arm): a new variant does not compile until it
/// has a label here.
pub(crate) fn cause_label(cause: &Cause) -> &'static str {
    match cause {
        Cause::Requested => "requested",
        Cause::Deadline => "deadline",
        Cause::Parent => "parent",
        Cause::ScopeExited => "scope_exited",
        Cause::Panicked => "panicked",
        Cause::Shutdown => "shutdown",
        Cause::Expired => "expired",
        Cause::KeyOccupied => "key_occupied",
        Cause::ShuttingDown => "shutting_down",
        Cause::Superseded => "superseded",
    }
}

/// A dense index per cause (no `_` arm either), for per-cause tables.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) fn cause_index(cause: &Cause) -> usize {
    match cause {
        Cause::Requested => 0,
        Cause::Deadline => 1,
        Cause::Parent => 2,
        Cause::ScopeExited => 3,
        Cause::Panicked => 4,
        Cause::Shutdown => 5,
        Cause::Expired => 6,
        Cause::KeyOccupied => 7,
        Cause::ShuttingDown => 8,
        Cause::Superseded => 9,
    }
}

/// How many causes [`cause_index`] numbers.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) const CAUSES: usize = 10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_has_its_own_index_and_label() {
        let mut seen = [false; CAUSES];
        for cause in Cause::ALL {
            assert!(!std::mem::replace(&mut seen[cause_index(&cause)], true));
        }
        assert!(seen.iter().all(|&s| s), "CAUSES matches the variants");
        let labels: std::collections::HashSet<_> = Cause::ALL.iter().map(cause_label).collect();
        assert_eq!(labels.len(), CAUSES);
    }
}
