//! The blocks proposed but not yet committed, and the 2-chain commit rule of Jolteon: a block
//! commits when a QC certifies its child *of the very next round* (a direct chain of two
//! certified blocks); its uncommitted ancestors commit with it.
//!
//! The tree takes certificates only as [`VerifiedQc`]; it checks shape (known parent certified
//! by the QC the block carries, its engine header on the parent's header, rounds increasing,
//! heights consecutive), not signatures. After a commit, branches that do not
//! extend the newly committed block are dropped.

use std::collections::HashMap;

use crate::certs::{Round, VerifiedQc};

/// What the tree knows of a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// Its consensus id: the id of the proposal that carried it (which covers the engine
    /// header's hash).
    pub id: [u8; 32],
    /// Its parent's id.
    pub parent: [u8; 32],
    /// Its round.
    pub round: Round,
    /// Its height (the parent's plus one).
    pub height: u64,
    /// The hash of its engine header (what the node executes and commits).
    pub header: [u8; 32],
    /// Its engine header's `parent_hash`: must be the parent's `header`, so that the chain
    /// consensus certifies is the chain the node executes.
    pub header_parent: [u8; 32],
}

/// Why a block or certificate does not fit the tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// The parent is neither the committed root nor a pending block: fetch it first.
    #[error("block of round {round} extends an unknown parent")]
    UnknownParent {
        /// The block's round.
        round: Round,
    },
    /// A block's round must be above its parent's.
    #[error("block of round {round} does not come after its parent's round {parent_round}")]
    RoundNotAfterParent {
        /// The block's round.
        round: Round,
        /// The parent's.
        parent_round: Round,
    },
    /// A block's height must be its parent's plus one.
    #[error("block at height {height} on a parent at height {parent_height}")]
    HeightNotNext {
        /// The block's height.
        height: u64,
        /// The parent's.
        parent_height: u64,
    },
    /// The QC a block carries does not certify its parent.
    #[error(
        "block of round {round} carries a QC of round {qc_round} that does not certify its parent"
    )]
    QcNotForParent {
        /// The block's round.
        round: Round,
        /// The QC's round.
        qc_round: Round,
    },
    /// The block's engine header does not extend the header of the block its QC certifies:
    /// a leader extending one block in consensus while executing on another.
    #[error("block of round {round}: its header's parent is not the certified parent's header")]
    HeaderNotOnParent {
        /// The block's round.
        round: Round,
    },
    /// Another block with this id but different contents.
    #[error("two different blocks claim one id")]
    ConflictingId,
    /// A QC for a block the tree does not hold: fetch it first.
    #[error("QC of round {round} certifies a block this node does not have")]
    UnknownBlock {
        /// The QC's round.
        round: Round,
    },
    /// A QC whose round is not its block's.
    #[error("QC of round {qc_round} for a block of round {block_round}")]
    RoundMismatch {
        /// The QC's round.
        qc_round: Round,
        /// The block's.
        block_round: Round,
    },
}

/// Pending blocks above the last committed one.
#[derive(Clone, Debug)]
pub struct BlockTree {
    root: BlockInfo,
    pending: HashMap<[u8; 32], BlockInfo>,
    highest_certified: (Round, [u8; 32]),
}

impl BlockTree {
    /// A tree whose last committed block is `root` (the genesis block, or where a node
    /// restarted).
    pub fn new(root: BlockInfo) -> Self {
        Self {
            highest_certified: (root.round, root.id),
            root,
            pending: HashMap::new(),
        }
    }

    /// The last committed block.
    pub fn root(&self) -> &BlockInfo {
        &self.root
    }

    /// A block the tree holds (the root or a pending one).
    pub fn get(&self, id: &[u8; 32]) -> Option<&BlockInfo> {
        if *id == self.root.id {
            Some(&self.root)
        } else {
            self.pending.get(id)
        }
    }

