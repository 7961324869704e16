//! Warming the node cache when a store opens: a background thread reads the head's state tree
//! level by level, shallowest first, into the [`NodeCache`] until the cache is full or the tree
//! is read (a large level in parts, on threads of its own).
//!
//! Without it the cache starts empty and fills only from the nodes blocks miss (20,000–40,000
//! a block at a million accounts), so a restarted node reads most internal nodes from ParityDB
//! for its first blocks, and at 10M entries never reaches the steady state within a benchmark.
//! The thread adds nodes through the cache's epoch rule ([`NodeCache::insert_read`]): a node
//! read from the tree of a height the cache no longer follows is refused, and the walk starts
//! again from the new head (nodes already cached are passed over without a read). It reads
//! through a handle of its own and never holds the store: dropping the store stops it and waits
//! for it (at most one node read on each of its threads), so the database is closed when the
//! last handle goes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use crate::db::Database;
use crate::merkle::{Node, Path};
use crate::node_cache::NodeCache;

/// The warming thread of one store; stops it and waits for it when dropped.
pub(crate) struct Warmer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Warmer {
    /// Starts warming `cache` from `db`, unless the cache is off or follows no height. A thread
    /// that cannot be started leaves the cache to fill as blocks read (logged).
    pub fn start(db: Arc<Database>, cache: Arc<NodeCache>) -> Option<Self> {
        if cache.is_full() || cache.epoch().is_none() {
            return None;
        }
        let stop = Arc::new(AtomicBool::new(false));
        cache.set_warming(true);
        let flag = stop.clone();
        let thread_cache = cache.clone();
        let spawned = std::thread::Builder::new()
            .name("aether-cache-warm".into())
            .spawn(move || {
                let started = Instant::now();
                let result = walk(&db, &thread_cache, &flag);
                thread_cache.set_warming(false);
                let stats = thread_cache.stats();
                match result {
                    Ok(read) => tracing::debug!(
                        read,
                        nodes = stats.nodes,
                        mib = stats.bytes >> 20,
                        ms = started.elapsed().as_millis() as u64,
                        "state-tree node cache warmed"
                    ),
                    Err(e) => tracing::warn!(%e, "state-tree node cache warming stopped"),
                }
            });
        match spawned {
            Ok(thread) => Some(Self {
                stop,
                thread: Some(thread),
            }),
            Err(e) => {
                cache.set_warming(false);
                tracing::warn!(%e, "cannot start warming the state-tree node cache");
                None
            }
        }
    }
}

impl Drop for Warmer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // The walk does not panic; if it did, there is nothing left to clean up.
            let _ = thread.join();
        }
    }
}

/// Threads that read one level of the tree, for a level of [`PARALLEL_LEVEL`] nodes or more:
/// more than the cores, so that reads which miss the page cache (a store just opened) wait on
/// the disk together.
const WARM_THREADS: usize = 8;

/// Below this many nodes a level is read on the warming thread alone.
const PARALLEL_LEVEL: usize = 256;

/// What reading (part of) a level gave.
enum Level {
    /// The paths of the next level below it, in order.
    Next(Vec<(u64, Path)>),
    /// The cache moved to another height: start again from its head.
    Restart,
    /// Stopped, or the cache is full.
    Stop,
}

/// Reads the tree of the height `cache` follows, breadth first, into it; returns the nodes
/// read from the database. Stops at `stop`, when the cache is full, or at the tree's end. A
/// large level is read in [`WARM_THREADS`] parts at once.
fn walk(db: &Database, cache: &NodeCache, stop: &AtomicBool) -> Result<usize, String> {
    let read = AtomicUsize::new(0);
    'restart: loop {
        let Some(height) = cache.epoch() else {
            return Ok(read.load(Ordering::Relaxed));
        };
        let mut level = vec![(height, Path::ROOT)];
        while !level.is_empty() {
            // No more paths queued than could still be cached.
            let room = cache.room();
            let part =
                |paths: &[(u64, Path)]| read_level(db, cache, stop, height, paths, room, &read);
            let outcome = if level.len() < PARALLEL_LEVEL {
                part(&level)?
            } else {
                let outcomes =
                    crate::parallel::in_parts(&level, WARM_THREADS, "aether-cache-warm", part);
                merged(outcomes, room)?
            };
            match outcome {
                Level::Next(next) => level = next,
                Level::Restart => continue 'restart,
                Level::Stop => return Ok(read.load(Ordering::Relaxed)),
            }
        }
        return Ok(read.load(Ordering::Relaxed));
    }
}

/// The parts of one level as one: an error (a panicked part is one) or a stop in any part
/// wins, then a restart; else the next level's paths in order, at most `room`.
fn merged(outcomes: Vec<Option<Result<Level, String>>>, room: usize) -> Result<Level, String> {
    let mut next = Vec::new();
    let mut restart = false;
    for outcome in outcomes {
        match outcome.unwrap_or_else(|| Err("a warming thread panicked".into()))? {
            Level::Next(paths) => next.extend(paths),
            Level::Restart => restart = true,
            Level::Stop => return Ok(Level::Stop),
        }
    }
    if restart {
        return Ok(Level::Restart);
    }
    next.truncate(room);
    Ok(Level::Next(next))
}

