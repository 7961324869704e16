//! 2-chain HotStuff (Jolteon / DiemBFT v4) behind the consensus port: the round manager that
//! ties the parts of this crate together. Pure: time, execution results and peer messages come
//! in as [`ConsensusInput`]s, and what the node must do (build, verify, commit, send) goes out
//! as [`ConsensusOutput`]s.
//!
//! One round, when all goes well (Jolteon, section 4):
//! 1. the leader of round r asks the node to **build** a block on the block of its highest QC,
//!    wraps it in a [`Proposal`] (QC, TC when r − 1 timed out, VRF proof), signs it through its
//!    [`SafetySigner`] and gossips it;
//! 2. every validator checks the proposal ([`crate::proposal::verify_proposal`]), syncs to the certificates it
//!    carries, puts it in the [`BlockTree`] (fetching a missing parent first), asks the node to
//!    **verify** (execute) it, and when the node says valid and the safety rules allow, votes;
//!    the vote goes to the leader of r + 1;
//! 3. that leader's [`VoteCollector`] forms a QC at a quorum, which starts round r + 1 and
//!    rides in its proposal; a QC for a block whose parent is of the round just before it
//!    commits the parent (the 2-chain rule): the node is told to **commit** the chain, with a
//!    [`CommitProof`] stored beside each block.
//!
//! A round without a QC times out: validators gossip signed timeouts carrying their highest QC;
//! f + 1 timeouts for its round make a validator time out too (echo), a quorum forms a TC,
//! which starts the next round. Every message carries [`SyncInfo`], so a validator that missed
//! certificates catches up from whatever it hears; one that misses a block asks a peer for it
//! (block retrieval, on the proposals topic).

mod blocks;
mod certify;
mod leaders;
pub mod messages;
mod persist;
mod propose;
mod recent;
mod votes;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use aether_engine::ports::{
    Consensus, ConsensusInput, ConsensusOutput, ConsensusProgress, PeerId, Topic,
};
use aether_engine::types::{Address, BlockHeader};
use parity_scale_codec::Encode;

use crate::block_tree::{BlockInfo, BlockTree};
use crate::bls::ValidatorSet;
use crate::cache::VerifyCache;
use crate::certs::{
    Round, Timeout, TimeoutCollector, VerifiedQc, VerifiedTc, Verifier, VoteCollector,
};
use crate::leader::LeaderSchedule;
use crate::pacemaker::{Pacemaker, PacemakerConfig, RoundStart};
use crate::proposal::{Proposal, ProposalStub, VerifiedProposal};
use crate::signer::{SafetySigner, SafetyStorage};
use crate::vrf::VrfSecretKey;

pub use messages::{
    Body, CommitProof, CommittedBlock, Message, MessageError, ProofError, SyncInfo,
};
pub use persist::{BlockStore, MemoryBlocks};

/// Proposals kept that are neither committed nor pruned (pending, awaiting a parent, awaiting
/// execution). Beyond, new ones are refused until commits make room.
pub const MAX_BLOCKS: usize = 512;

/// Committed proposals kept (and saved) to answer block retrieval, by default
/// ([`HotStuffConfig::recent_committed`]): a validator a little behind fetches them; one further
/// behind must sync committed blocks from a peer's store.
pub const RECENT_COMMITTED: usize = 1024;

/// Bytes of committed proposals kept to answer block retrieval, by default
/// ([`HotStuffConfig::recent_committed_bytes`]): 1,024 full blocks would take ≈ 650 MiB.
pub const RECENT_COMMITTED_BYTES: usize = 128 << 20;

/// Blocks asked for at once (block retrieval).
pub const MAX_MISSING: usize = 64;

/// How long to wait for a fetched block before asking another peer, and for a retry of a
/// verification the node could not decide yet.
pub const RETRY_MS: u64 = 500;

/// Blocks served to one peer per round (block retrieval answers): a validator catching up
/// asks for one block at a time, per round trip.
pub const SERVED_PER_ROUND: u32 = 64;

/// Attempts at fetching one block before giving up on it (it is asked for again when a
/// message names it again).
pub const FETCH_ATTEMPTS: u32 = 16;

