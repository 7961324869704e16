//! [`NodeCache`]: internal nodes of the head's state tree, decoded, kept in memory across blocks.
//!
//! Every root update reads the internal nodes on the paths of the changed keys; the upper
//! levels are on every path and are rewritten by every block. The cache holds internal nodes of
//! the committed head's tree: a committed block adds the internal nodes it wrote (shallowest
//! first) and removes those it made stale, and a read of the head's tree that missed adds what it
//! read. Tree nodes are immutable under their key (version and path), so a cached node is never
//! out of date; it is only useless once stale, and it is removed then.
//!
//! A read that missed adds its node only if it read the tree of the height the cache follows
//! (its epoch), checked under the shard's lock. A commit first moves the epoch to the new head,
//! then removes what the block made stale, shard by shard: a node read from the old head's tree
//! is either added before the removal reaches its shard (and removed by it) or refused, so no
//! stale node stays behind, and the commit does not hold the head's lock while it works.
//!
//! The cache is bounded by a byte budget ([`crate::StoreConfig::node_cache_bytes`]): a node that
//! does not fit is not added. Shallow nodes come first when a block's nodes are added, so a
//! full cache holds the levels that every update reads. Leaves are not cached: an update needs
//! a leaf only for a key not known to be in the tree, and there are as many leaves as keys.
//!
//! A node is found by its version and its path packed in one word: a map entry takes 24 bytes
//! with the node's handle instead of 56, so a lookup among the 3.3M internal nodes of a
//! 10M-account tree touches less memory. So only nodes at most [`Path::PACKED_NIBBLES`] nibbles
//! deep are cached: a tree of random keys has an internal node deeper than that only once two
//! of its keys share 64 bits (about four billion keys); keys ground to share longer prefixes
//! have their deep nodes read from the database, as any node the cache does not hold.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;

use crate::merkle::node::Internal;
use crate::merkle::{Node, Path, TreeUpdate};
use crate::store::lock;

/// Shards of the map, so that the two threads of an update rarely wait on each other.
const SHARDS: usize = 16;

/// Bytes an internal node costs in the cache: the node behind an `Arc` with its two counts, the
/// map's entry (key and handle), its control byte and spare room.
pub const NODE_BYTES: usize =
    std::mem::size_of::<Internal>() + 16 + std::mem::size_of::<(Key, Arc<Internal>)>() + 16;

/// What the cache holds now (see [`crate::Store::node_cache_stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeCacheStats {
    /// Internal nodes held.
    pub nodes: usize,
    /// Bytes they are accounted at (a fixed size per node, measured from the types).
    pub bytes: usize,
    /// The budget.
    pub budget: usize,
    /// Whether the store is still reading its head's tree into the cache after opening (see
    /// `warm.rs`).
    pub warming: bool,
}

/// A cached node's version and [`Path::packed`] path.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    version: u64,
    path: u64,
}

impl Key {
    /// The key of the node at `version` and `path`, if a node that deep is cached at all.
    fn of(version: u64, path: &Path) -> Option<Key> {
        Some(Key {
            version,
            path: path.packed()?,
        })
    }
}

/// The epoch of a cache that follows no height (an empty store).
const NO_EPOCH: u64 = u64::MAX;

