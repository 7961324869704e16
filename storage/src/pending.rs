//! Pending blocks: state updates of executed but uncommitted blocks, kept in memory.
//!
//! A HotStuff validator executes a block before voting on it and commits it only rounds later,
//! possibly after executing a competing fork. For each executed block the node asks
//! [`Store::speculate`] for a [`PendingState`]: the block's tree update (nodes and leaf values
//! of the Jellyfish Merkle tree), its root and its writes, computed over the committed state
//! plus the pending states of its ancestors (a [`jmt::storage::TreeReader`] that reads the
//! ancestors' node batches, newest first, over the database) without writing anything.
//! [`Store::pending_view`] reads a pending block's post-state (the newest layer holding a key
//! wins, else the committed state). [`Store::commit_pending`] writes the tree update as
//! computed. A fork that loses is dropped: it never touched the database.
//!
//! Tree node keys are `(version, nibble path)`: the nodes a batch computes over the overlay are
//! exactly those a batch computed on the committed parent would hold, because the overlay
//! serves exactly the parent's tree. Nodes of versions at or below the committed base come from
//! the database; nodes above it come from the layers only, never from the database, where
//! another branch's nodes of the same version may have been committed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::merkle::{self, Node, NodeSource, Path, TreeUpdate, UpdateError};
use aether_engine::ports::{StateReader, StoreError};
use aether_engine::state::ChangeSet;
use aether_engine::types::{Account, Address, Hash};

use crate::error::{Result, StorageError};
use crate::state_key::{StateKey, writes_of};
use crate::store::{Inner, Store, lock};
use crate::view::StateView;

/// The speculative state update of one executed, uncommitted block: its version (the block's
/// height), its state root, its tree update and its writes, and its parent (another pending
/// state, or none: the block was computed on the committed head).
///
/// Children computed on it ([`Store::speculate`] with it as parent) and views of it
/// ([`Store::pending_view`]) read through it. Once [`Store::commit_pending`] commits it, it
/// keeps only its version, root and block hash: its tree update, its writes and its parent
/// are released, and children read what it wrote from the database.
///
/// **What the node must do.** Commit every pending block with [`Store::commit_pending`], in
/// chain order (a block committed with [`Store::commit`] instead does not mark its pending
/// state committed, and the pending states built on it become stale). Drop the pending states
/// (and views) of forks that can no longer commit: until they are dropped they hold their
/// memory. Nothing else: committing releases what the committed block held, and a child that
/// still points at a committed parent holds only that small record, which the next
/// speculation or view through the child cuts.
pub struct PendingState {
    store: u64,
    version: u64,
    root: Hash,
    changes: Hash,
    link: Mutex<Link>,
}

pub(crate) enum Link {
    /// Not committed yet: its update, and its parent (`None`: the committed block at the
    /// version below, or the empty store).
    Pending {
        layer: Arc<Layer>,
        parent: Option<Arc<PendingState>>,
    },
    /// Committed as the block with this hash.
    Committed(Hash),
}

/// A key's write in a pending block.
pub(crate) struct LayerWrite {
    /// The key's hash in the tree, computed once for the update and the commit.
    pub key_hash: [u8; 32],
    /// The new value (`None`: removed).
    pub value: Option<Vec<u8>>,
    /// The value it replaces, as found in the parent's state.
    pub prior: Prior,
}

/// What a key held in a state, as far as the commit needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Prior {
    /// No entry: never written, or removed and pruned.
    Absent,
    /// Written at `version`; `present` is false for a removal not yet pruned.
    At { version: u64, present: bool },
    /// Not known (a block was committed meanwhile, so the computation is stale anyway): the
    /// commit reads it again.
    Unknown,
}

/// The update of one pending block.
pub(crate) struct Layer {
    /// The block height.
    pub version: u64,
    /// Each key written with its new value (`None`: removed); removals of keys absent from the
    /// parent's state are left out.
    pub writes: BTreeMap<StateKey, LayerWrite>,
    /// The tree nodes and leaf values of this version, and the nodes it made stale.
    pub update: TreeUpdate,
}

