//! Who leads a round, on the blocks its proposal extends: the schedule's first draw, unless
//! those blocks show that validator absent (see [`crate::leader`]). The activity is read from
//! the proposal's parent and its ancestors: the pending blocks this node holds, then a ledger
//! of the last committed ones (their authors and signers only, so that it does not depend on
//! how many committed blocks are kept for block retrieval).

use std::collections::{BTreeMap, VecDeque};

use super::HotStuff;
use crate::certs::Round;
use crate::leader::activity_window;
use crate::proposal::Proposal;
use crate::signer::SafetyStorage;

/// What one block shows: its parent, its author, and the signers of the certificates it
/// carries (its QC's voters, its TC's signers).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Signs {
    parent: [u8; 32],
    author: u32,
    signers: Vec<usize>,
}

impl Signs {
    fn of(p: &Proposal) -> Self {
        let mut signers: Vec<usize> = p.qc.signatures.signers.iter().collect();
        if let Some(tc) = &p.tc {
            signers.extend(tc.signatures.signers.iter());
        }
        Self {
            parent: p.qc.data.block_id,
            author: p.author,
            signers,
        }
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
    pub fn push(&mut self, id: [u8; 32], proposal: &Proposal) {
        if self.by_id.insert(id, Signs::of(proposal)).is_some() {
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
            if let Some(known) = self.blocks.get(&id) {
                let signs = Signs::of(known.proposal.proposal());
                mark(signs.author as usize);
                signs.signers.iter().for_each(|s| mark(*s));
                id = signs.parent;
            } else if let Some(signs) = self.ledger.by_id.get(&id) {
                mark(signs.author as usize);
                signs.signers.iter().for_each(|s| mark(*s));
                id = signs.parent;
            } else {
                break;
            }
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
