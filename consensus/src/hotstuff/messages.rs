//! What HotStuff validators send each other, and the commit proof stored beside each committed
//! block. Everything is SCALE; decoding refuses trailing bytes, nesting deeper than a message
//! can have, and payloads over the configured size, so hostile bytes cost a bounded decode.

use parity_scale_codec::{Decode, DecodeLimit, Encode};

use crate::certs::{
    CertError, QuorumCert, Round, Timeout, TimeoutCert, VerifiedQc, Verifier, Vote,
};
use crate::proposal::{Proposal, ProposalStub};

/// The certificates a validator holds, carried by every message so that a peer behind
/// catches up from whatever it hears (DiemBFT v4, section 5, "SyncInfo").
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SyncInfo {
    /// The highest QC.
    pub high_qc: QuorumCert,
    /// The QC that committed the highest committed block (certifying its child), if any.
    pub high_commit_qc: Option<QuorumCert>,
    /// The highest TC, if any.
    pub high_tc: Option<TimeoutCert>,
}

impl SyncInfo {
    /// The round this sync info puts its holder in: one after its highest certificate.
    pub fn round(&self) -> Round {
        let tc = self.high_tc.as_ref().map_or(0, |tc| tc.round);
        self.high_qc.data.round.max(tc).saturating_add(1)
    }
}

/// What a message is about.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Body {
    /// A leader's proposal for its round (gossiped).
    Proposal(Box<Proposal>),
    /// A vote, sent to the leader of the next round.
    Vote(Vote),
    /// A timeout (gossiped).
    Timeout(Box<Timeout>),
    /// Only the sync info: an answer to a peer that is behind.
    Sync,
    /// Block retrieval: asks for the proposal with this id.
    FetchBlock([u8; 32]),
    /// Block retrieval: the proposal asked for.
    Block(Box<Proposal>),
}

/// A consensus message: sync info and a body.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Message {
    /// The sender's certificates.
    pub sync: SyncInfo,
    /// What it is about.
    pub body: Body,
}

/// Nesting a message needs (a proposal's block's transactions' actions are the deepest).
const MAX_DEPTH: u32 = 32;

/// Why bytes are not a message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Over the size limit.
    #[error("{size} bytes, a consensus message may have {max}")]
    TooLarge {
        /// The payload's size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Not SCALE of a message (or trailing bytes).
    #[error("undecodable consensus message: {0}")]
    Undecodable(String),
}

impl Message {
    /// Decodes untrusted bytes, at most `max` of them.
    pub fn decode_bounded(bytes: &[u8], max: usize) -> Result<Self, MessageError> {
        if bytes.len() > max {
            return Err(MessageError::TooLarge {
                size: bytes.len(),
                max,
            });
        }
        Message::decode_all_with_depth_limit(MAX_DEPTH, &mut &bytes[..])
            .map_err(|e| MessageError::Undecodable(e.to_string()))
    }
}

/// What commits a block: the proposals from the block to its descendant whose child (of the
/// very next round) is certified, that child's, and the child's QC (Jolteon, section 4, the
/// 2-chain commit rule: the certified child commits its parent and every ancestor). Each block
/// of a commit gets its own proof, starting at itself, so the proof beside any committed block
/// names that block (a node that crashed between two blocks of one commit restarts from its
/// head's own proof).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct CommitProof {
    /// The committed block's proposal first, then each child's, ending with the certified
    /// child.
    pub chain: Vec<ProposalStub>,
    /// The QC of the last.
    pub qc: QuorumCert,
}

/// Most proposals a commit proof may chain.
pub const MAX_PROOF_CHAIN: usize = 1_024;

/// A checked commit proof: the block it commits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedBlock {
    /// The block's consensus id (its proposal's id).
    pub id: [u8; 32],
    /// Its parent's consensus id.
    pub parent: [u8; 32],
    /// Its round.
    pub round: Round,
    /// Its engine header's hash.
    pub header: [u8; 32],
    /// The QC of its child, which commits it.
    pub commit_qc: VerifiedQc,
    /// Its proposal's stub (author, the certificates it carried).
    pub proposal: ProposalStub,
}

/// Why a commit proof does not prove a commit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// Not SCALE of a commit proof.
    #[error("undecodable commit proof: {0}")]
    Undecodable(String),
    /// Its QC does not verify.
    #[error(transparent)]
    Certificate(#[from] CertError),
    /// The parts do not chain: the QC is not for the child, the child does not carry the
    /// block's QC, or their rounds are not consecutive.
    #[error("the commit proof does not chain: {0}")]
    Broken(&'static str),
}

impl CommitProof {
    /// Decodes and checks a proof: the QC verifies and certifies the last proposal of the
    /// chain, each proposal's QC names the one before it (at its round), and the last two
    /// rounds are consecutive. The first proposal's block is committed.
    pub fn verify(bytes: &[u8], verifier: &Verifier) -> Result<CommittedBlock, ProofError> {
        let proof = CommitProof::decode_all_with_depth_limit(MAX_DEPTH, &mut &bytes[..])
            .map_err(|e| ProofError::Undecodable(e.to_string()))?;
        let n = proof.chain.len();
        if !(2..=MAX_PROOF_CHAIN).contains(&n) {
            return Err(ProofError::Broken("a proof chains 2 to 1,024 proposals"));
        }
        let qc = verifier.qc(proof.qc.clone())?;
        let child = &proof.chain[n - 1];
        if qc.block_id() != child.id() || qc.round() != child.round {
            return Err(ProofError::Broken(
                "the QC does not certify the last proposal",
            ));
        }
        for pair in proof.chain.windows(2) {
            let (parent, next) = (&pair[0], &pair[1]);
            if next.qc.data.block_id != parent.id() || next.qc.data.round != parent.round {
                return Err(ProofError::Broken(
                    "a proposal does not extend the one before",
                ));
            }
        }
        if proof.chain[n - 2].round.checked_add(1) != Some(child.round) {
            return Err(ProofError::Broken(
                "the last two rounds are not consecutive",
            ));
        }
        let block = &proof.chain[0];
        Ok(CommittedBlock {
            id: block.id(),
            parent: block.qc.data.block_id,
            round: block.round,
            header: block.header,
            commit_qc: qc,
            proposal: block.clone(),
        })
    }
}
