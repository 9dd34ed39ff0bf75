//! Shared support for the integration tests: the counting allocator (from
//! `scoped-cancel-support`, shared with the demo), so that leak tests
//! measure live heap bytes instead of assuming them.

use std::sync::Arc;

pub use scoped_cancel_support::CountingAlloc;

/// Runs `f`, silencing the panic messages that contain `expected` (tests
/// that panic on purpose thousands of times stay readable); every other
/// panic, such as a failing assertion, still goes to the previous hook and
/// is printed. The previous hook is restored however `f` ends.
pub fn with_quiet_panics<T>(expected: &'static str, f: impl FnOnce() -> T) -> T {
    let previous: Arc<PanicHook> = Arc::new(std::panic::take_hook());
    let forward = previous.clone();
    std::panic::set_hook(Box::new(move |info| {
        if !panic_text(info.payload()).contains(expected) {
            forward(info);
        }
    }));
    // Unwound here, not through `f`'s caller: a hook cannot be replaced
    // while the thread is panicking.
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    drop(std::panic::take_hook());
    std::panic::set_hook(Box::new(move |info| previous(info)));
    out.unwrap_or_else(|payload| std::panic::resume_unwind(payload))
}

type PanicHook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static>;

/// The text of a panic payload (`panic!` with or without arguments).
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("")
}
