//! Wire messages and commit proofs (the protocol itself runs in the simulator, tests/src/sim,
//! over the real chain: Jolteon's rules are checked there).

use parity_scale_codec::Encode;

use super::messages::*;
use crate::bls::{BlsSecretKey, ValidatorSet};
use crate::certs::{Round, VerifiedQc, Verifier, Vote, VoteCollector, VoteData, VoteOutcome};
use crate::proposal::ProposalStub;
use crate::vrf::VrfProof;

const EPOCH: u64 = 1;

fn keys() -> Vec<BlsSecretKey> {
    (0..4u8)
        .map(|i| BlsSecretKey::from_seed(&[i + 1; 32]).unwrap())
        .collect()
}

fn verifier(keys: &[BlsSecretKey]) -> Verifier {
    let entries: Vec<_> = keys
        .iter()
        .map(|k| (k.public_key(), k.proof_of_possession()))
        .collect();
    Verifier::new(EPOCH, ValidatorSet::new(&entries).unwrap(), [0x9e; 32])
}

fn qc(keys: &[BlsSecretKey], v: &Verifier, round: Round, block_id: [u8; 32]) -> VerifiedQc {
    let set = v.validators();
    let mut c = VoteCollector::new(set);
    let data = VoteData {
        epoch: EPOCH,
        round,
        block_id,
    };
    for i in 0..3u32 {
        let vote = v.vote(Vote::sign(data, i, &keys[i as usize])).unwrap();
        if let VoteOutcome::Certified(qc) = c.add(set, vote) {
            return qc;
        }
    }
    unreachable!("three of four certify")
}

fn stub(round: Round, qc: &VerifiedQc, header: u8) -> ProposalStub {
    ProposalStub {
        epoch: EPOCH,
        round,
        qc: qc.get().clone(),
        tc: None,
        author: 0,
        vrf_proof: VrfProof([7; 80]),
        header: [header; 32],
    }
}

/// A block B of round 4, its child C of round 5 carrying QC(B), and QC(C).
fn proof(keys: &[BlsSecretKey], v: &Verifier) -> CommitProof {
    let parent = qc(keys, v, 3, [0x33; 32]);
    let block = stub(4, &parent, 0x44);
    let child = stub(5, &qc(keys, v, 4, block.id()), 0x55);
    let qc = qc(keys, v, 5, child.id()).into_inner();
    CommitProof {
        chain: vec![block, child],
        qc,
    }
}

#[test]
fn a_commit_proof_names_the_block_its_two_chain_commits() {
    let keys = keys();
    let v = verifier(&keys);
    let p = proof(&keys, &v);
    let committed = CommitProof::verify(&p.encode(), &v).unwrap();
    assert_eq!(committed.header, [0x44; 32]);
    assert_eq!(committed.round, 4);
    assert_eq!(committed.id, p.chain[0].id());
    assert_eq!(committed.parent, [0x33; 32]);
}

/// Jolteon, section 4: a block commits when its child *of the very next round* is certified;
/// a proof that breaks the chain anywhere proves nothing.
#[test]
fn a_commit_proof_that_does_not_chain_is_refused() {
    let keys = keys();
    let v = verifier(&keys);
    let good = proof(&keys, &v);

    // Another block under the same child.
    let mut p = good.clone();
    p.chain[0].header = [0x45; 32];
    assert!(matches!(
        CommitProof::verify(&p.encode(), &v),
        Err(ProofError::Broken(_))
    ));

    // A child that is not the one certified.
    let mut p = good.clone();
    p.chain[1].header = [0x56; 32];
    assert!(matches!(
        CommitProof::verify(&p.encode(), &v),
        Err(ProofError::Broken(_))
    ));

    // Rounds that are not consecutive (the child two rounds later: a 2-chain that does not
    // commit).
    let parent = qc(&keys, &v, 3, [0x33; 32]);
    let block = stub(4, &parent, 0x44);
    let child = stub(6, &qc(&keys, &v, 4, block.id()), 0x55);
    let qc6 = qc(&keys, &v, 6, child.id()).into_inner();
    let p = CommitProof {
        chain: vec![block, child],
        qc: qc6,
    };
    assert!(matches!(
        CommitProof::verify(&p.encode(), &v),
        Err(ProofError::Broken(_))
    ));

    // A chain of one proves nothing.
    let mut p = good.clone();
    p.chain.remove(0);
    assert!(matches!(
        CommitProof::verify(&p.encode(), &v),
        Err(ProofError::Broken(_))
    ));

    // A QC whose signature does not verify.
    let mut p = good.clone();
    p.qc.signatures.signature = keys[0].sign(b"not a vote");
    assert!(matches!(
        CommitProof::verify(&p.encode(), &v),
        Err(ProofError::Certificate(_))
    ));

    // Trailing bytes and garbage.
    let mut bytes = good.encode();
    bytes.push(0);
    assert!(matches!(
        CommitProof::verify(&bytes, &v),
        Err(ProofError::Undecodable(_))
    ));
    assert!(CommitProof::verify(&[0xff; 40], &v).is_err());
}

/// Each block of a commit has its own proof: an ancestor's chain runs through its descendants
/// to the certified child, so a node that crashed between two blocks of one commit restarts
/// from its head's own proof.
#[test]
fn an_ancestor_is_proved_committed_through_its_descendants() {
    let keys = keys();
    let v = verifier(&keys);
    let grand = stub(2, &qc(&keys, &v, 1, [0x11; 32]), 0x22);
    // Round 3 timed out: the block of round 4 extends the block of round 2.
    let block = stub(4, &qc(&keys, &v, 2, grand.id()), 0x44);
    let child = stub(5, &qc(&keys, &v, 4, block.id()), 0x55);
    let qc5 = qc(&keys, &v, 5, child.id()).into_inner();
    let proof = CommitProof {
        chain: vec![grand.clone(), block.clone(), child.clone()],
        qc: qc5.clone(),
    };
    let committed = CommitProof::verify(&proof.encode(), &v).unwrap();
    assert_eq!((committed.header, committed.round), ([0x22; 32], 2));
    // Without the middle proposal the chain is broken.
    let broken = CommitProof {
        chain: vec![grand, child],
        qc: qc5,
    };
    assert!(matches!(
        CommitProof::verify(&broken.encode(), &v),
        Err(ProofError::Broken(_))
    ));
}

#[test]
fn messages_decode_within_their_bounds_only() {
    let keys = keys();
    let v = verifier(&keys);
    let message = Message {
        sync: SyncInfo {
            high_qc: qc(&keys, &v, 2, [1; 32]).into_inner(),
            high_commit_qc: None,
            high_tc: None,
        },
        body: Body::FetchBlock([9; 32]),
    };
    let bytes = message.encode();
    assert_eq!(
        Message::decode_bounded(&bytes, bytes.len()).unwrap(),
        message
    );
    assert_eq!(message.sync.round(), 3, "the holder of QC(2) is in round 3");
    assert!(matches!(
        Message::decode_bounded(&bytes, bytes.len() - 1),
        Err(MessageError::TooLarge { .. })
    ));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(
        Message::decode_bounded(&trailing, usize::MAX),
        Err(MessageError::Undecodable(_))
    ));
    // Every prefix and byte flip of a message is refused or decodes to some message, never
    // panics; a huge length prefix allocates nothing up front.
    for cut in 0..bytes.len() {
        let _ = Message::decode_bounded(&bytes[..cut], usize::MAX);
    }
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0xff;
        let _ = Message::decode_bounded(&b, usize::MAX);
    }
}