/// Validators and parameters of one epoch.
#[derive(Clone, Debug)]
pub struct HotStuffConfig {
    /// The epoch.
    pub epoch: u64,
    /// The validators' BLS keys (with proofs of possession checked).
    pub validators: ValidatorSet,
    /// Each validator's VRF public key, by index.
    pub vrf_keys: Vec<[u8; 32]>,
    /// Each validator's network identity, by index (votes are sent to the next leader's).
    pub peers: Vec<PeerId>,
    /// Each validator's account, by index: the proposer named in its blocks' headers.
    pub accounts: Vec<Address>,
    /// The leader seed of the epoch (the genesis hash for the first).
    pub seed: [u8; 32],
    /// The consensus id of the chain's first block (the genesis header's hash): what the
    /// genesis certificate certifies.
    pub genesis: [u8; 32],
    /// Round timing.
    pub pacemaker: PacemakerConfig,
    /// Least time between a block's timestamp and its child's: a leader waits this long after
    /// its parent before building (the chain's block time; 0 builds at once). Keep it below
    /// the pacemaker's base timeout, or rounds time out while their leader waits.
    pub min_block_interval_ms: u64,
    /// Largest consensus message accepted, in bytes.
    pub max_message_bytes: usize,
    /// A cache of passed signature checks, possibly shared.
    pub cache: Option<Arc<VerifyCache>>,
    /// Committed proposals kept (in memory and saved) to answer peers' block retrieval
    /// (at least one; [`RECENT_COMMITTED`] by default).
    pub recent_committed: usize,
    /// And at most this many bytes of them, encoded (the newest is kept whatever its size;
    /// [`RECENT_COMMITTED_BYTES`] by default).
    pub recent_committed_bytes: usize,
}

impl HotStuffConfig {
    /// The verifier of this epoch's messages.
    pub fn verifier(&self) -> Verifier {
        let verifier = Verifier::new(self.epoch, self.validators.clone(), self.genesis);
        match &self.cache {
            Some(cache) => verifier.with_cache(cache.clone()),
            None => verifier,
        }
    }
}

/// What makes a node a validator: its index, its signer (BLS key, safety rules and record)
/// and its VRF key. A node without one follows the chain.
pub struct Identity<S: SafetyStorage> {
    /// Its index in the validator set.
    pub index: u32,
    /// Its signer.
    pub signer: SafetySigner<S>,
    /// Its VRF key.
    pub vrf: VrfSecretKey,
}

/// Where consensus starts: the committed head, the certificate that committed it, and the
/// committed blocks up to it that the leader rule reads (see [`Root::with_ancestors`]).
#[derive(Clone, Debug)]
pub struct Root {
    info: BlockInfo,
    header: BlockHeader,
    commit_qc: Option<VerifiedQc>,
    /// Committed blocks' proposals, oldest first, each the parent of the next, the root's last
    /// (none for the genesis).
    ancestors: Vec<ProposalStub>,
}

impl Root {
    /// The genesis block (consensus id: its header hash, round 0).
    pub fn genesis(header: BlockHeader) -> Self {
        let hash = header.hash().0;
        Self {
            info: BlockInfo {
                id: hash,
                parent: [0; 32],
                round: 0,
                height: header.height,
                header: hash,
                header_parent: header.parent_hash.0,
            },
            header,
            commit_qc: None,
            ancestors: Vec::new(),
        }
    }

    /// The committed head `header` with the proof stored beside it (after a restart).
    pub fn from_commit_proof(
        header: BlockHeader,
        proof: &[u8],
        verifier: &Verifier,
    ) -> Result<Self, ProofError> {
        let committed = CommitProof::verify(proof, verifier)?;
        if committed.header != header.hash().0 {
            return Err(ProofError::Broken("the proof is of another block"));
        }
        Ok(Self {
            info: BlockInfo {
                id: committed.id,
                parent: committed.parent,
                round: committed.round,
                height: header.height,
                header: committed.header,
                header_parent: header.parent_hash.0,
            },
            header,
            commit_qc: Some(committed.commit_qc),
            ancestors: vec![committed.proposal],
        })
    }

    /// Adds the committed blocks below the root from their commit proofs, `proofs` newest
    /// first (those stored at the heights below the head), at most
    /// [`crate::leader::MAX_ACTIVITY_WINDOW`] blocks in all. The leader rule judges who is
    /// active from the last blocks a proposal extends; a node that caught up from its peers'
    /// stores holds none of their proposals, and would otherwise judge on the pending blocks
    /// alone (fewer than the others judge on) until as many blocks commit through consensus.
    /// Stops at the first proof that does not verify or is not of the parent of the oldest
    /// block so far (the blocks kept always chain up to the root).
    pub fn with_ancestors<P: AsRef<[u8]>>(
        mut self,
        proofs: impl IntoIterator<Item = P>,
        verifier: &Verifier,
    ) -> Self {
        let mut below = Vec::new();
        let Some(mut parent) = self.ancestors.first().map(|root| root.qc.data.block_id) else {
            return self;
        };
        for proof in proofs {
            if below.len() + self.ancestors.len() >= crate::leader::MAX_ACTIVITY_WINDOW {
                break;
            }
            match CommitProof::verify(proof.as_ref(), verifier) {
                Ok(block) if block.id == parent => {
                    parent = block.parent;
                    below.push(block.proposal);
                }
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(%e, "a stored commit proof below the head does not verify");
                    break;
                }
            }
        }
        below.reverse();
        below.append(&mut self.ancestors);
        self.ancestors = below;
        self
    }

    /// The root's round.
    pub fn round(&self) -> Round {
        self.info.round
    }
}

