//! Nodes of the state tree as the writer holds them: nibble paths in a fixed array, internal
//! nodes behind an `Arc`, hashing, and the stored encodings: the `jmt` crate's borsh encoding of
//! `Node` (tags 0 null, 1 internal, 2 leaf), which its readers decode, and the compact internal
//! node (tag 3) the writer stores since layout 3, which the store turns into jmt's encoding for
//! jmt's readers.

use std::num::NonZeroU64;
use std::sync::{Arc, OnceLock};

use sha2::{Digest, Sha256};

/// jmt's hash of an empty subtree (its `SPARSE_MERKLE_PLACEHOLDER_HASH`, part of the root's
/// definition).
pub const EMPTY_SUBTREE: [u8; 32] = *b"SPARSE_MERKLE_PLACEHOLDER_HASH__";
const LEAF_DOMAIN: &[u8] = b"JMT::LeafNode";
const INTERNAL_DOMAIN: &[u8] = b"JMT::IntrnalNode";

/// A path of up to 64 nibbles from the root, packed two to a byte (high nibble first); the
/// nibbles past `len` are zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Path {
    len: u8,
    bytes: [u8; 32],
}

impl Path {
    /// The root's path.
    pub const ROOT: Path = Path {
        len: 0,
        bytes: [0; 32],
    };

    /// Number of nibbles.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// This path and one more nibble. A path is never longer than a key (64 nibbles): the tree
    /// places each key at most at its full depth.
    pub fn child(&self, nibble: u8) -> Path {
        let mut out = *self;
        let i = self.len();
        if i < 64 {
            let shift = if i.is_multiple_of(2) { 4 } else { 0 };
            out.bytes[i / 2] |= (nibble & 0x0f) << shift;
            out.len += 1;
        }
        out
    }

    /// The path in one word, for a path of at most [`Path::PACKED_NIBBLES`] nibbles: its bytes
    /// little-endian (so that the first nibbles, which differ most between nodes, are in the
    /// low bits, where a multiplicative hash mixes them into every bit), and the nibble count
    /// where a sixteenth nibble would go (bits 56–59). Two such paths are equal exactly when
    /// their words are.
    pub fn packed(&self) -> Option<u64> {
        (self.len() <= Self::PACKED_NIBBLES).then(|| {
            let mut head = [0; 8];
            head.copy_from_slice(&self.bytes[..8]);
            // The nibbles past `len` are zero: a path is only ever built by `child`.
            u64::from_le_bytes(head) | u64::from(self.len) << 56
        })
    }

    /// The path [`Path::packed`] gave `word`.
    pub fn unpacked(word: u64) -> Path {
        let mut bytes = [0; 32];
        bytes[..8].copy_from_slice(&(word & !(0x0f << 56)).to_le_bytes());
        Path {
            len: ((word >> 56) & 0x0f) as u8,
            bytes,
        }
    }

    /// The longest path [`Path::packed`] packs.
    pub const PACKED_NIBBLES: usize = 15;

    /// The stored key of the node at this path and `version`: borsh of jmt's `NodeKey`
    /// (version, nibble count as u64, the path's bytes as a length-prefixed vector).
    pub fn node_key(&self, version: u64) -> Vec<u8> {
        let mut key = Vec::with_capacity(20 + self.len().div_ceil(2));
        self.write_node_key(version, &mut key);
        key
    }

    /// Appends [`Path::node_key`] to `out`.
    pub fn write_node_key(&self, version: u64, out: &mut Vec<u8>) {
        let n = self.len().div_ceil(2);
        out.extend_from_slice(&version.to_le_bytes());
        out.extend_from_slice(&(self.len() as u64).to_le_bytes());
        out.extend_from_slice(&(n as u32).to_le_bytes());
        out.extend_from_slice(&self.bytes[..n]);
    }
}

impl Path {
    /// The version and path of a stored node key ([`Path::node_key`]); `None` for bytes that
    /// are not one exactly (more than 64 nibbles, a length that does not match the nibble
    /// count, a nonzero nibble past the end, trailing bytes).
    pub fn from_node_key(key: &[u8]) -> Option<(u64, Path)> {
        let version = u64::from_le_bytes(key.get(..8)?.try_into().ok()?);
        let nibbles = u64::from_le_bytes(key.get(8..16)?.try_into().ok()?);
        let n = u32::from_le_bytes(key.get(16..20)?.try_into().ok()?) as usize;
        let bytes = key.get(20..)?;
        if nibbles > 64 || n != (nibbles as usize).div_ceil(2) || bytes.len() != n {
            return None;
        }
        if nibbles % 2 == 1 && bytes[n - 1] & 0x0f != 0 {
            return None;
        }
        let mut path = Path {
            len: nibbles as u8,
            bytes: [0; 32],
        };
        path.bytes[..n].copy_from_slice(bytes);
        Some((version, path))
    }
}

/// The nibble of `key` at `depth` (0 to 63).
pub fn nibble(key: &[u8; 32], depth: usize) -> u8 {
    let byte = key[(depth / 2) % 32];
    if depth.is_multiple_of(2) {
        byte >> 4
    } else {
        byte & 0x0f
    }
}

