//! The Wasm runtime pieces every contract needs: a global allocator and a panic handler.
//!
//! The allocator is a bump allocator: each call runs in a fresh instance that lives for that
//! call only, so memory is never freed, and the smallest allocator is the right one (ink! makes
//! the same choice). It grows linear memory a page at a time; past the engine's 32-page limit
//! allocation fails and the call reverts.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::sync::atomic::{AtomicUsize, Ordering};

const PAGE: usize = 64 * 1024;

struct Bump {
    next: AtomicUsize,
    end: AtomicUsize,
}

unsafe extern "C" {
    static __heap_base: u8;
}

#[global_allocator]
static ALLOCATOR: Bump = Bump {
    next: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
};

// SAFETY: Wasm contracts are single-threaded; the atomics only give interior mutability.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut next = self.next.load(Ordering::Relaxed);
        let mut end = self.end.load(Ordering::Relaxed);
        if next == 0 {
            next = core::ptr::addr_of!(__heap_base) as usize;
            end = wasm32::memory_size(0) * PAGE;
        }
        let start = (next + layout.align() - 1) & !(layout.align() - 1);
        let Some(new_next) = start.checked_add(layout.size()) else {
            return core::ptr::null_mut();
        };
        if new_next > end {
            let pages = (new_next - end).div_ceil(PAGE);
            if wasm32::memory_grow(0, pages) == usize::MAX {
                return core::ptr::null_mut();
            }
            end += pages * PAGE;
        }
        self.next.store(new_next, Ordering::Relaxed);
        self.end.store(end, Ordering::Relaxed);
        start as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Give back the most recent allocation, the common case of a short-lived buffer.
        if ptr as usize + layout.size() == self.next.load(Ordering::Relaxed) {
            self.next.store(ptr as usize, Ordering::Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let next = self.next.load(Ordering::Relaxed);
        // Grow the most recent allocation in place.
        if ptr as usize + layout.size() == next {
            let new_end = ptr as usize + new_size;
            if new_end <= self.end.load(Ordering::Relaxed) {
                self.next.store(new_end, Ordering::Relaxed);
                return ptr;
            }
        }
        // SAFETY: as GlobalAlloc::realloc's default: a new block, copy, free the old one.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let new = self.alloc(new_layout);
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            }
            new
        }
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let message = info.message();
    match message.as_str() {
        Some(s) => crate::env::revert_with_message(s),
        #[cfg(feature = "formatted-panics")]
        None => {
            let text = alloc::format!("{message}");
            crate::env::revert_with_message(&text)
        }
        // Without formatting machinery (about 3 KB of code) only literal messages survive.
        #[cfg(not(feature = "formatted-panics"))]
        None => crate::env::revert_with_message("panic (message formatting disabled)"),
    }
}
