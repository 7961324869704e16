//! Proposals as blocks: checked, synced from, put in the tree once their parent is there
//! (fetching it from a peer if it is missing: block retrieval), executed by the node once their
//! parent is, and served to peers that miss them.

use aether_engine::ports::{ConsensusOutput, PeerId, Topic, Verdict};

use super::{
    Body, Exec, FETCH_ATTEMPTS, HotStuff, Known, MAX_BLOCKS, MAX_MISSING, Missing, RETRY_MS,
    SERVED_PER_ROUND,
};
use crate::proposal::{Proposal, verify_proposal};
use crate::signer::SafetyStorage;

impl<S: SafetyStorage> HotStuff<S> {
    /// A proposal, from the network (`from`), from block retrieval, or this validator's own.
    pub(super) fn on_proposal(&mut self, proposal: Proposal, from: Option<PeerId>) {
        let id = proposal.id();
        if self.blocks.contains_key(&id) || self.tree.get(&id).is_some() {
            return;
        }
        if proposal.round <= self.tree.root().round {
            // Committed already, or a fork that can no longer commit.
            return;
        }
        // A block a QC certifies is taken even when the table is full: nothing else can
        // complete the chain that the held blocks wait on.
        if self.blocks.len() >= MAX_BLOCKS && !self.is_certified(&id) {
            tracing::warn!(
                round = proposal.round,
                "too many blocks held: refusing a proposal"
            );
            self.stats.refused += 1;
            return;
        }
        let verified = match verify_proposal(
            &self.verifier,
            &self.schedule,
            &self.config.vrf_keys,
            proposal,
        ) {
            Ok(v) => v,
            Err(e) => {
                let peer = from.unwrap_or(PeerId(Vec::new()));
                self.refuse(&peer, &e);
                return;
            }
        };
        let author = verified.proposal().author as usize;
        if self.config.accounts.get(author) != Some(&verified.proposal().block.header.proposer) {
            let peer = from.unwrap_or(PeerId(Vec::new()));
            self.refuse(&peer, &"the block's proposer is not the author's account");
            return;
        }
        // Its certificates may move this validator on (and commit blocks).
        self.process_qc(verified.qc().clone(), from.clone());
        if let Some(tc) = verified.tc() {
            self.process_tc(tc.clone(), from.clone());
        }
        // One proposal per author and round is held (whether the author leads the round is
        // known only once the parent is in the tree): a second is an equivocation, taken only
        // if a QC names it, so that no validator can fill the table with blocks of a round.
        let (round, author) = (verified.proposal().round, verified.proposal().author);
        if !self.is_certified(&id)
            && self.blocks.values().any(|k| {
                let p = k.proposal.proposal();
                p.round == round && p.author == author
            })
        {
            self.stats.equivocations += 1;
            let peer = from.unwrap_or(PeerId(Vec::new()));
            self.refuse(&peer, &"a second proposal of one author for one round");
            return;
        }
        let header = verified.proposal().block.header.hash().0;
        self.blocks.insert(
            id,
            Known {
                proposal: verified,
                exec: Exec::Waiting,
                in_tree: false,
            },
        );
        self.by_header.entry(header).or_default().push(id);
        self.missing.remove(&id);
        self.try_insert(id, from);
    }

