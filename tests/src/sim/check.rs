//! The invariants checked on every step of a simulation: no two honest nodes commit different
//! blocks at one height (Jolteon, section 4, Theorem "safety"), and no honest key signs two
//! votes, two timeouts or two proposals for one round (DiemBFT v4, section 5, safety rules:
//! the first voting rule and its persistence).

use std::collections::BTreeMap;

use aether_consensus::hotstuff::{Body, Message};
use aether_consensus::signer::RecordSummary;

/// What the checker saw go wrong.
#[derive(Default)]
pub struct Checker {
    /// Committed header hash at each height, and the node that committed it first.
    commits: BTreeMap<u64, ([u8; 32], usize)>,
    /// Each honest key's vote per round.
    votes: BTreeMap<(u32, u64), [u8; 32]>,
    /// Each honest key's timeout per round (the QC round it carried).
    timeouts: BTreeMap<(u32, u64), u64>,
    /// Each honest key's proposal per round.
    proposals: BTreeMap<(u32, u64), [u8; 32]>,
    /// Violations, in the order found.
    pub violations: Vec<String>,
}

impl Checker {
    /// Node `node` committed `header` at `height`.
    pub fn on_commit(&mut self, node: usize, height: u64, header: [u8; 32]) {
        match self.commits.get(&height) {
            Some((h, first)) if *h != header => self.violations.push(format!(
                "fork at height {height}: node {first} committed {}, node {node} committed {}",
                short(h),
                short(&header)
            )),
            Some(_) => {}
            None => {
                self.commits.insert(height, (header, node));
            }
        }
    }

    /// An honest node sent `payload`.
    pub fn on_honest_send(&mut self, node: usize, payload: &[u8]) {
        let Ok(m) = Message::decode_bounded(payload, usize::MAX) else {
            self.violations
                .push(format!("node {node} sent an undecodable message"));
            return;
        };
        match m.body {
            Body::Vote(v) => {
                let key = (v.signer, v.data.round);
                match self.votes.get(&key) {
                    Some(b) if *b != v.data.block_id => self.violations.push(format!(
                        "honest key {} voted for two blocks in round {}",
                        v.signer, v.data.round
                    )),
                    Some(_) => {}
                    None => {
                        self.votes.insert(key, v.data.block_id);
                    }
                }
            }
            Body::Timeout(t) => {
                let key = (t.signer, t.data.round);
                match self.timeouts.get(&key) {
                    Some(q) if *q != t.data.hqc_round => self.violations.push(format!(
                        "honest key {} signed two timeouts in round {}",
                        t.signer, t.data.round
                    )),
                    Some(_) => {}
                    None => {
                        self.timeouts.insert(key, t.data.hqc_round);
                    }
                }
            }
            Body::Proposal(p) => {
                let key = (p.author, p.round);
                let id = p.id();
                match self.proposals.get(&key) {
                    Some(b) if *b != id => self.violations.push(format!(
                        "honest key {} proposed twice in round {}",
                        p.author, p.round
                    )),
                    Some(_) => {}
                    None => {
                        self.proposals.insert(key, id);
                    }
                }
            }
            _ => {}
        }
    }

    /// Honest key `key` stored a safety record: what it was about to sign. Every vote, timeout
    /// and proposal is recorded before it is signed, so this sees all of them (also a vote the
    /// next leader gives itself, which no message carries).
    pub fn on_honest_record(&mut self, key: u32, record: &RecordSummary) {
        if let Some((round, block)) = record.last_vote {
            Self::once(
                &mut self.votes,
                (key, round),
                block,
                &mut self.violations,
                || format!("honest key {key} recorded votes for two blocks in round {round}"),
            );
        }
        if let Some((round, qc_round)) = record.last_timeout {
            Self::once(
                &mut self.timeouts,
                (key, round),
                qc_round,
                &mut self.violations,
                || format!("honest key {key} recorded two timeouts in round {round}"),
            );
        }
        if let Some((round, id)) = record.last_proposal {
            Self::once(
                &mut self.proposals,
                (key, round),
                id,
                &mut self.violations,
                || format!("honest key {key} recorded two proposals in round {round}"),
            );
        }
    }

    fn once<V: PartialEq + Copy>(
        seen: &mut BTreeMap<(u32, u64), V>,
        key: (u32, u64),
        value: V,
        violations: &mut Vec<String>,
        what: impl FnOnce() -> String,
    ) {
        match seen.get(&key) {
            Some(v) if *v != value => violations.push(what()),
            Some(_) => {}
            None => {
                seen.insert(key, value);
            }
        }
    }

    /// The highest height committed by anyone.
    pub fn highest(&self) -> u64 {
        self.commits.keys().next_back().copied().unwrap_or(0)
    }
}

fn short(h: &[u8; 32]) -> String {
    h[..4].iter().map(|b| format!("{b:02x}")).collect()
}
