//! [`NodeCache`]: internal nodes of the head's state tree, decoded, kept in memory across blocks.
//!
//! Every root update reads the internal nodes on the paths of the changed keys; the upper
//! levels are on every path and are rewritten by every block. The cache holds internal nodes of
//! the committed head's tree, one per path, with its version: a committed block's new internal
//! node (shallowest first) replaces the one its path held (the node the block made stale
//! there), so a block costs one map operation per internal node it wrote and a removal only for
//! a stale internal node whose path no longer holds one (`TreeUpdate::vacated`); a read of the
//! head's tree that missed adds what it read. A lookup is for a version and a path and finds the
//! node only if the path holds that version's: tree nodes are immutable under their key
//! (version and path), so a cached node is never out of date.
//!
//! A read that missed adds its node only if it read the tree of the height the cache follows
//! (its epoch) and no commit is moving the cache on, checked under the shard's lock. A commit
//! first marks the cache as moving, then replaces the nodes of the paths the block rewrote and
//! removes those of the paths it vacated, shard by shard, while the database commits the block
//! ([`NodeCache::prepare`]); once the block is the head, the epoch moves to it
//! ([`NodeCache::committed`]). A node read from the old head's tree is either added before the
//! block reaches its shard (and replaced or removed then) or refused, so no stale node stays
//! behind; a reader that follows the epoch (the
//! warming) never looks for the new block's nodes before the database holds them; and the
//! commit does not hold the head's lock while it works. A block the database failed to commit
//! leaves the cache emptied ([`NodeCache::abandon`]).
//!
//! The cache is bounded by a byte budget ([`crate::StoreConfig::node_cache_bytes`]): a node that
//! does not fit is not added (a path whose new node does not fit then holds none). Shallow nodes come first when a block's nodes are added, so a
//! full cache holds the levels that every update reads. Leaves are not cached: an update needs
//! a leaf only for a key not known to be in the tree, and there are as many leaves as keys.
//!
//! A node is found by its path packed in one word: a map entry takes 32 bytes with the node's
//! version and handle (a pointer and the node's length) instead of 56, so a lookup among the
//! 3.3M internal nodes of a 10M-account tree touches less memory. So only nodes at most
//! [`Path::PACKED_NIBBLES`] nibbles deep are cached: a tree of random keys has an internal node deeper than that only once two
//! of its keys share 64 bits (about four billion keys); keys ground to share longer prefixes
//! have their deep nodes read from the database, as any node the cache does not hold.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;

use crate::merkle::node::{Child, Internal, InternalOf};
use crate::merkle::{Node, Path, TreeUpdate};
use crate::store::lock;

/// Shards of the map, one per value of a path's first two nibbles: the threads of an update
/// take disjoint subtrees, so they lock disjoint shards and no shard's lock moves between the
/// processors' caches.
const SHARDS: usize = 256;

/// Bytes a cached internal node costs besides the node itself: the `Arc`'s two counts, the
/// map's entry (path, version and handle), its control byte and spare room.
const ENTRY_BYTES: usize = 16 + std::mem::size_of::<(u64, Entry)>() + 16;

/// What `node` costs in the cache: 368 bytes for a node of two children, 1,040 for one of 16.
fn cost(node: &Internal) -> usize {
    ENTRY_BYTES + node.size()
}

/// What a node of `N` children costs in the cache.
const fn cost_of<const N: usize>() -> usize {
    ENTRY_BYTES + std::mem::size_of::<InternalOf<[Child; N]>>()
}

/// The least a node costs (none has fewer than one child).
const MIN_COST: usize = cost_of::<1>();

/// What the largest node, of 16 children, costs.
#[cfg(test)]
pub const NODE_BYTES: usize = cost_of::<16>();

