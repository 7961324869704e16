//! Certificates: how QCs and TCs move a validator through rounds, how a QC commits by the
//! 2-chain rule (Jolteon, section 4), how the node is told to commit and what it answers, and
//! how the sync info of every message is taken in (DiemBFT v4, section 5).

use aether_engine::ports::{CommitFailure, ConsensusOutput, PeerId, Topic};
use aether_engine::types::{BlockHeader, Hash};
use parity_scale_codec::Encode;

use super::{Body, CommitProof, Exec, HotStuff, SyncInfo, ToCommit};
use crate::block_tree::BlockInfo;
use crate::certs::{VerifiedQc, VerifiedTc};
use crate::pacemaker::PacemakerEvent;
use crate::signer::SafetyStorage;

impl<S: SafetyStorage> HotStuff<S> {
    /// A verified QC (from a proposal, a timeout, sync info, or formed here): the highest one
    /// is kept (and noted by the safety rules: later timeouts must carry it), its block is
    /// certified in the tree (which may commit), and a QC of this round or later starts the
    /// next.
    pub(super) fn process_qc(&mut self, qc: VerifiedQc, from: Option<PeerId>) {
        if qc.round() > self.high_qc.round() {
            self.high_qc = qc.clone();
            if let Some(me) = &mut self.me
                && let Err(e) = me.signer.observe(&qc)
            {
                self.halt(e.to_string());
            }
        }
        self.certify(&qc, from);
        if let Some(PacemakerEvent::NewRound { .. }) = self.pacemaker.on_qc(qc.round(), self.now_ms)
        {
            self.enter_round();
        }
    }

    /// A verified TC: kept if highest, its QC is taken in, and it starts the next round.
    pub(super) fn process_tc(&mut self, tc: VerifiedTc, from: Option<PeerId>) {
        self.process_qc(tc.high_qc(), from);
        if self.high_tc.as_ref().is_none_or(|h| tc.round() > h.round()) {
            self.high_tc = Some(tc.clone());
            if let Some(me) = &mut self.me
                && let Err(e) = me.signer.observe_tc(&tc)
            {
                self.halt(e.to_string());
            }
        }
        if let Some(PacemakerEvent::NewRound { .. }) = self.pacemaker.on_tc(tc.round(), self.now_ms)
        {
            self.enter_round();
        }
    }

    /// A new round began: forget older votes and timeouts, propose if leading, vote for a
    /// proposal of it that came early.
    fn enter_round(&mut self) {
        let round = self.pacemaker.round();
        self.votes.prune_below(round.saturating_sub(1));
        self.timeouts.prune_below(round.saturating_sub(1));
        self.try_propose();
        self.vote_in_new_round();
    }

    /// Certifies the QC's block in the tree; a block not held yet is fetched, and certified
    /// when it arrives.
    pub(super) fn certify(&mut self, qc: &VerifiedQc, from: Option<PeerId>) {
        let id = qc.block_id();
        if qc.round() <= self.tree.root().round {
            return;
        }
        if self.tree.get(&id).is_none() {
            if self.qcs.len() < super::MAX_BLOCKS {
                self.qcs.insert(id, qc.clone());
            }
            if !self.blocks.contains_key(&id) {
                self.fetch(id, from);
            }
            return;
        }
        match self.tree.certify(qc) {
            Ok(chain) if !chain.is_empty() => self.commit_chain(chain, qc),
            Ok(_) => {}
            Err(e) => self.refuse(&PeerId(Vec::new()), &e),
        }
    }

