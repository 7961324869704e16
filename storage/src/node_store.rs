//! [`NodeStore`]: the state tree's nodes as records of the node file ([`crate::node_file`]),
//! found through an index held in memory (node key → record address) that is rebuilt from the
//! file when the store opens. A block's new nodes are one sequential append and one
//! `fdatasync` instead of 55,000 inserts into ParityDB's index (and as many removals when they
//! are pruned): the layout that takes a block's commit near raw ParityDB speed (issue 13).
//!
//! **Records.** A node record is `0, node key, node` (the key is borsh of jmt's `NodeKey`, as
//! the `tree_nodes` column had it, so a record says which node it is). A block's stale record,
//! `3, SCALE(StaleRecord)`, lists the nodes it made stale; the index holds it under the block's
//! height and `STALE_PATH`, and a later commit that prunes the height removes those nodes
//! and the record. Every append ends with a trailer record `4, SCALE(Trailer)`: the block's
//! height, and the records it removes (id and address), grouped by the block that removed them
//! (a compaction carries other blocks' removals). A trailer marks a complete append; whatever
//! follows the last one is an append a crash interrupted. Layout 5's trailers (`1, …`, removals
//! by node key) are still read.
//!
//! **The file is ahead of ParityDB, never behind.** [`NodeStore::commit`] appends and syncs
//! before the caller commits the rest of the block to ParityDB, whose commit becomes durable
//! later (its log is synced once it holds 64 MiB): after a crash the node file may hold blocks
//! ParityDB lost, never the reverse. [`NodeStore::open`] rebuilds the index by reading every
//! record in order (the last record of a key wins), cuts off an interrupted append, and applies
//! the removals of every trailer except those of blocks above ParityDB's head (blocks a crash
//! took back: the state ParityDB kept still needs what they pruned, and their nodes are
//! forgotten). It then appends a trailer that voids those blocks for every later open (their
//! removals never apply, their nodes are removed), so a block committed again at the same
//! height starts from the state ParityDB kept.
//!
//! **Removals wait until ParityDB cannot lose the block that made them.** A removed node (or
//! stale record) leaves the index at once (reads no longer find it), but compaction keeps its
//! record until the
//! store has committed to ParityDB, after the block that removed it, [`DURABLE_LAG_BYTES`] and
//! twice the largest commit from that block on: ParityDB 0.5 syncs its log once it holds
//! 64 MiB (so a log holds at most that and one commit unsynced) and queues at most 16 MiB of
//! commits (and one more) before its log, so a crash cannot take back a block that old, and
//! what it pruned can no longer be needed. The removals are in the file at once (a reopen
//! applies them if ParityDB kept their block). ParityDB offers no call that waits until a
//! commit is durable.
//!
//! **Compaction.** One sealed segment at a time is compacted, in a block's commit or after it
//! in an append of its own ([`NodeStore::compact`]; the database runs that on a thread of its
//! own after each block, off the commit's path): the one with the smallest share of live
//! records, if at most [`NodeStoreOptions::compact_below_percent`] percent are live, and never
//! the segment holding the last block's trailer (the block an open must find to void it).
//! Its live records are copied into that append (a node keeps its key, so nothing that
//! refers to it changes: no parent is rewritten); a copied record whose removal is still
//! waiting gets its removal again with the copy's address; the removals its trailers hold that
//! still name records in other segments are carried into the append's trailer; and once the
//! append is synced the segment is deleted. Only what is copied or carried is read, at the
//! addresses the index, the waiting removals and the offsets of each segment's trailers (kept
//! in memory, found again at open) give: not the segment's dead records. The copies are durable before the segment goes,
//! and the file alone says which records are live, so a crash at any point loses nothing. A
//! read that raced the deletion (it found the old address) looks its key up again.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use parity_scale_codec::{Decode, DecodeAll, Encode};
use rustc_hash::FxBuildHasher;

use crate::durable::DurableRecord;
use crate::error::{Result, StorageError};
use crate::merkle::Path;
use crate::node_file::{
    Append, Detached, End, Framed, NodeFile, NodeFileOptions, RECORD_HEADER_BYTES, RecordAddr,
};

/// The first byte of a node record a block wrote.
const NODE: u8 = 0;
/// The first byte of a trailer record written by layout 5 (removals by node key): read, no
/// longer written.
const TRAILER_LAYOUT_5: u8 = 1;
/// The first byte of a node record compaction copied.
const COPY: u8 = 2;
/// The first byte of a stale record: the nodes a block made stale, removed when a later
/// commit prunes its version.
const STALE: u8 = 3;
/// The first byte of a trailer record.
const TRAILER: u8 = 4;
/// The packed path under which the index holds a version's stale record: length 0 with a
/// nibble set, which no path packs to.
const STALE_PATH: u64 = 1;
/// Shards of the index (each under its own lock).
const SHARDS: usize = 64;
/// The file in the node directory that lists the voided blocks.
const VOIDED_FILE: &str = "VOIDED";

/// The default [`NodeStoreOptions::segment_bytes`]: 64 MiB, about four blocks of 10,000
/// transfers at a million accounts.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;
/// The default [`NodeStoreOptions::compact_below_percent`].
pub const DEFAULT_COMPACT_BELOW_PERCENT: u64 = 30;
/// The default [`NodeStoreOptions::durable_lag_bytes`]: 96 MiB, what ParityDB 0.5 can hold
/// unsynced besides its last commits (a 64 MiB log and 16 MiB of queued commits) and 16 MiB
/// more.
pub const DURABLE_LAG_BYTES: u64 = 96 << 20;

/// How the node store lays out and compacts its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeStoreOptions {
    /// A block that finds the active segment this long or longer starts a new one; the unit of
    /// compaction.
    pub segment_bytes: u64,
    /// A sealed segment is compacted once at most this percentage of its records are live
    /// (the emptiest first, one per commit).
    pub compact_below_percent: u64,
    /// Bytes committed to ParityDB after a block, besides twice the largest commit from that
    /// block on, before the nodes it removed may be dropped (see the module documentation).
    /// Lower only in tests: below what ParityDB can lose, a crash could take back a block whose
    /// removals compaction already carried out.
    pub durable_lag_bytes: u64,
}

impl Default for NodeStoreOptions {
    fn default() -> Self {
        Self {
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            compact_below_percent: DEFAULT_COMPACT_BELOW_PERCENT,
            durable_lag_bytes: DURABLE_LAG_BYTES,
        }
    }
}