impl PendingState {
    /// The version: the height of the block it is the state after.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The state root after the block.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// The hash of the change set it was computed from ([`ChangeSet::hash`]).
    pub fn changes_hash(&self) -> Hash {
        self.changes
    }

    /// The hash of the block it was committed as, once [`Store::commit_pending`] committed it.
    pub fn committed(&self) -> Option<Hash> {
        match &*lock(&self.link) {
            Link::Committed(hash) => Some(*hash),
            Link::Pending { .. } => None,
        }
    }

    /// Whether [`Store::commit_pending`] committed it.
    pub fn is_committed(&self) -> bool {
        self.committed().is_some()
    }

    pub(crate) fn store_id(&self) -> u64 {
        self.store
    }

    /// Marks it committed as `hash`; returns what it released, for the caller to drop outside
    /// its locks.
    pub(crate) fn mark_committed(&self, hash: Hash) -> Link {
        std::mem::replace(&mut *lock(&self.link), Link::Committed(hash))
    }
}

impl std::fmt::Debug for PendingState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingState")
            .field("version", &self.version)
            .field("root", &self.root)
            .field("committed", &self.committed())
            .finish_non_exhaustive()
    }
}

/// A pending state's uncommitted ancestry, resolved against the head.
pub(crate) struct Chain {
    /// The uncommitted layers, newest first, of consecutive versions down to `base + 1`.
    pub layers: Vec<Arc<Layer>>,
    /// The committed version they sit on (`None`: the empty store).
    pub base: Option<u64>,
    /// The head's height when resolved.
    pub head: Option<u64>,
}

impl Chain {
    /// Whether the layers extend the head: no block was committed at a layer's height.
    fn extends_head(&self) -> bool {
        self.base == self.head
    }
}

enum Step {
    Base(Option<u64>),
    Parent(Arc<PendingState>),
}

impl Inner {
    /// Resolves the uncommitted ancestry of `pending` (itself included), under the head lock
    /// so that the head and the committed marks are read together. `None`: the head.
    pub(crate) fn resolve(&self, pending: Option<&PendingState>) -> Result<Chain> {
        let head_guard = self.head.read().unwrap_or_else(|p| p.into_inner());
        let head = head_guard.as_ref().map(|h| h.header.height);
        let Some(first) = pending else {
            return Ok(Chain {
                layers: Vec::new(),
                base: head,
                head,
            });
        };
        if first.store != self.id {
            return Err(StorageError::ForeignPending(self.db.path().to_path_buf()));
        }
        let mut layers = Vec::new();
        let mut step = visit(first, &mut layers);
        let base = loop {
            match step {
                Step::Base(base) => break base,
                Step::Parent(parent) => step = visit(&parent, &mut layers),
            }
        };
        Ok(Chain { layers, base, head })
    }

    /// The layer of `pending` if it can be committed now: it extends the head directly.
    pub(crate) fn layer_to_commit(&self, pending: &PendingState) -> Result<Arc<Layer>> {
        let chain = self.resolve(Some(pending))?;
        match &chain.layers[..] {
            [layer] if chain.extends_head() => Ok(layer.clone()),
            _ => Err(StorageError::StalePending {
                version: pending.version,
                head: chain.head,
            }),
        }
    }
}

/// One step up the ancestry: records `p`'s layer if it is uncommitted. A parent found
/// committed is cut off (its child then sits on the committed block, which is the same).
fn visit(p: &PendingState, layers: &mut Vec<Arc<Layer>>) -> Step {
    let mut link = lock(&p.link);
    match &mut *link {
        Link::Committed(_) => Step::Base(Some(p.version)),
        Link::Pending { layer, parent } => {
            layers.push(layer.clone());
            match parent {
                Some(up) if up.is_committed() => {
                    *parent = None;
                    Step::Base(p.version.checked_sub(1))
                }
                Some(up) => Step::Parent(up.clone()),
                None => Step::Base(p.version.checked_sub(1)),
            }
        }
    }
}