    /// Puts held blocks in the tree once their parent is there, starting with `id` and going
    /// on with the blocks that were waiting for it.
    fn try_insert(&mut self, id: [u8; 32], from: Option<PeerId>) {
        let mut work = vec![id];
        while let Some(id) = work.pop() {
            let Some(known) = self.blocks.get(&id) else {
                continue;
            };
            if known.in_tree {
                continue;
            }
            let info = known.proposal.block_info();
            if self.tree.get(&info.parent).is_none() {
                // A parent this node does not have: fetch it unless it is older than the
                // root (then this block is on a fork that can no longer commit).
                if known.proposal.qc().round() > self.tree.root().round {
                    self.fetch(info.parent, from.clone());
                }
                continue;
            }
            let qc = known.proposal.qc().clone();
            // Its author must lead its round on the blocks it extends, which are all known
            // now (unless a quorum certified it already).
            if !self.is_certified(&id) {
                let leader = self.leader_after(info.round, info.parent);
                if let Some(Err(e)) = self
                    .blocks
                    .get(&id)
                    .map(|k| k.proposal.check_leader(leader))
                {
                    let peer = from.clone().unwrap_or(PeerId(Vec::new()));
                    self.refuse(&peer, &e);
                    self.forget(&id);
                    continue;
                }
            }
            if let Err(e) = self.tree.insert(info, &qc) {
                let peer = from.clone().unwrap_or(PeerId(Vec::new()));
                self.refuse(&peer, &e);
                self.forget(&id);
                continue;
            }
            if let Some(k) = self.blocks.get_mut(&id) {
                k.in_tree = true;
                let bytes = parity_scale_codec::Encode::encode(k.proposal.proposal());
                if let Err(e) = self.saved.save(id, bytes) {
                    tracing::warn!(%e, "cannot save a proposal");
                }
            }
            // A QC heard before the block.
            if let Some(qc) = self.qcs.remove(&id) {
                self.certify(&qc, None);
            }
            self.schedule_verify(id);
            work.extend(
                self.blocks
                    .iter()
                    .filter(|(_, k)| !k.in_tree && k.proposal.qc().block_id() == id)
                    .map(|(child, _)| *child),
            );
        }
    }

    /// Drops a held block.
    pub(super) fn forget(&mut self, id: &[u8; 32]) {
        if let Err(e) = self.saved.remove(&[*id]) {
            tracing::warn!(%e, "cannot remove a saved proposal");
        }
        if let Some(k) = self.blocks.remove(id) {
            let header = k.proposal.proposal().block.header.hash().0;
            if let Some(ids) = self.by_header.get_mut(&header) {
                ids.retain(|i| i != id);
                if ids.is_empty() {
                    self.by_header.remove(&header);
                }
            }
        }
    }

    /// Whether the node has executed block `id` (the root counts, unless it is still being
    /// committed and not yet verified).
    fn is_executed(&self, id: &[u8; 32]) -> bool {
        self.executed_header(id).is_some()
    }

    /// Asks the node to verify a block in the tree once its parent is executed.
    fn schedule_verify(&mut self, id: [u8; 32]) {
        let Some(known) = self.blocks.get(&id) else {
            return;
        };
        if !known.in_tree || !matches!(known.exec, Exec::Waiting | Exec::RetryAt(_)) {
            return;
        }
        if !self.is_executed(&known.proposal.qc().block_id()) {
            return;
        }
        let block = known.proposal.proposal().block.clone();
        if let Some(k) = self.blocks.get_mut(&id) {
            k.exec = Exec::Verifying;
        }
        self.out.push(ConsensusOutput::Verify { block });
    }

    /// The node's verdict on the block with engine header hash `header`.
    pub(super) fn on_verified(&mut self, header: [u8; 32], verdict: Verdict) {
        let ids = self.by_header.get(&header).cloned().unwrap_or_default();
        for id in ids {
            let Some(known) = self.blocks.get_mut(&id) else {
                continue;
            };
            if known.exec != Exec::Verifying {
                continue;
            }
            match &verdict {
                Verdict::Valid => {
                    known.exec = Exec::Valid;
                    let children: Vec<[u8; 32]> = self
                        .blocks
                        .iter()
                        .filter(|(_, k)| k.in_tree && k.proposal.qc().block_id() == id)
                        .map(|(c, _)| *c)
                        .collect();
                    for child in children {
                        self.schedule_verify(child);
                    }
                    self.maybe_vote(id);
                    self.flush_commits();
                    self.try_propose();
                }
                Verdict::Invalid(why) => {
                    known.exec = Exec::Invalid;
                    self.stats.refused += 1;
                    tracing::warn!(%why, round = known.proposal.proposal().round, "an invalid block was proposed");
                }
                Verdict::NotYet(why) => {
                    tracing::debug!(%why, "the node cannot verify a block yet");
                    known.exec = Exec::RetryAt(self.now_ms.saturating_add(RETRY_MS));
                }
            }
        }
    }

