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

/// Blocks of rounds 1 to 4, each the parent of the next, with engine headers of heights 1 to 4,
/// authored by validators 3, 1, 2 and 0 (every QC signed by 0, 1 and 2); and the commit proof
/// of block `i` (its child and the child's QC).
fn chain_of_four(
    keys: &[BlsSecretKey],
    v: &Verifier,
) -> (
    Vec<aether_engine::types::BlockHeader>,
    Vec<ProposalStub>,
    impl Fn(usize) -> Vec<u8>,
) {
    let headers: Vec<_> = (1..=4)
        .map(|height| aether_engine::types::BlockHeader {
            height,
            ..Default::default()
        })
        .collect();
    let mut stubs: Vec<ProposalStub> = Vec::new();
    let mut parent_qc = qc(keys, v, 0, [0x11; 32]);
    for (i, (header, author)) in headers.iter().zip([3, 1, 2, 0]).enumerate() {
        let mut s = stub(i as Round + 1, &parent_qc, 0);
        s.author = author;
        s.header = header.hash().0;
        parent_qc = qc(keys, v, s.round, s.id());
        stubs.push(s);
    }
    let qcs: Vec<_> = stubs
        .iter()
        .map(|s| qc(keys, v, s.round, s.id()).into_inner())
        .collect();
    let chain = stubs.clone();
    let proof_of = move |i: usize| {
        CommitProof {
            chain: vec![chain[i].clone(), chain[i + 1].clone()],
            qc: qcs[i + 1].clone(),
        }
        .encode()
    };
    (headers, stubs, proof_of)
}

/// A node that caught up from its peers' stores holds none of the recent blocks' proposals:
/// the root takes those blocks from the commit proofs stored beside them, each checked and the
/// parent of the one after, so that the leader rule judges who is active on the same blocks as
/// the validators that saw them (here validator 3, seen only as the author of the oldest).
#[test]
fn a_root_takes_the_blocks_below_it_from_their_commit_proofs_for_the_leader_rule() {
    let keys = keys();
    let v = verifier(&keys);
    let (headers, stubs, proof_of) = chain_of_four(&keys, &v);
    let root = super::Root::from_commit_proof(headers[2].clone(), &proof_of(2), &v).unwrap();
    assert_eq!(root.ancestors, vec![stubs[2].clone()]);

    let full = root.clone().with_ancestors([proof_of(1), proof_of(0)], &v);
    assert_eq!(full.ancestors, stubs[..3].to_vec());
    // The walk down ends at a proof of a block that is not the parent, or that does not
    // verify (a flipped bit in its QC's aggregate signature).
    let skipped = root.clone().with_ancestors([proof_of(0), proof_of(1)], &v);
    assert_eq!(skipped.ancestors, vec![stubs[2].clone()]);
    let mut bad = proof_of(1);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let broken = root.clone().with_ancestors([bad, proof_of(0)], &v);
    assert_eq!(broken.ancestors, vec![stubs[2].clone()]);
    let genesis = super::Root::genesis(headers[0].clone()).with_ancestors([proof_of(0)], &v);
    assert!(genesis.ancestors.is_empty());

    let config = super::HotStuffConfig {
        epoch: EPOCH,
        validators: v.validators().clone(),
        vrf_keys: vec![[0; 32]; 4],
        peers: (0..4u8)
            .map(|i| aether_engine::ports::PeerId(vec![i]))
            .collect(),
        accounts: vec![Default::default(); 4],
        seed: [0x5e; 32],
        genesis: [0x9e; 32],
        pacemaker: Default::default(),
        min_block_interval_ms: 0,
        max_message_bytes: 1 << 20,
        cache: None,
        recent_committed: super::RECENT_COMMITTED,
        recent_committed_bytes: super::RECENT_COMMITTED_BYTES,
    };
    let start = |root| {
        super::HotStuff::<crate::signer::InMemory>::new(
            config.clone(),
            None,
            root,
            Box::new(super::MemoryBlocks::default()),
            0,
        )
    };
    let root_id = stubs[2].id();
    assert_eq!(start(full).activity(root_id), vec![true; 4]);
    assert_eq!(
        start(root).activity(root_id),
        vec![true, true, true, false],
        "the root alone shows its author and its QC's signers"
    );
}
