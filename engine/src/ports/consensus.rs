//! The consensus port: a consensus engine is a pure state machine that asks the node to
//! **build** a block on a parent, to **verify** a block a peer proposed, and to **commit** a
//! chain of blocks with a finality proof. Execution runs outside the state machine (on the
//! node's execution thread); its results come back as inputs. See `docs/architecture.md`,
//! "The consensus port", for one round as a sequence diagram.
//!
//! Blocks that are built or verified but not committed are *pending*: the node executes each on
//! its parent's speculative state (a tree of pending blocks above the committed head), so a
//! validator can execute a proposal before voting on it and commit it rounds later, after a
//! competing fork was executed too. Commit persists a certified chain at once and drops the
//! forks that lost.

use crate::types::{Address, Block, BlockHeader, Hash};

use super::network::{PeerId, Topic};

/// A block's identity: the hash of its header.
pub type BlockId = Hash;

/// Why the node could not build a block.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildFailure {
    /// The parent is neither the committed head nor a pending block (pruned, or never seen).
    #[error("unknown parent {0}")]
    UnknownParent(BlockId),
    /// The parent's height plus one is not the requested height.
    #[error("the parent is at height {parent}, so the block cannot be at height {requested}")]
    WrongHeight {
        /// The parent's height.
        parent: u64,
        /// The height asked for.
        requested: u64,
    },
    /// The timestamp is not after the parent's.
    #[error("timestamp {requested} is not after the parent's {parent}")]
    Timestamp {
        /// The parent's timestamp.
        parent: u64,
        /// The timestamp asked for.
        requested: u64,
    },
    /// The node holds as many pending blocks as it keeps.
    #[error("{0} pending blocks already: commit or drop some first")]
    TooManyPending(usize),
}

/// Why a block is invalid. Each reason names what was expected and what the block says.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBlock {
    /// Its height is not its parent's plus one.
    #[error("height {found}, but its parent is at height {parent}")]
    Height {
        /// The parent's height.
        parent: u64,
        /// The block's height.
        found: u64,
    },
    /// Its timestamp is not after its parent's.
    #[error("timestamp {found} is not after its parent's {parent}")]
    TimestampNotAfterParent {
        /// The parent's timestamp.
        parent: u64,
        /// The block's timestamp.
        found: u64,
    },
    /// Its execution rules version is not the one this node runs.
    #[error("execution version {found}, this node runs {expected}")]
    ExecutionVersion {
        /// This node's version.
        expected: u32,
        /// The block's.
        found: u32,
    },
    /// Its gas limit is not the chain's block gas limit.
    #[error("gas limit {found}, the chain's is {expected}")]
    GasLimit {
        /// The chain's block gas limit.
        expected: u64,
        /// The block's.
        found: u64,
    },
    /// A transaction may not be in a block: bad signature, replayed or future nonce (including
    /// one already used by a pending ancestor), wrong chain, cannot pay, over the gas left.
    #[error("transaction {index} ({tx}) is not admissible: {reason}")]
    Inadmissible {
        /// Its position in the block.
        index: usize,
        /// Its hash.
        tx: Hash,
        /// Why, as execution says.
        reason: String,
    },
    /// Its transaction root does not commit to its transactions.
    #[error("transaction root {found}, its transactions give {computed}")]
    TxRoot {
        /// Computed from the transactions.
        computed: Hash,
        /// In the header.
        found: Hash,
    },
    /// Its gas used is not what executing it used.
    #[error("gas used {found}, execution used {computed}")]
    GasUsed {
        /// What execution used.
        computed: u64,
        /// In the header.
        found: u64,
    },
    /// Its receipts root is not the root of the receipts execution produced.
    #[error("receipts root {found}, execution gives {computed}")]
    ReceiptsRoot {
        /// Computed from the receipts.
        computed: Hash,
        /// In the header.
        found: Hash,
    },
    /// Its state root is not the root of the state after executing it.
    #[error("state root {found}, execution gives {computed}")]
    StateRoot {
        /// Computed from the post-state.
        computed: Hash,
        /// In the header.
        found: Hash,
    },
    /// It has more transactions than a block may have.
    #[error("{found} transactions, a block may have {max}")]
    TooManyTransactions {
        /// The limit.
        max: usize,
        /// The block's count.
        found: usize,
    },
    /// Its transactions take more bytes than a block may.
    #[error("{found} bytes of transactions, a block may have {max}")]
    TooLarge {
        /// The limit.
        max: usize,
        /// The block's size.
        found: usize,
    },
}

/// Why the node cannot tell yet whether a block is valid: nothing is wrong with the block as
/// far as it knows, and asking again later (after fetching the parent, after the clock caught
/// up, after a prune) may succeed. Consensus must not remember such a block as invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotYet {
    /// The parent is neither the committed head nor a pending block (not fetched yet, or on a
    /// pruned fork).
    #[error("unknown parent {0}")]
    UnknownParent(BlockId),
    /// Its timestamp is further ahead of the verifier's clock than the allowed drift.
    #[error("timestamp {found} is more than {max_drift_ms} ms ahead of the local clock ({now})")]
    TimestampAhead {
        /// The verifier's clock.
        now: u64,
        /// The block's timestamp.
        found: u64,
        /// The allowed drift.
        max_drift_ms: u64,
    },
    /// The node holds as many pending blocks as it keeps.
    #[error("{0} pending blocks already: prune or commit first")]
    TooManyPending(usize),
}

/// The node's answer to [`ConsensusOutput::Verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Valid: executed, and kept pending.
    Valid,
    /// Invalid, for good: the same block is invalid on every correct node, now and later.
    Invalid(InvalidBlock),
    /// Not decided on this node now; may be asked again.
    NotYet(NotYet),
}

