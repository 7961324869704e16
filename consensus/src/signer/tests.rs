//! The signer: persist, then sign; a failed store stops it; a restart resumes from the record
//! and cannot sign twice in a round; a missing record past genesis refuses to start; epochs.
//! Jolteon (FC 2022), section 4, the voting and timeout rules, whose state this keeps.

use std::cell::RefCell;
use std::rc::Rc;

use super::*;
use crate::bls::ValidatorSet;
use crate::certs::{Verifier, VoteCollector, VoteOutcome};

const EPOCH: u64 = 2;
const GENESIS: [u8; 32] = [0x9e; 32];

/// A record in memory, shared by "restarts", that can be made to fail.
#[derive(Clone, Default)]
struct Memory {
    record: Rc<RefCell<Option<Vec<u8>>>>,
    stores: Rc<RefCell<usize>>,
    fail: Rc<RefCell<bool>>,
}

impl SafetyStorage for Memory {
    fn load(&self) -> Result<Option<Vec<u8>>, String> {
        Ok(self.record.borrow().clone())
    }
    fn store(&mut self, record: &[u8]) -> Result<(), String> {
        if *self.fail.borrow() {
            return Err("disk full".into());
        }
        *self.stores.borrow_mut() += 1;
        *self.record.borrow_mut() = Some(record.to_vec());
        Ok(())
    }
}

fn key(i: u8) -> BlsSecretKey {
    BlsSecretKey::from_seed(&[i + 1; 32]).unwrap()
}

fn verifier() -> Verifier {
    let entries: Vec<_> = (0..4)
        .map(|i| (key(i).public_key(), key(i).proof_of_possession()))
        .collect();
    Verifier::new(EPOCH, ValidatorSet::new(&entries).unwrap(), GENESIS)
}

fn open(storage: &Memory, past_genesis: bool) -> Result<SafetySigner<Memory>, OpenError> {
    SafetySigner::open(
        key(0),
        0,
        EPOCH,
        storage.clone(),
        past_genesis,
        WhenMissing::FreshAtGenesis,
    )
}

fn vote_data(round: Round, block: u8) -> VoteData {
    VoteData {
        epoch: EPOCH,
        round,
        block_id: [block; 32],
    }
}

/// A QC of `round` for `block`, from validators 1..=3.
fn qc(v: &Verifier, round: Round, block: u8) -> VerifiedQc {
    let set = v.validators();
    let mut c = VoteCollector::new(set);
    for i in 1..4u8 {
        let vote = Vote::sign(vote_data(round, block), u32::from(i), &key(i));
        if let VoteOutcome::Certified(qc) = c.add(set, v.vote(vote).unwrap()) {
            return qc;
        }
    }
    unreachable!()
}

#[test]
fn a_vote_exists_only_after_its_record_is_stored_and_verifies() {
    let v = verifier();
    let storage = Memory::default();
    let mut s = open(&storage, false).unwrap();
    let stores = *storage.stores.borrow();
    let vote = s.vote(vote_data(1, 7), &v.genesis_qc(), None).unwrap();
    assert_eq!(
        *storage.stores.borrow(),
        stores + 1,
        "stored before signing"
    );
    assert!(v.vote(vote).is_ok(), "a real, verifiable vote");
    let timeout = s.timeout(1, &v.genesis_qc(), None).unwrap();
    assert!(v.timeout(timeout).is_ok());
}

#[test]
fn a_restarted_signer_never_signs_twice_in_a_round() {
    // Jolteon section 4, voting rule 1: one vote per round, across crashes.
    let v = verifier();
    let storage = Memory::default();
    let mut s = open(&storage, false).unwrap();
    let first = s.vote(vote_data(1, 7), &v.genesis_qc(), None).unwrap();
    drop(s);
    let mut s = open(&storage, true).unwrap();
    assert_eq!(
        s.vote(vote_data(1, 8), &v.genesis_qc(), None),
        Err(SignerError::Refused(SafetyError::OtherBlockVoted {
            round: 1
        }))
    );
    // The same vote again is a retransmission.
    assert_eq!(
        s.vote(vote_data(1, 7), &v.genesis_qc(), None).unwrap(),
        first
    );
    // A proposal for a round already voted in is refused; for a later one it is signed.
    assert!(matches!(
        s.sign_proposal(1, [1; 32]),
        Err(SignerError::ProposalRound { round: 1, .. })
    ));
    let qc1 = qc(&v, 1, 7);
    s.observe(&qc1).unwrap();
    let sig = s.sign_proposal(2, [2; 32]).unwrap();
    assert!(
        v.validators()
            .verify(0, &proposal_signing_bytes(EPOCH, 2, &[2; 32]), &sig)
            .is_ok()
    );
}

#[test]
fn a_failed_store_stops_the_signer_for_good() {
    let v = verifier();
    let storage = Memory::default();
    let mut s = open(&storage, false).unwrap();
    *storage.fail.borrow_mut() = true;
    assert_eq!(
        s.vote(vote_data(1, 7), &v.genesis_qc(), None),
        Err(SignerError::Storage("disk full".into()))
    );
    // Even once the disk recovers: nothing more is signed by this signer.
    *storage.fail.borrow_mut() = false;
    assert_eq!(
        s.vote(vote_data(2, 7), &v.genesis_qc(), None),
        Err(SignerError::Stopped)
    );
    assert_eq!(
        s.timeout(1, &v.genesis_qc(), None),
        Err(SignerError::Stopped)
    );
    assert_eq!(s.sign_proposal(5, [0; 32]), Err(SignerError::Stopped));
}