/// What an append ends with.
#[derive(Encode, Decode, Default)]
struct Trailer {
    /// The era the append was written in (see [`Voided`]).
    era: u32,
    /// The block's height; `None` for an append that is not a block's (a restore's batch, an
    /// open's removals).
    version: Option<u64>,
    /// Records removed, by the block that removed them (a removal carried from a compacted
    /// segment keeps its block).
    removed: Vec<Removed>,
}

/// Records a block removed (height `None`: not a block, never voided): each record's id and
/// address.
#[derive(Encode, Decode)]
struct Removed {
    version: Option<u64>,
    era: u32,
    /// Packed ids: version, packed path ([`STALE_PATH`] for a stale record), address.
    packed: Vec<(u64, u64, u64)>,
    /// Nodes of deeper paths: node key and address.
    deep: Vec<(Vec<u8>, u64)>,
}

impl Removed {
    fn new(version: Option<u64>, era: u32) -> Self {
        Self {
            version,
            era,
            packed: vec![],
            deep: vec![],
        }
    }

    fn push(&mut self, id: Id, word: u64) {
        match id {
            Id::Packed { version, path } => self.packed.push((version, path, word)),
            Id::Deep(key) => self.deep.push((key.into_vec(), word)),
        }
    }

    /// The records removed: id and address; `None` for a deep entry that is not a node key.
    fn records(&self) -> impl Iterator<Item = Option<(Id, u64)>> + '_ {
        let packed = self
            .packed
            .iter()
            .map(|&(version, path, word)| Some((Id::Packed { version, path }, word)));
        let deep = self
            .deep
            .iter()
            .map(|(key, word)| Id::of(key).map(|id| (id, *word)));
        packed.chain(deep)
    }
}

impl Trailer {
    /// Adds the removal of the record at `word` of `id` by the block at `version` in `era`: to
    /// the last group if it is that block's.
    fn remove(&mut self, id: Id, word: u64, version: Option<u64>, era: u32) {
        match self.removed.last_mut() {
            Some(last) if last.version == version && last.era == era => last.push(id, word),
            _ => {
                let mut group = Removed::new(version, era);
                group.push(id, word);
                self.removed.push(group);
            }
        }
    }

    /// The trailer a record holds (`payload` with its kind byte), of this layout or layout 5.
    fn read(payload: &[u8]) -> std::result::Result<Trailer, String> {
        let bad = |e: parity_scale_codec::Error| format!("not a trailer: {e}");
        match payload.split_first() {
            Some((&TRAILER, rest)) => Trailer::decode_all(&mut &rest[..]).map_err(bad),
            Some((&TRAILER_LAYOUT_5, rest)) => {
                let old = TrailerLayout5::decode_all(&mut &rest[..]).map_err(bad)?;
                let mut trailer = Trailer {
                    era: old.era,
                    version: old.version,
                    removed: vec![],
                };
                for group in old.removed {
                    let mut new = Removed::new(group.version, group.era);
                    for (key, word) in group.nodes {
                        new.push(Id::of(&key).ok_or("removes a non-key")?, word);
                    }
                    trailer.removed.push(new);
                }
                Ok(trailer)
            }
            _ => Err("not a trailer".into()),
        }
    }
}

/// A trailer as layout 5 wrote it: removals by node key.
#[derive(Decode)]
struct TrailerLayout5 {
    era: u32,
    version: Option<u64>,
    removed: Vec<RemovedLayout5>,
}

#[derive(Decode)]
struct RemovedLayout5 {
    version: Option<u64>,
    era: u32,
    nodes: Vec<(Vec<u8>, u64)>,
}

/// The nodes a block made stale, kept until a later commit prunes its version.
#[derive(Encode, Decode)]
struct StaleRecord {
    version: u64,
    /// Packed ids: version and packed path.
    packed: Vec<(u64, u64)>,
    /// Node keys of deeper paths.
    deep: Vec<Vec<u8>>,
}

impl StaleRecord {
    fn ids(self) -> impl Iterator<Item = Option<Id>> {
        let packed = self
            .packed
            .into_iter()
            .map(|(version, path)| Some(Id::Packed { version, path }));
        packed.chain(self.deep.into_iter().map(|key| Id::of(&key)))
    }
}

/// Blocks voided by opens that found ParityDB behind the node file: entry `i` (era `i + 1`
/// begins there) says that the blocks above that height (every block for `None`: ParityDB
/// had none) written in era `i` or before never happened. Kept in its own synced file
/// (`VOIDED`).
#[derive(Encode, Decode, Default, Clone)]
struct Voided(Vec<Option<u64>>);

impl Voided {
    /// The era appends are written in now.
    fn era(&self) -> u32 {
        self.0.len() as u32
    }

    /// Whether the block at `version` written in `era` was voided.
    fn voids(&self, version: Option<u64>, era: u32) -> bool {
        version.is_some_and(|v| {
            self.0
                .iter()
                .skip(era as usize)
                .any(|head| head.is_none_or(|h| v > h))
        })
    }
}

/// A node's key in the index: version and packed path for paths of up to 15 nibbles (every
/// node of a tree of random keys below about four billion entries), the whole key otherwise.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Id {
    Packed { version: u64, path: u64 },
    Deep(Box<[u8]>),
}

impl Id {
    /// The id of a stored node key; `None` for bytes that are not one.
    fn of(key: &[u8]) -> Option<Id> {
        let (version, path) = Path::from_node_key(key)?;
        Some(match path.packed() {
            Some(path) => Id::Packed { version, path },
            None => Id::Deep(key.into()),
        })
    }

    /// The id of the node at `path` and `version`.
    fn at(version: u64, path: &Path) -> Id {
        match path.packed() {
            Some(path) => Id::Packed { version, path },
            None => Id::Deep(path.node_key(version).into()),
        }
    }

    /// The id of the stale record of `version`.
    fn stale(version: u64) -> Id {
        Id::Packed {
            version,
            path: STALE_PATH,
        }
    }

    fn is_stale(&self) -> bool {
        matches!(
            self,
            Id::Packed {
                path: STALE_PATH,
                ..
            }
        )
    }

    /// The version of the block that wrote the record.
    fn version(&self) -> u64 {
        match self {
            Id::Packed { version, .. } => *version,
            Id::Deep(key) => Path::from_node_key(key).map_or(0, |(v, _)| v),
        }
    }
}

