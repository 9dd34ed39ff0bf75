//! A global allocator that counts live heap bytes, so leak tests and the
//! demo measure memory instead of assuming it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};

thread_local! {
    /// Bytes this thread allocated minus bytes it freed. Const-initialised
    /// and without a destructor, so reading it from inside the allocator
    /// never allocates and is valid until the thread is gone.
    static THREAD_LIVE: Cell<isize> = const { Cell::new(0) };
}

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

    /// Bytes the calling thread allocated minus bytes it freed (whoever
    /// allocated them). For a check whose work all runs on one thread: the
    /// test harness's own threads allocate while a test runs (its table of
    /// running tests, its output), which [`live_bytes`](Self::live_bytes)
    /// counts too.
    pub fn thread_live_bytes(&self) -> isize {
        THREAD_LIVE.with(Cell::get)
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
            self.count(delta);
        }
        ptr
    }

    /// Adds `delta` to the process's count and to the calling thread's.
    fn count(&self, delta: isize) {
        self.live.fetch_add(delta, Ordering::Relaxed);
        // `try_with`: a thread being torn down may still free memory.
        let _ = THREAD_LIVE.try_with(|live| live.set(live.get() + delta));
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
        self.count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        self.counted(new, new_size as isize - layout.size() as isize)
    }
}
