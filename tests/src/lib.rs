//! Shared support for the integration tests: the counting allocator (from
//! `scoped-cancel-support`, shared with the demo), so that leak tests
//! measure live heap bytes instead of assuming them.

pub use scoped_cancel_support::CountingAlloc;

/// Runs `f`, silencing the default panic message while it runs, so tests
/// that panic on purpose thousands of times keep the output readable.
pub fn with_quiet_panics<T>(f: impl FnOnce() -> T) -> T {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let out = f();
    std::panic::set_hook(previous);
    out
}
