//! The leader's side: ask the node to build on the highest certified block, then sign and
//! gossip the proposal (Jolteon, section 4, the proposing rule: a proposal of round r carries
//! a QC of round r − 1, or a TC of round r − 1 and a QC at least as high as any its signers
//! reported).

use aether_engine::ports::{BlockId, BuildFailure, ConsensusOutput, Topic};
use aether_engine::types::{Block, BlockHeader};

use super::{Body, Building, Exec, HotStuff};
use crate::bls::BlsSignature;
use crate::leader::vrf_input;
use crate::proposal::Proposal;
use crate::signer::SafetyStorage;

impl<S: SafetyStorage> HotStuff<S> {
    /// The engine header of a block this node has executed: the root, or a valid pending one.
    pub(super) fn executed_header(&self, id: &[u8; 32]) -> Option<&BlockHeader> {
        match self.blocks.get(id) {
            Some(k) if k.exec == Exec::Valid => Some(&k.proposal.proposal().block.header),
            Some(_) => None,
            None if *id == self.tree.root().id => Some(&self.root_header),
            None => None,
        }
    }

    /// Proposes in the current round if this validator leads it and has not yet: asks the
    /// node to build on the block of the highest QC (once that block is executed here).
    pub(super) fn try_propose(&mut self) {
        let Some(me) = &self.me else { return };
        let round = self.pacemaker.round();
        if self.proposed_round >= round
            || self.leader_after(round, self.high_qc.block_id()) != me.index as usize
        {
            return;
        }
        let qc = self.high_qc.clone();
        let tc = if qc.round().checked_add(1) == Some(round) {
            None
        } else {
            match &self.high_tc {
                Some(tc)
                    if tc.round().checked_add(1) == Some(round)
                        && qc.round() >= tc.highest_qc_round() =>
                {
                    Some(tc.clone())
                }
                // Not in this round by a certificate of the round before: nothing to carry.
                _ => return,
            }
        };
        let parent = qc.block_id();
        let Some(parent_header) = self.executed_header(&parent).cloned() else {
            // Proposed once the parent is executed (fetched first if unknown).
            if !self.blocks.contains_key(&parent) {
                self.fetch(parent, None);
            }
            return;
        };
        let earliest = parent_header
            .timestamp_ms
            .saturating_add(self.config.min_block_interval_ms);
        if self.now_ms < earliest {
            // Built at a later tick, once the block time has passed.
            return;
        }
        let index = me.index as usize;
        self.proposed_round = round;
        let parent_hash = parent_header.hash();
        self.building = Some(Building {
            round,
            parent_header: parent_hash.0,
            qc,
            tc,
        });
        self.out.push(ConsensusOutput::Build {
            parent: parent_hash,
            height: parent_header.height + 1,
            timestamp_ms: self.now_ms.max(parent_header.timestamp_ms + 1),
            proposer: self.config.accounts[index],
        });
    }

    /// The node built the block: sign the proposal, gossip it, and take it as any proposal.
    pub(super) fn on_built(&mut self, block: Block) {
        let Some(building) = self.building.take() else {
            return;
        };
        if block.header.parent_hash.0 != building.parent_header {
            self.building = Some(building);
            return;
        }
        if building.round != self.pacemaker.round() {
            // The round ended while the node built: the block stays pending at the node
            // until a commit drops it.
            return;
        }
        let Some(me) = &mut self.me else { return };
        let round = building.round;
        let vrf_proof =
            match me
                .vrf
                .prove(&vrf_input(self.config.epoch, round, &self.schedule.seed()))
            {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(%e, round, "cannot prove the round's VRF");
                    return;
                }
            };
        let mut proposal = Proposal {
            epoch: self.config.epoch,
            round,
            qc: building.qc.into_inner(),
            tc: building.tc.map(|tc| tc.into_inner()),
            author: me.index,
            vrf_proof,
            block,
            signature: BlsSignature([0; 96]),
        };
        match me.signer.sign_proposal(round, proposal.id()) {
            Ok(signature) => proposal.signature = signature,
            Err(
                e @ (crate::signer::SignerError::Storage(_) | crate::signer::SignerError::Stopped),
            ) => {
                self.halt(e.to_string());
                return;
            }
            Err(e) => {
                tracing::warn!(%e, round, "the signer refused this validator's proposal");
                return;
            }
        }
        self.stats.proposals += 1;
        self.broadcast(Topic::Proposals, Body::Proposal(Box::new(proposal.clone())));
        self.on_proposal(proposal, None);
    }

    /// The node could not build: tried again at the next tick.
    pub(super) fn on_build_failed(&mut self, parent: BlockId, reason: BuildFailure) {
        let Some(building) = self.building.take() else {
            return;
        };
        if building.parent_header != parent.0 {
            self.building = Some(building);
            return;
        }
        tracing::debug!(%reason, round = building.round, "the node could not build; trying again");
        self.proposed_round = building.round.saturating_sub(1);
    }
}
