//! Clear panics for the APIs that need a tokio runtime, when none is running.
//!
//! `Scope::run` (without a deadline), `Registry::enter`, `cancel` and the
//! tokens work on any executor. A deadline, `Scope::spawn` and the wait of
//! `Registry::shutdown` need tokio; without it they panic with a message
//! that names the API and what it needed, rather than tokio's generic one.

/// Panics, naming `api` and `why`, if no tokio runtime is running on this
/// thread. A runtime without time enabled passes here; tokio's own panic
/// then says to call `enable_time`.
#[track_caller]
pub(crate) fn runtime(api: &str, why: &str) {
    if tokio::runtime::Handle::try_current().is_err() {
        panic!(
            "{api} needs a tokio runtime ({why}), but none is running on this thread: \
             call it from a task or `block_on` of a tokio runtime (`#[tokio::main]`, \
             `#[tokio::test]`); on another executor, use `Scope::run` without a deadline"
        );
    }
}