/// A child slot of an internal node: the child's hash and version, and how many leaves it
/// holds (0: the child is a leaf).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Child {
    pub hash: [u8; 32],
    pub version: u64,
    /// The leaf count, with a leaf as 1 (an internal child has at least two leaves below it):
    /// never zero, so that an empty slot (`None`) costs no extra tag and a node's 16 slots take
    /// 768 bytes instead of 896 in the node cache.
    count: NonZeroU64,
}

/// [`Child::count`] of a leaf.
const LEAF_COUNT: NonZeroU64 = NonZeroU64::MIN;

impl Child {
    /// A slot: `leaves` 0 for a leaf, else the leaves below the internal child (at least 2).
    pub fn new(hash: [u8; 32], version: u64, leaves: u64) -> Self {
        debug_assert_ne!(leaves, 1, "an internal child has at least two leaves");
        Self {
            hash,
            version,
            count: NonZeroU64::new(leaves).unwrap_or(LEAF_COUNT),
        }
    }

    /// How many leaves the child holds, 0 for a leaf.
    pub fn leaves(&self) -> u64 {
        if self.is_leaf() { 0 } else { self.count.get() }
    }

    pub fn is_leaf(&self) -> bool {
        self.count == LEAF_COUNT
    }

    fn leaf_count(&self) -> u64 {
        self.count.get()
    }
}

/// An internal node: up to 16 children, of which it keeps only the present ones, in one
/// allocation of exactly its size (an [`Internal`] is unsized and lives behind an `Arc`). Most
/// internal nodes of a large tree have two or three children: at 1M random keys about 258,000
/// of the 360,000 internal nodes are on the fifth level with 2.3 children on average, at 10M
/// 1.9M of 3.3M on the sixth; a node takes 208 bytes and 48 per child, where a 16-slot array
/// took 968 for every node. Its slots are set when it is built and never changed (a node is
/// shared once built).
#[derive(Debug)]
pub struct InternalOf<C: ?Sized> {
    /// Bit i: slot i holds a child.
    exists: u16,
    /// How the node is stored: [`Base::changed`] of its base, if it is stored as a delta.
    changed: u16,
    /// [`Base::version`] of its base, [`WHOLE`] for a node stored whole.
    base: u64,
    /// The hashes of the binary Merkle tree's inner ranges (slots 0–3, 4–7, 8–11, 12–15, 0–7,
    /// 8–15), kept once the node's hash was computed: a node rebuilt from this one with a few
    /// slots changed reuses those of the ranges it did not change ([`Internal::hash_from`]).
    /// Derived data: never stored, not part of equality.
    ranges: OnceLock<[[u8; 32]; 6]>,
    /// The children of the slots set in `exists`, in slot order.
    children: C,
}

/// An internal node, its children in the same allocation: see [`InternalOf`].
pub type Internal = InternalOf<[Child]>;

/// [`InternalOf::base`] of a node stored whole.
const WHOLE: u64 = u64::MAX;

/// What an internal node stored as a delta (tag 5, layout 8) is stored against: the version of
/// the node at the same path stored whole (its base, which the node store keeps while a delta
/// on it is needed), and the slots that changed since (bit i: slot i), whose children the
/// delta holds; every other slot is as in the base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Base {
    pub version: u64,
    pub changed: u16,
}

impl PartialEq for Internal {
    fn eq(&self, other: &Self) -> bool {
        self.exists == other.exists && self.children == other.children
    }
}

impl Eq for Internal {}

/// The inner ranges whose hashes an internal node keeps: (first slot, width), in the order of
/// `Internal::ranges`; the four of width 4 come first, as the two of width 8 are made of them.
const RANGES: [(u8, u8); 6] = [(0, 4), (4, 4), (8, 4), (12, 4), (0, 8), (8, 8)];

/// A node of `N` children, made unsized.
fn sized<const N: usize>(exists: u16, base: Option<Base>, present: &[Child; 16]) -> Arc<Internal> {
    Arc::new(InternalOf {
        exists,
        changed: base.map_or(0, |b| b.changed),
        base: base.map_or(WHOLE, |b| b.version),
        ranges: OnceLock::new(),
        children: std::array::from_fn::<Child, N, _>(|i| present[i]),
    })
}

impl Internal {
    /// A node with these slots, stored whole.
    pub fn new(slots: [Option<Child>; 16]) -> Arc<Internal> {
        Self::stored_on(slots, None)
    }

    /// A node with these slots, stored as a delta on `base` (`None`: whole).
    pub fn stored_on(slots: [Option<Child>; 16], base: Option<Base>) -> Arc<Internal> {
        let mut exists = 0u16;
        let mut present = [Child::new([0; 32], 0, 0); 16];
        let mut n = 0;
        for (i, slot) in slots.iter().enumerate() {
            if let Some(child) = slot {
                exists |= 1 << i;
                present[n] = *child;
                n += 1;
            }
        }
        match n {
            0 => sized::<0>(exists, base, &present),
            1 => sized::<1>(exists, base, &present),
            2 => sized::<2>(exists, base, &present),
            3 => sized::<3>(exists, base, &present),
            4 => sized::<4>(exists, base, &present),
            5 => sized::<5>(exists, base, &present),
            6 => sized::<6>(exists, base, &present),
            7 => sized::<7>(exists, base, &present),
            8 => sized::<8>(exists, base, &present),
            9 => sized::<9>(exists, base, &present),
            10 => sized::<10>(exists, base, &present),
            11 => sized::<11>(exists, base, &present),
            12 => sized::<12>(exists, base, &present),
            13 => sized::<13>(exists, base, &present),
            14 => sized::<14>(exists, base, &present),
            15 => sized::<15>(exists, base, &present),
            _ => sized::<16>(exists, base, &present),
        }
    }

