//! [`IterableMapping`]: a map that can list its entries, in the order their keys were first
//! inserted.

use core::marker::PhantomData;

use parity_scale_codec::{Decode, Encode};

use crate::buf::Buf;
use crate::storage::{self, StorageField, map_key};

/// Tag of a node key (after the prefix): distinct from the map-key tags 0 (plain) and 1
/// (hashed) of [`storage::map_key`].
const NODE: u8 = 2;

/// The map's header, at the bare prefix.
#[derive(Clone, Copy, Default)]
struct Header {
    len: u32,
    /// First slot in order (0: none).
    head: u32,
    /// Last slot in order (0: none).
    tail: u32,
    /// The highest slot id given out; slots are never reused.
    last_slot: u32,
}

/// A key's place in the order: its neighbours' slots (0: none) and the key itself.
#[derive(Encode, Decode)]
struct Node<K> {
    prev: u32,
    next: u32,
    key: K,
}

fn node_key(prefix: u64, slot: u32) -> [u8; 13] {
    let mut k = [0u8; 13];
    k[..8].copy_from_slice(&prefix.to_le_bytes());
    k[8] = NODE;
    k[9..].copy_from_slice(&slot.to_le_bytes());
    k
}

fn corrupt() -> ! {
    crate::env::revert_with_message("IterableMapping links broken")
}

// The header is read and written as its 16 bytes (four SCALE `u32`s), not through a derived
// `Decode`: contracts are built at opt-level `s`, where generic instantiations are shared
// between crates, and a derived decoder in non-generic SDK code made the token 166 bytes larger
// (its own `Address` decoder kept its error strings) without the token using this map.
fn header(prefix: u64) -> Header {
    let Some(raw) = storage::get_raw(&prefix.to_le_bytes()) else {
        return Header::default();
    };
    let Some(b) = raw.first_chunk::<16>().filter(|_| raw.len() == 16) else {
        corrupt()
    };
    let word = |i: usize| slot_of(&b[i * 4..]);
    Header {
        len: word(0),
        head: word(1),
        tail: word(2),
        last_slot: word(3),
    }
}