/// Reads the nodes at `paths` (of the tree of `height`) into `cache`, counting the reads from
/// the database in `read`; gives the paths of their internal children, at most `room`.
fn read_level(
    db: &Database,
    cache: &NodeCache,
    stop: &AtomicBool,
    height: u64,
    paths: &[(u64, Path)],
    room: usize,
    read: &AtomicUsize,
) -> Result<Level, String> {
    let mut next = Vec::with_capacity(room.min(paths.len() * 16));
    for &(version, path) in paths {
        if stop.load(Ordering::Relaxed) || cache.is_full() {
            return Ok(Level::Stop);
        }
        if cache.epoch() != Some(height) {
            return Ok(Level::Restart);
        }
        let node = match cache.get(version, &path) {
            Some(node) => node,
            None => {
                let node = match db.tree_node_at(version, &path) {
                    Ok(node) => node,
                    // A delta whose base was pruned between the two reads, after a commit
                    // moved the head on.
                    Err(_) if cache.epoch() != Some(height) => return Ok(Level::Restart),
                    Err(e) => return Err(e.to_string()),
                };
                let Some(node) = node else {
                    if cache.epoch() != Some(height) {
                        // Pruned after a commit moved the head on.
                        return Ok(Level::Restart);
                    }
                    return Err(format!(
                        "the tree node at version {version}, path of {} nibbles, is missing",
                        path.len()
                    ));
                };
                read.fetch_add(1, Ordering::Relaxed);
                if let Node::Internal(internal) = &node {
                    // Its inner-range hashes, for the first update that rebuilds it.
                    internal.hash();
                }
                cache.insert_read(height, version, &path, &node);
                node
            }
        };
        if let Node::Internal(internal) = &node {
            for (n, child) in internal.iter() {
                if !child.is_leaf() && next.len() < room {
                    next.push((child.version, path.child(n as u8)));
                }
            }
        }
    }
    Ok(Level::Next(next))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aether_engine::ports::ExecutedBlock;
    use aether_engine::state::ChangeSet;
    use aether_engine::types::{Address, Block, BlockHeader, Hash};

    use super::*;
    use crate::merkle::node::nibble;
    use crate::node_cache::NODE_BYTES;
    use crate::state_key::StateKey;
    use crate::store::{Store, StoreConfig};

    const KEYS: u32 = 3_000;

    fn key(i: u32) -> StateKey {
        StateKey::Storage(Address([7; 32]), i.to_le_bytes().to_vec())
    }

    /// A store of two blocks over `KEYS` storage entries (the second rewrites a tenth of them),
    /// closed.
    fn filled(dir: &std::path::Path) {
        let store = Store::open(dir, StoreConfig::default()).unwrap();
        let mut parent = Hash::default();
        for (height, step) in [(0u64, 1u32), (1, 10)] {
            let mut changes = ChangeSet::default();
            for i in (0..KEYS).step_by(step as usize) {
                changes.storage.insert(
                    (Address([7; 32]), i.to_le_bytes().to_vec()),
                    Some(vec![height as u8; 20]),
                );
            }
            let state_root = store.root_after(&changes).unwrap();
            let executed = ExecutedBlock {
                block: Block {
                    header: BlockHeader {
                        height,
                        parent_hash: parent,
                        state_root,
                        ..BlockHeader::default()
                    },
                    transactions: vec![],
                },
                receipts: vec![],
                changes,
            };
            store.commit(&executed).unwrap();
            parent = executed.block.header.hash();
        }
    }

    fn opened_and_warmed(dir: &std::path::Path, cache_nodes: usize) -> Store {
        let store = Store::open(
            dir,
            StoreConfig {
                node_cache_bytes: cache_nodes * NODE_BYTES,
                ..StoreConfig::default()
            },
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while store.node_cache_stats().warming && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            !store.node_cache_stats().warming,
            "still warming after 20 s"
        );
        store
    }

    #[test]
    fn a_reopened_store_has_every_internal_node_on_its_keys_paths_in_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        filled(dir.path());
        let store = opened_and_warmed(dir.path(), 100_000);
        let cache = &store.inner.cache;
        let stats = store.node_cache_stats();
        assert!(stats.nodes > 16 && stats.nodes < KEYS as usize, "{stats:?}");
        for i in 0..KEYS {
            let hash = key(i).key_hash().0;
            let (mut version, mut path) = (1, Path::ROOT);
            loop {
                let Some(Node::Internal(node)) = cache.get(version, &path) else {
                    panic!(
                        "key {i}: the internal node at version {version}, depth {} is not cached",
                        path.len()
                    );
                };
                let n = nibble(&hash, path.len());
                let child = node.child(usize::from(n)).expect("the key's slot");
                if child.is_leaf() {
                    break;
                }
                (version, path) = (child.version, path.child(n));
            }
        }
    }

    #[test]
    fn a_small_cache_is_warmed_with_the_shallowest_nodes() {
        let dir = tempfile::tempdir().unwrap();
        filled(dir.path());
        // The root and its sixteen children (3,000 keys: every child is internal).
        let store = opened_and_warmed(dir.path(), 17);
        assert_eq!(store.node_cache_stats().nodes, 17);
        let cache = &store.inner.cache;
        let Some(Node::Internal(root)) = cache.get(1, &Path::ROOT) else {
            panic!("the root is not cached");
        };
        assert_eq!(root.len(), 16, "a full root");
        for (n, child) in root.iter() {
            assert!(
                cache
                    .get(child.version, &Path::ROOT.child(n as u8))
                    .is_some(),
                "child {n} is not cached"
            );
        }
    }

    #[test]
    fn a_store_dropped_while_it_warms_closes_its_database_at_once() {
        let dir = tempfile::tempdir().unwrap();
        filled(dir.path());
        for _ in 0..20 {
            let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
            drop(store);
            // ParityDB refuses to open a database another handle still holds.
        }
        let store = opened_and_warmed(dir.path(), 100_000);
        assert!(store.node_cache_stats().nodes > 0);
    }
}