    /// What the node is stored against, if it is stored as a delta.
    pub fn base(&self) -> Option<Base> {
        (self.base != WHOLE).then_some(Base {
            version: self.base,
            changed: self.changed,
        })
    }

    /// The child in slot `n` (0 to 15).
    pub fn child(&self, n: usize) -> Option<Child> {
        let bit = 1u16.checked_shl(n as u32)?;
        if self.exists & bit == 0 {
            return None;
        }
        let index = (self.exists & (bit - 1)).count_ones() as usize;
        self.children.get(index).copied()
    }

    /// All 16 slots.
    pub fn slots(&self) -> [Option<Child>; 16] {
        let mut slots = [None; 16];
        for (i, child) in self.iter() {
            slots[i] = Some(*child);
        }
        slots
    }

    /// The present children with their slots, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &Child)> + '_ {
        let mut bits = self.exists;
        self.children.iter().map(move |child| {
            let slot = bits.trailing_zeros() as usize;
            bits &= bits.wrapping_sub(1);
            (slot, child)
        })
    }

    /// Bytes of memory the node takes (its allocation but for the `Arc`'s two counts).
    pub fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }

    /// Leaves below it.
    pub fn leaf_count(&self) -> u64 {
        self.checked_leaf_count().unwrap_or(u64::MAX)
    }

    /// Leaves below it, `None` if the children's counts overflow (only a damaged node can).
    fn checked_leaf_count(&self) -> Option<u64> {
        self.children
            .iter()
            .try_fold(0u64, |sum, c| sum.checked_add(c.leaf_count()))
    }

    /// Reads the node's first word (its slots' bitmap, in the cache line of the `Arc`'s
    /// counts): a batch of lookups touches each node it found before sharing any, so that
    /// their memory reads overlap instead of waiting one by one behind the atomic increments.
    pub fn touch(&self) {
        std::hint::black_box(self.exists);
    }

    /// Number of children.
    pub fn len(&self) -> usize {
        self.children.len()
    }

    /// The slots holding a child, and those holding a leaf, as bitmaps (bit i: slot i).
    pub fn bitmaps(&self) -> (u16, u16) {
        let mut leaves = 0u16;
        for (i, child) in self.iter() {
            if child.is_leaf() {
                leaves |= 1 << i;
            }
        }
        (self.exists, leaves)
    }

    /// jmt's hash of an internal node: a binary Merkle tree over the 16 slots, where an empty
    /// range hashes to the empty-subtree hash and a range holding a single leaf is that leaf's hash.
    pub fn hash(&self) -> [u8; 32] {
        self.hash_from(None)
    }

    /// The node's hash, computed with the inner-range hashes of `old` (a node this one was
    /// rebuilt from, and the slots that may differ between the two: every slot that does must
    /// be among them) for the ranges none of whose slots may differ: a rebuilt node with one
    /// changed slot costs five SHA-256 instead of up to fifteen, and reads nothing of `old` but
    /// its range hashes. Keeps this node's own.
    pub fn hash_from(&self, old: Option<(&Internal, u16)>) -> [u8; 32] {
        let (exists, leaves) = self.bitmaps();
        let ranges = self.ranges.get_or_init(|| {
            let old = old.and_then(|(o, changed)| o.ranges.get().map(|r| (r, changed)));
            let mut out = [[0u8; 32]; 6];
            for (i, &(start, width)) in RANGES.iter().enumerate() {
                let span = (((1u32 << width) - 1) << start) as u16;
                out[i] = match old {
                    Some((hashes, changed)) if changed & span == 0 => hashes[i],
                    _ => self.merkle(start, width, exists, leaves, &out[..i]),
                };
            }
            out
        });
        self.merkle(0, 16, exists, leaves, ranges)
    }

    /// The hash of the `width` slots from `start`, with the hashes of the first `known.len()`
    /// entries of [`RANGES`] taken as given.
    fn merkle(
        &self,
        start: u8,
        width: u8,
        exists: u16,
        leaves: u16,
        known: &[[u8; 32]],
    ) -> [u8; 32] {
        let mask = (((1u32 << width) - 1) << start) as u16;
        let (exists, leaves) = (exists & mask, leaves & mask);
        if exists == 0 {
            return EMPTY_SUBTREE;
        }
        if width == 1 || (exists.count_ones() == 1 && leaves != 0) {
            let only = exists.trailing_zeros() as usize;
            return self.child(only).map_or(EMPTY_SUBTREE, |c| c.hash);
        }
        if let Some(i) = RANGES.iter().position(|r| *r == (start, width))
            && let Some(hash) = known.get(i)
        {
            return *hash;
        }
        let half = width / 2;
        let left = self.merkle(start, half, exists, leaves, known);
        let right = self.merkle(start + half, half, exists, leaves, known);
        let mut h = Sha256::new();
        h.update(INTERNAL_DOMAIN);
        h.update(left);
        h.update(right);
        h.finalize().into()
    }
}