type Shard = HashMap<(u64, u64), u64, FxBuildHasher>;

/// Node key → record address, sharded: readers of different shards do not contend, and a
/// commit's inserts lock one shard at a time.
struct Index {
    shards: Vec<RwLock<Shard>>,
    deep: RwLock<HashMap<Box<[u8]>, u64, FxBuildHasher>>,
}

impl Index {
    fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            deep: RwLock::default(),
        }
    }

    fn shard(&self, version: u64, path: u64) -> &RwLock<Shard> {
        &self.shards[shard_of(version, path)]
    }

    /// The positions of `ids` grouped by shard (the deep map last), in runs: one lock per
    /// shard for a batch.
    fn runs<'a>(ids: impl Iterator<Item = &'a Id>) -> Vec<(usize, usize)> {
        let shards: Vec<usize> = ids
            .map(|id| match id {
                Id::Packed { version, path } => shard_of(*version, *path),
                Id::Deep(_) => SHARDS,
            })
            .collect();
        // A counting sort by shard (a block's 55,000 ids: a comparison sort took 2–3 ms).
        let mut next = [0usize; SHARDS + 1];
        for &shard in &shards {
            next[shard] += 1;
        }
        let mut start = 0;
        for slot in &mut next {
            let count = *slot;
            *slot = start;
            start += count;
        }
        let mut order = vec![(0, 0); shards.len()];
        for (i, &shard) in shards.iter().enumerate() {
            order[next[shard]] = (shard, i);
            next[shard] += 1;
        }
        order
    }

    /// Applies `op` to each of `ids` (position, id) with its shard locked for writing (or the
    /// deep map, through `deep`), one lock per shard.
    fn batch<'a, R: Default + Clone>(
        &self,
        ids: impl Iterator<Item = &'a Id> + Clone,
        mut op: impl FnMut(usize, &mut Shard, (u64, u64)) -> R,
        mut deep: impl FnMut(usize, &mut HashMap<Box<[u8]>, u64, FxBuildHasher>, &[u8]) -> R,
    ) -> Vec<R> {
        let all: Vec<&Id> = ids.clone().collect();
        let mut out = vec![R::default(); all.len()];
        let order = Self::runs(ids);
        let mut i = 0;
        while i < order.len() {
            let shard = order[i].0;
            let mut j = i;
            if shard == SHARDS {
                let mut map = write(&self.deep);
                while j < order.len() {
                    let at = order[j].1;
                    if let Id::Deep(key) = all[at] {
                        out[at] = deep(at, &mut map, key);
                    }
                    j += 1;
                }
            } else {
                let mut map = write(&self.shards[shard]);
                while j < order.len() && order[j].0 == shard {
                    let at = order[j].1;
                    if let Id::Packed { version, path } = all[at] {
                        out[at] = op(at, &mut map, (*version, *path));
                    }
                    j += 1;
                }
            }
            i = j;
        }
        out
    }

    /// Sets each id to its address, returning the addresses they replaced.
    fn insert_all(&self, items: &[(Id, RecordAddr)]) -> Vec<Option<RecordAddr>> {
        self.batch(
            items.iter().map(|(id, _)| id),
            |i, map, key| {
                map.insert(key, items[i].1.to_u64())
                    .map(RecordAddr::from_u64)
            },
            |i, map, key| {
                map.insert(key.into(), items[i].1.to_u64())
                    .map(RecordAddr::from_u64)
            },
        )
    }

    /// Removes each id, returning the addresses they had: the two halves of the shards on two
    /// threads (a block at a million accounts prunes 55,000 nodes, a cache miss each). `None`
    /// if a thread panicked.
    fn remove_all(&self, ids: &[Id]) -> Option<Vec<Option<RecordAddr>>> {
        let order = Self::runs(ids.iter());
        let mid = order.partition_point(|(shard, _)| *shard < SHARDS / 2);
        let halves = [&order[..mid], &order[mid..]];
        let parts = crate::parallel::in_parts(&halves, 2, "aether-index", |halves| {
            let mut out = vec![];
            for half in halves {
                let mut i = 0;
                while i < half.len() {
                    let shard = half[i].0;
                    let mut j = i;
                    while j < half.len() && half[j].0 == shard {
                        j += 1;
                    }
                    if shard == SHARDS {
                        let mut map = write(&self.deep);
                        for &(_, at) in &half[i..j] {
                            if let Id::Deep(key) = &ids[at] {
                                out.push((at, map.remove(key).map(RecordAddr::from_u64)));
                            }
                        }
                    } else {
                        let mut map = write(&self.shards[shard]);
                        for &(_, at) in &half[i..j] {
                            if let Id::Packed { version, path } = ids[at] {
                                let old = map.remove(&(version, path));
                                out.push((at, old.map(RecordAddr::from_u64)));
                            }
                        }
                    }
                    i = j;
                }
            }
            out
        });
        let mut found = vec![None; ids.len()];
        for part in parts {
            for (at, old) in part? {
                found[at] = old;
            }
        }
        Some(found)
    }

    fn get(&self, id: &Id) -> Option<RecordAddr> {
        let word = match id {
            Id::Packed { version, path } => read(self.shard(*version, *path))
                .get(&(*version, *path))
                .copied(),
            Id::Deep(key) => read(&self.deep).get(key).copied(),
        };
        word.map(RecordAddr::from_u64)
    }

    /// Sets `id` to `addr`, returning the address it replaced.
    fn insert(&self, id: &Id, addr: RecordAddr) -> Option<RecordAddr> {
        let word = addr.to_u64();
        let old = match id {
            Id::Packed { version, path } => {
                write(self.shard(*version, *path)).insert((*version, *path), word)
            }
            Id::Deep(key) => write(&self.deep).insert(key.clone(), word),
        };
        old.map(RecordAddr::from_u64)
    }

    /// Removes `id`, returning the address it had.
    fn remove(&self, id: &Id) -> Option<RecordAddr> {
        let old = match id {
            Id::Packed { version, path } => {
                write(self.shard(*version, *path)).remove(&(*version, *path))
            }
            Id::Deep(key) => write(&self.deep).remove(key),
        };
        old.map(RecordAddr::from_u64)
    }

    /// The offsets of the live records in `segment`: one pass over the index in memory order,
    /// cheaper than looking up each record of the segment.
    fn in_segment(&self, segment: u32) -> Vec<u64> {
        let mut out = vec![];
        let mut add = |word: &u64| {
            let addr = RecordAddr::from_u64(*word);
            if addr.segment == segment {
                out.push(addr.offset);
            }
        };
        for shard in &self.shards {
            read(shard).values().for_each(&mut add);
        }
        read(&self.deep).values().for_each(&mut add);
        out
    }

    /// Live records by segment.
    fn live_by_segment(&self) -> BTreeMap<u32, u64> {
        let mut out = BTreeMap::new();
        let mut count =
            |word: u64| *out.entry(RecordAddr::from_u64(word).segment).or_default() += 1;
        for shard in &self.shards {
            read(shard).values().for_each(|w| count(*w));
        }
        read(&self.deep).values().for_each(|w| count(*w));
        out
    }

    /// Stale records: entries under [`STALE_PATH`] (one pass over the index).
    fn stale_records(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| {
                read(s)
                    .keys()
                    .filter(|(_, path)| *path == STALE_PATH)
                    .count() as u64
            })
            .sum()
    }

    fn len(&self) -> usize {
        self.shards.iter().map(|s| read(s).len()).sum::<usize>() + read(&self.deep).len()
    }

    /// The bytes the maps hold allocated: each slot of their capacity and its control byte
    /// (the deep map's keys, boxed, besides).
    fn bytes(&self) -> u64 {
        let slot = |entry: usize, capacity: usize| (capacity * (entry + 1)) as u64;
        let shards: u64 = self
            .shards
            .iter()
            .map(|s| slot(std::mem::size_of::<((u64, u64), u64)>(), read(s).capacity()))
            .sum();
        let deep = read(&self.deep);
        let boxed: u64 = deep.keys().map(|k| k.len() as u64).sum();
        shards + slot(std::mem::size_of::<(Box<[u8]>, u64)>(), deep.capacity()) + boxed
    }
}

