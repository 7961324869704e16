//! The Wasm runtime pieces every contract needs: a global allocator and a panic handler.
//!
//! The allocator is a bump allocator: each call runs in a fresh instance that lives for that
//! call only, so memory is never freed (but for the most recent allocation, given back or
//! resized in place: the SDK's short-lived buffers), and the smallest allocator is the right one
//! (ink! makes the same choice). It grows linear memory as needed; past the engine's 32-page
//! limit allocation fails and the call reverts.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::sync::atomic::{AtomicUsize, Ordering};

const PAGE: usize = 64 * 1024;

struct Bump {
    /// First free byte; 0 until the first allocation.
    next: AtomicUsize,
}

unsafe extern "C" {
    static __heap_base: u8;
}

#[global_allocator]
static ALLOCATOR: Bump = Bump {
    next: AtomicUsize::new(0),
};

/// Grows linear memory so that it holds `end` bytes; false if the engine refuses.
fn ensure_memory(end: usize) -> bool {
    // Wraps only at 4 GiB of memory, far past the engine's limit; growing then fails.
    let have = wasm32::memory_size(0).wrapping_mul(PAGE);
    end <= have || wasm32::memory_grow(0, (end - have).div_ceil(PAGE)) != usize::MAX
}

// SAFETY: Wasm contracts are single-threaded; the atomic only gives interior mutability.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut next = self.next.load(Ordering::Relaxed);
        if next == 0 {
            next = core::ptr::addr_of!(__heap_base) as usize;
        }
        let mask = layout.align().wrapping_sub(1);
        let Some(start) = next.checked_add(mask).map(|n| n & !mask) else {
            return core::ptr::null_mut();
        };
        match start.checked_add(layout.size()) {
            Some(end) if ensure_memory(end) => {
                self.next.store(end, Ordering::Relaxed);
                start as *mut u8
            }
            _ => core::ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Give back the most recent allocation, the common case of a short-lived buffer.
        if (ptr as usize).wrapping_add(layout.size()) == self.next.load(Ordering::Relaxed) {
            self.next.store(ptr as usize, Ordering::Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Resize the most recent allocation in place.
        if (ptr as usize).wrapping_add(layout.size()) == self.next.load(Ordering::Relaxed) {
            return match (ptr as usize).checked_add(new_size) {
                Some(end) if ensure_memory(end) => {
                    self.next.store(end, Ordering::Relaxed);
                    ptr
                }
                _ => core::ptr::null_mut(),
            };
        }
        // SAFETY: as GlobalAlloc::realloc's default: a new block and a copy. The old block is
        // not the last one, so a bump allocator cannot take it back: it is left unused.
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
            // Formatting allocates; if that panics too (memory exhausted), do not format again.
            static FORMATTING: core::sync::atomic::AtomicBool =
                core::sync::atomic::AtomicBool::new(false);
            if FORMATTING.swap(true, Ordering::Relaxed) {
                crate::env::revert_with_message("panic while formatting a panic message")
            }
            let text = alloc::format!("{message}");
            crate::env::revert_with_message(&text)
        }
        // Without formatting machinery (about 3 KB of code) only literal messages survive.
        #[cfg(not(feature = "formatted-panics"))]
        None => crate::env::revert_with_message("panic (message formatting disabled)"),
    }
}
