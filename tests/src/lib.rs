//! Shared support for the integration tests: a counting allocator, so that
//! leak tests measure live heap bytes instead of assuming them.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;

/// A global allocator that counts live heap bytes. Install it per test
/// binary: `#[global_allocator] static ALLOC: CountingAlloc = CountingAlloc::new();`
pub struct CountingAlloc {
    live: AtomicIsize,
}

impl CountingAlloc {
    /// A counter at zero.
    pub const fn new() -> Self {
        CountingAlloc {
            live: AtomicIsize::new(0),
        }
    }

    /// Bytes currently allocated and not yet freed.
    pub fn live_bytes(&self) -> isize {
        self.live.load(Ordering::SeqCst)
    }
}

impl Default for CountingAlloc {
    fn default() -> Self {
        Self::new()
    }
}

impl CountingAlloc {
    /// Passes `ptr` through, counting `delta` bytes if the call succeeded.
    fn counted(&self, ptr: *mut u8, delta: isize) -> *mut u8 {
        if !ptr.is_null() {
            self.live.fetch_add(delta, Ordering::Relaxed);
        }
        ptr
    }
}

// SAFETY: every call is forwarded unchanged to `System`; the counter is a
// side effect that never touches the memory handed out.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.counted(unsafe { System.alloc(layout) }, layout.size() as isize)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.counted(
            unsafe { System.alloc_zeroed(layout) },
            layout.size() as isize,
        )
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        self.live
            .fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        self.counted(new, new_size as isize - layout.size() as isize)
    }
}

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
