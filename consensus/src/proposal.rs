//! Block proposals of 2-chain HotStuff: what a leader sends, and the stateless checks every
//! validator makes before anything else looks at one (Jolteon, section 4: a proposal of round
//! r carries the QC of its parent and, when round r − 1 timed out, the TC of that round).
//!
//! A proposal is {epoch, round, the QC of the block it extends, an optional TC, author, the
//! author's VRF proof for the round, the block}, signed by the author through its
//! [`crate::signer::SafetySigner`]. Its id hashes all of it (the block by its header hash, which
//! commits to the transactions, the post-state root and the receipts): votes and QCs name
//! that id. What needs the node (executing the block) or the tree of known proposals (is the
//! QC's block the block's parent?) comes after these checks.

use parity_scale_codec::{Decode, Encode};
use sha2::{Digest, Sha256};

use aether_engine::types::Block;

use crate::bls::BlsSignature;
use crate::certs::{CertError, QuorumCert, Round, TimeoutCert, VerifiedQc, VerifiedTc, Verifier};
use crate::leader::{LeaderSchedule, vrf_input};
use crate::signer::proposal_signing_bytes;
use crate::vrf::{self, VrfOutput, VrfProof};

/// A proposal as it travels.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Proposal {
    /// The epoch.
    pub epoch: u64,
    /// The round.
    pub round: Round,
    /// The QC of the proposal this one extends (its parent).
    pub qc: QuorumCert,
    /// The TC of the round before, when that round timed out.
    pub tc: Option<TimeoutCert>,
    /// The author's index in the validator set.
    pub author: u32,
    /// The author's VRF proof over [`vrf_input`] of this epoch and round.
    pub vrf_proof: VrfProof,
    /// The block: engine header (with the state root after it) and transactions.
    pub block: Block,
    /// The author's signature of [`proposal_signing_bytes`] of this proposal's id.
    pub signature: BlsSignature,
}

impl Proposal {
    /// The proposal's id: SHA-256 of `aether/proposal-id/v1` and everything but the signature,
    /// the block by its header hash (see [`ProposalStub::id`]).
    pub fn id(&self) -> [u8; 32] {
        self.stub().id()
    }

    /// The proposal without its transactions and signature: what a commit proof carries.
    pub fn stub(&self) -> ProposalStub {
        ProposalStub {
            epoch: self.epoch,
            round: self.round,
            qc: self.qc.clone(),
            tc: self.tc.clone(),
            author: self.author,
            vrf_proof: self.vrf_proof,
            header: self.block.header.hash().0,
        }
    }
}

/// A proposal's identity without its block's transactions or its signature: enough to
/// recompute its id and to see which block its QC certifies. Commit proofs carry two.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ProposalStub {
    /// The epoch.
    pub epoch: u64,
    /// The round.
    pub round: Round,
    /// The QC of its parent.
    pub qc: QuorumCert,
    /// The TC it carried, if any.
    pub tc: Option<TimeoutCert>,
    /// The author's index.
    pub author: u32,
    /// The author's VRF proof.
    pub vrf_proof: VrfProof,
    /// The engine header's hash.
    pub header: [u8; 32],
}

impl ProposalStub {
    /// The id of the proposal this stub is of.
    pub fn id(&self) -> [u8; 32] {
        Sha256::new()
            .chain_update(b"aether/proposal-id/v1")
            .chain_update(
                (
                    self.epoch,
                    self.round,
                    &self.qc,
                    &self.tc,
                    self.author,
                    &self.vrf_proof,
                    self.header,
                )
                    .encode(),
            )
            .finalize()
            .into()
    }
}

/// Why a proposal is refused before anything acts on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposalError {
    /// Of another epoch.
    #[error("epoch {got}, this validator set is epoch {expected}")]
    WrongEpoch {
        /// This set's epoch.
        expected: u64,
        /// The proposal's.
        got: u64,
    },
    /// Its author is not a validator of this set.
    #[error("author {0} is not a validator of this set")]
    UnknownAuthor(u32),
    /// Not from the leader of its round.
    #[error("round {round} is led by validator {leader}, not {author}")]
    NotLeader {
        /// The round.
        round: Round,
        /// Its leader.
        leader: usize,
        /// The author named.
        author: u32,
    },
    /// The author's signature does not verify.
    #[error("the author's signature does not verify")]
    BadSignature,
    /// The author's VRF proof does not verify for this round.
    #[error("the author's VRF proof does not verify for round {0}")]
    BadVrfProof(Round),
    /// A certificate it carries does not verify.
    #[error(transparent)]
    Certificate(#[from] CertError),
    /// Its round does not follow its QC, nor a TC of the round before that its QC may follow.
    #[error(
        "round {round} follows neither its QC (round {qc_round}) nor a TC of round {round} − 1 that allows it"
    )]
    RoundDoesNotFollow {
        /// The proposal's round.
        round: Round,
        /// Its QC's round.
        qc_round: Round,
    },
}

