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
    }
}
