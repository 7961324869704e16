//! [`Store`]: opening, the head, and the one atomic commit per block.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use aether_engine::ports::ExecutedBlock;
use aether_engine::state::ChangeSet;
use aether_engine::types::{BlockHeader, Hash};
use parity_scale_codec::{Decode, Encode};

use crate::db::{Database, Write};
use crate::error::{Result, StorageError};
use crate::hasher::StateTree;
use crate::latest_memo::{LATEST_MEMO_BYTES, LatestEntry, LatestMemo};
use crate::layout::{self, meta};
use crate::node_cache::{NodeCache, NodeCacheStats};
use crate::node_store::NodeRecords;
use crate::pending::{Layer, PendingState, Prior};
use crate::state_key::StateKey;
use crate::tree::{self, NodeReader};

/// How a store keeps history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    /// Number of recent heights whose state stays readable and provable (at least 1, the head).
    /// Older versions are pruned as blocks commit. `u64::MAX` keeps everything (archive).
    pub state_history: u64,
    /// Bytes of memory for internal nodes of the head's state tree kept decoded across blocks
    /// ([`NodeCacheStats`]); 0 turns the cache off. The upper levels, which every block reads and
    /// rewrites, come first: about 74 MB hold the top five levels (69,905 nodes), all of them
    /// from about a million entries on.
    pub node_cache_bytes: usize,
    /// How the node file, which holds the tree's nodes, is laid out and compacted.
    pub nodes: crate::node_store::NodeStoreOptions,
}

/// The default [`StoreConfig::node_cache_bytes`]: 2 GiB, room for every internal node of a
/// tree of 10M random keys (3.3M nodes, 1.45 GiB). A bound, not a reservation: the cache holds
/// only what the tree has (152 MiB at 1M accounts). With 256 MiB the 10M root was 27–40% slower
/// (docs/benchmarks.md).
pub const DEFAULT_NODE_CACHE_BYTES: usize = 2 << 30;

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            state_history: 1024,
            node_cache_bytes: DEFAULT_NODE_CACHE_BYTES,
            nodes: Default::default(),
        }
    }
}

/// Most versions pruned in one commit, so a commit after a long archive period (or a smaller
/// window) does not stall; the rest is pruned by the following commits.
pub const PRUNE_VERSIONS_PER_COMMIT: u64 = 16;

/// The head of the chain as stored.
#[derive(Clone, Debug)]
pub(crate) struct Head {
    pub header: BlockHeader,
    pub hash: Hash,
}

pub(crate) struct Inner {
    /// Reads the head's tree into the node cache after opening; first, so that dropping the
    /// store stops it before anything else goes.
    _warmer: Option<crate::warm::Warmer>,
    /// Tells the pending states of this handle from those of another ([`next_store_id`]).
    pub id: u64,
    pub db: Arc<Database>,
    pub config: StoreConfig,
    pub head: RwLock<Option<Head>>,
    /// The head's height ([`NO_HEAD`] before the first block), set under the head's lock: reads
    /// that need only the height take no lock.
    pub head_height: AtomicU64,
    /// Versions below this are pruned (or were never stored).
    pub oldest: AtomicU64,
    /// The next version whose stale list is to be pruned.
    pruned_below: AtomicU64,
    commit_lock: Mutex<()>,
    /// The pending state [`Store::root_after`] computed last, which [`Store::commit`] uses when
    /// given the same changes at the same height (callers that do not keep pending states).
    prepared: Mutex<Option<Arc<PendingState>>>,
    /// Internal nodes of the head's tree, decoded.
    pub cache: Arc<NodeCache>,
    /// What the last commit wrote.
    last_commit: Mutex<CommitSize>,
    /// The latest-column entries read since the last commit ([`LatestMemo`]).
    latest_memo: LatestMemo,
    /// The first version whose leaves carry their values ([`meta::LEAF_VALUES_FROM`]): the
    /// values of earlier versions are in `tree_values`, and pruning removes them there.
    leaf_values_from: u64,
    /// The database was upgraded from a layout before 7 ([`meta::LATEST_FROM`]): a key not
    /// written since has its latest value in its old column.
    legacy_latest: bool,
}

/// What one block's commit wrote to ParityDB ([`Store::last_commit_size`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitSize {
    /// Entries set or removed.
    pub entries: usize,
    /// Bytes of keys and values.
    pub bytes: usize,
    /// The same by column, indexed by column id ([`layout::COLUMN_NAMES`]).
    pub columns: [ColumnWrites; layout::COLUMNS as usize],
}

/// What one commit wrote to one column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ColumnWrites {
    /// Entries set.
    pub set: usize,
    /// Entries removed.
    pub removed: usize,
    /// Bytes of the keys and values set and the keys removed.
    pub bytes: usize,
}