/// What the cache holds now (see [`crate::Store::node_cache_stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeCacheStats {
    /// Internal nodes held.
    pub nodes: usize,
    /// Bytes they take (each node's struct, its children when not inline, its map entry).
    pub bytes: usize,
    /// The budget.
    pub budget: usize,
    /// Whether the store is still reading its head's tree into the cache after opening (see
    /// `warm.rs`).
    pub warming: bool,
}

/// The node a path holds, and the version it was written at.
struct Entry {
    version: u64,
    node: Arc<Internal>,
}

/// A path's [`Path::packed`] word, the map's key, if a node that deep is cached at all.
fn key(path: &Path) -> Option<u64> {
    path.packed()
}

/// The index of the shard of a packed path: the packed path's low byte holds its first two
/// nibbles.
fn shard_index(key: u64) -> usize {
    (key & 0xff) as usize % SHARDS
}

/// The end of the run of `items` from `start` whose keys are in the shard of `start`'s (`key`
/// gives an item's packed path).
fn shard_run<T>(items: &[T], start: usize, key: impl Fn(&T) -> Option<u64>) -> usize {
    let shard = key(&items[start]).map(shard_index);
    let mut end = start + 1;
    while end < items.len() && key(&items[end]).map(shard_index) == shard {
        end += 1;
    }
    end
}

/// A shard of the map: packed path to the node at that path.
type Shard = FxHashMap<u64, Entry>;

/// The epoch of a cache that follows no height (an empty store).
const NO_EPOCH: u64 = u64::MAX;

/// Internal nodes of the head's tree (see the module docs).
pub struct NodeCache {
    shards: Vec<Mutex<Shard>>,
    /// The height whose tree the cache follows ([`NO_EPOCH`]: none yet).
    epoch: AtomicU64,
    /// A commit is moving the cache on: reads add nothing.
    moving: AtomicBool,
    nodes: AtomicUsize,
    bytes: AtomicUsize,
    budget: usize,
    warming: AtomicBool,
}