    /// Asks again about blocks the node could not decide on, once their time came.
    pub(super) fn retry_verifications(&mut self) {
        let now = self.now_ms;
        let due: Vec<[u8; 32]> = self
            .blocks
            .iter()
            .filter(|(_, k)| matches!(k.exec, Exec::RetryAt(t) if t <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.schedule_verify(id);
        }
    }

    /// Asks a peer for block `id` (`from`, who named it, if known; another peer each retry).
    pub(super) fn fetch(&mut self, id: [u8; 32], from: Option<PeerId>) {
        if self.missing.contains_key(&id) || self.missing.len() >= MAX_MISSING {
            return;
        }
        self.missing.insert(
            id,
            Missing {
                next_ask_ms: self.now_ms.saturating_add(RETRY_MS),
                attempts: 0,
            },
        );
        self.stats.fetches += 1;
        match from {
            Some(peer) => self.send(peer, Topic::Proposals, Body::FetchBlock(id)),
            None => self.ask_next_peer(id, 0),
        }
    }

    fn ask_next_peer(&mut self, id: [u8; 32], attempt: u32) {
        let n = self.config.peers.len();
        if n == 0 {
            return;
        }
        let mine = self.me.as_ref().map(|me| me.index as usize);
        let start = mine.unwrap_or(0) + 1 + attempt as usize;
        let peer = (0..n).map(|k| (start + k) % n).find(|&i| Some(i) != mine);
        if let Some(i) = peer {
            let peer = self.config.peers[i].clone();
            self.send(peer, Topic::Proposals, Body::FetchBlock(id));
        }
    }

    /// Asks other peers for blocks still missing; and again for parents of held blocks (and
    /// blocks of held QCs) that were given up on, in case a peer has them now.
    pub(super) fn retry_fetches(&mut self) {
        let root_round = self.tree.root().round;
        let wanted: Vec<[u8; 32]> = self
            .blocks
            .values()
            .filter(|k| !k.in_tree && k.proposal.qc().round() > root_round)
            .map(|k| k.proposal.qc().block_id())
            .chain(self.qcs.keys().copied())
            .filter(|id| !self.blocks.contains_key(id) && !self.missing.contains_key(id))
            .collect();
        for id in wanted {
            self.fetch(id, None);
        }
        let now = self.now_ms;
        let due: Vec<([u8; 32], u32)> = self
            .missing
            .iter()
            .filter(|(_, m)| m.next_ask_ms <= now)
            .map(|(id, m)| (*id, m.attempts))
            .collect();
        for (id, attempts) in due {
            if attempts + 1 >= FETCH_ATTEMPTS {
                self.missing.remove(&id);
                continue;
            }
            if let Some(m) = self.missing.get_mut(&id) {
                m.attempts += 1;
                m.next_ask_ms = now.saturating_add(RETRY_MS);
            }
            self.ask_next_peer(id, attempts + 1);
        }
    }

    /// Answers a peer's block request, if this node holds the block: at most
    /// [`SERVED_PER_ROUND`] per peer per round (a 32-byte request can ask for megabytes).
    pub(super) fn serve(&mut self, id: [u8; 32], to: PeerId) {
        let round = self.pacemaker.round();
        let served = self.served.entry(to.clone()).or_insert((round, 0));
        if served.0 != round {
            *served = (round, 0);
        }
        if served.1 >= SERVED_PER_ROUND {
            return;
        }
        served.1 += 1;
        if self.served.len() > 1_024 {
            self.served.clear();
        }
        let found = self
            .blocks
            .get(&id)
            .map(|k| k.proposal.proposal().clone())
            .or_else(|| self.recent.get(&id).cloned());
        if let Some(p) = found {
            self.send(to, Topic::Proposals, Body::Block(Box::new(p)));
        }
    }
}
