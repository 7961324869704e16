//! [`Buf`]: the byte buffer behind every encode, read and revert of the SDK.
//!
//! It exists for code size. `Vec<u8>` brings `alloc`'s growth paths, and their failure handler
//! formats the failed size, which links `core`'s number formatting: about 4 KB of a contract
//! that never allocates anything else. `Buf` takes memory straight from the global allocator and
//! has no panicking path: when memory runs out it reverts the call with "out of memory".

use alloc::alloc::{Layout, alloc, dealloc, realloc};
use core::ptr::NonNull;

use parity_scale_codec::{Encode, Output};

use crate::env::ptr;
use crate::sys;

/// A growable byte buffer on the contract's heap that reverts instead of panicking.
pub struct Buf {
    ptr: NonNull<u8>,
    len: usize,
    cap: usize,
}

/// Ends the call: memory is exhausted (the engine caps a contract's linear memory).
#[cold]
fn out_of_memory() -> ! {
    const MESSAGE: &[u8] = b"\x01out of memory";
    // The tag byte is `revert_tag::PANIC`; the message needs no buffer of its own.
    crate::env::revert_bytes(MESSAGE)
}

impl Buf {
    /// An empty buffer with room for `cap` bytes.
    pub fn with_capacity(cap: usize) -> Self {
        let mut buf = Self {
            ptr: NonNull::dangling(),
            len: 0,
            cap: 0,
        };
        buf.reserve(cap);
        buf
    }

    /// `value`, SCALE-encoded.
    pub fn encode<T: Encode + ?Sized>(value: &T) -> Self {
        // Not `size_hint`: for tuples it is an overflow-checked sum, a panic path in every
        // contract; growing the last allocation is cheap with the SDK's allocator.
        let mut buf = Self::with_capacity(32);
        value.encode_to(&mut buf);
        buf
    }

    /// The bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` holds `len` initialised bytes (or is dangling with `len` 0).
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// Number of bytes written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Shortens the buffer to `len` bytes (no effect if it is not longer).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Appends `n` zero bytes.
    pub fn extend_zeroed(&mut self, n: usize) {
        self.reserve(n);
        // SAFETY: `reserve` made room for `n` bytes past `len`.
        unsafe { self.ptr.as_ptr().add(self.len).write_bytes(0, n) };
        // Cannot overflow: `reserve` checked `len + n`.
        self.len = self.len.wrapping_add(n);
    }

    /// Makes room for `additional` more bytes.
    pub fn reserve(&mut self, additional: usize) {
        let Some(needed) = self.len.checked_add(additional) else {
            out_of_memory()
        };
        if needed <= self.cap {
            return;
        }
        let cap = needed.max(self.cap.saturating_mul(2)).max(16);
        let Ok(layout) = Layout::from_size_align(cap, 1) else {
            out_of_memory()
        };
        // SAFETY: sizes are non-zero; an existing block is reallocated with its own layout.
        let new = unsafe {
            if self.cap == 0 {
                alloc(layout)
            } else {
                realloc(
                    self.ptr.as_ptr(),
                    Layout::from_size_align_unchecked(self.cap, 1),
                    cap,
                )
            }
        };
        match NonNull::new(new) {
            Some(p) => {
                self.ptr = p;
                self.cap = cap;
            }
            None => out_of_memory(),
        }
    }

    /// Makes room for `room` bytes and lets the host write into it: `f` gets the address of
    /// the first free byte and returns how many it initialised (clamped to `room`).
    ///
    /// # Safety
    /// `f` must initialise at least as many bytes as it returns and write no more than `room`
    /// (a count above `room` is taken as 0).
    pub(crate) unsafe fn append_from_host(&mut self, room: usize, f: impl FnOnce(i32) -> usize) {
        self.reserve(room);
        // SAFETY: `reserve` made room for `room` bytes past `len`.
        let written = f(ptr(unsafe { self.ptr.as_ptr().add(self.len) }));
        // A count past the room cannot be bytes the host wrote: count none.
        let written = if written > room { 0 } else { written };
        // Cannot overflow: `reserve` checked `len + room`.
        self.len = self.len.wrapping_add(written);
    }

    /// A whole host-held byte string: `len()` gives its length, `read(dst)` writes exactly
    /// that many bytes at `dst`.
    fn from_host(len: impl FnOnce() -> i32, read: impl FnOnce(i32)) -> Self {
        let len = len() as u32 as usize;
        let mut buf = Self::with_capacity(len);
        // SAFETY: the host writes exactly the length it reported.
        unsafe {
            buf.append_from_host(len, |dst| {
                read(dst);
                len
            })
        };
        buf
    }

    /// The call's input.
    pub fn input() -> Self {
        // SAFETY: `input_read` writes `input_len` bytes into the buffer `from_host` made.
        Self::from_host(
            || unsafe { sys::input_len() },
            |dst| unsafe { sys::input_read(dst) },
        )
    }

    /// Return data of the last call or instantiation.
    pub fn return_data() -> Self {
        // SAFETY: `return_data_read` writes `return_data_len` bytes into the buffer `from_host`
        // made.
        Self::from_host(
            || unsafe { sys::return_data_len() },
            |dst| unsafe { sys::return_data_read(dst) },
        )
    }
}

impl Output for Buf {
    fn write(&mut self, bytes: &[u8]) {
        self.reserve(bytes.len());
        // SAFETY: `reserve` made room; the regions cannot overlap (`bytes` is borrowed shared
        // while `self` is borrowed mutably).
        unsafe {
            core::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.ptr.as_ptr().add(self.len),
                bytes.len(),
            )
        };
        self.len = self.len.wrapping_add(bytes.len());
    }

    fn push_byte(&mut self, byte: u8) {
        self.reserve(1);
        // SAFETY: `reserve` made room for one byte.
        unsafe { self.ptr.as_ptr().add(self.len).write(byte) };
        self.len = self.len.wrapping_add(1);
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        if self.cap != 0 {
            // SAFETY: allocated by `reserve` with this layout. The SDK's bump allocator takes
            // the memory back when this was the last allocation, the usual case.
            unsafe {
                dealloc(
                    self.ptr.as_ptr(),
                    Layout::from_size_align_unchecked(self.cap, 1),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn encoding_into_a_buf_gives_the_codec_bytes() {
        let value = (
            7u128,
            [3u8; 32],
            Some(alloc::string::String::from("aether")),
            -5i16,
        );
        assert_eq!(Buf::encode(&value).as_slice(), value.encode().as_slice());
        assert!(Buf::encode(&()).is_empty());
    }

    #[test]
    fn growing_keeps_every_byte_written() {
        let mut buf = Buf::with_capacity(0);
        let mut expected = Vec::new();
        for i in 0..5_000u32 {
            let bytes = i.to_le_bytes();
            buf.write(&bytes[..(i % 4) as usize + 1]);
            buf.push_byte(i as u8);
            expected.extend_from_slice(&bytes[..(i % 4) as usize + 1]);
            expected.push(i as u8);
        }
        assert_eq!(buf.as_slice(), expected.as_slice());
    }

    #[test]
    fn truncate_shortens_and_extend_zeroed_pads() {
        let mut buf = Buf::encode(&[1u8, 2, 3, 4]);
        buf.truncate(10);
        assert_eq!(buf.len(), 4);
        buf.truncate(2);
        buf.extend_zeroed(3);
        assert_eq!(buf.as_slice(), &[1, 2, 0, 0, 0]);
    }
}
