//! Contract storage: raw byte access, [`Lazy`] single values and [`Mapping`]s.
//!
//! Values are SCALE-encoded. A [`Lazy`] or [`Mapping`] reads storage only when accessed, and
//! writes only when told to; the `&mut self` on writers means a read-only (`&self`) method of a
//! contract cannot write through them. A value that does not decode as its type reverts the
//! call with a message rather than returning garbage.

use alloc::vec::Vec;
use core::marker::PhantomData;

use parity_scale_codec::{Decode, Encode, Output};

use crate::buf::Buf;
use crate::env::ptr;
use crate::sys;

/// Longest storage key the host accepts.
pub const MAX_KEY_LEN: usize = 256;

/// Reads the value at `key`: into a 64-byte buffer first, and again at its exact length if it
/// is longer.
fn read(key: &[u8]) -> Option<Buf> {
    const FIRST: usize = 64;
    let mut buf = Buf::with_capacity(FIRST);
    let mut stored = -1;
    // SAFETY: `key` is live. The host reports the value's full length and copies it only if
    // it fits in `FIRST` bytes (`docs/host-abi.md`), so only then are bytes initialised.
    unsafe {
        buf.append_from_host(FIRST, |dst| {
            stored = sys::storage_read(ptr(key.as_ptr()), key.len() as i32, dst, FIRST as i32);
            if (0..=FIRST as i32).contains(&stored) {
                stored as usize
            } else {
                0
            }
        })
    };
    if stored < 0 {
        return None;
    }
    let stored = stored as usize;
    if stored > FIRST {
        // SAFETY: as above, with room for the whole value (nothing was written before).
        unsafe {
            buf.append_from_host(stored, |dst| {
                sys::storage_read(ptr(key.as_ptr()), key.len() as i32, dst, stored as i32);
                stored
            })
        };
    }
    Some(buf)
}

/// The raw value at `key`, if any.
pub fn get_raw(key: &[u8]) -> Option<Vec<u8>> {
    read(key).map(|buf| buf.as_slice().to_vec())
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
    read(key).map(|bytes| {
        V::decode(&mut bytes.as_slice())
            .unwrap_or_else(|_| crate::env::revert_with_message("corrupt storage value"))
    })
}

/// Stores `value` at `key`, SCALE-encoded.
pub fn set<V: Encode + ?Sized>(key: &[u8], value: &V) {
    set_raw(key, Buf::encode(value).as_slice())
}

/// A storage handle the [`crate::contract`] macro places at a fixed prefix: each field of a
/// contract's `#[storage]` struct gets a distinct 8-byte prefix derived from the struct and
/// field names.
pub trait StorageField {
    /// The key (or map prefix) the handle's type fixes, if any: the macro checks at compile
    /// time that no two fields of a storage struct share one.
    const KEY: Option<u64> = None;

    /// The handle at `prefix`.
    fn at(prefix: [u8; 8]) -> Self;
}

/// Whether two of `keys` are equal (for the macro's compile-time check).
#[doc(hidden)]
pub const fn keys_repeat(keys: &[Option<u64>]) -> bool {
    let mut i = 0;
    while i < keys.len() {
        let mut j = i + 1;
        while j < keys.len() {
            if let (Some(a), Some(b)) = (keys[i], keys[j])
                && a == b
            {
                return true;
            }
            j += 1;
        }
        i += 1;
    }
    false
}

const PREFIX_LEN: usize = 8;

/// One value stored under the 8-byte key `KEY.to_le_bytes()`, read when asked for.
///
/// In a `#[storage]` struct write `Lazy<T>`: the macro fills in `KEY` from the struct and field
/// names. Write `Lazy<T, KEY>` to choose the key yourself. The handle is zero-sized: the key is a
/// constant of the code, not data.
pub struct Lazy<T, const KEY: u64> {
    _value: PhantomData<T>,
}

impl<T: Encode + Decode, const KEY: u64> Lazy<T, KEY> {
    /// The handle.
    pub const fn new() -> Self {
        Self {
            _value: PhantomData,
        }
    }

    /// The stored value, if set.
    #[inline(always)]
    pub fn get(&self) -> Option<T> {
        get(&KEY.to_le_bytes())
    }

    /// Stores `value`.
    #[inline(always)]
    pub fn set(&mut self, value: &T) {
        set(&KEY.to_le_bytes(), value)
    }

    /// Removes the value; returns whether there was one.
    #[inline(always)]
    pub fn clear(&mut self) -> bool {
        remove(&KEY.to_le_bytes())
    }

    /// Whether a value is stored.
    #[inline(always)]
    pub fn exists(&self) -> bool {
        contains(&KEY.to_le_bytes())
    }
}

impl<T: Encode + Decode + Default, const KEY: u64> Lazy<T, KEY> {
    /// The stored value, or `T::default()`.
    #[inline(always)]
    pub fn get_or_default(&self) -> T {
        self.get().unwrap_or_default()
    }
}

impl<T: Encode + Decode, const KEY: u64> Default for Lazy<T, KEY> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const KEY: u64> StorageField for Lazy<T, KEY> {
    const KEY: Option<u64> = Some(KEY);