impl Store {
    /// Computes the state update of a block with `changes` on top of `parent` (a pending block)
    /// or, with `None`, on top of the committed head, without writing anything. Its version is
    /// the parent's plus one (or the head's height plus one, 0 on an empty store). The tree is
    /// computed over the committed state and the pending ancestors' updates, at the cost of
    /// one root update: changed keys × log₁₆ n node reads and hashes, each node read looking
    /// at one layer or the database. Removals of keys absent from the parent's state are
    /// dropped, as [`Store::commit`] does.
    ///
    /// Errors: [`StorageError::StalePending`] when `parent`'s ancestry does not extend the head
    /// (a block not among its ancestors was committed at one of its heights), before or after
    /// the computation (the result of a computation that raced a competing commit is never
    /// returned); [`StorageError::ForeignPending`] for a parent from another store handle.
    pub fn speculate(
        &self,
        parent: Option<&Arc<PendingState>>,
        changes: &ChangeSet,
    ) -> Result<Arc<PendingState>> {
        let inner = &self.inner;
        let parent_arc = parent;
        let parent = parent.map(|p| &**p);
        let chain = inner.resolve(parent)?;
        let version = match parent {
            Some(p) => p.version.checked_add(1),
            None => chain.head.map_or(Some(0), |h| h.checked_add(1)),
        }
        .ok_or_else(|| StorageError::InvalidBlock {
            height: u64::MAX,
            reason: "no height follows u64::MAX".into(),
        })?;
        // The pending state that does not extend the head: the parent, or the one computed.
        let stale = |head| StorageError::StalePending {
            version: parent.map_or(version, |p| p.version),
            head,
        };
        if !chain.extends_head() {
            return Err(stale(chain.head));
        }
        // Still valid after the computation: a parent's ancestry still extends the head, or
        // the head the computation started from is still the head.
        let still_valid = || -> Result<Option<Chain>> {
            let now = inner.resolve(parent)?;
            let ok = now.extends_head() && (parent.is_some() || now.base == chain.base);
            Ok(ok.then_some(now))
        };
        let computed = self.compute(&chain, version, changes);
        // A computation that failed because the chain went stale meanwhile (a node of its
        // base pruned) is stale, not corrupt.
        let Some(now) = still_valid()? else {
            return Err(stale(inner.head().map(|h| h.header.height)));
        };
        let (root, writes, update) = computed?;
        Ok(Arc::new(PendingState {
            store: inner.id,
            version,
            root,
            changes: changes.hash(),
            link: Mutex::new(Link::Pending {
                layer: Arc::new(Layer {
                    version,
                    writes,
                    update,
                }),
                // A parent committed meanwhile is the committed base: no need to hold it.
                parent: if now.layers.is_empty() {
                    None
                } else {
                    parent_arc.cloned()
                },
            }),
        }))
    }

    /// The tree update of `changes` at `version` on top of `chain`.
    #[allow(clippy::type_complexity)]
    fn compute(
        &self,
        chain: &Chain,
        version: u64,
        changes: &ChangeSet,
    ) -> Result<(Hash, BTreeMap<StateKey, LayerWrite>, TreeUpdate)> {
        let inner = &self.inner;
        let before = PendingView {
            layers: chain.layers.clone(),
            base: StateView::pinned(inner.clone(), chain.base),
        };
        let all = writes_of(changes);
        let priors = priors(&before, &all)?;
        let all: Vec<_> = all.into_iter().zip(priors).collect();
        let prepared = prepare(&before, &all)?;
        let mut kept = Vec::with_capacity(all.len());
        let mut set = Vec::with_capacity(all.len());
        for (((key, value), prior), prepared) in all.into_iter().zip(prepared) {
            let Some(Prepared { key_hash, leaf }) = prepared else {
                continue;
            };
            set.push(merkle::Write {
                key: key_hash,
                value: leaf,
                exists: matches!(prior, Prior::At { present: true, .. }),
            });
            kept.push((
                key,
                LayerWrite {
                    key_hash,
                    value,
                    prior,
                },
            ));
        }
        // In key order already (a change set's order): built in one pass, not 20,000 inserts.
        let writes: BTreeMap<StateKey, LayerWrite> = kept.into_iter().collect();
        let overlay = Overlay {
            inner,
            base: chain.base,
            layers: &chain.layers,
        };
        let update = merkle::update(&overlay, set, version).map_err(|e| {
            inner
                .db
                .corrupt(format!("state tree below version {version}"), e)
        })?;
        Ok((Hash(update.root), writes, update))
    }

