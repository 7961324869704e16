//! Votes and timeouts: what a validator signs (through its safety signer, which stores its
//! record first), where it sends it, and how the collectors turn what arrives into
//! certificates.

use aether_engine::ports::{PeerId, Topic};

use super::{Body, Exec, HotStuff};
use crate::certs::{Timeout, TimeoutOutcome, Vote, VoteData, VoteOutcome};
use crate::signer::{SafetyStorage, SignerError};

impl<S: SafetyStorage> HotStuff<S> {
    /// A signer failure: a refusal by the rules is normal (logged); a failed store halts.
    fn signer_failed(&mut self, e: SignerError, what: &str) {
        match e {
            SignerError::Storage(_) | SignerError::Stopped => self.halt(e.to_string()),
            e => tracing::debug!(%e, what, "the safety rules refused"),
        }
    }

    /// Votes for block `id` if it is this round's, executed and valid, and the rules allow
    /// (Jolteon, section 4, the voting rule); the vote goes to the next round's leader.
    pub(super) fn maybe_vote(&mut self, id: [u8; 32]) {
        let round = self.pacemaker.round();
        if self.voted_round >= round {
            return;
        }
        let Some(known) = self.blocks.get(&id) else {
            return;
        };
        if !known.in_tree || known.exec != Exec::Valid || known.proposal.proposal().round != round {
            return;
        }
        let qc = known.proposal.qc().clone();
        let tc = known.proposal.tc().cloned();
        // The next round's proposal extends this block (if the round goes well).
        let next = self.leader_after(round + 1, id);
        let Some(me) = &mut self.me else { return };
        let data = VoteData {
            epoch: self.config.epoch,
            round,
            block_id: id,
        };
        // One attempt per round: a refusal stays a refusal.
        self.voted_round = round;
        match me.signer.vote(data, &qc, tc.as_ref()) {
            Ok(vote) => {
                self.stats.votes += 1;
                if next == me.index as usize {
                    self.on_vote(vote);
                } else if let Some(peer) = self.config.peers.get(next).cloned() {
                    self.send(peer, Topic::Votes, Body::Vote(vote));
                }
            }
            Err(e) => self.signer_failed(e, "vote"),
        }
    }

    /// Votes for a valid block of the round just entered that arrived before the round began.
    pub(super) fn vote_in_new_round(&mut self) {
        let round = self.pacemaker.round();
        let ready: Vec<[u8; 32]> = self
            .blocks
            .iter()
            .filter(|(_, k)| k.proposal.proposal().round == round && k.exec == Exec::Valid)
            .map(|(id, _)| *id)
            .collect();
        for id in ready {
            self.maybe_vote(id);
        }
    }

    /// A vote: counted by the leader of the round after its round (on the block voted for; a
    /// vote for a block not in the tree yet is counted: its leader cannot be known).
    pub(super) fn on_vote(&mut self, vote: Vote) {
        let Some(me) = &self.me else { return };
        let block = vote.data.block_id;
        let Some(next) = vote.data.round.checked_add(1) else {
            return;
        };
        let in_tree = self.blocks.get(&block).is_some_and(|k| k.in_tree);
        if in_tree && self.leader_after(next, block) != me.index as usize {
            return;
        }
        let vote = match self.verifier.vote(vote) {
            Ok(v) => v,
            Err(e) => {
                self.refuse(&PeerId(Vec::new()), &e);
                return;
            }
        };
        match self.votes.add(self.verifier.validators(), vote) {
            VoteOutcome::Certified(qc) => {
                self.stats.qcs_formed += 1;
                self.process_qc(qc, None);
            }
            VoteOutcome::Equivocation { first, .. } => {
                self.stats.equivocations += 1;
                tracing::warn!(
                    signer = first.signer,
                    round = first.data.round,
                    "a validator voted twice in one round"
                );
            }
            VoteOutcome::Counted | VoteOutcome::Duplicate | VoteOutcome::OutOfWindow => {}
        }
    }

    /// The round passed its deadline (or f + 1 validators gave up on it): sign a timeout
    /// carrying the highest QC and gossip it; later calls in the same round resend it.
    pub(super) fn local_timeout(&mut self, round: u64) {
        if self.me.is_none() {
            return;
        }
        if let Some(t) = &self.last_timeout
            && t.data.round == round
        {
            let t = t.clone();
            tracing::debug!(round, "resending this round's timeout");
            self.broadcast(Topic::Timeouts, Body::Timeout(Box::new(t)));
            return;
        }
        let high_qc = self.high_qc.clone();
        let high_tc = self.high_tc.clone();
        let Some(me) = &mut self.me else { return };
        match me.signer.timeout(round, &high_qc, high_tc.as_ref()) {
            Ok(timeout) => {
                tracing::info!(
                    round,
                    high_qc_round = high_qc.round(),
                    committed_round = self.tree.root().round,
                    "round timed out"
                );
                self.stats.timeouts += 1;
                self.last_timeout = Some(timeout.clone());
                self.broadcast(Topic::Timeouts, Body::Timeout(Box::new(timeout.clone())));
                self.on_timeout(timeout);
            }
            Err(e) => self.signer_failed(e, "timeout"),
        }
    }

    /// A timeout: its QC is sync; a quorum of them for a round forms a TC (each validator
    /// forms its own from the gossip); f + 1 for the current round make this validator time
    /// out too (the echo of DiemBFT v4, section 5, "Pacemaker").
    pub(super) fn on_timeout(&mut self, timeout: Timeout) {
        let timeout = match self.verifier.timeout(timeout) {
            Ok(t) => t,
            Err(e) => {
                self.refuse(&PeerId(Vec::new()), &e);
                return;
            }
        };
        let round = timeout.get().data.round;
        self.process_qc(timeout.high_qc(), None);
        if let TimeoutOutcome::Certified { tc, .. } =
            self.timeouts.add(self.verifier.validators(), timeout)
        {
            self.stats.tcs_formed += 1;
            self.process_tc(*tc, None);
        }
        let echoed = self
            .last_timeout
            .as_ref()
            .is_some_and(|t| t.data.round == round);
        if round == self.pacemaker.round()
            && !echoed
            && self.timeouts.signers(round) > self.verifier.validators().max_faulty()
        {
            self.local_timeout(round);
        }
    }
}