/// Why a commit could not be carried out (nothing was wrong with the store).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommitFailure {
    /// The block is not pending here (never built or verified, or pruned).
    #[error("block {0} is not pending")]
    NotPending(BlockId),
    /// The block does not extend the committed head.
    #[error("block {block} extends {parent}, not the head {head}")]
    NotOnHead {
        /// The block.
        block: BlockId,
        /// Its parent.
        parent: BlockId,
        /// The committed head.
        head: BlockId,
    },
}

/// What the node tells consensus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsensusInput {
    /// Time passed: the node's clock, milliseconds since the Unix epoch.
    Tick {
        /// Now.
        now_ms: u64,
    },
    /// The block asked for with [`ConsensusOutput::Build`], executed and kept pending. Its id is
    /// `block.header.hash()`; the header carries the state root after it.
    Built {
        /// The block.
        block: Block,
    },
    /// The node could not build the block asked for.
    BuildFailed {
        /// The parent asked for.
        parent: BlockId,
        /// Why.
        reason: BuildFailure,
    },
    /// The answer to [`ConsensusOutput::Verify`]: valid (now pending), invalid with why, or
    /// not decidable yet.
    Verified {
        /// The block's id.
        id: BlockId,
        /// The answer.
        verdict: Verdict,
    },
    /// A block asked for with [`ConsensusOutput::Commit`] was committed (one input per block,
    /// in order; a block already committed is reported again).
    Committed {
        /// The committed block's header.
        header: BlockHeader,
    },
    /// A block of a [`ConsensusOutput::Commit`] could not be committed; the blocks before it in
    /// the list were (and were reported), the ones after it were not tried.
    CommitFailed {
        /// The block.
        block: BlockId,
        /// Why.
        reason: CommitFailure,
    },
    /// A consensus message arrived from a peer (untrusted bytes).
    Message {
        /// The sender.
        from: PeerId,
        /// Its topic.
        topic: Topic,
        /// The message bytes, undecoded.
        payload: Vec<u8>,
    },
}

/// What consensus asks of the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsensusOutput {
    /// Build a block on `parent` (the committed head or a pending block) from the pool:
    /// transactions not in pending ancestors, nonces after them; execute it on the parent's
    /// speculative state, keep it pending and answer [`ConsensusInput::Built`].
    Build {
        /// The parent.
        parent: BlockId,
        /// The height of the block (the parent's plus one).
        height: u64,
        /// Its timestamp (after the parent's).
        timestamp_ms: u64,
        /// Who proposes it (receives the fees).
        proposer: Address,
    },
    /// Verify a block (a peer's proposal, or one this node built, which is known at once):
    /// execute it on its parent's speculative state, check it, keep it pending when valid, and
    /// answer [`ConsensusInput::Verified`]. The node checks what the block itself commits to;
    /// consensus checks the rest first (its proposer is the round's leader, its signature, its
    /// certificates): the header carries no round.
    Verify {
        /// The block.
        block: Block,
    },
    /// Commit these pending blocks, oldest first (the first extends the committed head, each
    /// the one before), storing `proof` beside each; drop the pending blocks that do not
    /// descend from the last; answer [`ConsensusInput::Committed`] per block. Committed is
    /// final.
    Commit {
        /// The blocks, in order.
        blocks: Vec<BlockId>,
        /// The finality proof (a commit certificate), opaque to the node.
        proof: Vec<u8>,
    },
    /// Drop the pending blocks that are neither `keep`, nor its ancestors, nor its
    /// descendants (forks that can no longer commit once `keep` is locked), freeing room in
    /// the bounded pending tree. Nothing is answered.
    Prune {
        /// The block whose branch stays.
        keep: BlockId,
    },
    /// Gossip `payload` on `topic`.
    Broadcast {
        /// The topic.
        topic: Topic,
        /// The message.
        payload: Vec<u8>,
    },
    /// Send `payload` on `topic` to one peer.
    Send {
        /// The peer.
        to: PeerId,
        /// The topic.
        topic: Topic,
        /// The message.
        payload: Vec<u8>,
    },
}

/// Where a consensus engine stands, for metrics, `system_health` and diagnosing a stall.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsensusProgress {
    /// The current round.
    pub round: u64,
    /// The round of the highest quorum certificate held.
    pub high_qc_round: u64,
    /// The round of the highest timeout certificate held, if any.
    pub high_tc_round: Option<u64>,
    /// The round of the last committed block.
    pub committed_round: u64,
    /// Proposals held and not yet committed.
    pub pending_blocks: usize,
    /// Blocks being fetched from peers.
    pub missing_blocks: usize,
    /// Timeouts this validator signed (one per round at most).
    pub timeouts_signed: u64,
    /// Timeout certificates its collector formed.
    pub tcs_formed: u64,
    /// Messages, proposals and certificates refused.
    pub refused: u64,
}

/// A consensus engine as a pure state machine: the node feeds it inputs (time, execution
/// results, commits, messages) and carries out the outputs it returns. It reads no clock and
/// does no I/O, so it is tested and simulated deterministically. The single-node dev sealer and
/// HotStuff both sit behind this trait.
pub trait Consensus: Send {
    /// Handles one input.
    fn handle(&mut self, input: ConsensusInput) -> Vec<ConsensusOutput>;
    /// The highest height known final, if any.
    fn finalized_height(&self) -> Option<u64>;
    /// A short name for logs and `system_info` (`dev-sealer`, `hotstuff`).
    fn name(&self) -> &'static str;
    /// Where it stands, for engines that have rounds (none for the dev sealer).
    fn progress(&self) -> Option<ConsensusProgress> {
        None
    }
}