    /// A view of the state after `pending` (with `None`, after the head): the newest pending
    /// layer that wrote a key wins (a removal hides older values), else the committed state
    /// the pending chain sits on, read as a [`StateView`] of that height. The view is a stable
    /// snapshot: its layers are its own, and blocks committed underneath do not change what it
    /// reads, until its committed height is pruned (reads then fail with
    /// [`StorageError::Unavailable`]). A view of a committed pending state reads the state at
    /// its height.
    ///
    /// Errors: [`StorageError::StalePending`] when `pending`'s ancestry does not extend the
    /// head, [`StorageError::ForeignPending`], [`StorageError::Unavailable`].
    pub fn pending_view(&self, pending: Option<&Arc<PendingState>>) -> Result<PendingView> {
        let chain = self.inner.resolve(pending.map(|p| &**p))?;
        if !chain.extends_head() && !chain.layers.is_empty() {
            return Err(StorageError::StalePending {
                version: pending.map_or(0, |p| p.version),
                head: chain.head,
            });
        }
        let base = match chain.base {
            None => StateView::pinned(self.inner.clone(), None),
            Some(height) => self.state_at(height)?,
        };
        Ok(PendingView {
            layers: chain.layers,
            base,
        })
    }
}

/// A write's key hash and leaf bytes (`None` for a removal), computed before the tree update.
struct Prepared {
    key_hash: [u8; 32],
    leaf: Option<Vec<u8>>,
}

/// A write of a block (key and new value, `None`: removed) and what the key held before.
type WriteAndPrior = ((StateKey, Option<Vec<u8>>), Prior);

/// Below this many keys a block's writes are prepared on one thread.
const PARALLEL_PREPARE: usize = 2_048;

/// Each write's [`Prepared`], `None` for a removal of a key `before` does not hold (it changes
/// nothing): SHA-256 of each key and its leaf bytes, a large block's in two parts, the second
/// on a thread of its own (about 8 ms for 20,000 keys on one).
fn prepare(before: &PendingView, writes: &[WriteAndPrior]) -> Result<Vec<Option<Prepared>>> {
    let one = |((key, value), prior): &WriteAndPrior| {
        if value.is_none() {
            let present = match prior {
                Prior::At { present, .. } => *present,
                // A latest column's "absent" is checked against the tree here (a read does
                // that): a removal skipped for a key whose entry a damaged index lost would
                // leave it in this store's tree alone.
                Prior::Absent | Prior::Unknown => before.get(key)?.is_some(),
            };
            if !present {
                return Ok(None);
            }
        }
        Ok(Some(Prepared {
            key_hash: key.key_hash().0,
            leaf: value.as_ref().map(|v| key.leaf_value(v)),
        }))
    };
    let part = |part: &[WriteAndPrior]| -> Result<Vec<Option<Prepared>>> {
        part.iter().map(one).collect()
    };
    if writes.len() < PARALLEL_PREPARE {
        return part(writes);
    }
    crate::parallel::try_in_parts(writes, 2, "aether-prepare", part, || {
        StorageError::Tree("a prepare thread panicked".into())
    })
}