impl CommitSize {
    /// Counts a block's tree nodes, framed for the node file.
    fn add_nodes(&mut self, records: &[NodeRecords]) {
        let nodes = &mut self.columns[usize::from(layout::TREE_NODES)];
        for batch in records {
            self.entries += batch.len();
            self.bytes += batch.bytes();
            nodes.set += batch.len();
            nodes.bytes += batch.bytes();
        }
    }

    /// Counts the tree nodes the node file removed.
    fn add_pruned_nodes(&mut self, removed: u64) {
        let removed = usize::try_from(removed).unwrap_or(usize::MAX);
        self.entries += removed;
        self.columns[usize::from(layout::TREE_NODES)].removed += removed;
    }

    fn of(writes: &[Write]) -> Self {
        let mut size = CommitSize::default();
        for (col, k, v) in writes {
            let bytes = k.len() + v.as_ref().map_or(0, Vec::len);
            size.entries += 1;
            size.bytes += bytes;
            if let Some(c) = size.columns.get_mut(usize::from(*col)) {
                c.bytes += bytes;
                if v.is_some() {
                    c.set += 1;
                } else {
                    c.removed += 1;
                }
            }
        }
        size
    }
}

/// A new store-handle id: pending states carry the id of the handle that computed them.
fn next_store_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Aether's persistent store: state (with its Merkle root and history), blocks, receipts and
/// indexes in one ParityDB database. Cheap to clone; clones share the database.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

impl Store {
    /// Opens the store at `path`, creating an empty one if there is none. Checks that the head
    /// block's state root matches the state tree.
    pub fn open(path: &Path, config: StoreConfig) -> Result<Self> {
        Self::open_with(path, config, true)
    }

    /// Opens an existing store; fails if `path` holds none.
    pub fn open_existing(path: &Path, config: StoreConfig) -> Result<Self> {
        Self::open_with(path, config, false)
    }