/// The shard of a packed id.
fn shard_of(version: u64, path: u64) -> usize {
    let h =
        (version.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ path).wrapping_mul(0xff51_afd7_ed55_8ccd);
    (h >> 58) as usize % SHARDS
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

/// Node records in a segment, and how many of them are live (the index points at them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Usage {
    records: u64,
    live: u64,
}

/// A block's new nodes framed as node records, built on any thread before the commit
/// ([`NodeWrites::records`]): the commit places them without copying or parsing them again.
#[derive(Default)]
pub struct NodeRecords {
    framed: Framed,
    ids: Vec<Id>,
}

impl NodeRecords {
    /// Room for `nodes` nodes of `bytes` stored bytes in all, in `buf` (emptied first): a
    /// buffer of an earlier block's ([`NodeStore::spare_buffer`]) or a new one.
    pub fn in_buffer(buf: Vec<u8>, nodes: usize, bytes: usize) -> Self {
        Self {
            framed: Framed::in_buffer(buf, nodes, bytes + nodes * (1 + 28 + 8)),
            ids: Vec::with_capacity(nodes),
        }
    }

    /// Adds the node at `path` of `version`, its stored bytes written by `encode`.
    pub fn push(&mut self, version: u64, path: &Path, encode: impl FnOnce(&mut Vec<u8>)) {
        let framed = self.framed.push(|out| {
            out.push(NODE);
            path.write_node_key(version, out);
            encode(out);
        });
        // Only a node larger than 4 GiB fails, which no node is: kept out of the batch.
        if framed.is_ok() {
            self.ids.push(Id::at(version, path));
        }
    }

    /// The nodes held.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no node is held.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Bytes of the records, headers included.
    pub fn bytes(&self) -> usize {
        self.framed.bytes()
    }
}

/// What one [`NodeStore::commit`] writes.
#[derive(Default)]
pub struct NodeWrites<'a> {
    /// The block's height; `None` for writes that are not a block's (a restore's batch).
    pub version: Option<u64>,
    /// New nodes: stored key and node.
    pub sets: &'a [(Vec<u8>, Vec<u8>)],
    /// New nodes framed already (a block's), placed after `sets`.
    pub records: Vec<NodeRecords>,
    /// Nodes removed now, by key; keys not here are skipped. (Since layout 6 pruning removes
    /// nodes through `prune`; these are the nodes the `stale` column's older lists name.)
    pub removes: &'a [Vec<u8>],
    /// The nodes the block made stale (version and path), kept in a stale record of the
    /// block's version until a later commit prunes it. Only a block's commit has them.
    pub stale: &'a [(u64, Path)],
    /// Versions (before the block's) whose stale records this commit prunes: their nodes and
    /// the records themselves are removed. Versions without one are skipped.
    pub prune: std::ops::Range<u64>,
    /// Bytes the caller commits to ParityDB with this commit (see [`DURABLE_LAG_BYTES`]).
    pub db_bytes: u64,
    /// Leave compaction to a [`NodeStore::compact`] after the commit (off the commit's path)
    /// instead of compacting a segment into this append.
    pub defer_compaction: bool,
}

/// What one [`NodeStore::commit`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodesCommitted {
    /// Nodes removed (explicitly or by pruning stale records).
    pub removed: u64,
}

/// What the node store holds ([`NodeStore::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeStoreStats {
    /// Segment files.
    pub segments: usize,
    /// Bytes of the segment files.
    pub file_bytes: u64,
    /// Node and stale records in the file, live or not.
    pub records: u64,
    /// Live nodes (the index's entries but the stale records).
    pub live: u64,
    /// Stale records not pruned (a version's each).
    pub stale_records: u64,
    /// Bytes the index in memory holds allocated.
    pub index_bytes: u64,
    /// Removed nodes whose records compaction keeps until their block is safe from a crash.
    pub waiting: u64,
    /// Segments compacted since the store opened.
    pub compacted: u64,
}

/// A block's removals, waiting (see the module documentation): the records of the nodes it
/// removed, which compaction keeps until the block is safe.
struct Waiting {
    /// The bytes committed to ParityDB up to and including the block.
    after: u64,
    /// The block's height and era.
    version: Option<u64>,
    era: u32,
    records: Vec<RecordAddr>,
}

/// A record compaction copied: its id, the copy's address, and the waiting removal it belongs
/// to (batch and position), if its removal waits.
type Copy = (Id, RecordAddr, Option<(usize, usize)>);