    /// The 2-chain rule committed `chain` (oldest first) with `qc`, the QC of the last one's
    /// child: queue them for the node with their proof, and drop the forks the tree dropped.
    fn commit_chain(&mut self, chain: Vec<BlockInfo>, qc: &VerifiedQc) {
        // The proposals from the first committed block to the certified child: each block's
        // proof is the chain from itself on.
        let stubs: Option<Vec<_>> = chain
            .iter()
            .map(|b| b.id)
            .chain(std::iter::once(qc.block_id()))
            .map(|id| self.blocks.get(&id).map(|k| k.proposal.proposal().stub()))
            .collect();
        let Some(stubs) = stubs else {
            // Blocks in the tree are always held: nothing to commit without them.
            return;
        };
        for (i, info) in chain.iter().enumerate() {
            let proof = CommitProof {
                chain: stubs[i..].to_vec(),
                qc: qc.get().clone(),
            }
            .encode();
            self.commit_queue.push_back(ToCommit {
                id: info.id,
                header: info.header,
                proof,
                sent: false,
            });
        }
        if self
            .high_commit_qc
            .as_ref()
            .is_none_or(|h| qc.round() > h.round())
        {
            self.high_commit_qc = Some(qc.clone());
        }
        // Keep what the tree keeps, what is being committed, and what waits for a parent
        // above the new root.
        let root_round = self.tree.root().round;
        let queued: std::collections::BTreeSet<[u8; 32]> =
            self.commit_queue.iter().map(|c| c.id).collect();
        let drop: Vec<[u8; 32]> = self
            .blocks
            .iter()
            .filter(|(id, k)| {
                let kept = if k.in_tree {
                    self.tree.get(id).is_some()
                } else {
                    k.proposal.proposal().round > root_round
                };
                !kept && !queued.contains(*id)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in drop {
            self.forget(&id);
        }
        self.qcs.retain(|_, qc| qc.round() > root_round);
        self.flush_commits();
    }

    /// Tells the node to commit the queued blocks that are executed, in order, grouped by
    /// proof.
    pub(super) fn flush_commits(&mut self) {
        let mut batches: Vec<(Vec<Hash>, Vec<u8>)> = Vec::new();
        for item in self.commit_queue.iter_mut() {
            if item.sent {
                continue;
            }
            let valid = self
                .blocks
                .get(&item.id)
                .is_some_and(|k| k.exec == Exec::Valid);
            if !valid {
                break;
            }
            item.sent = true;
            match batches.last_mut() {
                Some((blocks, proof)) if *proof == item.proof => blocks.push(Hash(item.header)),
                _ => batches.push((vec![Hash(item.header)], item.proof.clone())),
            }
        }
        for (blocks, proof) in batches {
            self.stats.blocks_committed += blocks.len() as u64;
            self.out.push(ConsensusOutput::Commit { blocks, proof });
        }
    }

    /// The node committed a block: it is final; it leaves the queue and is kept a while to
    /// answer peers.
    pub(super) fn on_committed(&mut self, header: &BlockHeader) {
        let hash = header.hash().0;
        self.finalized = self.finalized.max(header.height);
        let Some(pos) = self.commit_queue.iter().position(|c| c.header == hash) else {
            return;
        };
        let Some(item) = self.commit_queue.remove(pos) else {
            return;
        };
        if let Some(known) = self.blocks.get(&item.id) {
            let round = known.proposal.proposal().round;
            self.pacemaker.on_commit(round);
            let proposal = known.proposal.proposal().clone();
            self.remember_committed(item.id, proposal);
        }
        // Out of the pending blocks (it stays saved, as a recent committed block, to answer
        // peers that are behind).
        if let Some(known) = self.blocks.remove(&item.id) {
            let h = known.proposal.proposal().block.header.hash().0;
            if item.id == self.tree.root().id {
                // The root: remembered as the committed head (its header).
                self.root_header = known.proposal.proposal().block.header.clone();
            }
            if let Some(ids) = self.by_header.get_mut(&h) {
                ids.retain(|i| *i != item.id);
                if ids.is_empty() {
                    self.by_header.remove(&h);
                }
            }
        }
    }

    /// Keeps a committed proposal to answer block retrieval, saved (so a restarted cluster can
    /// still serve the blocks a lagging validator misses): the last
    /// [`super::HotStuffConfig::recent_committed`], within
    /// [`super::HotStuffConfig::recent_committed_bytes`] (the newest always).
    pub(super) fn remember_committed(&mut self, id: [u8; 32], proposal: crate::proposal::Proposal) {
        self.ledger.push(id, super::leaders::Signs::of(&proposal));
        let size = parity_scale_codec::Encode::encoded_size(&proposal);
        // At least the leader rule's window is kept (and saved), so that a restart rebuilds
        // its ledger whole.
        let keep = self
            .config
            .recent_committed
            .max(crate::leader::activity_window(self.config.validators.len()));
        let dropped =
            self.recent
                .push(id, proposal, size, keep, self.config.recent_committed_bytes);
        if let Err(e) = self.saved.remove(&dropped) {
            tracing::warn!(%e, "cannot remove a saved proposal");
        }
    }

    /// The node could not commit a block: it verifies it again later, then it is sent again.
    pub(super) fn on_commit_failed(&mut self, header: [u8; 32], reason: &CommitFailure) {
        tracing::warn!(%reason, "the node could not commit a certified block; retrying");
        let retry_at = self.now_ms.saturating_add(super::RETRY_MS);
        let mut unsent = false;
        for item in self.commit_queue.iter_mut() {
            if item.header == header {
                unsent = true;
            }
            if unsent {
                item.sent = false;
            }
        }
        if let Some(ids) = self.by_header.get(&header).cloned() {
            for id in ids {
                if let Some(k) = self.blocks.get_mut(&id) {
                    k.exec = Exec::RetryAt(retry_at);
                }
            }
        }
    }

    /// The certificates a peer's message carries: newer ones are checked and taken in; a
    /// peer that is behind is sent this node's (once per round of this node).
    pub(super) fn on_sync(&mut self, sync: SyncInfo, from: &PeerId) {
        let peer_round = sync.round();
        if sync.high_qc.data.round > self.high_qc.round() {
            match self.verifier.qc(sync.high_qc) {
                Ok(qc) => self.process_qc(qc, Some(from.clone())),
                Err(e) => {
                    self.refuse(from, &e);
                    return;
                }
            }
        }
        if let Some(tc) = sync.high_tc
            && self.high_tc.as_ref().is_none_or(|h| tc.round > h.round())
        {
            match self.verifier.tc(tc) {
                Ok(tc) => self.process_tc(tc, Some(from.clone())),
                Err(e) => {
                    self.refuse(from, &e);
                    return;
                }
            }
        }
        if let Some(qc) = sync.high_commit_qc
            && self
                .high_commit_qc
                .as_ref()
                .is_none_or(|h| qc.data.round > h.round())
            && qc.data.round > self.tree.root().round
        {
            match self.verifier.qc(qc) {
                Ok(qc) => self.process_qc(qc, Some(from.clone())),
                Err(e) => {
                    self.refuse(from, &e);
                    return;
                }
            }
        }
        let round = self.pacemaker.round();
        if peer_round < round && self.synced_peers.get(from).is_none_or(|r| *r < round) {
            if self.synced_peers.len() >= 1024 {
                self.synced_peers.clear();
            }
            self.synced_peers.insert(from.clone(), round);
            self.send(from.clone(), Topic::Timeouts, Body::Sync);
        }
    }
}
