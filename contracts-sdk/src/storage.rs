//! Contract storage: raw byte access, [`Lazy`] single values and [`Mapping`]s.
//!
//! Values are SCALE-encoded. A [`Lazy`] or [`Mapping`] reads storage only when accessed, and
//! writes only when told to; the `&mut self` on writers means a read-only (`&self`) method of a
//! contract cannot write through them. A value that does not decode as its type reverts the
//! call with a message rather than returning garbage.

use alloc::vec::Vec;
use core::marker::PhantomData;

use parity_scale_codec::{Decode, Encode};

use crate::env::ptr;
use crate::sys;

/// Longest storage key the host accepts.
pub const MAX_KEY_LEN: usize = 256;

/// The raw value at `key`, if any.
pub fn get_raw(key: &[u8]) -> Option<Vec<u8>> {
    let mut buf = alloc::vec![0u8; 64];
    // SAFETY: `key` is live; the host writes at most `buf.len()` bytes.
    let len = unsafe {
        sys::storage_read(
            ptr(key.as_ptr()),
            key.len() as i32,
            ptr(buf.as_mut_ptr()),
            buf.len() as i32,
        )
    };
    if len < 0 {
        return None;
    }
    let len = len as usize;
    if len > buf.len() {
        buf.resize(len, 0);
        // SAFETY: as above, with a buffer of the value's exact length.
        unsafe {
            sys::storage_read(
                ptr(key.as_ptr()),
                key.len() as i32,
                ptr(buf.as_mut_ptr()),
                len as i32,
            );
        }
    }
    buf.truncate(len);
    Some(buf)
}

/// Sets `key` to raw `value`.
pub fn set_raw(key: &[u8], value: &[u8]) {
    // SAFETY: both slices are live.
    unsafe {
        sys::storage_write(
            ptr(key.as_ptr()),
            key.len() as i32,
            ptr(value.as_ptr()),
            value.len() as i32,
        )
    }
}

/// Removes `key`; returns whether it existed.
pub fn remove(key: &[u8]) -> bool {
    // SAFETY: `key` is live.
    unsafe { sys::storage_remove(ptr(key.as_ptr()), key.len() as i32) == 1 }
}

/// Whether `key` holds a value.
pub fn contains(key: &[u8]) -> bool {
    // SAFETY: `key` is live.
    unsafe { sys::storage_has(ptr(key.as_ptr()), key.len() as i32) == 1 }
}

/// The decoded value at `key`. Reverts if the stored bytes do not decode as `V`.
pub fn get<V: Decode>(key: &[u8]) -> Option<V> {
    get_raw(key).map(|bytes| {
        V::decode(&mut &bytes[..])
            .unwrap_or_else(|_| crate::env::revert_with_message("corrupt storage value"))
    })
}

/// Stores `value` at `key`, SCALE-encoded.
pub fn set<V: Encode + ?Sized>(key: &[u8], value: &V) {
    value.using_encoded(|bytes| set_raw(key, bytes))
}

/// A storage handle the [`crate::contract`] macro places at a fixed prefix: each field of a
/// contract's `#[storage]` struct gets a distinct 8-byte prefix derived from the struct and
/// field names.
pub trait StorageField {
    /// The handle at `prefix`.
    fn at(prefix: [u8; 8]) -> Self;
}

/// One value stored under the field's key, read when asked for.
pub struct Lazy<T> {
    key: [u8; 8],
    _value: PhantomData<T>,
}

impl<T: Encode + Decode> Lazy<T> {
    /// The handle at `key`.
    pub const fn new(key: [u8; 8]) -> Self {
        Self {
            key,
            _value: PhantomData,
        }
    }

    /// The stored value, if set.
    pub fn get(&self) -> Option<T> {
        get(&self.key)
    }

    /// Stores `value`.
    pub fn set(&mut self, value: &T) {
        set(&self.key, value)
    }

    /// Removes the value; returns whether there was one.
    pub fn clear(&mut self) -> bool {
        remove(&self.key)
    }

    /// Whether a value is stored.
    pub fn exists(&self) -> bool {
        contains(&self.key)
    }
}

impl<T: Encode + Decode + Default> Lazy<T> {
    /// The stored value, or `T::default()`.
    pub fn get_or_default(&self) -> T {
        self.get().unwrap_or_default()
    }
}

impl<T> StorageField for Lazy<T> {
    fn at(prefix: [u8; 8]) -> Self {
        Self {
            key: prefix,
            _value: PhantomData,
        }
    }
}

/// A map from SCALE-encodable keys to values, each entry its own storage slot: the storage key
/// is the field prefix followed by the encoded key (or, if that would exceed
/// [`MAX_KEY_LEN`], by its SHA-256).
pub struct Mapping<K, V> {
    prefix: [u8; 8],
    _types: PhantomData<(K, V)>,
}

impl<K: Encode, V: Encode + Decode> Mapping<K, V> {
    /// The map at `prefix`.
    pub const fn new(prefix: [u8; 8]) -> Self {
        Self {
            prefix,
            _types: PhantomData,
        }
    }

    fn key(&self, key: &K) -> Vec<u8> {
        let mut k = Vec::with_capacity(8 + key.size_hint());
        k.extend_from_slice(&self.prefix);
        key.encode_to(&mut k);
        if k.len() > MAX_KEY_LEN {
            let digest = crate::crypto::sha256(&k[8..]);
            k.truncate(8);
            k.extend_from_slice(&digest);
        }
        k
    }

    /// The value at `key`, if any.
    pub fn get(&self, key: &K) -> Option<V> {
        get(&self.key(key))
    }

    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: &K, value: &V) {
        set(&self.key(key), value)
    }

    /// Removes `key`; returns whether it was set.
    pub fn remove(&mut self, key: &K) -> bool {
        remove(&self.key(key))
    }

    /// Whether `key` is set.
    pub fn contains(&self, key: &K) -> bool {
        contains(&self.key(key))
    }
}

impl<K: Encode, V: Encode + Decode + Default> Mapping<K, V> {
    /// The value at `key`, or `V::default()`.
    pub fn get_or_default(&self, key: &K) -> V {
        self.get(key).unwrap_or_default()
    }
}

impl<K, V> StorageField for Mapping<K, V> {
    fn at(prefix: [u8; 8]) -> Self {
        Self {
            prefix,
            _types: PhantomData,
        }
    }
}