    fn open_with(path: &Path, config: StoreConfig, create: bool) -> Result<Self> {
        let config = StoreConfig {
            state_history: config.state_history.max(1),
            ..config
        };
        let db = Database::open(path, create, config.nodes)?;
        if db.get(layout::META, meta::RESTORING)?.is_some() {
            return Err(StorageError::IncompleteRestore(path.to_path_buf()));
        }
        match db.get(layout::META, meta::LAYOUT)? {
            None => db.commit(vec![(
                layout::META,
                meta::LAYOUT.to_vec(),
                Some(layout::LAYOUT_VERSION.encode()),
            )])?,
            Some(bytes) => {
                let found =
                    u32::decode(&mut &bytes[..]).map_err(|e| db.corrupt("meta/layout", e))?;
                if layout::UPGRADABLE_LAYOUT_VERSIONS.contains(&found) {
                    // `Database::open` added the columns layout 1 lacks; the leaves written so
                    // far (before layout 4) keep their values in `tree_values`, and the nodes
                    // written so far (before layout 5) stay in `tree_nodes`. A layout-5
                    // database's node file and stale lists stay as they are.
                    let head = load_head(&db)?;
                    let next = head.as_ref().map_or(0, |h| h.header.height + 1);
                    let mut writes = vec![(
                        layout::META,
                        meta::LAYOUT.to_vec(),
                        Some(layout::LAYOUT_VERSION.encode()),
                    )];
                    if found < layout::NODE_FILE_LAYOUT {
                        writes.push((layout::META, meta::NODES_FROM.to_vec(), Some(next.encode())));
                    }
                    if found < 4 {
                        writes.push((
                            layout::META,
                            meta::LEAF_VALUES_FROM.to_vec(),
                            Some(next.encode()),
                        ));
                    }
                    // Without a head there is no state, and nothing in the old columns.
                    if found < layout::LATEST_LAYOUT && head.is_some() {
                        writes.push((
                            layout::META,
                            meta::LATEST_FROM.to_vec(),
                            Some(next.encode()),
                        ));
                    }
                    db.commit(writes)?;
                    if found < layout::NODE_FILE_LAYOUT {
                        db.set_nodes_from(next);
                    }
                } else if found != layout::LAYOUT_VERSION {
                    return Err(StorageError::Version {
                        path: path.to_path_buf(),
                        found,
                        expected: layout::LAYOUT_VERSION,
                    });
                }
            }
        }
        let head = load_head(&db)?;
        let oldest = match db.get(layout::META, meta::OLDEST)? {
            Some(bytes) => {
                u64::decode(&mut &bytes[..]).map_err(|e| db.corrupt("meta/oldest", e))?
            }
            None => 0,
        };
        let leaf_values_from = match db.get(layout::META, meta::LEAF_VALUES_FROM)? {
            Some(bytes) => {
                u64::decode(&mut &bytes[..]).map_err(|e| db.corrupt("meta/leaf_values_from", e))?
            }
            None => 0,
        };
        let legacy_latest = db.get(layout::META, meta::LATEST_FROM)?.is_some();
        let pruned_below = match db.get(layout::META, meta::PRUNED_BELOW)? {
            Some(bytes) => {
                u64::decode(&mut &bytes[..]).map_err(|e| db.corrupt("meta/pruned_below", e))?
            }
            None => 0,
        };
        if let Some(head) = &head {
            let reader = NodeReader::new(&db);
            let root = StateTree::new(&reader)
                .get_root_hash_option(head.header.height)
                .map_err(|e| db.corrupt("state tree root", format!("{e:#}")))?;
            match root {
                Some(root) if root.0 == head.header.state_root.0 => {}
                Some(root) => {
                    return Err(db.corrupt(
                        format!("state tree at height {}", head.header.height),
                        format!(
                            "root {} does not match the head block's state root {}",
                            Hash(root.0),
                            head.header.state_root
                        ),
                    ));
                }
                None => {
                    return Err(db.corrupt(
                        format!("state tree at height {}", head.header.height),
                        "the root node is missing",
                    ));
                }
            }
        }
        let cache = Arc::new(NodeCache::new(config.node_cache_bytes));
        cache.follow(head.as_ref().map(|h| h.header.height));
        let db = Arc::new(db);
        let warmer = crate::warm::Warmer::start(db.clone(), cache.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                _warmer: warmer,
                id: next_store_id(),
                db,
                config,
                head_height: AtomicU64::new(head.as_ref().map_or(NO_HEAD, |h| h.header.height)),
                head: RwLock::new(head),
                oldest: AtomicU64::new(oldest),
                pruned_below: AtomicU64::new(pruned_below),
                commit_lock: Mutex::new(()),
                prepared: Mutex::new(None),
                cache,
                last_commit: Mutex::new(CommitSize::default()),
                latest_memo: LatestMemo::new(LATEST_MEMO_BYTES),
                leaf_values_from,
                legacy_latest,
            }),
        })
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        self.inner.db.path()
    }

    /// The history configuration.
    pub fn config(&self) -> StoreConfig {
        self.inner.config
    }

    /// Header of the last committed block.
    pub fn head(&self) -> Option<BlockHeader> {
        self.inner.head().map(|h| h.header)
    }

    /// What the last block committed through this handle wrote: its tree nodes (to the node
    /// file, counted under the `tree_nodes` column: the nodes written, their keys and bytes,
    /// and the nodes its pruning removed) and the one atomic ParityDB commit (latest columns,
    /// stale list, pruning, block and indexes).
    pub fn last_commit_size(&self) -> CommitSize {
        *lock(&self.inner.last_commit)
    }

    /// What the node file, which holds the tree's nodes, holds ([`crate::node_store`]).
    pub fn node_file_stats(&self) -> crate::node_store::NodeStoreStats {
        self.inner.db.node_stats()
    }

    /// What the cache of decoded tree nodes holds ([`StoreConfig::node_cache_bytes`]).
    pub fn node_cache_stats(&self) -> NodeCacheStats {
        self.inner.cache.stats()
    }

    /// The oldest height whose state is still kept.
    pub fn oldest_state_height(&self) -> u64 {
        self.inner.oldest.load(Ordering::Acquire)
    }

    /// The state root the head would have after `changes`, computed without writing: the root
    /// of [`Store::speculate`] on the head. The pending state is kept, so that [`Store::commit`]
    /// of the block built from it reuses the work (for callers that do not keep pending states
    /// themselves; a later call replaces it).
    pub fn root_after(&self, changes: &ChangeSet) -> Result<Hash> {
        let pending = self.speculate(None, changes)?;
        let root = pending.root();
        *lock(&self.inner.prepared) = Some(pending);
        Ok(root)
    }

    /// Commits an executed block on the head: block, state changes, receipts and indexes in
    /// one atomic write. The block must extend the head and carry the state root of its
    /// changes. Stores no commit proof ([`Store::commit_proof`] answers `None`). Equivalent to
    /// [`Store::speculate`] on the head followed by [`Store::commit_pending`], reusing the
    /// pending state of the last [`Store::root_after`] when it was computed for these changes.
    pub fn commit(&self, executed: &ExecutedBlock) -> Result<()> {
        let _guard = lock(&self.inner.commit_lock);
        self.inner.check_extends(executed)?;
        let height = executed.block.header.height;
        // Hashing 20,000 changes takes a millisecond or two: once.
        let changes_hash = executed.changes.hash();
        let cached = lock(&self.inner.prepared).take().filter(|p| {
            p.version() == height && !p.is_committed() && p.changes_hash() == changes_hash
        });
        let pending = match cached {
            Some(p) => p,
            None => self.speculate(None, &executed.changes)?,
        };
        self.commit_locked(executed, changes_hash, &pending, None)
    }

    /// Commits an executed block from its pending state: the block must extend the head
    /// (height head + 1, parent hash the head's hash, a receipt per transaction), `pending`
    /// must be the state [`Store::speculate`] computed for its changes (same height, same
    /// change set, its root the header's `state_root`) and `pending`'s parent must be
    /// committed already (or it was computed on the head). Writes the tree update computed
    /// then (no hashing again), the latest values, history and stale lists, the block, its
    /// receipts and indexes, and `proof` (the consensus commit certificate, opaque here): the
    /// new tree nodes to the node file, synced, and the rest in one atomic ParityDB commit.
    ///
    /// On success `pending` is marked committed and releases its tree update, its writes and
    /// its parent: its children keep working (they read what it wrote from the database) and
    /// no longer hold memory for it; views taken before keep their own reference to its
    /// update until they are dropped. Errors: [`StorageError::InvalidBlock`] when the block or pending state does not fit,
    /// [`StorageError::StalePending`] when `pending` does not extend the head (another block
    /// was committed at its height or its parent's), [`StorageError::ForeignPending`] for a
    /// pending state of another store handle. Nothing is written on error.
    pub fn commit_pending(
        &self,
        executed: &ExecutedBlock,
        pending: &PendingState,
        proof: &[u8],
    ) -> Result<()> {
        let _guard = lock(&self.inner.commit_lock);
        self.inner.check_extends(executed)?;
        self.commit_locked(executed, executed.changes.hash(), pending, Some(proof))
    }

    /// The commit proof stored with the block at `height`: `None` when the block was committed
    /// without one ([`Store::commit`], a database of layout 1, the block a snapshot restored
    /// the store at) or there is no block there.
    pub fn commit_proof(&self, height: u64) -> Result<Option<Vec<u8>>> {
        self.inner.db.get(layout::PROOFS, &height.to_be_bytes())
    }

    /// The rest of a commit, under the commit lock, once the block is known to extend the head
    /// (`changes_hash`: the hash of its changes).
    fn commit_locked(
        &self,
        executed: &ExecutedBlock,
        changes_hash: Hash,
        pending: &PendingState,
        proof: Option<&[u8]>,
    ) -> Result<()> {
        let inner = &self.inner;
        let header = &executed.block.header;
        let height = header.height;
        let refuse = |reason: String| StorageError::InvalidBlock { height, reason };
        if pending.store_id() != inner.id {
            return Err(StorageError::ForeignPending(inner.db.path().to_path_buf()));
        }
        if pending.version() != height {
            return Err(refuse(format!(
                "its pending state is for height {}",
                pending.version()
            )));
        }
        if pending.changes_hash() != changes_hash {
            return Err(refuse(
                "its changes are not those its pending state was computed from".into(),
            ));
        }
        if pending.root() != header.state_root {
            return Err(refuse(format!(
                "its state root is {} but its changes give {}",
                header.state_root,
                pending.root()
            )));
        }
        let layer = inner.layer_to_commit(pending)?;

        let mut writes = Vec::with_capacity(layer.update.nodes.len() + layer.writes.len() + 64);
        let mut records = Vec::with_capacity(2);
        inner.state_writes(&layer, &mut writes, &mut records)?;
        let hash = header.hash();
        crate::blocks::block_writes(executed, hash, &mut writes);
        if let Some(proof) = proof {
            writes.push((
                layout::PROOFS,
                height.to_be_bytes().to_vec(),
                Some(proof.to_vec()),
            ));
        }
        writes.push((
            layout::META,
            meta::HEAD.to_vec(),
            Some((height, hash).encode()),
        ));
        let history = inner.config.state_history;
        let mut pruned_below = None;
        let prune_from = inner.pruned_below.load(Ordering::Acquire);
        let mut oldest = inner.oldest.load(Ordering::Acquire);
        if history != u64::MAX && height + 1 > history {
            oldest = oldest.max(height + 1 - history);
            // The list of this very version is in this commit: it is pruned by a later one.
            let up_to = oldest.min(height - 1);
            pruned_below = Some(inner.prune(up_to, &layer, &mut writes)?);
            writes.push((layout::META, meta::OLDEST.to_vec(), Some(oldest.encode())));
        }
        // Readers must see the new oldest height before the pruned data disappears (ParityDB
        // makes a commit visible at once); raising it early is harmless if the commit fails.
        inner.oldest.fetch_max(oldest, Ordering::AcqRel);
        let mut size = CommitSize::of(&writes);
        size.add_nodes(&records);
        let prune = pruned_below.map_or(0..0, |next| prune_from..next);
        // The cache moves on to the block on another thread while the database commits it (some
        // 35,000 map operations at a million accounts, beside the node file's append and sync).
        let (committed, cache_moved) = std::thread::scope(|s| {
            let cache = std::thread::Builder::new()
                .name("aether-cache-move".into())
                .spawn_scoped(s, || inner.cache.prepare(&layer.update));
            let block = crate::db::BlockNodes {
                records,
                stale: &layer.update.stale,
                prune,
            };
            let committed = inner.db.commit_block(writes, block);
            let moved = match cache {
                Ok(thread) => thread.join().is_ok(),
                Err(_) => {
                    inner.cache.prepare(&layer.update);
                    true
                }
            };
            (committed, moved)
        });
        let nodes = match committed {
            Ok(nodes) => nodes,
            Err(e) => {
                inner.cache.abandon(inner.head_height());
                return Err(e);
            }
        };
        size.add_pruned_nodes(nodes.removed);
        // Visible to reads now: what they recorded before is out of date.
        inner.latest_memo.clear();
        *lock(&inner.last_commit) = size;
        let released = {
            let mut head = inner.head.write().unwrap_or_else(|p| p.into_inner());
            *head = Some(Head {
                header: header.clone(),
                hash,
            });
            inner.head_height.store(height, Ordering::Release);
            // Under the head lock: whoever reads the head and then this mark sees both or
            // neither.
            pending.mark_committed(hash)
        };
        // Outside the head lock (see the cache's epoch), still under the commit lock.
        if cache_moved {
            inner.cache.committed(height);
        } else {
            // Moving it on panicked half-way.
            inner.cache.abandon(Some(height));
        }
        // The layer and the parent are dropped outside the head lock.
        drop(layer);
        drop(released);
        if let Some(p) = pruned_below {
            inner.pruned_below.store(p, Ordering::Release);
        }
        let mut prepared = lock(&inner.prepared);
        if prepared.as_ref().is_some_and(|p| p.version() <= height) {
            *prepared = None;
        }
        Ok(())
    }
}