/// A proposal whose author, signature, VRF proof and certificates checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedProposal {
    proposal: Proposal,
    id: [u8; 32],
    qc: VerifiedQc,
    tc: Option<VerifiedTc>,
    vrf_output: VrfOutput,
}

impl VerifiedProposal {
    /// The proposal.
    pub fn proposal(&self) -> &Proposal {
        &self.proposal
    }
    /// Its id.
    pub fn id(&self) -> [u8; 32] {
        self.id
    }
    /// The verified QC it carries.
    pub fn qc(&self) -> &VerifiedQc {
        &self.qc
    }
    /// The verified TC it carries, if any.
    pub fn tc(&self) -> Option<&VerifiedTc> {
        self.tc.as_ref()
    }
    /// The author's VRF output for the round (randomness for the next seed).
    pub fn vrf_output(&self) -> &VrfOutput {
        &self.vrf_output
    }
}

impl VerifiedProposal {
    /// Checks that its author is `leader`, the leader of its round on the blocks it extends.
    pub fn check_leader(&self, leader: usize) -> Result<(), ProposalError> {
        if self.proposal.author as usize == leader {
            Ok(())
        } else {
            Err(ProposalError::NotLeader {
                round: self.proposal.round,
                leader,
                author: self.proposal.author,
            })
        }
    }

    /// What the block tree knows of it: its id, the block its QC certifies as parent, its
    /// round, and the engine header's height, hash and parent hash (the tree checks the last
    /// against the parent's header).
    pub fn block_info(&self) -> crate::block_tree::BlockInfo {
        let header = &self.proposal.block.header;
        crate::block_tree::BlockInfo {
            id: self.id,
            parent: self.qc.block_id(),
            round: self.proposal.round,
            height: header.height,
            header: header.hash().0,
            header_parent: header.parent_hash.0,
        }
    }
}

/// Checks a proposal: epoch, that its author is a validator, the author's signature, its VRF
/// proof over the round's input (`vrf_keys[author]`), its QC and TC, and that its round
/// follows them: the QC's round plus one, or the TC's round plus one with a QC at least as
/// high as every QC the TC's signers reported (Jolteon, section 4, the proposing rule).
///
/// Whether the author leads the round depends on the blocks the proposal extends (see
/// [`crate::leader`]): [`VerifiedProposal::check_leader`] checks it once they are known.
pub fn verify_proposal(
    verifier: &Verifier,
    schedule: &LeaderSchedule,
    vrf_keys: &[[u8; 32]],
    proposal: Proposal,
) -> Result<VerifiedProposal, ProposalError> {
    if proposal.epoch != verifier.epoch() {
        return Err(ProposalError::WrongEpoch {
            expected: verifier.epoch(),
            got: proposal.epoch,
        });
    }
    let author = proposal.author as usize;
    if author >= verifier.validators().len() {
        return Err(ProposalError::UnknownAuthor(proposal.author));
    }
    let id = proposal.id();
    let vrf_key = vrf_keys
        .get(author)
        .ok_or(ProposalError::BadVrfProof(proposal.round))?;
    // The signature and the VRF proof, checked once per (id, signature, VRF key, seed).
    let output = verifier.cached(
        b"proposal",
        || (id, proposal.signature, vrf_key, schedule.seed()).encode(),
        || {
            verifier
                .validators()
                .verify(
                    author,
                    &proposal_signing_bytes(proposal.epoch, proposal.round, &id),
                    &proposal.signature,
                )
                .map_err(|_| ProposalError::BadSignature)?;
            vrf::verify(
                vrf_key,
                &vrf_input(proposal.epoch, proposal.round, &schedule.seed()),
                &proposal.vrf_proof,
            )
            .map(|output| output.as_bytes().to_vec())
            .map_err(|_| ProposalError::BadVrfProof(proposal.round))
        },
    )?;
    let vrf_output =
        VrfOutput::from_verified(&output).ok_or(ProposalError::BadVrfProof(proposal.round))?;
    let qc = verifier.qc(proposal.qc.clone())?;
    let tc = proposal.tc.clone().map(|tc| verifier.tc(tc)).transpose()?;
    let round = proposal.round;
    let follows_qc = qc.round().checked_add(1) == Some(round);
    let follows_tc = tc.as_ref().is_some_and(|tc| {
        tc.round().checked_add(1) == Some(round) && qc.round() >= tc.highest_qc_round()
    });
    if !(follows_qc || follows_tc) {
        return Err(ProposalError::RoundDoesNotFollow {
            round,
            qc_round: qc.round(),
        });
    }
    Ok(VerifiedProposal {
        proposal,
        id,
        qc,
        tc,
        vrf_output,
    })
}

#[cfg(test)]
mod tests;