    /// Number of pending blocks.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// (round, id) of the highest certified block seen.
    pub fn highest_certified(&self) -> (Round, [u8; 32]) {
        self.highest_certified
    }

    /// Adds a proposed block with the QC its proposal carries, which must certify the
    /// block's parent (Jolteon, section 4: a proposal extends the block its QC certifies): so
    /// every pending block's parent is certified, and the 2-chain rule commits only certified
    /// blocks. Adding the same block again is harmless.
    pub fn insert(&mut self, block: BlockInfo, qc: &VerifiedQc) -> Result<(), TreeError> {
        if let Some(known) = self.get(&block.id) {
            return if *known == block {
                Ok(())
            } else {
                Err(TreeError::ConflictingId)
            };
        }
        let parent = *self
            .get(&block.parent)
            .ok_or(TreeError::UnknownParent { round: block.round })?;
        if qc.block_id() != block.parent || qc.round() != parent.round {
            return Err(TreeError::QcNotForParent {
                round: block.round,
                qc_round: qc.round(),
            });
        }
        if block.round <= parent.round {
            return Err(TreeError::RoundNotAfterParent {
                round: block.round,
                parent_round: parent.round,
            });
        }
        if parent.height.checked_add(1) != Some(block.height) {
            return Err(TreeError::HeightNotNext {
                height: block.height,
                parent_height: parent.height,
            });
        }
        if block.header_parent != parent.header {
            return Err(TreeError::HeaderNotOnParent { round: block.round });
        }
        if parent.round > self.highest_certified.0 {
            self.highest_certified = (parent.round, parent.id);
        }
        self.pending.insert(block.id, block);
        Ok(())
    }

    /// Records a verified QC. Returns the blocks it commits, oldest first: by the 2-chain
    /// rule, the certified block's parent if its round is exactly one less, with every
    /// pending ancestor of it. Branches that do not extend the new root are dropped.
    pub fn certify(&mut self, qc: &VerifiedQc) -> Result<Vec<BlockInfo>, TreeError> {
        let block = *self
            .get(&qc.block_id())
            .ok_or(TreeError::UnknownBlock { round: qc.round() })?;
        if block.round != qc.round() {
            return Err(TreeError::RoundMismatch {
                qc_round: qc.round(),
                block_round: block.round,
            });
        }
        if block.round > self.highest_certified.0 {
            self.highest_certified = (block.round, block.id);
        }
        let Some(parent) = self.pending.get(&block.parent).copied() else {
            // The parent is the root (already committed) or gone.
            return Ok(Vec::new());
        };
        if parent.round + 1 != block.round {
            return Ok(Vec::new());
        }
        // Commit `parent` and its pending ancestors, oldest first.
        let mut chain = vec![parent];
        let mut cursor = parent.parent;
        while cursor != self.root.id {
            match self.pending.get(&cursor) {
                Some(b) => {
                    chain.push(*b);
                    cursor = b.parent;
                }
                // Pending blocks always lead to the root; stop rather than loop.
                None => break,
            }
        }
        chain.reverse();
        self.root = parent;
        self.prune();
        Ok(chain)
    }

    /// Keeps only the pending blocks that descend from the root.
    fn prune(&mut self) {
        let mut children: HashMap<[u8; 32], Vec<[u8; 32]>> = HashMap::new();
        for b in self.pending.values() {
            children.entry(b.parent).or_default().push(b.id);
        }
        let mut keep = Vec::new();
        let mut stack = vec![self.root.id];
        while let Some(id) = stack.pop() {
            if let Some(kids) = children.get(&id) {
                keep.extend(kids.iter().copied());
                stack.extend(kids.iter().copied());
            }
        }
        let mut kept = HashMap::with_capacity(keep.len());
        for id in keep {
            if let Some(b) = self.pending.remove(&id) {
                kept.insert(id, b);
            }
        }
        self.pending = kept;
    }
}

#[cfg(test)]
mod tests;