/// What commits change, one at a time (they hold the file's writer, then this).
struct Writer {
    usage: BTreeMap<u32, Usage>,
    /// The offsets of each segment's trailers: what compaction reads of a segment besides the
    /// records it copies.
    trailers: BTreeMap<u32, Vec<u64>>,
    /// Blocks' removals not applied yet, oldest first, and the blocks that made them.
    waiting: VecDeque<Waiting>,
    /// Records in `waiting`.
    waiting_records: u64,
    /// Bytes committed to ParityDB through this handle.
    db_bytes: u64,
    /// The largest commits from the oldest waiting batch's block on, as (bytes committed up to
    /// and including the commit, its size): sizes decreasing, so the first is the largest.
    largest: VecDeque<(u64, u64)>,
    /// The segment of the last block's trailer, never compacted: an open finds the file's last
    /// block there, to void it if ParityDB lost it (a compaction's own append may seal the
    /// segment a block's append went to).
    last_block_segment: Option<u32>,
}

/// The state tree's nodes in the node file; see the module documentation.
pub struct NodeStore {
    /// The deletion of the last compacted segment's file, on a thread of its own (unlinking
    /// 64 MiB and syncing the directory took up to 30 ms of a commit); joined before the next
    /// one and when the store is dropped.
    deleting: Mutex<Option<std::thread::JoinHandle<()>>>,
    file: NodeFile,
    options: NodeStoreOptions,
    index: Index,
    voided: Voided,
    writer: Mutex<Writer>,
    compacted: AtomicU64,
}

/// The index rebuilt from the file.
struct Rebuilt {
    index: Index,
    usage: BTreeMap<u32, Usage>,
    trailers: BTreeMap<u32, Vec<u64>>,
    /// Where the file's complete appends end.
    keep: Option<End>,
    /// The highest height of a block (not voided) whose trailer is in the file.
    last_block: Option<u64>,
    /// The segment of that trailer.
    last_block_segment: Option<u32>,
}