#[test]
fn a_missing_record_past_genesis_refuses_to_start_unless_reset() {
    let storage = Memory::default();
    assert_eq!(open(&storage, true).err(), Some(OpenError::Missing));
    let reset = SafetySigner::open(key(0), 0, EPOCH, storage.clone(), true, WhenMissing::Reset);
    assert!(reset.is_ok());
    // A damaged record is an error, never a fresh start.
    *storage.record.borrow_mut() = Some(vec![1, 2, 3]);
    assert!(matches!(open(&storage, false), Err(OpenError::Damaged(_))));
}

#[test]
fn the_record_carries_its_epoch() {
    let v = verifier();
    let storage = Memory::default();
    let mut s = open(&storage, false).unwrap();
    s.timeout(1, &v.genesis_qc(), None).unwrap();
    assert_eq!(s.data().last_voted_round, 1);
    drop(s);
    // A later epoch starts its rounds afresh; an earlier one is refused.
    let next = SafetySigner::open(
        key(0),
        0,
        EPOCH + 1,
        storage.clone(),
        true,
        WhenMissing::FreshAtGenesis,
    )
    .unwrap();
    assert_eq!(next.data(), &SafetyData::default());
    drop(next);
    assert_eq!(
        open(&storage, true).err(),
        Some(OpenError::FutureEpoch {
            epoch: EPOCH,
            stored: EPOCH + 1
        })
    );
    // A vote of another epoch is not signed.
    let mut fresh = open(&Memory::default(), false).unwrap();
    let mut other = vote_data(1, 7);
    other.epoch = EPOCH + 9;
    assert!(matches!(
        fresh.vote(other, &v.genesis_qc(), None),
        Err(SignerError::WrongEpoch { .. })
    ));
}

/// Review finding: a leader could sign two proposals for one round (called twice, or after a
/// crash between sending a proposal and storing its vote). The signer now records the
/// proposal before signing it.
#[test]
fn one_proposal_per_round_across_restarts() {
    let storage = Memory::default();
    let mut s = open(&storage, false).unwrap();
    let first = s.sign_proposal(1, [1; 32]).unwrap();
    assert_eq!(
        s.sign_proposal(1, [1; 32]).unwrap(),
        first,
        "a retransmission"
    );
    assert_eq!(
        s.sign_proposal(1, [2; 32]),
        Err(SignerError::OtherProposalSigned { round: 1 })
    );
    drop(s);
    let mut s = open(&storage, true).unwrap();
    assert_eq!(
        s.sign_proposal(1, [2; 32]),
        Err(SignerError::OtherProposalSigned { round: 1 })
    );
    assert!(s.sign_proposal(2, [2; 32]).is_ok());
}

/// Review finding: a certificate of another epoch must not move this epoch's rules (an old
/// epoch's high QC would refuse every later timeout).
#[test]
fn certificates_of_another_epoch_are_refused() {
    let v = verifier();
    let old_epoch = {
        let entries: Vec<_> = (0..4)
            .map(|i| (key(i).public_key(), key(i).proof_of_possession()))
            .collect();
        Verifier::new(EPOCH - 1, ValidatorSet::new(&entries).unwrap(), GENESIS)
    };
    let mut s = open(&Memory::default(), false).unwrap();
    let stale = old_epoch.genesis_qc();
    assert!(matches!(
        s.observe(&stale),
        Err(SignerError::WrongEpoch { .. })
    ));
    assert!(matches!(
        s.timeout(1, &stale, None),
        Err(SignerError::WrongEpoch { .. })
    ));
    assert!(matches!(
        s.vote(vote_data(1, 7), &stale, None),
        Err(SignerError::WrongEpoch { .. })
    ));
    assert!(s.vote(vote_data(1, 7), &v.genesis_qc(), None).is_ok());
}

#[test]
fn the_highest_certificates_survive_a_restart() {
    let v = verifier();
    let storage = Memory::default();
    let mut s = open(&storage, false).unwrap();
    let qc3 = qc(&v, 3, 7);
    s.observe(&qc3).unwrap();
    s.observe(&qc(&v, 2, 6)).unwrap();
    drop(s);
    let s = open(&storage, true).unwrap();
    let (high_qc, high_tc) = s.certificates();
    assert_eq!(
        high_qc,
        Some(qc3.get()),
        "the highest QC, not the last one seen"
    );
    assert_eq!(high_tc, None);
}

/// DiemBFT v4 section 5 (one timeout per round): a validator that timed out in a round, then
/// learned a higher QC and restarted, sends the same timeout again (it cannot sign a second one
/// for that round, and without the first it could never help form the round's TC).
#[test]
fn a_timeout_is_sent_again_after_a_restart_even_with_a_higher_qc() {
    let v = verifier();
    let storage = Memory::default();
    let mut s = open(&storage, false).unwrap();
    let qc1 = qc(&v, 1, 7);
    s.observe(&qc1).unwrap();
    let first = s.timeout(2, &qc1, None).unwrap();
    drop(s);
    let mut s = open(&storage, true).unwrap();
    let again = s.timeout(2, &qc1, None).unwrap();
    assert_eq!(again, first, "the stored timeout, byte for byte");
    let qc2 = qc(&v, 2, 8);
    s.observe(&qc2).unwrap();
    assert_eq!(
        s.timeout(2, &qc2, None).unwrap(),
        first,
        "still the one timeout of round 2"
    );
    // The next round is a new timeout.
    let third = s.timeout(3, &qc2, None).unwrap();
    assert_eq!(third.data.round, 3);
    assert_eq!(third.data.hqc_round, 2);
}
