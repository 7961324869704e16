//! Who leads a round, on the blocks its proposal extends: the schedule's first draw, unless
//! those blocks show that validator absent (see [`crate::leader`]). The activity is read from
//! the proposal's parent and its ancestors: the pending blocks this node holds, then a ledger
//! of the last committed ones (their authors and signers only, so that it does not depend on
//! how many committed blocks are kept for block retrieval), filled at start from the saved
//! proposals and the commit proofs stored below the head (`Root::with_ancestors`).

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};

use super::HotStuff;
use crate::certs::{QuorumCert, Round, TimeoutCert};
use crate::leader::activity_window;
use crate::proposal::{Proposal, ProposalStub};
use crate::signer::SafetyStorage;

/// What one block shows: its parent, its author, and the signers of the certificates it
/// carries (its QC's voters, its TC's signers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Signs {
    parent: [u8; 32],
    author: u32,
    signers: Vec<usize>,
}

impl Signs {
    fn new(qc: &QuorumCert, tc: Option<&TimeoutCert>, author: u32) -> Self {
        let mut signers: Vec<usize> = qc.signatures.signers.iter().collect();
        if let Some(tc) = tc {
            signers.extend(tc.signatures.signers.iter());
        }
        Self {
            parent: qc.data.block_id,
            author,
            signers,
        }
    }

    pub fn of(p: &Proposal) -> Self {
        Self::new(&p.qc, p.tc.as_ref(), p.author)
    }

    pub fn of_stub(p: &ProposalStub) -> Self {
        Self::new(&p.qc, p.tc.as_ref(), p.author)
    }
}

/// The activity of the last committed blocks, newest last.
#[derive(Debug)]
pub(super) struct Ledger {
    order: VecDeque<[u8; 32]>,
    by_id: BTreeMap<[u8; 32], Signs>,
    capacity: usize,
}

impl Ledger {
    /// A ledger of the activity window of `validators` validators.
    pub fn new(validators: usize) -> Self {
        Self {
            order: VecDeque::new(),
            by_id: BTreeMap::new(),
            capacity: activity_window(validators),
        }
    }

    /// Adds a committed block (in commit order), dropping the oldest beyond the window.
    pub fn push(&mut self, id: [u8; 32], signs: Signs) {
        if self.by_id.insert(id, signs).is_some() {
            return;
        }
        self.order.push_back(id);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.by_id.remove(&old);
            }
        }
    }
}

impl<S: SafetyStorage> HotStuff<S> {
    /// The validators that the last [`activity_window`] blocks up to and including `parent`
    /// show at work (authors, voters of their QCs, signers of their TCs). The walk stops early
    /// at a block this node does not hold (the genesis, or history it never had).
    pub(super) fn activity(&self, parent: [u8; 32]) -> Vec<bool> {
        let n = self.config.validators.len();
        let mut active = vec![false; n];
        let mut mark = |v: usize| {
            if let Some(a) = active.get_mut(v) {
                *a = true;
            }
        };
        let mut id = parent;
        for _ in 0..activity_window(n) {
            let signs = match self.blocks.get(&id) {
                Some(known) => Cow::Owned(Signs::of(known.proposal.proposal())),
                None => match self.ledger.by_id.get(&id) {
                    Some(signs) => Cow::Borrowed(signs),
                    None => break,
                },
            };
            mark(signs.author as usize);
            signs.signers.iter().for_each(|s| mark(*s));
            id = signs.parent;
        }
        active
    }

    /// The leader of `round` for a proposal extending block `parent`.
    pub(super) fn leader_after(&self, round: Round, parent: [u8; 32]) -> usize {
        self.schedule.leader_given(round, &self.activity(parent))
    }

    /// Whether a verified QC certifies block `id`: the highest, one heard before the block, or
    /// the QC of a block held. A certified block was checked by a quorum, so its leader is not
    /// checked again (a node behind, fetching it, may not hold the blocks that decide it).
    pub(super) fn is_certified(&self, id: &[u8; 32]) -> bool {
        self.high_qc.block_id() == *id
            || self.qcs.contains_key(id)
            || self
                .blocks
                .values()
                .any(|k| k.proposal.qc().block_id() == *id)
    }
}