/// Internal nodes of the head's tree (see the module docs).
pub struct NodeCache {
    shards: Vec<Mutex<FxHashMap<Key, Arc<Internal>>>>,
    /// The height whose tree the cache follows ([`NO_EPOCH`]: none yet).
    epoch: AtomicU64,
    nodes: AtomicUsize,
    budget_nodes: usize,
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
            nodes: AtomicUsize::new(0),
            budget_nodes: budget / NODE_BYTES,
            warming: AtomicBool::new(false),
        }
    }

    /// Spreads keys over the shards by the path's first nibbles (uniform: paths come from
    /// SHA-256 key hashes) and the version.
    fn shard(&self, key: &Key) -> &Mutex<FxHashMap<Key, Arc<Internal>>> {
        use std::hash::BuildHasher;
        let h = rustc_hash::FxBuildHasher.hash_one(key);
        &self.shards[(h >> 32) as usize % SHARDS]
    }

    /// The cached node written at `version` under `path`.
    pub fn get(&self, version: u64, path: &Path) -> Option<Node> {
        if self.budget_nodes == 0 {
            return None;
        }
        let key = Key::of(version, path)?;
        lock(self.shard(&key))
            .get(&key)
            .map(|node| Node::Internal(node.clone()))
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

    /// How many more nodes fit.
    pub fn room(&self) -> usize {
        self.budget_nodes
            .saturating_sub(self.nodes.load(Ordering::Relaxed))
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
        let Some(key) = Key::of(version, path).filter(|_| self.budget_nodes > 0) else {
            return;
        };
        let mut shard = lock(self.shard(&key));
        if self.epoch.load(Ordering::SeqCst) == read_at
            && self.reserve()
            && shard.insert(key, node.clone()).is_some()
        {
            self.nodes.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Takes a place for one more node, if there is one.
    fn reserve(&self) -> bool {
        self.nodes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.budget_nodes).then_some(n + 1)
            })
            .is_ok()
    }

    /// Follows the block just committed at `update.version`: moves the epoch to it, removes
    /// the nodes it made stale, then adds the internal nodes it wrote, shallowest first, while
    /// they fit.
    pub fn apply(&self, update: &TreeUpdate) {
        self.epoch.store(update.version, Ordering::SeqCst);
        if self.budget_nodes == 0 {
            return;
        }
        for (version, path, leaf) in &update.stale {
            if let Some(key) = Key::of(*version, path).filter(|_| !leaf)
                && lock(self.shard(&key)).remove(&key).is_some()
            {
                self.nodes.fetch_sub(1, Ordering::Relaxed);
            }
        }
        let mut internal: Vec<_> = update
            .nodes
            .iter()
            .filter_map(|(path, node)| match node {
                Node::Internal(node) => Some((Key::of(update.version, path)?, path.len(), node)),
                _ => None,
            })
            .collect();
        if self.nodes.load(Ordering::Relaxed) + internal.len() > self.budget_nodes {
            internal.sort_unstable_by_key(|(_, depth, _)| *depth);
        }
        for (key, _, node) in internal {
            if !self.reserve() {
                break;
            }
            if lock(self.shard(&key)).insert(key, node.clone()).is_some() {
                self.nodes.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// What it holds now.
    pub fn stats(&self) -> NodeCacheStats {
        let nodes = self.nodes.load(Ordering::Relaxed);
        NodeCacheStats {
            nodes,
            bytes: nodes * NODE_BYTES,
            budget: self.budget_nodes * NODE_BYTES,
            warming: self.warming.load(Ordering::Acquire),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::node::Child;

    fn internal(tag: u8) -> Node {
        let mut node = Internal::default();
        for i in 0..2 {
            node.children[i] = Some(Child::new([tag; 32], 0, 0));
        }
        Node::Internal(Arc::new(node))
    }

    fn update(version: u64, nodes: &[(Path, Node)], stale: &[(u64, Path)]) -> TreeUpdate {
        TreeUpdate {
            version,
            nodes: nodes.iter().cloned().collect(),
            stale: stale.iter().map(|(v, p)| (*v, *p, false)).collect(),
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
        // block): a hash that missed the path's nibbles would put them all in one shard.
        use std::hash::BuildHasher;
        let cache = NodeCache::new(0);
        let keys: Vec<Key> = (0..4096u16)
            .map(|n| {
                let path = Path::ROOT
                    .child((n >> 8) as u8)
                    .child((n >> 4) as u8 & 15)
                    .child(n as u8 & 15);
                Key::of(7, &path).expect("a shallow path")
            })
            .collect();
        let mut per_shard = [0usize; SHARDS];
        for key in &keys {
            let shard = cache.shard(key) as *const _;
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
    fn the_cache_stays_within_its_budget_and_keeps_shallow_nodes_first() {
        let cache = NodeCache::new(NODE_BYTES * 2);
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
        let off = NodeCache::new(NODE_BYTES * 2);
        off.follow(Some(0));
        off.insert_read(0, 0, &deep, &leaf);
        assert_eq!(off.stats().nodes, 0);
    }
}
