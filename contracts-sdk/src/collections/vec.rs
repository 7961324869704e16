//! [`StorageVec`]: a vector whose elements are storage slots of their own.

use core::marker::PhantomData;

use parity_scale_codec::{Decode, Encode};

use crate::storage::{self, StorageField};

/// An index past the end of a [`StorageVec`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct OutOfBounds {
    /// The index asked for.
    pub index: u32,
    /// The vector's length.
    pub len: u32,
}

/// A vector in contract storage. Each element is a storage slot of its own, so an operation
/// reads and writes only the elements it touches, whatever the length.
///
/// Layout under the 8-byte prefix `P = PREFIX.to_le_bytes()`:
///
/// | key | value |
/// |---|---|
/// | `P` | the length, SCALE `u32` (absent = 0) |
/// | `P ‖ index` (`u32`, 4 bytes LE) | element `index`, SCALE-encoded |
///
/// In a `#[storage]` struct write `StorageVec<T>`: the macro fills in `PREFIX` from the struct
/// and field names. The handle is zero-sized and keeps nothing in memory: every call reads the
/// length from storage, so a nested call back into the contract sees the same vector.
pub struct StorageVec<T, const PREFIX: u64> {
    _element: PhantomData<T>,
}

fn element_key(prefix: u64, index: u32) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..8].copy_from_slice(&prefix.to_le_bytes());
    key[8..].copy_from_slice(&index.to_le_bytes());
    key
}

/// Element `index`, known to be below the length: a missing slot means the prefix was written
/// by something else than this handle, and the call reverts.
fn element<T: Decode>(prefix: u64, index: u32) -> T {
    storage::get(&element_key(prefix, index))
        .unwrap_or_else(|| crate::env::revert_with_message("StorageVec element missing"))
}

fn len_of(prefix: u64) -> u32 {
    storage::get(&prefix.to_le_bytes()).unwrap_or(0)
}

fn set_len(prefix: u64, len: u32) {
    if len == 0 {
        storage::remove(&prefix.to_le_bytes());
    } else {
        storage::set(&prefix.to_le_bytes(), &len);
    }
}

impl<T: Encode + Decode, const PREFIX: u64> StorageVec<T, PREFIX> {
    /// The handle.
    pub const fn new() -> Self {
        Self {
            _element: PhantomData,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> u32 {
        len_of(PREFIX)
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `index`, if `index < len`.
    pub fn get(&self, index: u32) -> Option<T> {
        if index >= self.len() {
            return None;
        }
        Some(element(PREFIX, index))
    }

    /// The last element.
    pub fn last(&self) -> Option<T> {
        let last = self.len().checked_sub(1)?;
        Some(element(PREFIX, last))
    }

    /// Replaces element `index`.
    pub fn set(&mut self, index: u32, value: &T) -> Result<(), OutOfBounds> {
        let len = self.len();
        if index >= len {
            return Err(OutOfBounds { index, len });
        }
        storage::set(&element_key(PREFIX, index), value);
        Ok(())
    }

    /// Appends `value`. Reverts if the vector already holds `u32::MAX` elements.
    pub fn push(&mut self, value: &T) {
        let len = self.len();
        let Some(next) = len.checked_add(1) else {
            crate::env::revert_with_message("StorageVec is full")
        };
        storage::set(&element_key(PREFIX, len), value);
        set_len(PREFIX, next);
    }

    /// Removes and returns the last element.
    pub fn pop(&mut self) -> Option<T> {
        let last = self.len().checked_sub(1)?;
        let value = element(PREFIX, last);
        storage::remove(&element_key(PREFIX, last));
        set_len(PREFIX, last);
        Some(value)
    }

    /// Removes element `index` and returns it; the last element takes its place (O(1), the
    /// order of the others is kept).
    pub fn swap_remove(&mut self, index: u32) -> Option<T> {
        let len = self.len();
        if index >= len {
            return None;
        }
        let last = len - 1;
        let key = element_key(PREFIX, index);
        let value = element(PREFIX, index);
        if index != last {
            // The last element's bytes move as they are: no decoding and encoding again.
            let last_key = element_key(PREFIX, last);
            let moved = storage::get_raw(&last_key)
                .unwrap_or_else(|| crate::env::revert_with_message("StorageVec element missing"));
            storage::set_raw(&key, &moved);
            storage::remove(&last_key);
        } else {
            storage::remove(&key);
        }
        set_len(PREFIX, last);
        Some(value)
    }

    /// Removes every element: one storage removal per element.
    pub fn clear(&mut self) {
        let len = self.len();
        for i in 0..len {
            storage::remove(&element_key(PREFIX, i));
        }
        set_len(PREFIX, 0);
    }

    /// The elements in order, each read when the iterator reaches it.
    pub fn iter(&self) -> Iter<'_, T, PREFIX> {
        Iter {
            next: 0,
            end: self.len(),
            _vec: self,
        }
    }
}

/// Iterator over a [`StorageVec`]'s elements ([`StorageVec::iter`]).
pub struct Iter<'a, T, const PREFIX: u64> {
    next: u32,
    end: u32,
    _vec: &'a StorageVec<T, PREFIX>,
}

impl<T: Decode, const PREFIX: u64> Iterator for Iter<'_, T, PREFIX> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.next >= self.end {
            return None;
        }
        let value = element(PREFIX, self.next);
        self.next += 1;
        Some(value)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.end - self.next) as usize;
        (n, Some(n))
    }
}

impl<T: Decode, const PREFIX: u64> DoubleEndedIterator for Iter<'_, T, PREFIX> {
    fn next_back(&mut self) -> Option<T> {
        if self.next >= self.end {
            return None;
        }
        self.end -= 1;
        Some(element(PREFIX, self.end))
    }
}

impl<T: Encode + Decode, const PREFIX: u64> Default for StorageVec<T, PREFIX> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const PREFIX: u64> StorageField for StorageVec<T, PREFIX> {
    const KEY: Option<u64> = Some(PREFIX);

    /// The handle; its prefix is `PREFIX` (the macro gives the same prefix to both).
    fn at(_prefix: [u8; 8]) -> Self {
        Self {
            _element: PhantomData,
        }
    }
}