/// The prior a latest-column entry gives at committed height `height`.
fn prior_at(height: u64, entry: crate::latest_memo::LatestEntry) -> Prior {
    match entry {
        None => Prior::Absent,
        Some((version, present)) if version <= height => Prior::At { version, present },
        Some(_) => Prior::Unknown,
    }
}

/// Below this many keys a block's previous versions are looked up on one thread.
const PARALLEL_PRIORS: usize = 2_048;

/// Threads that look up a large block's previous versions. More than the cores: a read that
/// misses the page cache (a store just opened, or pages the system evicted) waits on the disk,
/// and reads in flight together overlap their waits.
const PRIOR_THREADS: usize = 8;

/// What each key of `writes` holds in `before` (one read each, of a layer or the latest
/// columns). First what needs no database read (a block's execution read every key it
/// changes, and the reads recorded their entries), a large block's in two parts; then the rest,
/// many of them in [`PRIOR_THREADS`] parts, all but the first on threads of their own.
fn priors(before: &PendingView, writes: &[(StateKey, Option<Vec<u8>>)]) -> Result<Vec<Prior>> {
    let recorded = |part: &[(StateKey, Option<Vec<u8>>)]| -> Vec<Option<Prior>> {
        part.iter()
            .map(|(key, _)| before.recorded_prior(key))
            .collect()
    };
    let panicked = || StorageError::Tree("a lookup thread panicked".into());
    let mut out: Vec<Option<Prior>> = if writes.len() < PARALLEL_PRIORS {
        recorded(writes)
    } else {
        let recorded = |part: &[(StateKey, Option<Vec<u8>>)]| Ok(recorded(part));
        crate::parallel::try_in_parts(writes, 2, "aether-priors", recorded, panicked)?
    };
    let missing: Vec<usize> = (0..writes.len()).filter(|&i| out[i].is_none()).collect();
    let lookup = |part: &[usize]| -> Result<Vec<Prior>> {
        part.iter().map(|&i| before.prior(&writes[i].0)).collect()
    };
    let found = if missing.len() < PARALLEL_PRIORS {
        lookup(&missing)?
    } else {
        crate::parallel::try_in_parts(&missing, PRIOR_THREADS, "aether-priors", lookup, panicked)?
    };
    for (i, prior) in missing.into_iter().zip(found) {
        out[i] = Some(prior);
    }
    Ok(out
        .into_iter()
        .map(|p| p.unwrap_or(Prior::Unknown))
        .collect())
}

/// The state after a pending block (see [`Store::pending_view`]). Cheap to clone.
#[derive(Clone)]
pub struct PendingView {
    /// Newest first.
    layers: Vec<Arc<Layer>>,
    base: StateView,
}

impl std::fmt::Debug for PendingView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingView")
            .field("height", &self.height())
            .field("pending_layers", &self.layers.len())
            .field("committed_height", &self.base.height())
            .finish()
    }
}

impl PendingView {
    /// The height whose post-state this is (`None`: the empty state before the first block).
    pub fn height(&self) -> Option<u64> {
        match self.layers.first() {
            Some(layer) => Some(layer.version),
            None => self.base.height(),
        }
    }

    /// The value of a state entry (account encoding, code, or storage bytes).
    pub fn get(&self, key: &StateKey) -> Result<Option<Vec<u8>>> {
        for layer in &self.layers {
            if let Some(write) = layer.writes.get(key) {
                return Ok(write.value.clone());
            }
        }
        self.base.get(key)
    }

    /// What `key` holds in this state: the newest layer that wrote it, else the committed
    /// state's latest entry if it is not newer than the committed height.
    pub(crate) fn prior(&self, key: &StateKey) -> Result<Prior> {
        match self.layered_prior(key) {
            Ok(prior) => Ok(prior),
            Err(height) => Ok(prior_at(height, self.base.latest_entry(key)?)),
        }
    }