/// Counters, for metrics and the simulator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Proposals this validator made.
    pub proposals: u64,
    /// Votes it signed.
    pub votes: u64,
    /// Timeouts it signed (first signature per round).
    pub timeouts: u64,
    /// QCs its collector formed.
    pub qcs_formed: u64,
    /// TCs its collector formed.
    pub tcs_formed: u64,
    /// Blocks it told the node to commit.
    pub blocks_committed: u64,
    /// Messages, proposals and certificates refused (undecodable, bad signature, not the
    /// leader, not fitting the tree, invalid block).
    pub refused: u64,
    /// Equivocations seen (two votes of one signer in one round, or two proposals of one
    /// author).
    pub equivocations: u64,
    /// Blocks asked for (block retrieval).
    pub fetches: u64,
}

/// Where a validator stands, for logs, health reports and the simulator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The current round.
    pub round: Round,
    /// The highest QC's round.
    pub high_qc_round: Round,
    /// The highest TC's round, if any.
    pub high_tc_round: Option<Round>,
    /// The committed root's round and height.
    pub root: (Round, u64),
    /// Proposals held (pending, awaiting a parent or execution, being committed).
    pub blocks: usize,
    /// Blocks being fetched.
    pub missing: usize,
    /// Blocks certified for commit and not yet reported committed.
    pub committing: usize,
}

/// How far the node got with a proposal's block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exec {
    /// Not asked yet: its parent is not executed (or not known).
    Waiting,
    /// Asked to verify.
    Verifying,
    /// The node could not decide yet: ask again at this time.
    RetryAt(u64),
    /// Executed and valid, pending at the node.
    Valid,
    /// Invalid.
    Invalid,
}

/// A proposal this validator holds.
#[derive(Clone, Debug)]
struct Known {
    proposal: VerifiedProposal,
    exec: Exec,
    in_tree: bool,
}

/// A block certified for commit, in commit order.
#[derive(Clone, Debug)]
struct ToCommit {
    id: [u8; 32],
    header: [u8; 32],
    proof: Vec<u8>,
    sent: bool,
}

/// A block asked for.
#[derive(Clone, Copy, Debug)]
struct Missing {
    next_ask_ms: u64,
    attempts: u32,
}

/// The leader's block being built.
#[derive(Clone, Debug)]
struct Building {
    round: Round,
    parent_header: [u8; 32],
    qc: VerifiedQc,
    tc: Option<VerifiedTc>,
}

/// A validator (or a follower) running 2-chain HotStuff.
pub struct HotStuff<S: SafetyStorage> {
    config: HotStuffConfig,
    verifier: Verifier,
    schedule: LeaderSchedule,
    me: Option<Identity<S>>,
    saved: Box<dyn BlockStore>,
    halted: Option<String>,
    now_ms: u64,
    pacemaker: Pacemaker,
    tree: BlockTree,
    root_header: BlockHeader,
    blocks: BTreeMap<[u8; 32], Known>,
    by_header: BTreeMap<[u8; 32], Vec<[u8; 32]>>,
    /// Recent committed proposals, to answer block retrieval.
    recent: recent::Recent<Proposal>,
    /// The authors and signers of the last committed blocks, for the leader rule.
    ledger: leaders::Ledger,
    /// QCs of blocks not in the tree yet (certified once the block arrives).
    qcs: BTreeMap<[u8; 32], VerifiedQc>,
    high_qc: VerifiedQc,
    high_tc: Option<VerifiedTc>,
    high_commit_qc: Option<VerifiedQc>,
    votes: VoteCollector,
    timeouts: TimeoutCollector,
    commit_queue: VecDeque<ToCommit>,
    missing: BTreeMap<[u8; 32], Missing>,
    building: Option<Building>,
    proposed_round: Round,
    voted_round: Round,
    last_timeout: Option<Timeout>,
    /// The round each peer that was behind was last sent sync info for.
    synced_peers: BTreeMap<PeerId, Round>,
    /// Blocks served to each peer in a round.
    served: BTreeMap<PeerId, (Round, u32)>,
    finalized: u64,
    stats: Stats,
    out: Vec<ConsensusOutput>,
}