fn set_header(prefix: u64, h: &Header) {
    if h.len == 0 && h.last_slot == 0 {
        storage::remove(&prefix.to_le_bytes());
    } else {
        let mut raw = [0u8; 16];
        for (i, w) in [h.len, h.head, h.tail, h.last_slot].into_iter().enumerate() {
            raw[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
        storage::set_raw(&prefix.to_le_bytes(), &raw);
    }
}

fn node<K: Decode>(prefix: u64, slot: u32) -> Node<K> {
    storage::get(&node_key(prefix, slot)).unwrap_or_else(|| corrupt())
}

/// Rewrites one link of the node at `slot` without decoding its key: the links are the first
/// 8 bytes of its encoding.
fn relink(prefix: u64, slot: u32, prev: Option<u32>, next: Option<u32>) {
    let key = node_key(prefix, slot);
    let mut bytes = storage::get_raw(&key).unwrap_or_else(|| corrupt());
    if bytes.len() < 8 {
        corrupt()
    }
    if let Some(p) = prev {
        bytes[..4].copy_from_slice(&p.to_le_bytes());
    }
    if let Some(n) = next {
        bytes[4..8].copy_from_slice(&n.to_le_bytes());
    }
    storage::set_raw(&key, &bytes);
}

/// The slot stored at the front of an entry's value (SCALE `u32`: 4 bytes LE).
fn slot_of(entry: &[u8]) -> u32 {
    match entry.first_chunk::<4>() {
        Some(b) => u32::from_le_bytes(*b),
        None => corrupt(),
    }
}

/// A map in contract storage that knows its keys: besides lookups by key (one storage read,
/// as [`crate::Mapping`]), it has a length and iterates its entries in the order their keys
/// were first inserted. Overwriting a key keeps its place; removing it and inserting it again
/// moves it to the end. Every operation touches a bounded number of slots (insert of a new
/// key: 5 writes; remove: up to 5) except [`IterableMapping::clear`].
///
/// Layout under the 8-byte prefix `P = PREFIX.to_le_bytes()` (slots are `u32` ids, 4 bytes
/// LE, from 1; 0 means none):
///
/// | key | value |
/// |---|---|
/// | `P` | header: SCALE `(len, head, tail, last_slot)`, four `u32` |
/// | `P ‖ 0x00 ‖ SCALE(key)`, or `P ‖ 0x01 ‖ SHA-256(SCALE(key))` past 256 bytes (as `Mapping`) | SCALE `(slot: u32, value)` |
/// | `P ‖ 0x02 ‖ slot` | SCALE `(prev: u32, next: u32, key)` |
///
/// In a `#[storage]` struct write `IterableMapping<K, V>`: the macro fills in `PREFIX`. The
/// handle is zero-sized and keeps nothing in memory.
pub struct IterableMapping<K, V, const PREFIX: u64> {
    _types: PhantomData<(K, V)>,
}

impl<K: Encode + Decode, V: Encode + Decode, const PREFIX: u64> IterableMapping<K, V, PREFIX> {
    /// The map.
    pub const fn new() -> Self {
        Self {
            _types: PhantomData,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> u32 {
        header(PREFIX).len
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value at `key`, if any.
    pub fn get(&self, key: &K) -> Option<V> {
        storage::get::<(u32, V)>(map_key(PREFIX, key).as_slice()).map(|(_, v)| v)
    }

    /// Whether `key` is set.
    pub fn contains(&self, key: &K) -> bool {
        storage::contains(map_key(PREFIX, key).as_slice())
    }

    /// Sets `key` to `value`; returns whether the key is new (an existing key keeps its place
    /// in the order). Reverts once 2^32 - 1 distinct insertions have been made.
    pub fn insert(&mut self, key: &K, value: &V) -> bool {
        let entry_key = map_key(PREFIX, key);
        if let Some(old) = storage::get_raw(entry_key.as_slice()) {
            let slot = slot_of(&old);
            storage::set(entry_key.as_slice(), &(slot, value));
            return false;
        }
        let mut h = header(PREFIX);
        let Some(slot) = h.last_slot.checked_add(1) else {
            crate::env::revert_with_message("IterableMapping slots exhausted")
        };
        let Some(len) = h.len.checked_add(1) else {
            crate::env::revert_with_message("IterableMapping is full")
        };
        storage::set(entry_key.as_slice(), &(slot, value));
        storage::set(
            &node_key(PREFIX, slot),
            &Node {
                prev: h.tail,
                next: 0,
                key,
            },
        );
        if h.tail == 0 {
            h.head = slot;
        } else {
            relink(PREFIX, h.tail, None, Some(slot));
        }
        h.tail = slot;
        h.last_slot = slot;
        h.len = len;
        set_header(PREFIX, &h);
        true
    }

    /// Removes `key` and returns its value.
    pub fn take(&mut self, key: &K) -> Option<V> {
        let entry_key = map_key(PREFIX, key);
        let (slot, value) = storage::get::<(u32, V)>(entry_key.as_slice())?;
        self.unlink(entry_key, slot);
        Some(value)
    }

    /// Removes `key`; returns whether it was set.
    pub fn remove(&mut self, key: &K) -> bool {
        let entry_key = map_key(PREFIX, key);
        let Some(entry) = storage::get_raw(entry_key.as_slice()) else {
            return false;
        };
        self.unlink(entry_key, slot_of(&entry));
        true
    }

    fn unlink(&mut self, entry_key: Buf, slot: u32) {
        let mut h = header(PREFIX);
        let node_at = node_key(PREFIX, slot);
        let links = storage::get_raw(&node_at).unwrap_or_else(|| corrupt());
        let (prev, next) = match links.first_chunk::<8>() {
            Some(b) => (slot_of(&b[..4]), slot_of(&b[4..])),
            None => corrupt(),
        };
        if prev == 0 {
            h.head = next;
        } else {
            relink(PREFIX, prev, None, Some(next));
        }
        if next == 0 {
            h.tail = prev;
        } else {
            relink(PREFIX, next, Some(prev), None);
        }
        h.len = h.len.checked_sub(1).unwrap_or_else(|| corrupt());
        storage::remove(entry_key.as_slice());
        storage::remove(&node_at);
        set_header(PREFIX, &h);
    }

    /// Removes every entry: two storage removals per entry. The slot counter is kept, so slot
    /// ids are never reused.
    pub fn clear(&mut self) {
        let mut h = header(PREFIX);
        let mut slot = h.head;
        while slot != 0 {
            let n: Node<K> = node(PREFIX, slot);
            storage::remove(map_key(PREFIX, &n.key).as_slice());
            storage::remove(&node_key(PREFIX, slot));
            slot = n.next;
        }
        h.len = 0;
        h.head = 0;
        h.tail = 0;
        set_header(PREFIX, &h);
    }

    /// The keys in order, each read when the iterator reaches it (one storage read per key).
    pub fn keys(&self) -> Keys<'_, K, V, PREFIX> {
        Keys {
            next: header(PREFIX).head,
            _map: self,
        }
    }

    /// The entries in order (two storage reads per entry).
    pub fn iter(&self) -> impl Iterator<Item = (K, V)> + '_ {
        self.keys().map(|k| {
            let v = self.get(&k).unwrap_or_else(|| corrupt());
            (k, v)
        })
    }

    /// The values in order (two storage reads per value).
    pub fn values(&self) -> impl Iterator<Item = V> + '_ {
        self.iter().map(|(_, v)| v)
    }
}

/// Iterator over an [`IterableMapping`]'s keys ([`IterableMapping::keys`]).
pub struct Keys<'a, K, V, const PREFIX: u64> {
    next: u32,
    _map: &'a IterableMapping<K, V, PREFIX>,
}

impl<K: Decode, V, const PREFIX: u64> Iterator for Keys<'_, K, V, PREFIX> {
    type Item = K;

    fn next(&mut self) -> Option<K> {
        if self.next == 0 {
            return None;
        }
        let n: Node<K> = node(PREFIX, self.next);
        self.next = n.next;
        Some(n.key)
    }
}

impl<K: Encode + Decode, V: Encode + Decode, const PREFIX: u64> Default
    for IterableMapping<K, V, PREFIX>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V, const PREFIX: u64> StorageField for IterableMapping<K, V, PREFIX> {
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
    fn node_links_are_the_first_eight_bytes_of_a_node() {
        let n = Node {
            prev: 7,
            next: 9,
            key: 0xaabbu16,
        };
        let bytes = n.encode();
        assert_eq!(&bytes[..4], &7u32.to_le_bytes());
        assert_eq!(&bytes[4..8], &9u32.to_le_bytes());
        assert_eq!(node_key(1, 3)[8], NODE);
    }
}