impl NodeCache {
    /// An empty cache of at most `budget` bytes (0: caches nothing).
    pub fn new(budget: usize) -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(FxHashMap::default()))
                .collect(),
            epoch: AtomicU64::new(NO_EPOCH),
            moving: AtomicBool::new(false),
            nodes: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            // A budget too small for one node caches nothing.
            budget: if budget < MIN_COST { 0 } else { budget },
            warming: AtomicBool::new(false),
        }
    }

    /// The shard of the path's first two nibbles (uniform: paths come from SHA-256 key
    /// hashes; the root and the first level, 17 nodes, share theirs with deeper ones).
    fn shard(&self, key: u64) -> &Mutex<Shard> {
        &self.shards[shard_index(key)]
    }

    /// The cached node written at `version` under `path`.
    pub fn get(&self, version: u64, path: &Path) -> Option<Node> {
        if self.budget == 0 {
            return None;
        }
        let key = key(path)?;
        lock(self.shard(key))
            .get(&key)
            .filter(|entry| entry.version == version)
            .map(|entry| Node::Internal(entry.node.clone()))
    }

    /// The cached nodes written at the versions under the paths of `requests`, at most
    /// `up_to`, into the same places of `found` (as long as `requests`; the others are left as
    /// they are). Requests of one shard in a row (the children of a node two or more nibbles
    /// deep are all in its shard) take its lock once, and all their lookups run, each touching
    /// the node it finds, before any node is shared: a lookup at a time waited for its memory
    /// reads (the map's entry, the node) one lookup after the other, as the lock and the count's
    /// increment of each are atomic operations, which wait for the reads before them.
    pub fn get_many(&self, requests: &[(u64, Path)], up_to: u64, found: &mut [Option<Node>]) {
        if self.budget == 0 {
            return;
        }
        let key_of = |(version, path): &(u64, Path)| key(path).filter(|_| *version <= up_to);
        let mut start = 0;
        while start < requests.len() {
            let Some(first) = key_of(&requests[start]) else {
                start += 1;
                continue;
            };
            let end = shard_run(requests, start, key_of);
            let shard = lock(self.shard(first));
            let mut at = start;
            while at < end {
                let stop = end.min(at + 16);
                let mut hits: [Option<&Arc<Internal>>; 16] = [None; 16];
                for (hit, (version, path)) in hits.iter_mut().zip(&requests[at..stop]) {
                    *hit = key(path)
                        .and_then(|k| shard.get(&k))
                        .filter(|entry| entry.version == *version)
                        .map(|entry| &entry.node);
                    if let Some(node) = hit {
                        node.touch();
                    }
                }
                for (hit, slot) in hits.iter().zip(found.iter_mut().skip(at)) {
                    if let Some(node) = hit {
                        *slot = Some(Node::Internal(Arc::clone(node)));
                    }
                }
                at = stop;
            }
            start = end;
        }
    }

    /// Sets the height the cache follows (opening a store).
    pub fn follow(&self, height: Option<u64>) {
        self.epoch
            .store(height.unwrap_or(NO_EPOCH), Ordering::SeqCst);
    }

    /// The height the cache follows.
    pub fn epoch(&self) -> Option<u64> {
        let epoch = self.epoch.load(Ordering::SeqCst);
        (epoch != NO_EPOCH).then_some(epoch)
    }

    /// Whether no further node fits (always, for a cache that is off).
    pub fn is_full(&self) -> bool {
        self.room() == 0
    }

    /// At most how many more nodes fit (as many as the smallest nodes would).
    pub fn room(&self) -> usize {
        self.budget
            .saturating_sub(self.bytes.load(Ordering::Relaxed))
            / MIN_COST
    }

    /// Marks the cache as being warmed, or not.
    pub fn set_warming(&self, warming: bool) {
        self.warming.store(warming, Ordering::Release);
    }

    /// Adds an internal node read from the tree of height `read_at`, if that is the height the
    /// cache follows and the node fits; leaves and null nodes are ignored.
    pub fn insert_read(&self, read_at: u64, version: u64, path: &Path, node: &Node) {
        let Node::Internal(node) = node else {
            return;
        };
        let Some(key) = key(path).filter(|_| self.budget > 0) else {
            return;
        };
        let mut shard = lock(self.shard(key));
        if self.epoch.load(Ordering::SeqCst) == read_at
            && !self.moving.load(Ordering::SeqCst)
            && self.reserve(node)
        {
            self.insert(&mut shard, key, version, node);
        }
    }

    /// Takes room for `node`, if there is that much.
    fn reserve(&self, node: &Internal) -> bool {
        let cost = cost(node);
        let reserved = self
            .bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                (b + cost <= self.budget).then_some(b + cost)
            })
            .is_ok();
        if reserved {
            self.nodes.fetch_add(1, Ordering::Relaxed);
        }
        reserved
    }

    /// Gives back the room of a node no longer held.
    fn release(&self, node: &Internal) {
        self.bytes.fetch_sub(cost(node), Ordering::Relaxed);
        self.nodes.fetch_sub(1, Ordering::Relaxed);
    }

    /// Adds a node room was reserved for (giving back the room of one it replaces).
    fn insert(&self, shard: &mut Shard, key: u64, version: u64, node: &Arc<Internal>) {
        let entry = Entry {
            version,
            node: node.clone(),
        };
        if let Some(old) = shard.insert(key, entry) {
            self.release(&old.node);
        }
    }

    /// Follows the block just committed at `update.version`: [`Self::prepare`] and
    /// [`Self::committed`].
    #[cfg(test)]
    pub fn apply(&self, update: &TreeUpdate) {
        self.prepare(update);
        self.committed(update.version);
    }

    /// Moves on to the block at `update.version` while the database commits it: reads add
    /// nothing from now until [`Self::committed`] or [`Self::abandon`]; removes the nodes of
    /// the paths the block vacated, then puts each internal node it wrote in place of the node
    /// its path held, shallowest first, while they fit (a path whose new node does not fit
    /// holds none). The epoch stays where it was.
    pub fn prepare(&self, update: &TreeUpdate) {
        self.moving.store(true, Ordering::SeqCst);
        if self.budget == 0 {
            return;
        }
        for (version, path) in &update.vacated {
            let Some(key) = key(path) else { continue };
            let mut shard = lock(self.shard(key));
            if shard.get(&key).is_some_and(|e| e.version == *version)
                && let Some(old) = shard.remove(&key)
            {
                self.release(&old.node);
            }
        }
        let mut internal: Vec<_> = update
            .nodes
            .iter()
            .filter_map(|(path, node)| match node {
                Node::Internal(node) => Some((key(path)?, path.len(), node)),
                _ => None,
            })
            .collect();
        let adding: usize = internal.iter().map(|(_, _, node)| cost(node)).sum();
        if self.bytes.load(Ordering::Relaxed) + adding > self.budget {
            internal.sort_unstable_by_key(|(_, depth, _)| *depth);
        }
        // The nodes of one shard in a row (an update's nodes come depth first, so a subtree
        // two nibbles deep is one run) under one lock, their entries and the nodes they
        // replace and are replaced by read first, together (see [`Self::get_many`]).
        let mut start = 0;
        while start < internal.len() {
            let end = shard_run(&internal, start, |(key, _, _)| Some(*key));
            let mut shard = lock(self.shard(internal[start].0));
            for (key, _, node) in &internal[start..end] {
                node.touch();
                if let Some(entry) = shard.get(key) {
                    entry.node.touch();
                }
            }
            for &(key, _, node) in &internal[start..end] {
                match shard.get_mut(&key) {
                    Some(entry) => {
                        // The node the block made stale here gives back its room first.
                        self.release(&entry.node);
                        if self.reserve(node) {
                            entry.version = update.version;
                            entry.node = node.clone();
                        } else {
                            shard.remove(&key);
                        }
                    }
                    None => {
                        if self.reserve(node) {
                            self.insert(&mut shard, key, update.version, node);
                        }
                    }
                }
            }
            start = end;
        }
    }

    /// The block [`Self::prepare`]d is the head: the cache follows it.
    pub fn committed(&self, version: u64) {
        self.epoch.store(version, Ordering::SeqCst);
        self.moving.store(false, Ordering::SeqCst);
    }

    /// The block [`Self::prepare`]d was not committed: the cache drops every node (some of its
    /// head's are gone, the block's are in) and follows `head` again.
    pub fn abandon(&self, head: Option<u64>) {
        for shard in &self.shards {
            let dropped = std::mem::take(&mut *lock(shard));
            for entry in dropped.values() {
                self.release(&entry.node);
            }
        }
        self.follow(head);
        self.moving.store(false, Ordering::SeqCst);
    }

    /// What it holds now.
    pub fn stats(&self) -> NodeCacheStats {
        NodeCacheStats {
            nodes: self.nodes.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            budget: self.budget,
            warming: self.warming.load(Ordering::Acquire),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn internal(tag: u8) -> Node {
        let mut slots = [None; 16];
        for slot in &mut slots[..2] {
            *slot = Some(Child::new([tag; 32], 0, 0));
        }
        Node::Internal(Internal::new(slots))
    }

    fn update(version: u64, nodes: &[(Path, Node)], stale: &[(u64, Path)]) -> TreeUpdate {
        TreeUpdate {
            version,
            nodes: nodes.iter().cloned().collect(),
            stale: stale.to_vec(),
            // The tests' stale nodes are internal ones whose paths the blocks leave empty.
            vacated: stale.to_vec(),
            ..TreeUpdate::default()
        }
    }

    #[test]
    fn a_read_of_another_height_than_the_followed_one_is_not_added() {
        let cache = NodeCache::new(NODE_BYTES * 10);
        let path = Path::ROOT.child(3);
        cache.follow(Some(5));
        cache.insert_read(4, 2, &path, &internal(1));
        assert_eq!(
            cache.get(2, &path),
            None,
            "read at a height the cache does not follow"
        );
        cache.insert_read(5, 2, &path, &internal(1));
        assert_eq!(cache.get(2, &path), Some(internal(1)));
        // The block at 6 makes it stale: it goes, and a late read of height 5 cannot add it back.
        cache.apply(&update(6, &[(Path::ROOT, internal(2))], &[(2, path)]));
        assert_eq!(cache.get(2, &path), None);
        cache.insert_read(5, 2, &path, &internal(1));
        assert_eq!(cache.get(2, &path), None);
        assert_eq!(cache.get(6, &Path::ROOT), Some(internal(2)));
    }

    #[test]
    fn a_batch_of_lookups_finds_exactly_what_single_lookups_find() {
        // Paths in a few shards (the first two nibbles), 40 in one shard (more than a chunk of
        // 16), and some too deep to cache; each cached at version 3.
        let cache = NodeCache::new(NODE_BYTES * 200);
        cache.follow(Some(3));
        let mut paths = vec![Path::ROOT, Path::ROOT.child(2)];
        for n in 0..40u8 {
            paths.push(Path::ROOT.child(1).child(5).child(n % 16).child(n / 16));
        }
        for n in 0..3u8 {
            paths.push(Path::ROOT.child(n).child(n).child(1));
        }
        let mut deep = Path::ROOT.child(1).child(5);
        while deep.len() <= Path::PACKED_NIBBLES {
            deep = deep.child(9);
        }
        paths.push(deep);
        for (i, path) in paths.iter().enumerate() {
            cache.insert_read(3, 3, path, &internal(i as u8));
        }
        // Each path asked for at the version it holds, an older one, and one past `up_to`.
        let mut requests = vec![];
        for (i, path) in paths.iter().enumerate() {
            requests.push(([3, 2, 3][i % 3], *path));
        }
        for up_to in [2, 3] {
            let mut found = vec![None; requests.len()];
            cache.get_many(&requests, up_to, &mut found);
            for ((version, path), found) in requests.iter().zip(&found) {
                let single = cache.get(*version, path).filter(|_| *version <= up_to);
                assert_eq!(found, &single, "version {version}, depth {}", path.len());
            }
            let hits = found.iter().filter(|f| f.is_some()).count();
            assert_eq!(hits, if up_to == 3 { 30 } else { 0 });
        }
    }

    #[test]
    fn reads_add_nothing_while_a_commit_moves_the_cache_on() {
        let cache = NodeCache::new(NODE_BYTES * 10);
        let (old, new) = (Path::ROOT.child(3), Path::ROOT.child(4));
        cache.follow(Some(5));
        cache.prepare(&update(6, &[(Path::ROOT, internal(2))], &[(2, old)]));
        // The warming and other readers still follow 5 until the block is the head.
        assert_eq!(cache.epoch(), Some(5));
        assert_eq!(cache.get(6, &Path::ROOT), Some(internal(2)));
        // A node of 5's tree the block made stale, read late, and one of the new tree, read
        // early: neither is added.
        cache.insert_read(5, 2, &old, &internal(1));
        cache.insert_read(6, 6, &new, &internal(3));
        assert_eq!((cache.get(2, &old), cache.get(6, &new)), (None, None));
        cache.committed(6);
        assert_eq!(cache.epoch(), Some(6));
        cache.insert_read(5, 2, &old, &internal(1));
        assert_eq!(cache.get(2, &old), None);
        cache.insert_read(6, 6, &new, &internal(3));
        assert_eq!(cache.get(6, &new), Some(internal(3)));
    }

    #[test]
    fn a_block_the_database_did_not_commit_leaves_the_cache_empty_on_the_old_head() {
        let cache = NodeCache::new(NODE_BYTES * 10);
        let path = Path::ROOT.child(3);
        cache.follow(Some(5));
        cache.insert_read(5, 5, &path, &internal(1));
        cache.insert_read(5, 4, &Path::ROOT, &internal(2));
        cache.prepare(&update(6, &[(Path::ROOT, internal(3))], &[(4, Path::ROOT)]));
        cache.abandon(Some(5));
        let stats = cache.stats();
        assert_eq!((stats.nodes, stats.bytes, cache.epoch()), (0, 0, Some(5)));
        assert_eq!(cache.get(6, &Path::ROOT), None);
        // It fills again from reads of the head.
        cache.insert_read(5, 4, &Path::ROOT, &internal(2));
        assert_eq!(cache.get(4, &Path::ROOT), Some(internal(2)));
    }

    #[test]
    fn nodes_deeper_than_a_packed_path_are_not_cached_and_shallower_ones_are_kept_apart() {
        let cache = NodeCache::new(NODE_BYTES * 40);
        cache.follow(Some(1));
        let mut path = Path::ROOT;
        let mut paths = vec![];
        for depth in 0..=Path::PACKED_NIBBLES + 1 {
            paths.push(path);
            cache.insert_read(1, 1, &path, &internal(depth as u8));
            path = path.child(0);
        }
        // The root and 15 paths of zeros below it: one word each but for their counts.
        assert_eq!(cache.stats().nodes, Path::PACKED_NIBBLES + 1);
        for (depth, path) in paths.iter().enumerate() {
            let cached = cache.get(1, path);
            if depth <= Path::PACKED_NIBBLES {
                assert_eq!(cached, Some(internal(depth as u8)), "depth {depth}");
            } else {
                assert_eq!(cached, None, "a node {depth} nibbles deep is not cached");
            }
        }
        // A block that makes them all stale removes every one it holds.
        let stale: Vec<_> = paths.iter().map(|p| (1, *p)).collect();
        cache.apply(&update(2, &[], &stale));
        assert_eq!(cache.stats().nodes, 0);
    }

    #[test]
    fn the_nodes_of_one_level_spread_over_every_shard() {
        // The 4,096 nodes three nibbles deep of one version (all of them rewritten by a large
        // block): a shard that missed the path's nibbles would hold them all.
        use std::hash::BuildHasher;
        let cache = NodeCache::new(0);
        let keys: Vec<u64> = (0..4096u16)
            .map(|n| {
                let path = Path::ROOT
                    .child((n >> 8) as u8)
                    .child((n >> 4) as u8 & 15)
                    .child(n as u8 & 15);
                key(&path).expect("a shallow path")
            })
            .collect();
        let mut per_shard = [0usize; SHARDS];
        for key in &keys {
            let shard = cache.shard(*key) as *const _;
            per_shard[cache
                .shards
                .iter()
                .position(|s| std::ptr::eq(s, shard))
                .unwrap()] += 1;
        }
        let even = 4096 / SHARDS;
        assert!(
            per_shard.iter().all(|n| *n > even / 2 && *n < even * 2),
            "{per_shard:?}"
        );
        // And within a shard's map: the bits that pick a bucket (the lowest) and the tag
        // compared first (the top seven) differ between them as random ones would.
        let hashes: Vec<u64> = keys
            .iter()
            .map(|key| rustc_hash::FxBuildHasher.hash_one(key))
            .collect();
        let distinct = |bits: fn(u64) -> u64| {
            let mut seen: Vec<u64> = hashes.iter().map(|h| bits(*h)).collect();
            seen.sort_unstable();
            seen.dedup();
            seen.len()
        };
        // 4,096 random values take about 2,590 of 4,096 buckets and all 128 tags.
        assert!(distinct(|h| h & 4095) > 2_300, "{}", distinct(|h| h & 4095));
        assert!(distinct(|h| h >> 57) > 120, "{}", distinct(|h| h >> 57));
    }

    #[test]
    fn each_node_counts_at_its_own_size() {
        let full = Node::Internal(Internal::new(std::array::from_fn(|i| {
            Some(Child::new([i as u8; 32], 0, 0))
        })));
        const TWO: usize = cost_of::<2>();
        let cache = NodeCache::new(NODE_BYTES + TWO);
        cache.follow(Some(1));
        let (a, b, c) = (Path::ROOT, Path::ROOT.child(1), Path::ROOT.child(2));
        cache.insert_read(1, 1, &a, &internal(1));
        assert_eq!(cache.stats().bytes, TWO);
        cache.insert_read(1, 1, &b, &full);
        assert_eq!(cache.stats().bytes, TWO + NODE_BYTES);
        assert_eq!(cache.stats().nodes, 2);
        // Full: a third node does not fit, however small.
        cache.insert_read(1, 1, &c, &internal(2));
        assert_eq!((cache.get(1, &c), cache.stats().nodes), (None, 2));
        // A removal gives back what the node took; a node replaced counts once.
        cache.apply(&update(2, &[], &[(1, b)]));
        assert_eq!((cache.stats().bytes, cache.stats().nodes), (TWO, 1));
        cache.insert_read(2, 1, &a, &internal(3));
        assert_eq!(cache.get(1, &a), Some(internal(3)));
        assert_eq!((cache.stats().bytes, cache.stats().nodes), (TWO, 1));
        cache.apply(&update(3, &[], &[(1, a)]));
        assert_eq!((cache.stats().bytes, cache.stats().nodes), (0, 0));
    }

    #[test]
    fn a_rewritten_path_holds_the_new_node_or_none_when_it_does_not_fit() {
        let full = Node::Internal(Internal::new(std::array::from_fn(|i| {
            Some(Child::new([i as u8; 32], 0, 0))
        })));
        // Room for two nodes of two children, not for a full one beside one of them.
        let cache = NodeCache::new(cost_of::<2>() * 5 / 2);
        cache.follow(Some(1));
        let (a, b) = (Path::ROOT, Path::ROOT.child(1));
        cache.insert_read(1, 1, &a, &internal(1));
        cache.insert_read(1, 1, &b, &internal(2));
        // Block 2 rewrites both paths (nothing vacated): `a` gets a node of its size, `b` a
        // full one, which does not fit; `b` then holds nothing, not its stale node.
        cache.apply(&TreeUpdate {
            version: 2,
            nodes: [(a, internal(3)), (b, full)].into_iter().collect(),
            stale: vec![(1, a), (1, b)],
            ..TreeUpdate::default()
        });
        assert_eq!(cache.get(2, &a), Some(internal(3)));
        assert_eq!(
            (cache.get(1, &a), cache.get(1, &b), cache.get(2, &b)),
            (None, None, None)
        );
        let stats = cache.stats();
        assert_eq!((stats.nodes, stats.bytes), (1, cost_of::<2>()));
    }

    #[test]
    fn the_cache_stays_within_its_budget_and_keeps_shallow_nodes_first() {
        // Room for two nodes of two children.
        let cache = NodeCache::new(cost_of::<2>() * 5 / 2);
        let deep = Path::ROOT.child(1).child(2);
        let shallow = Path::ROOT.child(1);
        cache.apply(&update(
            0,
            &[
                (deep, internal(1)),
                (shallow, internal(2)),
                (Path::ROOT, internal(3)),
            ],
            &[],
        ));
        assert_eq!(cache.stats().nodes, 2);
        assert!(cache.stats().bytes <= cache.stats().budget);
        assert_eq!(cache.get(0, &deep), None);
        assert!(cache.get(0, &shallow).is_some() && cache.get(0, &Path::ROOT).is_some());
        // Leaves are never cached.
        let leaf = Node::Leaf {
            value: None,
            key: [0; 32],
            value_hash: [0; 32],
        };
        let off = NodeCache::new(cost_of::<2>() * 2);
        off.follow(Some(0));
        off.insert_read(0, 0, &deep, &leaf);
        assert_eq!(off.stats().nodes, 0);
    }
}