impl NodeStore {
    /// Opens (creating) the node store in `dir` for a database whose head is at `head`:
    /// rebuilds the index, cuts off an interrupted append and voids the blocks above `head`
    /// (see the module documentation). `head_root_here`: the head's root node is in this file
    /// (not in a store's earlier layout); if the file lacks it, it lost data, and the open
    /// fails before anything is cut.
    pub fn open(
        dir: &FsPath,
        head: Option<u64>,
        head_root_here: bool,
        options: NodeStoreOptions,
    ) -> Result<Self> {
        let file_options = NodeFileOptions {
            segment_bytes: options.segment_bytes,
        };
        let file = NodeFile::open_as_found(dir, file_options)?;
        let mut voided_record = DurableRecord::open(dir.join(VOIDED_FILE)).map_err(durable(dir))?;
        let mut voided = match voided_record.load().map_err(durable(dir))? {
            None => Voided::default(),
            Some(bytes) => {
                Voided::decode_all(&mut &bytes[..]).map_err(|e| StorageError::Corrupt {
                    path: dir.join(VOIDED_FILE),
                    what: "voided blocks".into(),
                    reason: e.to_string(),
                })?
            }
        };
        let mut rebuilt = rebuild(&file, dir, &voided)?;
        if rebuilt
            .last_block
            .is_some_and(|b| head.is_none_or(|h| b > h))
        {
            // ParityDB lost blocks the file holds: void them, durably, before anything else
            // is appended, and read the file again without them (rare: a crash that took
            // blocks back).
            tracing::warn!(
                last_block = ?rebuilt.last_block,
                head = ?head,
                "voiding tree nodes of blocks the database does not hold"
            );
            voided.0.push(head);
            voided_record
                .store(&voided.encode())
                .map_err(durable(dir))?;
            rebuilt = rebuild(&file, dir, &voided)?;
        }
        if let (Some(head), true) = (head, head_root_here)
            && Id::of(&Path::ROOT.node_key(head))
                .is_none_or(|root| rebuilt.index.get(&root).is_none())
        {
            return Err(StorageError::Corrupt {
                path: dir.to_path_buf(),
                what: "node file".into(),
                reason: format!(
                    "it lacks the root node of the head (height {head}): it lost data or \
                     belongs to another database"
                ),
            });
        }
        drop(file);
        let file = NodeFile::open(dir, rebuilt.keep, file_options)?;
        let Rebuilt {
            index,
            mut usage,
            trailers,
            ..
        } = rebuilt;
        usage.retain(|segment, _| rebuilt.keep.is_some_and(|k| *segment <= k.segment));
        Ok(Self {
            deleting: Mutex::new(None),
            file,
            options,
            index,
            voided,
            writer: Mutex::new(Writer {
                usage,
                trailers,
                waiting: VecDeque::new(),
                waiting_records: 0,
                db_bytes: 0,
                largest: VecDeque::new(),
                last_block_segment: rebuilt.last_block_segment,
            }),
            compacted: AtomicU64::new(0),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &FsPath {
        self.file.dir()
    }

    /// Whether the node of `key` is here.
    pub fn contains(&self, key: &[u8]) -> bool {
        Id::of(key).is_some_and(|id| self.index.get(&id).is_some())
    }

    /// The stored node of `key`, `None` if there is none here.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let Some(id) = Id::of(key) else {
            return Ok(None);
        };
        let mut attempts = 0;
        loop {
            let Some(addr) = self.index.get(&id) else {
                return Ok(None);
            };
            let payload = match self.file.read(addr) {
                Ok(payload) => payload,
                // Compaction moved it and deleted the segment between the lookup and the read.
                Err(_) if attempts < 2 && self.index.get(&id) != Some(addr) => {
                    attempts += 1;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            return match split_node(&payload) {
                Some((found, node)) if found == id => Ok(Some(node.to_vec())),
                _ => Err(corrupt(
                    self.dir(),
                    addr,
                    "the index's record for a node holds another node or none",
                )),
            };
        }
    }

    /// A buffer an earlier block's records were framed in, for [`NodeRecords::in_buffer`].
    pub fn spare_buffer(&self) -> Vec<u8> {
        self.file.spare_buffer()
    }

    /// Whether the stale record of `version` is here (written, not pruned).
    pub fn has_stale(&self, version: u64) -> bool {
        self.index.get(&Id::stale(version)).is_some()
    }

    /// Appends a block's nodes, its stale record and its removals (see [`NodeWrites`]),
    /// compacts a segment if one qualifies, and syncs: all of it durable when this returns,
    /// before the caller commits the rest of the block to ParityDB.
    pub fn commit(&self, writes: NodeWrites<'_>) -> Result<NodesCommitted> {
        let version = writes.version;
        let db_bytes = writes.db_bytes;
        let mut append = self.file.append()?;
        let mut writer = crate::store::lock(&self.writer);
        let era = self.voided.era();
        let framed_nodes: usize = writes.records.iter().map(NodeRecords::len).sum();
        let mut added = Vec::with_capacity(writes.sets.len() + framed_nodes + 1);
        for (key, node) in writes.sets {
            let id = Id::of(key).ok_or_else(|| {
                StorageError::Tree(format!(
                    "a tree node written under {} bytes that are not a node key",
                    key.len()
                ))
            })?;
            added.push((id, append.push_parts(&[&[NODE], key, node])?));
        }
        // Written on threads of their own while the removals are worked out.
        let (framed, ids): (Vec<Framed>, Vec<Vec<Id>>) = writes
            .records
            .into_iter()
            .map(|r| (r.framed, r.ids))
            .unzip();
        for (ids, addrs) in ids.into_iter().zip(append.push_framed(framed)?) {
            added.extend(ids.into_iter().zip(addrs));
        }
        if !writes.stale.is_empty() {
            let Some(version) = version else {
                return Err(StorageError::Tree(
                    "stale nodes written by a commit that is not a block's".into(),
                ));
            };
            let mut record = StaleRecord {
                version,
                packed: Vec::with_capacity(writes.stale.len()),
                deep: vec![],
            };
            for (v, path) in writes.stale {
                match Id::at(*v, path) {
                    Id::Packed { version, path } => record.packed.push((version, path)),
                    Id::Deep(key) => record.deep.push(key.into_vec()),
                }
            }
            let at = append.push_parts(&[&[STALE], &record.encode()])?;
            added.push((Id::stale(version), at));
        }
        let mut trailer = Trailer {
            era,
            version,
            removed: vec![Removed::new(version, era)],
        };
        let mut ids: Vec<Id> = writes.removes.iter().filter_map(|k| Id::of(k)).collect();
        // The nodes of the stale records pruned, and the records.
        for pruned in writes.prune.clone() {
            let id = Id::stale(pruned);
            let Some(at) = self.index.get(&id) else {
                continue;
            };
            let payload = self.file.read(at)?;
            let record = match payload.split_first() {
                Some((&STALE, rest)) => StaleRecord::decode_all(&mut &rest[..]).ok(),
                _ => None,
            }
            .filter(|r| r.version == pruned)
            .ok_or_else(|| corrupt(self.dir(), at, "not the stale record of its version"))?;
            for node in record.ids() {
                ids.push(node.ok_or_else(|| corrupt(self.dir(), at, "names a non-key"))?);
            }
            ids.push(id);
        }
        // Removed records leave the index now (reads no longer find them, and nothing reads a
        // pruned version); they stay live for compaction, in a waiting batch, until the block
        // is safe.
        let mut records = Vec::with_capacity(ids.len());
        let mut removed = 0;
        let found = self.index.remove_all(&ids).ok_or_else(|| {
            StorageError::Tree("removing pruned nodes from the index panicked".into())
        })?;
        for (id, at) in ids.into_iter().zip(found) {
            if let Some(at) = at {
                removed += u64::from(!id.is_stale());
                trailer.remove(id, at.to_u64(), version, era);
                records.push(at);
            }
        }
        writer.db_bytes += db_bytes;
        let after = writer.db_bytes;
        while writer
            .largest
            .back()
            .is_some_and(|&(_, size)| size <= db_bytes)
        {
            writer.largest.pop_back();
        }
        writer.largest.push_back((after, db_bytes));
        if !records.is_empty() {
            writer.waiting_records += records.len() as u64;
            writer.waiting.push_back(Waiting {
                after,
                version,
                era,
                records,
            });
        }
        // The bulk of the append syncs while a segment is compacted and the trailer written.
        append.start_sync()?;
        if version.is_some() {
            writer.last_block_segment = Some(append.segment());
        }
        let victim = if writes.defer_compaction {
            None
        } else {
            self.victim(&writer, append.segment())
        };
        let copies = match victim {
            Some(victim) => self.compact_into(victim, &mut append, &writer, &mut trailer)?,
            None => vec![],
        };
        let trailer_at = append.push_parts(&[&[TRAILER], &trailer.encode()])?;
        let writer = &mut *writer;
        // The block's nodes indexed while the file syncs: nothing reads a version before the
        // database's head reaches it, after this returns.
        append.commit_with(|| {
            let replaced = self.index.insert_all(&added);
            for ((_, addr), replaced) in added.iter().zip(replaced) {
                count_insert(&mut writer.usage, *addr, replaced);
            }
        })?;
        add_trailer(writer, trailer_at);
        // Copies only once readable: a reader of a live node follows the index at once.
        self.apply_copies(writer, copies);
        loop {
            let Some(front) = writer.waiting.front().map(|w| w.after) else {
                writer.largest.clear();
                break;
            };
            // The largest commit from the front's block on.
            while writer.largest.front().is_some_and(|&(at, _)| at < front) {
                writer.largest.pop_front();
            }
            let largest = writer.largest.front().map_or(0, |&(_, size)| size);
            if front + self.options.durable_lag_bytes + 2 * largest > writer.db_bytes {
                break;
            }
            let Some(done) = writer.waiting.pop_front() else {
                break;
            };
            writer.waiting_records -= done.records.len() as u64;
            for at in done.records {
                count_removal(&mut writer.usage, at);
            }
        }
        if let Some(victim) = victim {
            self.drop_segment(writer, victim);
        }
        Ok(NodesCommitted { removed })
    }

    /// Copies `victim`'s records into `append`: its live records and those removed but still
    /// waiting (a copy of a waiting one gets its removal again in `trailer`, naming the copy),
    /// each read at the address the index or its waiting removal gives; and carries into
    /// `trailer` the removals its trailers hold that still name records in other segments.
    /// Nothing else of the segment is read. Returns the copies (id, address, the waiting
    /// removal it belongs to) for [`NodeStore::apply_copies`] once the append is committed.
    fn compact_into(
        &self,
        victim: u32,
        append: &mut Append<'_>,
        writer: &Writer,
        trailer: &mut Trailer,
    ) -> Result<Vec<Copy>> {
        // The records to copy, by offset: live (the index points at them), or removed by a
        // block a crash could still take back (batch and position of the waiting removal).
        let mut wanted: Vec<(u64, Option<(usize, usize)>)> = self
            .index
            .in_segment(victim)
            .into_iter()
            .map(|offset| (offset, None))
            .collect();
        for (b, batch) in writer.waiting.iter().enumerate() {
            for (p, at) in batch.records.iter().enumerate() {
                if at.segment == victim {
                    wanted.push((at.offset, Some((b, p))));
                }
            }
        }
        wanted.sort_unstable_by_key(|(offset, _)| *offset);
        let mut copies = Vec::with_capacity(wanted.len());
        let mut reader = self.file.scan(victim)?;
        for (offset, waiting) in wanted {
            let addr = RecordAddr {
                segment: victim,
                offset,
            };
            let payload = reader.record_at(offset)?;
            let id = record_id(payload)
                .ok_or_else(|| corrupt(self.dir(), addr, "a record to copy that is no node"))?;
            let at = if payload[0] == STALE {
                append.push(payload)?
            } else {
                append.push_parts(&[&[COPY], &payload[1..]])?
            };
            // A removal made again with the copy's address: the one naming this record may
            // be in this segment.
            if let Some((b, _)) = waiting {
                let batch = &writer.waiting[b];
                trailer.remove(id.clone(), at.to_u64(), batch.version, batch.era);
            }
            copies.push((id, at, waiting));
        }
        for &offset in writer.trailers.get(&victim).map_or(&[][..], Vec::as_slice) {
            let addr = RecordAddr {
                segment: victim,
                offset,
            };
            let bad = |reason: &str| corrupt(self.dir(), addr, reason);
            let old = Trailer::read(reader.record_at(offset)?).map_err(|e| bad(&e))?;
            for group in old.removed {
                if self.voided.voids(group.version, group.era) {
                    continue;
                }
                for record in group.records() {
                    let (id, word) = record.ok_or_else(|| bad("removes a non-key"))?;
                    let at = RecordAddr::from_u64(word);
                    if at.segment != victim && writer.usage.contains_key(&at.segment) {
                        trailer.remove(id, word, group.version, group.era);
                    }
                }
            }
        }
        Ok(copies)
    }

    /// Points the index (or the waiting removal) at each copy, once readable.
    fn apply_copies(&self, writer: &mut Writer, copies: Vec<Copy>) {
        let mut live = Vec::with_capacity(copies.len());
        for (id, at, waiting) in copies {
            match waiting {
                Some((b, p)) => {
                    let old = std::mem::replace(&mut writer.waiting[b].records[p], at);
                    count_insert(&mut writer.usage, at, Some(old));
                }
                None => live.push((id, at)),
            }
        }
        let replaced = self.index.insert_all(&live);
        for ((_, at), replaced) in live.iter().zip(replaced) {
            count_insert(&mut writer.usage, *at, replaced);
        }
    }

    /// Detaches a compacted segment and deletes its file.
    fn drop_segment(&self, writer: &mut Writer, victim: u32) {
        match self.file.detach_segment(victim) {
            Ok(detached) => {
                writer.usage.remove(&victim);
                writer.trailers.remove(&victim);
                self.compacted.fetch_add(1, Ordering::Relaxed);
                self.delete(detached);
            }
            // Its live records are all copied: a segment that stays is only space, tried
            // again by a later compaction.
            Err(e) => tracing::warn!(error = %e, "a compacted node segment was not removed"),
        }
    }

    /// Compacts one segment, if one qualifies, in an append of its own: what a block's commit
    /// with [`NodeWrites::defer_compaction`] leaves to be done after it (on another thread:
    /// this waits for the commit in progress, and the next one waits for it). Returns whether
    /// a segment was compacted.
    pub fn compact(&self) -> Result<bool> {
        // No append without a segment to compact: an append may create the next segment's
        // file, which the next block's append would then create again.
        let Some(end) = self.file.end() else {
            return Ok(false);
        };
        if self
            .victim(&crate::store::lock(&self.writer), end.segment)
            .is_none()
        {
            return Ok(false);
        }
        let mut append = self.file.append()?;
        let mut writer = crate::store::lock(&self.writer);
        let Some(victim) = self.victim(&writer, append.segment()) else {
            return Ok(false);
        };
        let mut trailer = Trailer {
            era: self.voided.era(),
            version: None,
            removed: vec![],
        };
        let copies = self.compact_into(victim, &mut append, &writer, &mut trailer)?;
        let trailer_at = append.push_parts(&[&[TRAILER], &trailer.encode()])?;
        append.commit()?;
        add_trailer(&mut writer, trailer_at);
        self.apply_copies(&mut writer, copies);
        self.drop_segment(&mut writer, victim);
        Ok(true)
    }

    /// Deletes a compacted segment's file on a thread of its own, once the last one's is
    /// deleted. A file that stays (the deletion failed, or a crash came first) is read again
    /// at the next open, where its records are found copied or dead, and compacted again.
    fn delete(&self, detached: Detached) {
        let warn = |e: crate::node_file::NodeFileError| tracing::warn!(error = %e, "a compacted node segment was not removed");
        let mut deleting = crate::store::lock(&self.deleting);
        if let Some(last) = deleting.take() {
            let _ = last.join();
        }
        let (tx, rx) = std::sync::mpsc::sync_channel::<Detached>(1);
        let spawned = std::thread::Builder::new()
            .name("aether-node-delete".into())
            .spawn(move || {
                if let Ok(detached) = rx.recv() {
                    detached.delete().unwrap_or_else(warn);
                }
            });
        match spawned {
            Ok(thread) => {
                let _ = tx.send(detached);
                *deleting = Some(thread);
            }
            Err(_) => detached.delete().unwrap_or_else(warn),
        }
    }

    /// The sealed segment to compact: the one with the smallest share of live records, if that
    /// share is at most the configured percentage (never the one with the last block's
    /// trailer).
    fn victim(&self, writer: &Writer, active: u32) -> Option<u32> {
        writer
            .usage
            .iter()
            .filter(|(segment, _)| **segment != active)
            .filter(|(segment, _)| Some(**segment) != writer.last_block_segment)
            .filter(|(_, u)| u.live * 100 <= u.records * self.options.compact_below_percent)
            .min_by(|(_, a), (_, b)| {
                // a.live / a.records < b.live / b.records, without division.
                (u128::from(a.live) * u128::from(b.records.max(1)))
                    .cmp(&(u128::from(b.live) * u128::from(a.records.max(1))))
            })
            .map(|(segment, _)| *segment)
    }

    /// What the store holds.
    pub fn stats(&self) -> NodeStoreStats {
        let writer = crate::store::lock(&self.writer);
        let segments = self.file.segments();
        let stale_records = self.index.stale_records();
        NodeStoreStats {
            segments: segments.len(),
            file_bytes: segments.iter().map(|(_, len)| len).sum(),
            records: writer.usage.values().map(|u| u.records).sum(),
            live: self.index.len() as u64 - stale_records,
            stale_records,
            index_bytes: self.index.bytes(),
            waiting: writer.waiting_records,
            compacted: self.compacted.load(Ordering::Relaxed),
        }
    }
}

impl Drop for NodeStore {
    fn drop(&mut self) {
        if let Some(last) = crate::store::lock(&self.deleting).take() {
            let _ = last.join();
        }
    }
}

/// Reads every record of `file` in order and rebuilds the index (see the module
/// documentation): an append's records count once its trailer is read (what follows the last
/// trailer is an interrupted append), the nodes and removals of voided blocks not at all. A
/// copy of a node whose removal was waiting is followed by that removal again, naming the
/// copy, in the same trailer.
fn rebuild(file: &NodeFile, dir: &FsPath, voided: &Voided) -> Result<Rebuilt> {
    let index = Index::new();
    let mut usage: BTreeMap<u32, Usage> = BTreeMap::new();
    let mut trailers: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    let (mut keep, mut last_block, mut last_block_segment) = (None, None, None);
    // The records of the append being read.
    let mut append: Vec<(Id, RecordAddr)> = vec![];
    let segments = file.segments();
    let last = segments.last().map(|s| s.0);
    'segments: for &(segment, _) in &segments {
        usage.entry(segment).or_default();
        let mut scan = file.scan(segment)?;
        while let Some(record) = scan.next_record() {
            let (addr, payload) = match record {
                Ok(record) => record,
                Err(e) if Some(segment) == last => {
                    tracing::warn!(error = %e, "the node file ends in an interrupted append");
                    break 'segments;
                }
                Err(e) => return Err(e.into()),
            };
            let bad = |reason: &str| corrupt(dir, addr, reason);
            match payload.first() {
                Some(&(NODE | COPY | STALE)) => {
                    let id = record_id(payload).ok_or_else(|| bad("not a record"))?;
                    append.push((id, addr));
                }
                Some(&(TRAILER | TRAILER_LAYOUT_5)) => {
                    let trailer = Trailer::read(payload).map_err(|e| bad(&e))?;
                    trailers.entry(segment).or_default().push(addr.offset);
                    let void_block = voided.voids(trailer.version, trailer.era);
                    for (id, at) in append.drain(..) {
                        usage.entry(at.segment).or_default().records += 1;
                        if !voided.voids(Some(id.version()), trailer.era) {
                            index.insert(&id, at);
                        }
                    }
                    for group in &trailer.removed {
                        if voided.voids(group.version, group.era) {
                            continue;
                        }
                        for record in group.records() {
                            let (id, word) = record.ok_or_else(|| bad("removes a non-key"))?;
                            // Only the record it names: a later one of the id (written again
                            // after its block was voided) stays.
                            if index.get(&id) == Some(RecordAddr::from_u64(word)) {
                                index.remove(&id);
                            }
                        }
                    }
                    if !void_block && trailer.version.is_some() && trailer.version >= last_block {
                        last_block = trailer.version;
                        last_block_segment = Some(segment);
                    }
                    keep = Some(End {
                        segment,
                        len: addr.offset + RECORD_HEADER_BYTES + payload.len() as u64,
                    });
                }
                _ => return Err(bad("an unknown kind of record")),
            }
        }
    }
    for (segment, live) in index.live_by_segment() {
        usage.entry(segment).or_default().live = live;
    }
    Ok(Rebuilt {
        index,
        usage,
        trailers,
        keep,
        last_block,
        last_block_segment,
    })
}

/// The id of a node or stale record; `None` if it is neither.
fn record_id(payload: &[u8]) -> Option<Id> {
    match payload.split_first()? {
        (&STALE, rest) => Some(Id::stale(u64::from_le_bytes(
            rest.get(..8)?.try_into().ok()?,
        ))),
        _ => split_node(payload).map(|(id, _)| id),
    }
}

/// The id and stored node of a node record; `None` if it is not one.
fn split_node(payload: &[u8]) -> Option<(Id, &[u8])> {
    let rest = match payload.split_first()? {
        (&(NODE | COPY), rest) => rest,
        _ => return None,
    };
    let n = u32::from_le_bytes(rest.get(16..20)?.try_into().ok()?) as usize;
    let key_len = 20usize.checked_add(n)?;
    let key = rest.get(..key_len)?;
    Some((Id::of(key)?, &rest[key_len..]))
}

fn count_insert(usage: &mut BTreeMap<u32, Usage>, addr: RecordAddr, replaced: Option<RecordAddr>) {
    let u = usage.entry(addr.segment).or_default();
    u.records += 1;
    u.live += 1;
    if let Some(old) = replaced {
        count_removal(usage, old);
    }
}

/// Records where an append's trailer is, once the append is committed.
fn add_trailer(writer: &mut Writer, at: RecordAddr) {
    writer
        .trailers
        .entry(at.segment)
        .or_default()
        .push(at.offset);
}

fn count_removal(usage: &mut BTreeMap<u32, Usage>, at: RecordAddr) {
    if let Some(u) = usage.get_mut(&at.segment) {
        u.live = u.live.saturating_sub(1);
    }
}

fn corrupt(dir: &FsPath, addr: RecordAddr, reason: &str) -> StorageError {
    StorageError::Corrupt {
        path: PathBuf::from(dir),
        what: format!(
            "node record at segment {} offset {}",
            addr.segment, addr.offset
        ),
        reason: reason.to_string(),
    }
}

fn durable(dir: &FsPath) -> impl Fn(crate::durable::DurableError) -> StorageError {
    let path = dir.join(VOIDED_FILE);
    move |e| StorageError::Corrupt {
        path: path.clone(),
        what: "voided blocks".into(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests;