/// A node of the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// The root of an empty tree.
    Null,
    /// A key with the hash of its leaf value, and the leaf value itself when the node carries
    /// it (layout 4: see [`Node::encode`]; `None` in a node written before, whose value is in
    /// `tree_values`, and in the nodes an update builds until it fills them in).
    Leaf {
        key: [u8; 32],
        value_hash: [u8; 32],
        value: Option<Vec<u8>>,
    },
    Internal(Arc<Internal>),
}

/// jmt's hash of a leaf.
pub fn leaf_hash(key: &[u8; 32], value_hash: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(LEAF_DOMAIN);
    h.update(key);
    h.update(value_hash);
    h.finalize().into()
}

impl Node {
    /// The node's hash.
    pub fn hash(&self) -> [u8; 32] {
        match self {
            Node::Null => EMPTY_SUBTREE,
            Node::Leaf {
                key, value_hash, ..
            } => leaf_hash(key, value_hash),
            Node::Internal(internal) => internal.hash(),
        }
    }

    /// The stored bytes: a null node as jmt encodes it; a leaf with its value (tag 4): key hash,
    /// value hash, then the leaf value to the end; a leaf without (jmt's encoding, tag 2); an
    /// internal node compact (tag 3): the bitmap of present slots and the bitmap of leaf slots
    /// (u16 little-endian each), then for each present slot in order its hash, its version
    /// (LEB128) and, for an internal child, its leaf count (LEB128). A full node takes about 570
    /// bytes instead of jmt's 825. An internal node stored as a delta on its base (tag 5, see
    /// [`Base`]): the base's version (LEB128), the bitmaps of present and of leaf slots and the
    /// bitmap of changed slots (u16 little-endian each), then each present changed slot's child
    /// as in tag 3; [`decode_stored`] completes it from the base. (The commit writes a node
    /// with [`Node::encode_to`].)
    #[cfg(test)]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(match self {
            Node::Leaf {
                value: Some(value), ..
            } => 65 + value.len(),
            _ => 5 + 16 * 40,
        });
        self.encode_to(&mut out);
        out
    }

    /// Appends [`Node::encode`] to `out`.
    pub fn encode_to(&self, out: &mut Vec<u8>) {
        let internal = match self {
            Node::Internal(internal) => internal,
            Node::Leaf {
                key,
                value_hash,
                value: Some(value),
            } => {
                out.push(4);
                out.extend_from_slice(key);
                out.extend_from_slice(value_hash);
                out.extend_from_slice(value);
                return;
            }
            _ => return out.extend_from_slice(&self.encode_jmt()),
        };
        let (exists, leaves) = internal.bitmaps();
        let base = internal.base();
        match base {
            Some(base) => {
                out.push(5);
                leb128(out, base.version);
            }
            None => out.push(3),
        }
        out.extend_from_slice(&exists.to_le_bytes());
        out.extend_from_slice(&leaves.to_le_bytes());
        if let Some(base) = base {
            out.extend_from_slice(&base.changed.to_le_bytes());
        }
        let changed = base.map_or(u16::MAX, |b| b.changed);
        for (_, child) in internal.iter().filter(|(i, _)| changed & (1 << i) != 0) {
            out.extend_from_slice(&child.hash);
            leb128(out, child.version);
            if !child.is_leaf() {
                leb128(out, child.leaves());
            }
        }
    }

    /// jmt's encoding: borsh of its `Node` (variant 0 null, 1 internal, 2 leaf). An internal node
    /// is its 16 optional children (hash, version, node type: 0 leaf, 1 internal with a leaf
    /// count), the number of children and the leaf count, integers as little-endian u64.
    pub fn encode_jmt(&self) -> Vec<u8> {
        match self {
            Node::Null => vec![0],
            Node::Leaf {
                key, value_hash, ..
            } => {
                let mut out = Vec::with_capacity(65);
                out.push(2);
                out.extend_from_slice(key);
                out.extend_from_slice(value_hash);
                out
            }
            Node::Internal(internal) => {
                let mut out = Vec::with_capacity(1 + 16 * 50 + 16);
                out.push(1);
                for child in &internal.slots() {
                    match child {
                        None => out.push(0),
                        Some(c) => {
                            out.push(1);
                            out.extend_from_slice(&c.hash);
                            out.extend_from_slice(&c.version.to_le_bytes());
                            if c.is_leaf() {
                                out.push(0);
                            } else {
                                out.push(1);
                                out.extend_from_slice(&c.leaves().to_le_bytes());
                            }
                        }
                    }
                }
                out.extend_from_slice(&(internal.len() as u64).to_le_bytes());
                out.extend_from_slice(&internal.leaf_count().to_le_bytes());
                out
            }
        }
    }

    /// Decodes [`Node::encode`] or [`Node::encode_jmt`] of a node stored whole; `None` for
    /// bytes that are not a well-formed node, and for a delta (tag 5), which only
    /// [`decode_stored`] completes (from its base).
    pub fn decode(bytes: &[u8]) -> Option<Node> {
        let mut r = Reader(bytes);
        let node = match r.u8()? {
            3 => {
                let (exists, leaves) = r.bitmaps()?;
                let slots = r.children(exists, leaves)?;
                let internal = Internal::new(slots);
                internal.checked_leaf_count()?;
                Node::Internal(internal)
            }
            0 => Node::Null,
            2 => Node::Leaf {
                key: r.array()?,
                value_hash: r.array()?,
                value: None,
            },
            4 => {
                let (key, value_hash) = (r.array()?, r.array()?);
                let value = std::mem::take(&mut r.0).to_vec();
                Node::Leaf {
                    key,
                    value_hash,
                    value: Some(value),
                }
            }
            1 => {
                let mut slots = [None; 16];
                for slot in slots.iter_mut() {
                    *slot = match r.u8()? {
                        0 => None,
                        1 => {
                            let hash = r.array()?;
                            let version = r.u64()?;
                            let leaves = match r.u8()? {
                                0 => 0,
                                1 => r.u64().filter(|n| *n >= 2)?,
                                _ => return None,
                            };
                            Some(Child::new(hash, version, leaves))
                        }
                        _ => return None,
                    };
                }
                let internal = Internal::new(slots);
                let count = r.u64()?;
                let leaf_count = r.u64()?;
                if count != internal.len() as u64
                    || internal.checked_leaf_count() != Some(leaf_count)
                {
                    return None;
                }
                Node::Internal(internal)
            }
            _ => return None,
        };
        r.0.is_empty().then_some(node)
    }
}

