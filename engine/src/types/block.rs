//! Block headers and the execution environment derived from them.

use parity_scale_codec::{Decode, Encode};

use super::{Address, Hash, SignedTransaction};

/// Version of the execution rules (wasmi version, limits, gas schedule). Part of every header,
/// so a rule change is a versioned, deliberate fork.
pub const EXECUTION_VERSION: u32 = 1;

/// A block header: the fields execution needs and the commitments it produces.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct BlockHeader {
    /// Height; genesis is 0.
    pub height: u64,
    /// Milliseconds since the Unix epoch, set by the proposer.
    pub timestamp_ms: u64,
    /// Hash of the parent header.
    pub parent_hash: Hash,
    /// The account that proposed the block.
    pub proposer: Address,
    /// Execution rules version ([`EXECUTION_VERSION`]).
    pub execution_version: u32,
    /// Hash committing to the ordered transactions.
    pub tx_root: Hash,
    /// State root after executing this block.
    pub state_root: Hash,
    /// Hash committing to the receipts of this block.
    pub receipts_root: Hash,
    /// Gas used by all transactions of the block.
    pub gas_used: u64,
    /// Most gas the block may use.
    pub gas_limit: u64,
}

impl BlockHeader {
    /// SHA-256 of the SCALE-encoded header.
    pub fn hash(&self) -> Hash {
        Hash::of(&self.encode())
    }
}

/// A block: its header and ordered transactions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct Block {
    /// Header.
    pub header: BlockHeader,
    /// Transactions in execution order.
    pub transactions: Vec<SignedTransaction>,
}

/// What a contract can see of the block it runs in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct BlockEnv {
    /// Chain id.
    pub chain_id: u64,
    /// Height of the block being executed.
    pub height: u64,
    /// Its timestamp in milliseconds.
    pub timestamp_ms: u64,
    /// Its proposer; receives the fees.
    pub proposer: Address,
    /// Block gas limit.
    pub gas_limit: u64,
}

/// Hash committing to an ordered list of encodable items (SHA-256 over the SCALE encoding of
/// the list). Used for `tx_root` and `receipts_root`.
pub fn list_root<T: Encode>(items: &[T]) -> Hash {
    Hash::of(&items.encode())
}