    /// [`PendingView::prior`] if it needs no database read: the key is in a pending layer, or
    /// a read since the last commit recorded its latest-column entry.
    fn recorded_prior(&self, key: &StateKey) -> Option<Prior> {
        match self.layered_prior(key) {
            Ok(prior) => Some(prior),
            Err(height) => Some(prior_at(height, self.base.recorded_latest_entry(key)?)),
        }
    }

    /// The prior of `key` a pending layer (or the empty state) gives, else the committed
    /// height whose latest columns say it.
    fn layered_prior(&self, key: &StateKey) -> std::result::Result<Prior, u64> {
        for layer in &self.layers {
            if let Some(write) = layer.writes.get(key) {
                return Ok(Prior::At {
                    version: layer.version,
                    present: write.value.is_some(),
                });
            }
        }
        match self.base.height() {
            None => Ok(Prior::Absent),
            Some(height) => Err(height),
        }
    }
}

impl StateReader for PendingView {
    fn account(&self, address: &Address) -> Result<Option<Account>, StoreError> {
        crate::view::account_from(self.get(&StateKey::Account(*address))?)
    }

    fn code(&self, hash: &Hash) -> Result<Option<Arc<[u8]>>, StoreError> {
        Ok(self.get(&StateKey::Code(*hash))?.map(Arc::from))
    }

    fn storage(&self, contract: &Address, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get(&StateKey::Storage(*contract, key.to_vec()))?)
    }
}

/// The committed tree of `version` (the head's, or an older one not yet pruned), its internal
/// nodes from the node cache where it has them.
pub(crate) fn committed_tree(inner: &Inner, version: u64) -> impl NodeSource + '_ {
    Overlay {
        inner,
        base: Some(version),
        layers: &[],
    }
}

/// The tree as a pending chain sees it: nodes of versions up to the committed base from the
/// database, newer ones from the layers only.
struct Overlay<'a> {
    inner: &'a Inner,
    base: Option<u64>,
    /// Newest first, consecutive versions down to `base + 1`.
    layers: &'a [Arc<Layer>],
}

impl Overlay<'_> {
    /// A node of a committed version (at most `base`) the cache does not hold, read from the
    /// database and offered to the cache.
    fn read(
        &self,
        base: u64,
        version: u64,
        path: &Path,
    ) -> std::result::Result<Option<Node>, UpdateError> {
        let Some(node) = crate::tree::DbNodes(&self.inner.db).node(version, path)? else {
            return Ok(None);
        };
        self.inner.cache.insert_read(base, version, path, &node);
        Ok(Some(node))
    }

    /// A node of a pending version, from its layer.
    fn pending(&self, version: u64, path: &Path) -> Option<Node> {
        self.layers
            .iter()
            .find(|l| l.version == version)
            .and_then(|l| l.update.nodes.get(path).cloned())
    }
}