/// Decodes the stored bytes of the node at `version`: as [`Node::decode`] does, and an internal
/// node stored as a delta (tag 5) completed from its base, whose stored bytes `base` reads (given
/// the base's version; the path is the node's). `Ok(None)` for bytes that are not a well-formed
/// node, and for a delta whose base is missing, not older than it, not an internal node stored
/// whole, or does not hold the slots the delta says it has.
pub fn decode_stored<E>(
    bytes: &[u8],
    version: u64,
    base: impl FnOnce(u64) -> Result<Option<Vec<u8>>, E>,
) -> Result<Option<Node>, E> {
    let Some((&5, rest)) = bytes.split_first() else {
        return Ok(Node::decode(bytes));
    };
    let Some(delta) = Delta::decode(rest).filter(|d| d.base < version) else {
        return Ok(None);
    };
    Ok(match base(delta.base)?.as_deref().and_then(Node::decode) {
        Some(Node::Internal(whole)) => delta.complete(&whole),
        _ => None,
    })
}

/// A delta record's contents (tag 5, see [`Node::encode`]).
struct Delta {
    base: u64,
    exists: u16,
    leaves: u16,
    changed: u16,
    /// The present changed slots' children.
    slots: [Option<Child>; 16],
}

impl Delta {
    /// The bytes after the tag.
    fn decode(bytes: &[u8]) -> Option<Delta> {
        let mut r = Reader(bytes);
        let base = r.leb128()?;
        let (exists, leaves) = r.bitmaps()?;
        // A delta changes at least one slot (the writer never stores one that changes none).
        let changed = u16::from_le_bytes([r.u8()?, r.u8()?]);
        if changed == 0 {
            return None;
        }
        let slots = r.children(exists & changed, leaves)?;
        r.0.is_empty().then_some(Delta {
            base,
            exists,
            leaves,
            changed,
            slots,
        })
    }

    /// The node: the changed slots from the delta, the others from `whole`, which must have
    /// exactly the delta's other present slots, leaves where it says.
    fn complete(self, whole: &Internal) -> Option<Node> {
        let mut slots = self.slots;
        for (i, slot) in slots.iter_mut().enumerate() {
            let bit = 1u16 << i;
            if self.changed & bit != 0 {
                continue;
            }
            let kept = whole.child(i);
            if kept.is_some() != (self.exists & bit != 0)
                || kept.is_some_and(|c| c.is_leaf() != (self.leaves & bit != 0))
            {
                return None;
            }
            *slot = kept;
        }
        let base = Base {
            version: self.base,
            changed: self.changed,
        };
        let internal = Internal::stored_on(slots, Some(base));
        internal.checked_leaf_count()?;
        Some(Node::Internal(internal))
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    /// The bitmaps of present and of leaf slots of a compact internal node: every leaf bit on
    /// a present slot, at least one slot, and not a single leaf (which would sit in its
    /// parent's slot instead).
    fn bitmaps(&mut self) -> Option<(u16, u16)> {
        let exists = u16::from_le_bytes([self.u8()?, self.u8()?]);
        let leaves = u16::from_le_bytes([self.u8()?, self.u8()?]);
        let valid =
            leaves & !exists == 0 && exists != 0 && !(exists.count_ones() == 1 && leaves != 0);
        valid.then_some((exists, leaves))
    }

    /// The children of the slots in `slots`, in slot order, as a compact internal node stores
    /// them (a leaf's without a count, an internal one's with at least two leaves).
    fn children(&mut self, slots: u16, leaves: u16) -> Option<[Option<Child>; 16]> {
        let mut out = [None; 16];
        for (i, slot) in out.iter_mut().enumerate() {
            if slots & (1 << i) == 0 {
                continue;
            }
            let hash = self.array()?;
            let version = self.leb128()?;
            let leaves = if leaves & (1 << i) != 0 {
                0
            } else {
                self.leb128().filter(|n| *n >= 2)?
            };
            *slot = Some(Child::new(hash, version, leaves));
        }
        Some(out)
    }

    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    }
    fn array(&mut self) -> Option<[u8; 32]> {
        self.take(32).and_then(|b| b.try_into().ok())
    }
    /// An unsigned LEB128 integer of at most 64 bits, in its shortest form.
    fn leb128(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7f);
            if i == 9 && bits > 1 {
                return None;
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                // The shortest form only: no trailing zero group.
                return (i == 0 || byte != 0).then_some(value);
            }
        }
        None
    }
}

