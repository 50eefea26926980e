//! A counting, limited allocator for one QuickJS runtime.
//!
//! Owns: the byte count of everything QuickJS allocates and the "out of memory happened" flag.
//! Invariants: `used` equals the sum of usable sizes of live allocations; an allocation that
//! would pass `limit` fails (QuickJS then throws its out-of-memory error) and sets `oom`, which
//! the interrupt handler turns into an uncatchable termination. After the first failure the
//! limit is raised once by [`OOM_SLACK`] so the engine itself can unwind.

use std::cell::Cell;
use std::rc::Rc;

use rquickjs::allocator::{Allocator, RustAllocator};

/// Extra room granted after the first failed allocation, so the termination can be built.
pub(crate) const OOM_SLACK: usize = 16 << 20;

/// Shared between the allocator (owned by the runtime) and the isolate.
#[derive(Debug)]
pub(crate) struct AllocState {
    pub used: Cell<usize>,
    pub limit: Cell<usize>,
    pub oom: Cell<bool>,
}

impl AllocState {
    pub fn new() -> Rc<Self> {
        Rc::new(AllocState { used: Cell::new(0), limit: Cell::new(usize::MAX), oom: Cell::new(false) })
    }

    fn admit(&self, extra: usize) -> bool {
        let want = self.used.get().saturating_add(extra);
        if want <= self.limit.get() {
            return true;
        }
        if !self.oom.get() {
            self.oom.set(true);
            self.limit.set(self.limit.get().saturating_add(OOM_SLACK));
        }
        false
    }
}

pub(crate) struct CountingAllocator {
    inner: RustAllocator,
    state: Rc<AllocState>,
}

impl CountingAllocator {
    pub fn new(state: Rc<AllocState>) -> Self {
        CountingAllocator { inner: RustAllocator, state }
    }
}

// SAFETY: every pointer handed out comes from `RustAllocator` (which satisfies the trait's
// contract); this wrapper only refuses requests (returning null, which QuickJS handles) and
// keeps a byte count using `RustAllocator::usable_size` on pointers it allocated itself.
unsafe impl Allocator for CountingAllocator {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        if !self.state.admit(size) {
            return std::ptr::null_mut();
        }
        let ptr = self.inner.alloc(size);
        if !ptr.is_null() {
            // SAFETY: `ptr` was just returned by `RustAllocator::alloc`.
            let got = unsafe { RustAllocator::usable_size(ptr) };
            self.state.used.set(self.state.used.get() + got);
        }
        ptr
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        let Some(total) = count.checked_mul(size) else {
            return std::ptr::null_mut();
        };
        if !self.state.admit(total) {
            return std::ptr::null_mut();
        }
        let ptr = self.inner.calloc(count, size);
        if !ptr.is_null() {
            // SAFETY: `ptr` was just returned by `RustAllocator::calloc`.
            let got = unsafe { RustAllocator::usable_size(ptr) };
            self.state.used.set(self.state.used.get() + got);
        }
        ptr
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        // SAFETY: the caller guarantees `ptr` came from this allocator.
        let size = unsafe { RustAllocator::usable_size(ptr) };
        self.state.used.set(self.state.used.get().saturating_sub(size));
        // SAFETY: as above.
        unsafe { self.inner.dealloc(ptr) }
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `ptr` came from this allocator.
        let old = unsafe { RustAllocator::usable_size(ptr) };
        if new_size > old && !self.state.admit(new_size - old) {
            return std::ptr::null_mut();
        }
        // SAFETY: as above; on failure the old block stays valid and counted.
        let out = unsafe { self.inner.realloc(ptr, new_size) };
        if !out.is_null() {
            // SAFETY: `out` was just returned by `RustAllocator::realloc`.
            let got = unsafe { RustAllocator::usable_size(out) };
            self.state.used.set(self.state.used.get().saturating_sub(old) + got);
        }
        out
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        // SAFETY: the caller guarantees `ptr` came from this allocator (i.e. RustAllocator).
        unsafe { RustAllocator::usable_size(ptr) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_refuses_past_limit() {
        let state = AllocState::new();
        let mut a = CountingAllocator::new(state.clone());
        let p = a.alloc(100);
        assert!(!p.is_null());
        assert!(state.used.get() >= 100);
        state.limit.set(state.used.get() + 50);
        assert!(a.alloc(1000).is_null());
        assert!(state.oom.get());
        // SAFETY: `p` came from `a`.
        unsafe { a.dealloc(p) };
        assert_eq!(state.used.get(), 0);
    }
}