impl NodeSource for Overlay<'_> {
    fn node(&self, version: u64, path: &Path) -> std::result::Result<Option<Node>, UpdateError> {
        match self.base.filter(|base| version <= *base) {
            Some(base) => match self.inner.cache.get(version, path) {
                Some(node) => Ok(Some(node)),
                None => self.read(base, version, path),
            },
            None => Ok(self.pending(version, path)),
        }
    }

    fn nodes(
        &self,
        requests: &[(u64, Path)],
        found: &mut [Option<Node>],
    ) -> std::result::Result<(), UpdateError> {
        if let Some(base) = self.base {
            self.inner.cache.get_many(requests, base, found);
        }
        for ((version, path), slot) in requests.iter().zip(found) {
            if slot.is_none() {
                *slot = match self.base.filter(|base| version <= base) {
                    Some(base) => self.read(base, *version, path)?,
                    None => self.pending(*version, path),
                };
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use aether_engine::ports::ExecutedBlock;
    use aether_engine::types::{Block, BlockHeader};

    use super::*;
    use crate::store::StoreConfig;

    fn executed(pending: &PendingState, parent_hash: Hash, changes: &ChangeSet) -> ExecutedBlock {
        ExecutedBlock {
            block: Block {
                header: BlockHeader {
                    height: pending.version(),
                    parent_hash,
                    state_root: pending.root(),
                    ..BlockHeader::default()
                },
                transactions: vec![],
            },
            receipts: vec![],
            changes: changes.clone(),
        }
    }

    fn layer(p: &PendingState) -> Arc<Layer> {
        match &*lock(&p.link) {
            Link::Pending { layer, .. } => layer.clone(),
            Link::Committed(_) => panic!("committed"),
        }
    }

    fn storage(writes: &[(u8, Option<&[u8]>)]) -> ChangeSet {
        let mut c = ChangeSet::default();
        for (k, v) in writes {
            c.storage
                .insert((Address([7; 32]), vec![*k]), v.map(<[u8]>::to_vec));
        }
        c
    }

    #[test]
    fn an_update_computed_over_pending_ancestors_is_the_update_computed_on_the_committed_parent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
        let g = storage(&[(1, Some(b"a")), (2, Some(b"b")), (3, Some(b"c"))]);
        let a = storage(&[(1, Some(b"a2")), (2, None), (4, Some(b"d")), (9, None)]);
        let b = storage(&[(1, None), (4, Some(b"d2")), (2, None), (5, Some(b"e"))]);
        let pg = store.speculate(None, &g).unwrap();
        let pa = store.speculate(Some(&pg), &a).unwrap();
        let pb = store.speculate(Some(&pa), &b).unwrap();
        let (la, lb) = (layer(&pa), layer(&pb));
        assert!(
            !la.writes
                .contains_key(&StateKey::Storage(Address([7; 32]), vec![9]))
        );
        assert!(
            !lb.writes
                .contains_key(&StateKey::Storage(Address([7; 32]), vec![2]))
        );

        let eg = executed(&pg, Hash::default(), &g);
        store.commit_pending(&eg, &pg, b"g").unwrap();
        // The update of A, computed with only the database below it, is the one computed over
        // G's layer; then the same for B over A's layer once A is committed.
        for (pending, computed, changes) in [(&pa, &la, &a), (&pb, &lb, &b)] {
            let fresh = store.speculate(None, changes).unwrap();
            assert_eq!(fresh.root(), pending.root());
            assert_eq!(
                encoded(&layer(&fresh).update),
                encoded(&computed.update),
                "the updates differ"
            );
            let e = executed(pending, store.head().unwrap().hash(), changes);
            store.commit_pending(&e, pending, b"x").unwrap();
        }
    }

    /// An update's nodes and stale nodes as stored.
    type Encoded = (BTreeMap<Vec<u8>, Vec<u8>>, Vec<Vec<u8>>);

    fn encoded(update: &TreeUpdate) -> Encoded {
        let nodes = update
            .nodes
            .iter()
            .map(|(p, n)| (p.node_key(update.version), n.encode()))
            .collect();
        let mut stale: Vec<_> = update.stale.iter().map(|(v, p)| p.node_key(*v)).collect();
        stale.sort();
        (nodes, stale)
    }

    #[test]
    fn committing_releases_the_update_and_children_let_go_of_their_committed_parent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
        let g = storage(&[(1, Some(b"a"))]);
        let a = storage(&[(2, Some(b"b"))]);
        let pg = store.speculate(None, &g).unwrap();
        let pa = store.speculate(Some(&pg), &a).unwrap();
        let weak_layer = Arc::downgrade(&layer(&pg));
        store
            .commit_pending(&executed(&pg, Hash::default(), &g), &pg, &[])
            .unwrap();
        assert!(pg.is_committed());
        assert!(
            weak_layer.upgrade().is_none(),
            "the committed update is freed"
        );
        assert_eq!(Arc::strong_count(&pg), 2, "the child still points at it");
        store.pending_view(Some(&pa)).unwrap();
        assert_eq!(Arc::strong_count(&pg), 1, "a walk through the child cut it");
    }
}