    /// The handle; its key is `KEY` (the macro gives the same prefix to both).
    fn at(_prefix: [u8; 8]) -> Self {
        Self {
            _value: PhantomData,
        }
    }
}

/// Map-key forms: the byte after the prefix says whether the encoded key follows or its hash.
/// Without it, a short key whose encoding happens to equal the hash of a long key would share
/// its slot (an attacker can search for one: 256 tries for `Vec<u8>` keys).
const KEY_PLAIN: u8 = 0;
const KEY_HASHED: u8 = 1;

/// Replaces the encoded key after prefix and tag by its SHA-256, re-tagged, if the whole key
/// is longer than [`MAX_KEY_LEN`].
fn hash_long_key(k: &mut Buf) {
    if k.len() > MAX_KEY_LEN {
        let digest = crate::crypto::sha256(k.as_slice().get(PREFIX_LEN + 1..).unwrap_or_default());
        k.truncate(PREFIX_LEN);
        k.push_byte(KEY_HASHED);
        k.write(&digest);
    }
}

/// The storage key of `key` in the map at `prefix`: prefix ‖ 0x00 ‖ SCALE(key), or
/// prefix ‖ 0x01 ‖ SHA-256(SCALE(key)) when that would be longer than [`MAX_KEY_LEN`].
pub(crate) fn map_key<K: Encode + ?Sized>(prefix: u64, key: &K) -> Buf {
    // Room for the usual 32-byte key; `size_hint` is not asked (for tuples it is an
    // overflow-checked sum: a panic path in every contract with such a key).
    let mut k = Buf::with_capacity(PREFIX_LEN + 1 + 32);
    k.write(&prefix.to_le_bytes());
    k.push_byte(KEY_PLAIN);
    key.encode_to(&mut k);
    hash_long_key(&mut k);
    k
}

// The map operations, shared by every map with the same key and value types (the handles'
// methods are inlined wrappers that pass their prefix).
fn map_get<K: Encode, V: Decode>(prefix: u64, key: &K) -> Option<V> {
    get(map_key(prefix, key).as_slice())
}

fn map_insert<K: Encode, V: Encode>(prefix: u64, key: &K, value: &V) {
    set(map_key(prefix, key).as_slice(), value)
}

/// A map from SCALE-encodable keys to values, each entry its own storage slot: the storage key
/// is the 8-byte prefix `PREFIX.to_le_bytes()`, then 0x00 and the encoded key, or, if that
/// would exceed [`MAX_KEY_LEN`], 0x01 and its SHA-256.
///
/// In a `#[storage]` struct write `Mapping<K, V>`: the macro fills in `PREFIX` from the struct
/// and field names. Write `Mapping<K, V, PREFIX>` to choose the prefix yourself. The handle is
/// zero-sized.
pub struct Mapping<K, V, const PREFIX: u64> {
    _types: PhantomData<(K, V)>,
}

impl<K: Encode, V: Encode + Decode, const PREFIX: u64> Mapping<K, V, PREFIX> {
    /// The map.
    pub const fn new() -> Self {
        Self {
            _types: PhantomData,
        }
    }

    /// The value at `key`, if any.
    #[inline(always)]
    pub fn get(&self, key: &K) -> Option<V> {
        map_get(PREFIX, key)
    }

    /// Sets `key` to `value`.
    #[inline(always)]
    pub fn insert(&mut self, key: &K, value: &V) {
        map_insert(PREFIX, key, value)
    }

    /// Removes `key`; returns whether it was set.
    pub fn remove(&mut self, key: &K) -> bool {
        remove(map_key(PREFIX, key).as_slice())
    }

    /// Whether `key` is set.
    pub fn contains(&self, key: &K) -> bool {
        contains(map_key(PREFIX, key).as_slice())
    }
}

impl<K: Encode, V: Encode + Decode + Default, const PREFIX: u64> Mapping<K, V, PREFIX> {
    /// The value at `key`, or `V::default()`.
    #[inline(always)]
    pub fn get_or_default(&self, key: &K) -> V {
        self.get(key).unwrap_or_default()
    }
}

impl<K: Encode, V: Encode + Decode, const PREFIX: u64> Default for Mapping<K, V, PREFIX> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V, const PREFIX: u64> StorageField for Mapping<K, V, PREFIX> {
    const KEY: Option<u64> = Some(PREFIX);

    /// The handle; its prefix is `PREFIX` (the macro gives the same prefix to both).
    fn at(_prefix: [u8; 8]) -> Self {
        Self {
            _types: PhantomData,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_are_found_and_keyless_handles_ignored() {
        assert!(!keys_repeat(&[Some(1), Some(2), None, None]));
        assert!(keys_repeat(&[Some(1), None, Some(1)]));
        assert!(!keys_repeat(&[]));
        assert_eq!(<Lazy<u8, 5> as StorageField>::KEY, Some(5));
    }

    #[test]
    fn storage_handles_are_zero_sized() {
        assert_eq!(core::mem::size_of::<Lazy<u128, 1>>(), 0);
        assert_eq!(core::mem::size_of::<Mapping<crate::Address, u128, 2>>(), 0);
    }
}
