//! Ports: the traits through which the engine reads and writes the outside world. Adapters
//! (ParityDB in `aether-storage`, HotStuff in `aether-consensus`, libp2p in `aether-net`) implement
//! them in their own crates; [`crate::memory`] implements the state and block ports in memory.
//!
//! Every method that touches storage can fail: a storage failure is an error value, never a
//! panic and never a silently missing value.

use std::sync::Arc;

use crate::state::ChangeSet;
use crate::types::{Account, Address, Block, BlockHeader, Hash, Receipt};

mod consensus;
mod network;

pub use consensus::{
    BlockId, BuildFailure, CommitFailure, Consensus, ConsensusInput, ConsensusOutput,
    ConsensusProgress, InvalidBlock, NotYet, Verdict,
};
pub use network::{
    Inbound, InboundSink, Network, PeerId, Protocol, RequestFailure, RequestId, Topic,
};

/// A failure of the backing store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The backend failed (I/O, corruption); the message names what and where.
    #[error("state backend failure: {0}")]
    Backend(String),
    /// A stored value could not be decoded.
    #[error("corrupt {what} in store: {reason}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// The decode error.
        reason: String,
    },
    /// The requested version of the state is not kept.
    #[error("state at height {0} is not available")]
    Unavailable(u64),
}

/// Reads committed state. Implementations are snapshots: they must not change while a block
/// executes against them.
pub trait StateReader: Send + Sync {
    /// The account at `address`, if it exists.
    fn account(&self, address: &Address) -> Result<Option<Account>, StoreError>;
    /// The code with hash `hash`, if stored.
    fn code(&self, hash: &Hash) -> Result<Option<Arc<[u8]>>, StoreError>;
    /// The value at `key` of `contract`'s storage, if set.
    fn storage(&self, contract: &Address, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
}

/// Computes the state commitment a header carries.
pub trait StateRoot {
    /// The state root after applying `changes` on top of the current state, without applying it.
    fn root_after(&self, changes: &ChangeSet) -> Result<Hash, StoreError>;
}

/// A block with everything its execution produced, committed as one unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutedBlock {
    /// The block (its header carries the state root after `changes`).
    pub block: Block,
    /// One receipt per transaction, in order.
    pub receipts: Vec<Receipt>,
    /// The state writes.
    pub changes: ChangeSet,
}

/// Applies executed blocks atomically: block, state changes and receipts together, or nothing.
pub trait BlockCommitter {
    /// Commits `executed` on top of the current head. Must reject a block whose parent is not
    /// the head.
    fn commit_block(&self, executed: &ExecutedBlock) -> Result<(), StoreError>;
}

/// Reads committed blocks.
pub trait BlockReader {
    /// Header of the highest committed block, if any.
    fn head(&self) -> Result<Option<BlockHeader>, StoreError>;
    /// The block at `height`.
    fn block_by_height(&self, height: u64) -> Result<Option<Block>, StoreError>;
    /// The block with header hash `hash`.
    fn block_by_hash(&self, hash: &Hash) -> Result<Option<Block>, StoreError>;
    /// Receipt of the transaction with hash `tx_hash`, with the height of its block.
    fn receipt(&self, tx_hash: &Hash) -> Result<Option<(u64, Receipt)>, StoreError>;
}