impl<S: SafetyStorage> HotStuff<S> {
    /// Consensus for `config`'s epoch from `root` (the genesis, or the committed head after a
    /// restart), as validator `me` or, without an identity, as a follower; proposals are saved
    /// in `saved`, and those saved before a restart are taken up again (the node is asked to
    /// execute them anew). `now_ms` starts the first round's clock, in the round after the
    /// highest QC or TC held (the signer's record keeps them).
    pub fn new(
        config: HotStuffConfig,
        me: Option<Identity<S>>,
        mut root: Root,
        saved: Box<dyn BlockStore>,
        now_ms: u64,
    ) -> Self {
        let verifier = config.verifier();
        let ancestors = std::mem::take(&mut root.ancestors);
        let schedule = LeaderSchedule::new(config.seed, config.validators.len());
        let mut high_qc = root
            .commit_qc
            .clone()
            .unwrap_or_else(|| verifier.genesis_qc());
        let mut high_tc = None;
        if let Some(me) = &me {
            let (qc, tc) = me.signer.certificates();
            if let Some(qc) = qc.and_then(|qc| verifier.qc(qc.clone()).ok())
                && qc.round() > high_qc.round()
            {
                high_qc = qc;
            }
            high_tc = tc.and_then(|tc| verifier.tc(tc.clone()).ok());
        }
        let pacemaker = Pacemaker::new(
            config.pacemaker,
            RoundStart {
                highest_qc_round: high_qc.round(),
                highest_tc_round: high_tc.as_ref().map_or(0, VerifiedTc::round),
                last_commit_round: root.info.round,
            },
            now_ms,
        );
        let votes = VoteCollector::new(&config.validators);
        let timeouts = TimeoutCollector::new(&config.validators);
        let mut hs = Self {
            verifier,
            schedule,
            me,
            saved,
            halted: None,
            now_ms,
            pacemaker,
            tree: BlockTree::new(root.info),
            finalized: root.header.height,
            root_header: root.header,
            blocks: BTreeMap::new(),
            by_header: BTreeMap::new(),
            recent: Default::default(),
            ledger: leaders::Ledger::new(config.validators.len()),
            qcs: BTreeMap::new(),
            high_commit_qc: root.commit_qc.clone(),
            high_qc: high_qc.clone(),
            high_tc,
            votes,
            timeouts,
            commit_queue: VecDeque::new(),
            missing: BTreeMap::new(),
            building: None,
            proposed_round: 0,
            voted_round: 0,
            last_timeout: None,
            synced_peers: BTreeMap::new(),
            served: BTreeMap::new(),
            stats: Stats::default(),
            out: Vec::new(),
            config,
        };
        if let Some(me) = &mut hs.me
            && let Err(e) = me.signer.observe(&high_qc)
        {
            hs.halt(e.to_string());
        }
        hs.restore();
        for stub in &ancestors {
            hs.ledger.push(stub.id(), leaders::Signs::of_stub(stub));
        }
        // The highest QC may certify a block this node does not have: note it, to fetch it
        // once peers are heard.
        if high_qc.round() > hs.tree.root().round {
            hs.certify(&high_qc, None);
        }
        hs
    }