/// [`Inner::head_height`] before the first block.
const NO_HEAD: u64 = u64::MAX;

/// How often a read of an absent key tries to check it against the tree while commits overtake
/// the check; after that the latest column's answer stands unchecked ([`Inner::read_latest`]).
const ABSENCE_CHECK_ATTEMPTS: usize = 4;

impl Inner {
    pub fn head(&self) -> Option<Head> {
        self.head.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The head's height, without taking the head's lock.
    pub fn head_height(&self) -> Option<u64> {
        let height = self.head_height.load(Ordering::Acquire);
        (height != NO_HEAD).then_some(height)
    }

    /// The latest-column entry of `key`: the version that wrote it and the value (`None` for a
    /// removal not yet pruned).
    ///
    /// The key of an account or code entry is not copied, and the value is cut out of the bytes
    /// read rather than decoded into a new buffer: a point read allocates once (ParityDB's).
    pub fn latest(&self, key: &StateKey) -> Result<Option<(u64, Option<Vec<u8>>)>> {
        let read_at = self.latest_memo.epoch();
        let entry = self.read_latest(key)?;
        self.latest_memo.record(
            key,
            entry
                .as_ref()
                .map(|(version, value)| (*version, value.is_some())),
            read_at,
        );
        Ok(entry)
    }

    /// The version and presence of `key`'s latest-column entry: what a read since the last
    /// commit recorded, else read — without asking the tree about an absent key (as
    /// [`Inner::latest`] does): a block's root takes these as its keys' previous versions, and
    /// the tree update finds a key it was told is new in the tree by itself; only a removal of
    /// a key said to be absent must be checked (`PendingState::compute` does).
    pub fn latest_entry(&self, key: &StateKey) -> Result<LatestEntry> {
        if let Some(entry) = self.recorded_latest_entry(key) {
            return Ok(entry);
        }
        let read_at = self.latest_memo.epoch();
        let entry = self
            .read_latest_column(key, &key.key_hash().0)?
            .map(|(version, value)| (version, value.is_some()));
        self.latest_memo.record(key, entry, read_at);
        Ok(entry)
    }

    /// `key`'s latest-column entry if a read since the last commit recorded it (no database
    /// read).
    pub fn recorded_latest_entry(&self, key: &StateKey) -> Option<LatestEntry> {
        self.latest_memo.get(key)
    }

    /// The latest-column entry of `key`, and when there is none, the head's tree asked whether
    /// it holds the key: ParityDB keeps no checksum over its index, so a damaged index loses an
    /// entry silently, and a key read as absent while the tree holds it is reported as a
    /// damaged database instead of read as never written. (The tree is the authority: every
    /// present key has a leaf, and since layout 4 the leaf carries the value.) The walk runs on
    /// the cached internal nodes and reads at most the one leaf from the database.
    fn read_latest(&self, key: &StateKey) -> Result<Option<(u64, Option<Vec<u8>>)>> {
        let key_hash = key.key_hash().0;
        for _ in 0..ABSENCE_CHECK_ATTEMPTS {
            let head = self.head_height();
            if let Some(entry) = self.read_latest_column(key, &key_hash)? {
                return Ok(Some(entry));
            }
            let Some(height) = head else {
                return Ok(None);
            };
            let found = crate::merkle::find_leaf(
                &crate::pending::committed_tree(self, height),
                height,
                &key_hash,
            );
            if self.head_height() != head {
                // A commit came between the read and the walk: the two may see different
                // states (the key written, or the walk's version pruned). Read again.
                continue;
            }
            return match found {
                Ok(None) => Ok(None),
                Ok(Some(_)) => Err(self.db.corrupt(
                    format!("the latest entry of {key:?}"),
                    format!(
                        "it is missing, but the state tree at height {height} holds the key \
                         (a damaged index?)"
                    ),
                )),
                Err(e) => Err(self
                    .db
                    .corrupt(format!("state tree at version {height}"), e)),
            };
        }
        // Commits kept overtaking the check: the column's answer stands unchecked.
        self.read_latest_column(key, &key_hash)
    }

    /// The latest entry of `key` (whose hash is `key_hash`): in [`layout::LATEST`], or in a
    /// database upgraded from an earlier layout, for a key not written since, in its old column.
    fn read_latest_column(
        &self,
        key: &StateKey,
        key_hash: &[u8; 32],
    ) -> Result<Option<(u64, Option<Vec<u8>>)>> {
        if let Some(entry) = self.read_latest_entry(layout::LATEST, key_hash)? {
            return Ok(Some(entry));
        }
        if !self.legacy_latest {
            return Ok(None);
        }
        let (col, db_key) = legacy_location(key);
        if let Some(entry) = self.read_latest_entry(col, &db_key)? {
            return Ok(Some(entry));
        }
        // A commit between the two reads may have written the key to `latest` and removed its
        // old entry (in one ParityDB commit): once more, so that it is not read as absent.
        self.read_latest_entry(layout::LATEST, key_hash)
    }

    fn read_latest_entry(&self, col: u8, db_key: &[u8]) -> Result<Option<(u64, Option<Vec<u8>>)>> {
        match self.db.get(col, db_key)? {
            None => Ok(None),
            Some(bytes) => decode_latest(bytes).map(Some).map_err(|e| {
                self.db.corrupt(
                    format!(
                        "{} entry {}",
                        crate::db::column_name(col),
                        tree::hex(db_key)
                    ),
                    e,
                )
            }),
        }
    }

    /// Checks that `executed` extends the head: its height and parent hash, and a receipt per
    /// transaction.
    fn check_extends(&self, executed: &ExecutedBlock) -> Result<()> {
        let header = &executed.block.header;
        let height = header.height;
        let refuse = |reason: String| StorageError::InvalidBlock { height, reason };
        match self.head() {
            None if height != 0 && self.oldest.load(Ordering::Acquire) == 0 => {
                return Err(refuse(format!(
                    "the store is empty, so the first block must have height 0, not {height}"
                )));
            }
            None => {}
            Some(head) => {
                if Some(height) != head.header.height.checked_add(1) {
                    return Err(refuse(format!(
                        "the head is at height {}, so the next block must have height {}",
                        head.header.height,
                        head.header.height.saturating_add(1)
                    )));
                }
                if header.parent_hash != head.hash {
                    return Err(refuse(format!(
                        "its parent is {} but the head is {}",
                        header.parent_hash, head.hash
                    )));
                }
            }
        }
        if executed.receipts.len() != executed.block.transactions.len() {
            return Err(refuse(format!(
                "{} receipts for {} transactions",
                executed.receipts.len(),
                executed.block.transactions.len()
            )));
        }
        Ok(())
    }

    /// Adds to `out` the state writes of committing `layer` on the head: the latest columns
    /// and the stale list of its version (what it made stale besides tree nodes, which the node
    /// file lists); its tree nodes go to `records`, framed as node records. The version each
    /// write replaces is read from the latest columns now, when the layer's parent is the head.
    fn state_writes(
        &self,
        layer: &Layer,
        out: &mut Vec<Write>,
        records: &mut Vec<NodeRecords>,
    ) -> Result<()> {
        let version = layer.version;
        let update = &layer.update;
        // Encoded on two threads: 55,000 nodes a block at a million accounts.
        let parts =
            crate::parallel::in_parts(update.nodes.as_slice(), 2, "aether-encode", |part| {
                let buf = self.db.node_buffer();
                let mut batch = NodeRecords::in_buffer(buf, part.len(), part.len() * 320);
                for (path, node) in part {
                    batch.push(version, path, |out| node.encode_to(out));
                }
                batch
            });
        for part in parts {
            records.push(part.ok_or_else(|| {
                StorageError::Tree("encoding the block's tree nodes panicked".into())
            })?);
        }
        let mut stale = StaleList::default();
        // Nodes from before the node file (a database upgraded from layout 4 or earlier) are in
        // ParityDB's `tree_nodes`, which the node file's stale record does not reach: the
        // stale list names them, and pruning removes them there.
        let nodes_from = self.db.nodes_from();
        stale.nodes.extend(
            update
                .stale
                .iter()
                .filter(|(v, _)| *v < nodes_from)
                .map(|(v, path)| path.node_key(*v)),
        );
        for (key, write) in &layer.writes {
            let value = &write.value;
            let key_hash = write.key_hash;
            let previous = match write.prior {
                Prior::Absent => None,
                Prior::At { version, .. } => Some(version),
                Prior::Unknown => self.latest(key)?.map(|(version, _)| version),
            };
            // The value replaced is in its leaf (stale with it) unless it was written before
            // leaves carried their values.
            if let Some(previous) = previous.filter(|p| *p < self.leaf_values_from) {
                stale
                    .values
                    .push(layout::tree_value_key(&key_hash, previous));
            }
            if value.is_none() {
                stale
                    .tombstones
                    .push((key_hash, layout::LATEST, key_hash.to_vec()));
            }
            out.push((
                layout::LATEST,
                key_hash.to_vec(),
                Some((version, value).encode()),
            ));
            if self.legacy_latest {
                // Its entry from before the upgrade, if any, goes: a read that finds nothing
                // in `latest` (this entry pruned) must not find it.
                let (col, db_key) = legacy_location(key);
                out.push((col, db_key, None));
            }
        }
        if !stale.is_empty() {
            out.push((
                layout::STALE,
                version.to_be_bytes().to_vec(),
                Some(stale.encode()),
            ));
        }
        Ok(())
    }

    /// Adds to `out` the removal of what the stale lists of versions up to `oldest` name, for
    /// at most [`PRUNE_VERSIONS_PER_COMMIT`] versions, and returns the next version to prune
    /// (the node file prunes the same versions' stale nodes in the same commit).
    /// The latest-column entries `layer` writes (the same commit) are not removed: their
    /// tombstones are already replaced.
    fn prune(&self, oldest: u64, layer: &Layer, out: &mut Vec<Write>) -> Result<u64> {
        // Built at the first tombstone: a block of transfers prunes none.
        let mut rewritten: Option<std::collections::HashSet<(u8, Vec<u8>)>> = None;
        let mut next = self.pruned_below.load(Ordering::Acquire);
        let end = oldest.min(next.saturating_add(PRUNE_VERSIONS_PER_COMMIT - 1));
        while next <= end {
            let version = next;
            next += 1;
            let key = version.to_be_bytes();
            let Some(bytes) = self.db.get(layout::STALE, &key)? else {
                continue;
            };
            let list = StaleList::decode(&mut &bytes[..])
                .map_err(|e| self.db.corrupt(format!("stale/{version}"), e))?;
            for node in list.nodes {
                out.push((layout::TREE_NODES, node, None));
            }
            for value in list.values {
                out.push((layout::TREE_VALUES, value.to_vec(), None));
            }
            for (key_hash, col, db_key) in list.tombstones {
                let replaced_now = rewritten
                    .get_or_insert_with(|| {
                        layer
                            .writes
                            .iter()
                            .flat_map(|(key, write)| {
                                // Old columns only in a database upgraded to layout 7 (whose
                                // stale lists from before name them).
                                let legacy = self.legacy_latest.then(|| legacy_location(key));
                                [Some((layout::LATEST, write.key_hash.to_vec())), legacy]
                            })
                            .flatten()
                            .collect()
                    })
                    .contains(&(col, db_key.clone()));
                if !replaced_now && let Some(bytes) = self.db.get(col, &db_key)? {
                    let (v, _) = <(u64, Option<Vec<u8>>)>::decode(&mut &bytes[..])
                        .map_err(|e| self.db.corrupt("tombstoned entry", e))?;
                    if v == version {
                        out.push((col, db_key, None));
                    }
                }
                if version < self.leaf_values_from {
                    out.push((
                        layout::TREE_VALUES,
                        layout::tree_value_key(&key_hash, version).to_vec(),
                        None,
                    ));
                }
            }
            out.push((layout::STALE, key.to_vec(), None));
        }
        out.push((
            layout::META,
            meta::PRUNED_BELOW.to_vec(),
            Some(next.encode()),
        ));
        Ok(next)
    }
}

/// What became unreachable at one version (kept under that version in [`layout::STALE`]),
/// removed once the version falls out of the history window.
#[derive(Default, Encode, Decode)]
struct StaleList {
    /// Replaced tree nodes ([`layout::TREE_NODES`] keys): all of them in lists written before
    /// layout 6; since, only those of versions before `meta/nodes_from` (the node file lists
    /// the others).
    nodes: Vec<Vec<u8>>,
    /// Replaced leaf values ([`layout::TREE_VALUES`] keys).
    values: Vec<[u8; 40]>,
    /// Removals: key hash, latest column and key there.
    tombstones: Vec<([u8; 32], u8, Vec<u8>)>,
}

impl StaleList {
    fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.values.is_empty() && self.tombstones.is_empty()
    }
}

