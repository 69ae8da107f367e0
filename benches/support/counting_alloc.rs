//! A global allocator that counts allocations and live heap bytes, shared by the compare
//! bench and the zero-allocation test (included with `#[path]`). It wraps the system
//! allocator; the library itself stays `forbid(unsafe_code)`, and this is the only unsafe in
//! the repository: `GlobalAlloc` cannot be implemented without it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

pub struct Counting;

thread_local! {
    /// Allocations (alloc, alloc_zeroed, realloc) made by this thread.
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    /// Bytes allocated and not yet freed by this thread (may go negative when a thread frees
    /// what another allocated; the measurements stay on one thread).
    static LIVE: Cell<i64> = const { Cell::new(0) };
    /// The most `LIVE` reached since the last [`reset_peak`].
    static PEAK: Cell<i64> = const { Cell::new(0) };
}

fn count(delta_bytes: i64, new_block: bool) {
    // `try_with`: the thread-local may be gone while a thread shuts down.
    let _ = LIVE.try_with(|l| {
        l.set(l.get() + delta_bytes);
        let _ = PEAK.try_with(|p| p.set(p.get().max(l.get())));
    });
    if new_block {
        let _ = ALLOCS.try_with(|a| a.set(a.get() + 1));
    }
}

// SAFETY: every call is forwarded unchanged to `System`; the counters are plain thread-local
// cells that never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as i64, true);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as i64, true);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as i64), false);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as i64 - layout.size() as i64, true);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations made by this thread so far.
#[allow(dead_code)] // the flood tests measure bytes only
pub fn allocations() -> u64 {
    ALLOCS.with(|a| a.get())
}

/// Heap bytes this thread holds now.
#[allow(dead_code)] // both the bench and the allocation test use it; keep the allow for other includers
pub fn live_bytes() -> i64 {
    LIVE.with(|l| l.get())
}

/// Starts a new peak measurement at the bytes held now.
#[allow(dead_code)] // the flood tests use it
pub fn reset_peak() {
    let live = live_bytes();
    PEAK.with(|p| p.set(live));
}

/// The most heap bytes this thread held since [`reset_peak`].
#[allow(dead_code)]
pub fn peak_bytes() -> i64 {
    PEAK.with(|p| p.get())
}
