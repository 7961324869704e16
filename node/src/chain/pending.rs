//! The tree of pending blocks: executed (built here or verified from a peer) but not
//! committed. Each keeps its execution (block, receipts, change set) and its speculative state
//! in the store; a child executes on its parent's. Bounded: a block beyond the limit is
//! refused with a typed reason instead of growing the tree.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use aether_engine::ports::{BlockId, ExecutedBlock};
use aether_engine::types::{Address, BlockHeader, Hash};
use aether_storage::PendingState;

/// Pending blocks kept by default.
pub const DEFAULT_MAX_PENDING: usize = 64;

/// One executed, uncommitted block.
pub struct PendingBlock {
    /// The block, its receipts and its changes.
    pub executed: ExecutedBlock,
    /// Its speculative state in the store (its root is the header's state root).
    pub state: Arc<PendingState>,
    /// Hashes of its transactions.
    pub tx_hashes: HashSet<Hash>,
    /// Senders of its transactions.
    pub senders: HashSet<Address>,
    /// Seconds its execution took.
    pub seconds: f64,
}

impl PendingBlock {
    /// Its header.
    pub fn header(&self) -> &BlockHeader {
        &self.executed.block.header
    }
}

/// Pending blocks by id.
pub struct PendingTree {
    blocks: HashMap<BlockId, PendingBlock>,
    limit: usize,
}

impl PendingTree {
    /// An empty tree keeping at most `limit` blocks.
    pub fn new(limit: usize) -> Self {
        Self {
            blocks: HashMap::new(),
            limit: limit.max(1),
        }
    }

    /// The most blocks kept.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Number of pending blocks.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Whether the tree is full.
    pub fn is_full(&self) -> bool {
        self.blocks.len() >= self.limit
    }

    /// The pending block `id`.
    pub fn get(&self, id: &BlockId) -> Option<&PendingBlock> {
        self.blocks.get(id)
    }

    /// Adds a block (the caller checked [`PendingTree::is_full`] and that its parent is the
    /// head or pending).
    pub fn insert(&mut self, block: PendingBlock) {
        self.blocks.insert(block.header().hash(), block);
    }

    /// Takes `id` out of the tree (it is being committed).
    pub fn remove(&mut self, id: &BlockId) -> Option<PendingBlock> {
        self.blocks.remove(id)
    }

    /// Transaction hashes and senders of `id` and its pending ancestors.
    pub fn txs_up_to(&self, id: &BlockId) -> (HashSet<Hash>, HashSet<Address>) {
        let (mut txs, mut senders) = (HashSet::new(), HashSet::new());
        let mut at = self.blocks.get(id);
        while let Some(b) = at {
            txs.extend(b.tx_hashes.iter().copied());
            senders.extend(b.senders.iter().copied());
            at = self.blocks.get(&b.header().parent_hash);
        }
        (txs, senders)
    }

    /// Drops every block that is neither `keep`, nor a pending ancestor of it, nor a
    /// descendant of it, and returns them.
    pub fn retain_branch_of(&mut self, keep: &BlockId) -> Vec<PendingBlock> {
        let mut branch: HashSet<BlockId> = HashSet::new();
        let mut at = *keep;
        while let Some(b) = self.blocks.get(&at) {
            branch.insert(at);
            at = b.header().parent_hash;
        }
        if branch.is_empty() {
            // Not pending (committed, or unknown): nothing to keep a branch of.
            return Vec::new();
        }
        let descends = |mut at: BlockId| {
            while let Some(b) = self.blocks.get(&at) {
                if at == *keep {
                    return true;
                }
                at = b.header().parent_hash;
            }
            false
        };
        let drop: Vec<BlockId> = self
            .blocks
            .keys()
            .copied()
            .filter(|id| !branch.contains(id) && !descends(*id))
            .collect();
        drop.iter()
            .filter_map(|id| self.blocks.remove(id))
            .collect()
    }

    /// Drops every block that does not descend from `head` (the new committed head) and
    /// returns them: forks that lost, and blocks at or below the head.
    pub fn retain_descendants_of(&mut self, head: &BlockId) -> Vec<PendingBlock> {
        let mut keep: HashSet<BlockId> = HashSet::new();
        let mut drop: HashSet<BlockId> = HashSet::new();
        let ids: Vec<BlockId> = self.blocks.keys().copied().collect();
        for id in ids {
            let mut path = Vec::new();
            let mut at = id;
            let verdict = loop {
                if keep.contains(&at) {
                    break true;
                }
                if drop.contains(&at) {
                    break false;
                }
                let Some(b) = self.blocks.get(&at) else {
                    break false;
                };
                path.push(at);
                let parent = b.header().parent_hash;
                if parent == *head {
                    break true;
                }
                at = parent;
            };
            if verdict {
                keep.extend(path);
            } else {
                drop.extend(path);
            }
        }
        let mut dropped = Vec::new();
        for id in drop {
            if let Some(b) = self.blocks.remove(&id) {
                dropped.push(b);
            }
        }
        dropped
    }
}