/// A latest-column entry, `(version, value)` SCALE-encoded, decoded in place: the value is the
/// tail of `bytes` (no second buffer). Accepts exactly what `decode_all` of
/// `(u64, Option<Vec<u8>>)` accepts (trailing bytes are corruption).
fn decode_latest(
    mut bytes: Vec<u8>,
) -> std::result::Result<(u64, Option<Vec<u8>>), parity_scale_codec::Error> {
    let input = &mut &bytes[..];
    let version = u64::decode(input)?;
    let value = match u8::decode(input)? {
        0 => None,
        1 => {
            let len = parity_scale_codec::Compact::<u32>::decode(input)?.0 as usize;
            if input.len() < len {
                return Err("not enough data for the value".into());
            }
            Some(len)
        }
        _ => return Err("invalid Option tag".into()),
    };
    let rest = input.len() - value.unwrap_or(0);
    if rest != 0 {
        return Err("trailing bytes after the entry".into());
    }
    Ok((
        version,
        value.map(|len| {
            bytes.drain(..bytes.len() - len);
            bytes
        }),
    ))
}

/// Where the latest value of a state key lived before layout 7 ([`layout::LATEST`]): its column
/// and key there.
fn legacy_location(key: &StateKey) -> (u8, Vec<u8>) {
    match key {
        StateKey::Account(a) => (layout::ACCOUNTS, a.0.to_vec()),
        StateKey::Code(h) => (layout::CODE, h.0.to_vec()),
        StateKey::Storage(a, k) => {
            let mut v = Vec::with_capacity(32 + k.len());
            v.extend_from_slice(&a.0);
            v.extend_from_slice(k);
            (layout::STORAGE, v)
        }
    }
}