    /// Takes up the proposals saved before a restart, oldest round first.
    fn restore(&mut self) {
        let saved = match self.saved.load() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(%e, "cannot read the saved proposals; peers will send them");
                return;
            }
        };
        let mut proposals: Vec<Proposal> = saved
            .iter()
            .filter_map(|bytes| {
                <Proposal as parity_scale_codec::DecodeLimit>::decode_all_with_depth_limit(
                    32,
                    &mut &bytes[..],
                )
                .ok()
            })
            .collect();
        proposals.sort_by_key(|p| p.round);
        let root_round = self.tree.root().round;
        for p in proposals {
            if p.round <= root_round {
                // Committed (kept to answer peers).
                let id = p.id();
                self.remember_committed(id, p);
            } else {
                self.on_proposal(p, None);
            }
        }
    }

    /// The current round.
    pub fn round(&self) -> Round {
        self.pacemaker.round()
    }

    /// The round of the highest QC held.
    pub fn high_qc_round(&self) -> Round {
        self.high_qc.round()
    }

    /// Where this validator stands.
    pub fn status(&self) -> Status {
        Status {
            round: self.pacemaker.round(),
            high_qc_round: self.high_qc.round(),
            high_tc_round: self.high_tc.as_ref().map(VerifiedTc::round),
            root: (self.tree.root().round, self.tree.root().height),
            blocks: self.blocks.len(),
            missing: self.missing.len(),
            committing: self.commit_queue.len(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// This validator's index, if it is one (and has not halted).
    pub fn index(&self) -> Option<u32> {
        self.me.as_ref().map(|me| me.index)
    }

    /// Why the validator stopped signing (a failed store of its safety record), if it did.
    pub fn halted(&self) -> Option<&str> {
        self.halted.as_deref()
    }

    /// The certificates this node holds, as it sends them.
    pub fn sync_info(&self) -> SyncInfo {
        SyncInfo {
            high_qc: self.high_qc.get().clone(),
            high_commit_qc: self.high_commit_qc.as_ref().map(|qc| qc.get().clone()),
            high_tc: self.high_tc.as_ref().map(|tc| tc.get().clone()),
        }
    }

    /// The validator stops signing for good: it cannot remember what it signed.
    fn halt(&mut self, why: String) {
        tracing::error!(%why, "the validator stops signing and follows the chain");
        self.halted = Some(why);
        self.me = None;
    }

    fn message(&self, body: Body) -> Vec<u8> {
        Message {
            sync: self.sync_info(),
            body,
        }
        .encode()
    }

    fn broadcast(&mut self, topic: Topic, body: Body) {
        let payload = self.message(body);
        self.out.push(ConsensusOutput::Broadcast { topic, payload });
    }

    fn send(&mut self, to: PeerId, topic: Topic, body: Body) {
        let payload = self.message(body);
        self.out.push(ConsensusOutput::Send { to, topic, payload });
    }

    fn on_tick(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        if let Some(crate::pacemaker::PacemakerEvent::LocalTimeout { round }) =
            self.pacemaker.on_tick(self.now_ms)
        {
            self.local_timeout(round);
        }
        self.retry_verifications();
        self.retry_fetches();
        self.try_propose();
    }

    fn on_message(&mut self, from: PeerId, topic: Topic, payload: &[u8]) {
        let message = match Message::decode_bounded(payload, self.config.max_message_bytes) {
            Ok(m) => m,
            Err(e) => {
                self.refuse(&from, &e);
                return;
            }
        };
        let expected = match message.body {
            Body::Proposal(_) | Body::FetchBlock(_) | Body::Block(_) => Topic::Proposals,
            Body::Vote(_) => Topic::Votes,
            Body::Timeout(_) | Body::Sync => Topic::Timeouts,
        };
        if topic != expected {
            self.refuse(
                &from,
                &format!("a {:?} message on topic {topic:?}", expected),
            );
            return;
        }
        self.on_sync(message.sync, &from);
        match message.body {
            Body::Proposal(p) | Body::Block(p) => self.on_proposal(*p, Some(from)),
            Body::Vote(v) => self.on_vote(v),
            Body::Timeout(t) => self.on_timeout(*t),
            Body::Sync => {}
            Body::FetchBlock(id) => self.serve(id, from),
        }
    }

    fn refuse(&mut self, from: &PeerId, why: &dyn std::fmt::Display) {
        self.stats.refused += 1;
        tracing::debug!(peer = ?from, %why, "refused a consensus message");
    }
}

impl<S: SafetyStorage + Send> Consensus for HotStuff<S> {
    fn handle(&mut self, input: ConsensusInput) -> Vec<ConsensusOutput> {
        match input {
            ConsensusInput::Tick { now_ms } => self.on_tick(now_ms),
            ConsensusInput::Built { block } => self.on_built(block),
            ConsensusInput::BuildFailed { parent, reason } => self.on_build_failed(parent, reason),
            ConsensusInput::Verified { id, verdict } => self.on_verified(id.0, verdict),
            ConsensusInput::Committed { header } => self.on_committed(&header),
            ConsensusInput::CommitFailed { block, reason } => {
                self.on_commit_failed(block.0, &reason)
            }
            ConsensusInput::Message {
                from,
                topic,
                payload,
            } => self.on_message(from, topic, &payload),
        }
        std::mem::take(&mut self.out)
    }

    fn finalized_height(&self) -> Option<u64> {
        Some(self.finalized)
    }

    fn name(&self) -> &'static str {
        "hotstuff"
    }

    fn progress(&self) -> Option<ConsensusProgress> {
        let status = self.status();
        Some(ConsensusProgress {
            round: status.round,
            high_qc_round: status.high_qc_round,
            high_tc_round: status.high_tc_round,
            committed_round: status.root.0,
            pending_blocks: status.blocks,
            missing_blocks: status.missing,
            timeouts_signed: self.stats.timeouts,
            tcs_formed: self.stats.tcs_formed,
            refused: self.stats.refused,
        })
    }
}