fn leb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The hash of a leaf value.
pub fn value_hash(value: &[u8]) -> [u8; 32] {
    Sha256::digest(value).into()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn cases() -> u32 {
        std::env::var("AETHER_FUZZ_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(2_000)
    }

    fn child() -> impl Strategy<Value = Option<Child>> {
        proptest::option::of((
            any::<[u8; 32]>(),
            any::<u64>(),
            prop_oneof![Just(0u64), 2..u64::MAX],
        ))
        .prop_map(|c| c.map(|(hash, version, leaves)| Child::new(hash, version, leaves)))
    }

    /// A child whose leaf count no sum of 16 overflows.
    fn tree_child() -> impl Strategy<Value = Option<Child>> {
        proptest::option::of((
            any::<[u8; 32]>(),
            any::<u64>(),
            prop_oneof![Just(0u64), 2..1u64 << 40],
        ))
        .prop_map(|c| c.map(|(hash, version, leaves)| Child::new(hash, version, leaves)))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        /// Bytes from a damaged database (any tag, any length) decode to a node or to `None`,
        /// never a panic; whatever decodes re-encodes (compact, or with its leaf value) to bytes
        /// that decode the same.
        #[test]
        fn any_stored_bytes_decode_or_are_refused(tag in 0u8..5, body in proptest::collection::vec(any::<u8>(), 0..900)) {
            let mut bytes = vec![tag];
            bytes.extend_from_slice(&body);
            if let Some(node) = Node::decode(&bytes) {
                prop_assert_eq!(Node::decode(&node.encode()), Some(node.clone()));
                // jmt's encoding has no room for a leaf's value.
                let mut without_value = node.clone();
                if let Node::Leaf { value, .. } = &mut without_value {
                    *value = None;
                }
                prop_assert_eq!(Node::decode(&node.encode_jmt()), Some(without_value));
            }
        }

        /// A delta's bytes from a damaged database, over any base, complete to a node or to
        /// `None`, never a panic; a node that completes re-encodes to bytes that complete the
        /// same over the same base.
        #[test]
        fn any_delta_over_any_base_completes_or_is_refused(
            body in proptest::collection::vec(any::<u8>(), 0..300),
            base in proptest::collection::vec(tree_child(), 16),
            version: u64,
        ) {
            let whole = Internal::new(base.try_into().unwrap());
            let (exists, leaves) = whole.bitmaps();
            prop_assume!(exists != 0 && !(exists.count_ones() == 1 && leaves != 0));
            let whole = Node::Internal(whole).encode();
            let mut bytes = vec![5];
            bytes.extend_from_slice(&body);
            let read = |_| Ok::<_, ()>(Some(whole.clone()));
            if let Some(node) = decode_stored(&bytes, version, read).unwrap() {
                let Node::Internal(internal) = &node else {
                    return Err(TestCaseError::fail("a delta completed to a leaf"));
                };
                prop_assert!(internal.base().is_some_and(|b| b.version < version));
                prop_assert_eq!(decode_stored(&node.encode(), version, read).unwrap(), Some(node.clone()));
            }
        }

        /// A node stored as a delta on a whole node completes to itself, from the delta's bytes
        /// and the base's, with every slot that differs from the base's marked changed.
        #[test]
        fn a_delta_completes_to_the_node_it_was_made_from(
            base in proptest::collection::vec(tree_child(), 16),
            changes in proptest::collection::vec((0usize..16, tree_child()), 1..5),
        ) {
            let base: [Option<Child>; 16] = base.try_into().unwrap();
            let mut slots = base;
            let mut changed = 0u16;
            for (i, child) in changes {
                slots[i] = child;
                changed |= 1 << i;
            }
            let valid = |node: &Internal| {
                let (exists, leaves) = node.bitmaps();
                exists != 0 && !(exists.count_ones() == 1 && leaves != 0)
            };
            let whole = Internal::new(base);
            let delta = Internal::stored_on(slots, Some(Base { version: 3, changed }));
            prop_assume!(valid(&whole) && valid(&delta));
            let base_bytes = Node::Internal(whole).encode();
            let bytes = Node::Internal(delta.clone()).encode();
            prop_assert_eq!(bytes[0], 5);
            let read = |v| Ok::<_, ()>((v == 3).then(|| base_bytes.clone()));
            let Some(Node::Internal(got)) = decode_stored(&bytes, 4, read).unwrap() else {
                return Err(TestCaseError::fail("the delta did not complete"));
            };
            prop_assert_eq!(&*got, &*delta);
            prop_assert_eq!(got.base(), Some(Base { version: 3, changed }));
            // Its base must be older than the node.
            prop_assert_eq!(decode_stored(&bytes, 3, read).unwrap(), None);
        }

        /// Two paths of at most 15 nibbles pack to the same word exactly when they are the same
        /// path; a longer path packs to none.
        #[test]
        fn packed_paths_are_equal_exactly_when_the_paths_are(
            a in proptest::collection::vec(0u8..16, 0..20),
            b in proptest::collection::vec(0u8..16, 0..20),
        ) {
            let path = |nibbles: &[u8]| nibbles.iter().fold(Path::ROOT, |p, n| p.child(*n));
            let (pa, pb) = (path(&a), path(&b));
            prop_assert_eq!(pa.packed().is_some(), a.len() <= Path::PACKED_NIBBLES);
            if let (Some(x), Some(y)) = (pa.packed(), pb.packed()) {
                prop_assert_eq!(x == y, pa == pb);
            }
            if let Some(x) = pa.packed() {
                prop_assert_eq!(Path::unpacked(x), pa);
            }
            // A path and the same nibbles with a zero nibble more differ only in their count.
            if a.len() < Path::PACKED_NIBBLES {
                prop_assert_ne!(pa.packed(), pa.child(0).packed());
            }
        }

        /// A node key reads back as the version and path it was made from, and bytes that are
        /// not a node key exactly read as none, never as another key.
        #[test]
        fn node_keys_read_back_as_the_version_and_path_they_were_made_from(
            version: u64,
            nibbles in proptest::collection::vec(0u8..16, 0..=64),
            damage in proptest::option::of((any::<prop::sample::Index>(), any::<u8>())),
            cut in proptest::option::of(any::<prop::sample::Index>()),
        ) {
            let path = nibbles.iter().fold(Path::ROOT, |p, n| p.child(*n));
            let mut key = path.node_key(version);
            prop_assert_eq!(Path::from_node_key(&key), Some((version, path)));
            if let Some((at, byte)) = damage {
                let at = at.index(key.len());
                key[at] = byte;
            }
            if let Some(cut) = cut {
                key.truncate(cut.index(key.len()));
            }
            // Whatever it reads as, it is the key of what it reads as.
            if let Some((v, p)) = Path::from_node_key(&key) {
                prop_assert_eq!(p.node_key(v), key);
            }
        }

        /// Every well-formed internal node round-trips through both encodings.
        #[test]
        fn internal_nodes_round_trip_through_both_encodings(slots in proptest::collection::vec(child(), 16)) {
            let internal = Internal::new(slots.try_into().unwrap());
            let (exists, leaves) = internal.bitmaps();
            prop_assume!(exists != 0 && !(exists.count_ones() == 1 && leaves != 0));
            let sum = internal.checked_leaf_count();
            let node = Node::Internal(internal);
            if sum.is_none() {
                // Counts no tree can hold: refused in both encodings, never a panic.
                prop_assert_eq!(Node::decode(&node.encode()), None);
                prop_assert_eq!(Node::decode(&node.encode_jmt()), None);
                return Ok(());
            }
            prop_assert_eq!(Node::decode(&node.encode()), Some(node.clone()));
            prop_assert_eq!(Node::decode(&node.encode_jmt()), Some(node));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        /// A node rebuilt from another with some slots changed (any number, including none
        /// and all; leaves, internal children and empty slots alike, and a slot whose child
        /// keeps its hash but turns from leaf to internal or back) hashes the same from the
        /// old node's inner-range hashes as from scratch, and so do the old node again
        /// and a changed clone of it.
        #[test]
        fn a_rebuilt_node_hashed_from_its_predecessor_has_the_hash_from_scratch(
            old in proptest::collection::vec(child(), 16),
            changes in proptest::collection::vec((0u8..3, child()), 16),
            old_hashed in any::<bool>(),
            also_named in any::<u16>(),
        ) {
            let before = Internal::new(old.try_into().unwrap());
            let scratch_before = Internal::new(before.slots()).hash();
            if old_hashed {
                prop_assert_eq!(before.hash(), scratch_before);
            }
            let mut slots = before.slots();
            // The slots changed, and some not changed named with them.
            let mut changed = also_named;
            for (i, (slot, (change, c))) in slots.iter_mut().zip(changes).enumerate() {
                match (change, slot.as_mut()) {
                    (1, _) => *slot = c,
                    // The same hash, now a leaf or now an internal child.
                    (2, Some(child)) => {
                        let leaves = if child.is_leaf() { 2 } else { 0 };
                        *child = Child::new(child.hash, child.version, leaves);
                    }
                    _ => continue,
                }
                changed |= 1 << i;
            }
            let scratch = Internal::new(slots).hash();
            let rebuilt = Internal::new(slots);
            prop_assert_eq!(rebuilt.hash_from(Some((&before, changed))), scratch);
            prop_assert_eq!(rebuilt.hash(), scratch);
            prop_assert_eq!(before.hash(), scratch_before);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        /// A node keeps exactly the slots it was built from: each slot reads back, the present
        /// ones iterate in order, and it takes the memory of the present ones only.
        #[test]
        fn a_node_keeps_the_slots_it_was_built_from(slots in proptest::collection::vec(child(), 16)) {
            let slots: [Option<Child>; 16] = slots.try_into().unwrap();
            let node = Internal::new(slots);
            prop_assert_eq!(node.slots(), slots);
            for (i, slot) in slots.iter().enumerate() {
                prop_assert_eq!(node.child(i), *slot);
            }
            prop_assert_eq!(node.child(16), None);
            let present: Vec<(usize, Child)> = slots
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.map(|c| (i, c)))
                .collect();
            let iterated: Vec<(usize, Child)> = node.iter().map(|(i, c)| (i, *c)).collect();
            prop_assert_eq!(&iterated, &present);
            prop_assert_eq!(node.len(), present.len());
            let empty = Internal::new([None; 16]).size();
            prop_assert_eq!(node.size(), empty + present.len() * std::mem::size_of::<Child>());
        }
    }

    #[test]
    fn a_node_of_two_children_takes_a_third_of_a_full_array() {
        // 16 slots of 48 bytes and the inner hashes took 968 bytes for any node.
        let two = Internal::new(std::array::from_fn(|i| {
            (i < 2).then(|| Child::new([1; 32], 1, 0))
        }));
        assert!(two.size() <= 320, "{}", two.size());
        let full = Internal::new([Some(Child::new([1; 32], 1, 0)); 16]);
        assert!(full.size() <= 1_000, "{}", full.size());
    }

    #[test]
    fn an_empty_slot_costs_no_more_than_a_child() {
        assert_eq!(
            std::mem::size_of::<Option<Child>>(),
            std::mem::size_of::<Child>()
        );
    }

    fn full() -> Node {
        let slots = std::array::from_fn(|i| {
            Some(Child::new(
                [i as u8; 32],
                1 << (4 * i),
                if i % 3 == 0 { 0 } else { 2 + (i as u64) * 1000 },
            ))
        });
        Node::Internal(Internal::new(slots))
    }

    #[test]
    fn both_encodings_decode_to_the_same_node_and_the_compact_one_is_smaller() {
        let leaf = Node::Leaf {
            key: [7; 32],
            value_hash: [9; 32],
            value: None,
        };
        for node in [Node::Null, leaf, full()] {
            assert_eq!(Node::decode(&node.encode()), Some(node.clone()));
            assert_eq!(Node::decode(&node.encode_jmt()), Some(node.clone()));
            assert!(node.encode().len() <= node.encode_jmt().len());
        }
        assert!(full().encode().len() * 10 < full().encode_jmt().len() * 8);
    }

    #[test]
    fn a_leaf_with_its_value_decodes_with_it_and_jmt_reads_it_without() {
        for value in [vec![], vec![5; 70]] {
            let leaf = Node::Leaf {
                key: [7; 32],
                value_hash: value_hash(&value),
                value: Some(value.clone()),
            };
            let bytes = leaf.encode();
            assert_eq!((bytes[0], bytes.len()), (4, 65 + value.len()));
            assert_eq!(Node::decode(&bytes), Some(leaf.clone()));
            let Some(Node::Leaf { value: none, .. }) = Node::decode(&leaf.encode_jmt()) else {
                panic!("not a leaf")
            };
            assert_eq!(none, None);
            assert!(borsh::from_slice::<jmt::storage::Node>(&leaf.encode_jmt()).is_ok());
            // Cut inside the key or value hash: not a node.
            assert_eq!(Node::decode(&bytes[..64]), None);
        }
    }

    #[test]
    fn malformed_compact_nodes_are_refused() {
        let good = full().encode();
        for cut in 0..good.len() {
            assert_eq!(Node::decode(&good[..cut]), None, "cut at {cut}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(Node::decode(&trailing), None);
        // A leaf bit without its slot, no slot at all, an internal child with one leaf, an
        // overlong LEB128.
        assert_eq!(Node::decode(&[3, 0, 0, 1, 0]), None);
        assert_eq!(Node::decode(&[3, 0, 0, 0, 0]), None);
        let mut one = vec![3, 1, 0, 0, 0];
        one.extend_from_slice(&[0; 32]);
        one.extend_from_slice(&[5, 1]);
        assert_eq!(Node::decode(&one), None);
        let mut overlong = vec![3, 1, 0, 1, 0];
        overlong.extend_from_slice(&[0; 32]);
        overlong.extend_from_slice(&[0x85, 0x00]);
        assert_eq!(Node::decode(&overlong), None);
    }
}