fn load_head(db: &Database) -> Result<Option<Head>> {
    let Some(bytes) = db.get(layout::META, meta::HEAD)? else {
        return Ok(None);
    };
    let (height, hash) =
        <(u64, Hash)>::decode(&mut &bytes[..]).map_err(|e| db.corrupt("meta/head", e))?;
    let header_bytes = db.get(layout::HEADERS, &hash.0)?.ok_or_else(|| {
        db.corrupt(
            format!("headers/{hash}"),
            format!("the head block (height {height}) has no header"),
        )
    })?;
    let header = BlockHeader::decode(&mut &header_bytes[..])
        .map_err(|e| db.corrupt(format!("headers/{hash}"), e))?;
    if header.hash() != hash || header.height != height {
        return Err(db.corrupt(
            format!("headers/{hash}"),
            "the stored header does not hash to its key or has another height",
        ));
    }
    Ok(Some(Head { header, hash }))
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Entry counts of the columns pruning affects (diagnostics: `aether` can print them, tests use
/// them to see that pruning removes what it should).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EntryCounts {
    /// Leaf values, all versions.
    pub tree_values: u64,
    /// Versions whose stale lists (in the `stale` column or the node file) await pruning.
    pub stale: u64,
    /// Heights from 0 to the head whose tree root node is still stored.
    pub tree_roots: u64,
}

impl Store {
    /// Counts entries by walking the columns: slow on a large database.
    pub fn debug_entry_counts(&self) -> Result<EntryCounts> {
        let db = &self.inner.db;
        let count = |col| -> Result<u64> {
            let mut iter = db.iter(col)?;
            iter.seek(&[]).map_err(|e| db.db_error(e))?;
            let mut n = 0;
            while iter.next().map_err(|e| db.db_error(e))?.is_some() {
                n += 1;
            }
            Ok(n)
        };
        let mut tree_roots = 0;
        let mut stale = 0;
        if let Some(head) = self.inner.head() {
            for version in 0..=head.header.height {
                if db.has_stale_nodes(version)
                    || db.get(layout::STALE, &version.to_be_bytes())?.is_some()
                {
                    stale += 1;
                }
                if db
                    .get(layout::TREE_NODES, &layout::tree_root_key(version))?
                    .is_some()
                {
                    tree_roots += 1;
                }
            }
        }
        Ok(EntryCounts {
            tree_values: count(layout::TREE_VALUES)?,
            stale,
            tree_roots,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parity_scale_codec::DecodeAll;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn an_entry_decoded_in_place_is_the_entry_written(
            version: u64,
            value in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
        ) {
            let bytes = (version, value.clone()).encode();
            prop_assert_eq!(decode_latest(bytes).unwrap(), (version, value));
        }

        #[test]
        fn bytes_decoded_in_place_are_refused_exactly_when_scale_refuses_them(
            version: u64,
            value in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..80)),
            cut in proptest::option::of(any::<prop::sample::Index>()),
            extra in proptest::option::of(any::<u8>()),
            changed in proptest::option::of((any::<prop::sample::Index>(), any::<u8>())),
        ) {
            // A written entry, then cut short, lengthened, or with one byte changed (its tag
            // or length prefix among them).
            let mut bytes = (version, value).encode();
            if let Some((at, byte)) = changed {
                let at = at.index(bytes.len());
                bytes[at] = byte;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len()));
            }
            bytes.extend(extra);
            let scale = <(u64, Option<Vec<u8>>)>::decode_all(&mut &bytes[..]).ok();
            prop_assert_eq!(decode_latest(bytes).ok(), scale);
        }
    }
}
