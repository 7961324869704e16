//! Proposal checks (Jolteon, section 4: the proposing rule; leader election by the epoch's
//! schedule, the VRF proof over the round's input).

use aether_engine::types::{Block, BlockHeader};

use super::*;
use crate::bls::{BlsSecretKey, ValidatorSet};
use crate::certs::{
    Timeout, TimeoutCollector, TimeoutData, TimeoutOutcome, Vote, VoteCollector, VoteData,
    VoteOutcome,
};
use crate::signer::{InMemory, SafetySigner, WhenMissing};
use crate::vrf::VrfSecretKey;

const EPOCH: u64 = 4;
const GENESIS: [u8; 32] = [0x9e; 32];
const SEED: [u8; 32] = [0x5e; 32];

struct Net {
    bls: Vec<BlsSecretKey>,
    vrf: Vec<VrfSecretKey>,
    vrf_public: Vec<[u8; 32]>,
    verifier: Verifier,
    schedule: LeaderSchedule,
}

fn net() -> Net {
    let bls: Vec<BlsSecretKey> = (0..4u8)
        .map(|i| BlsSecretKey::from_seed(&[i + 1; 32]).unwrap())
        .collect();
    let vrf: Vec<VrfSecretKey> = (0..4u8)
        .map(|i| VrfSecretKey::from_seed(&[i + 50; 32]))
        .collect();
    let entries: Vec<_> = bls
        .iter()
        .map(|k| (k.public_key(), k.proof_of_possession()))
        .collect();
    Net {
        vrf_public: vrf.iter().map(VrfSecretKey::public_key).collect(),
        bls,
        vrf,
        verifier: Verifier::new(EPOCH, ValidatorSet::new(&entries).unwrap(), GENESIS),
        schedule: LeaderSchedule::new(SEED, 4),
    }
}

impl Net {
    /// The leader's proposal of `round` carrying `qc` and `tc`, signed through its signer.
    fn propose(&self, round: Round, qc: &VerifiedQc, tc: Option<&VerifiedTc>) -> Proposal {
        let author = self.schedule.leader(round);
        let mut p = Proposal {
            epoch: EPOCH,
            round,
            qc: qc.get().clone(),
            tc: tc.map(|t| t.get().clone()),
            author: author as u32,
            vrf_proof: self.vrf[author]
                .prove(&vrf_input(EPOCH, round, &SEED))
                .unwrap(),
            block: Block {
                header: BlockHeader {
                    height: round,
                    ..BlockHeader::default()
                },
                transactions: Vec::new(),
            },
            signature: BlsSignature([0; 96]),
        };
        p.signature = self.sign(&p);
        p
    }

    fn sign(&self, p: &Proposal) -> BlsSignature {
        let author = p.author as usize;
        let mut signer = SafetySigner::open(
            BlsSecretKey::from_seed(&[author as u8 + 1; 32]).unwrap(),
            p.author,
            EPOCH,
            InMemory::default(),
            false,
            WhenMissing::FreshAtGenesis,
        )
        .unwrap();
        signer.sign_proposal(p.round, p.id()).unwrap()
    }

    fn check(&self, p: Proposal) -> Result<VerifiedProposal, ProposalError> {
        let leader = self.schedule.leader(p.round);
        let v = verify_proposal(&self.verifier, &self.schedule, &self.vrf_public, p)?;
        v.check_leader(leader).map(|()| v)
    }

    fn qc(&self, round: Round, block: [u8; 32]) -> VerifiedQc {
        let set = self.verifier.validators();
        let mut c = VoteCollector::new(set);
        for i in 0..4u32 {
            let data = VoteData {
                epoch: EPOCH,
                round,
                block_id: block,
            };
            let vote = Vote::sign(data, i, &self.bls[i as usize]);
            if let VoteOutcome::Certified(qc) = c.add(set, self.verifier.vote(vote).unwrap()) {
                return qc;
            }
        }
        unreachable!()
    }

    fn tc(&self, round: Round, high_qc: &VerifiedQc) -> VerifiedTc {
        let set = self.verifier.validators();
        let mut c = TimeoutCollector::new(set);
        for i in 0..4u32 {
            let data = TimeoutData {
                epoch: EPOCH,
                round,
                hqc_round: high_qc.round(),
            };
            let t = Timeout::sign(data, high_qc, i, &self.bls[i as usize]);
            if let TimeoutOutcome::Certified { tc, .. } =
                c.add(set, self.verifier.timeout(t).unwrap())
            {
                return *tc;
            }
        }
        unreachable!()
    }
}

#[test]
fn the_leaders_proposal_verifies_and_round_trips() {
    let n = net();
    let p = n.propose(1, &n.verifier.genesis_qc(), None);
    let bytes = p.encode();
    let back = Proposal::decode(&mut &bytes[..]).unwrap();
    assert_eq!(back, p);
    let v = n.check(back).unwrap();
    assert_eq!(v.id(), p.id());
    let info = v.block_info();
    assert_eq!((info.id, info.parent, info.round), (p.id(), GENESIS, 1));
    assert_eq!(info.header, p.block.header.hash().0);
    assert_eq!(info.header_parent, p.block.header.parent_hash.0);
    assert_eq!(*v.qc(), n.verifier.genesis_qc());
    // The VRF output is the author's, for this round.
    let author = p.author as usize;
    assert_eq!(
        *v.vrf_output(),
        vrf::verify(
            &n.vrf_public[author],
            &vrf_input(EPOCH, 1, &SEED),
            &p.vrf_proof
        )
        .unwrap()
    );
}

#[test]
fn each_tampering_is_refused_with_its_reason() {
    let n = net();
    let g = n.verifier.genesis_qc();
    let p = n.propose(1, &g, None);
    // Another validator's proposal, signed and proven by it: not the leader.
    let mut q = p.clone();
    q.author = (q.author + 1) % 4;
    q.vrf_proof = n.vrf[q.author as usize]
        .prove(&vrf_input(EPOCH, 1, &SEED))
        .unwrap();
    q.signature = n.sign(&q);
    assert!(matches!(n.check(q), Err(ProposalError::NotLeader { .. })));
    // Another author, the signature left as it was: the signature does not verify.
    let mut q = p.clone();
    q.author = (q.author + 1) % 4;
    assert_eq!(n.check(q), Err(ProposalError::BadSignature));
    // An author outside the set.
    let mut q = p.clone();
    q.author = 4;
    assert_eq!(n.check(q), Err(ProposalError::UnknownAuthor(4)));
    // Any change to what the id covers breaks the signature.
    let mut q = p.clone();
    q.block.header.state_root.0[0] ^= 1;
    assert_eq!(n.check(q), Err(ProposalError::BadSignature));
    // A VRF proof of another round (re-signed so only the proof is wrong).
    let mut q = p.clone();
    q.vrf_proof = n.vrf[p.author as usize]
        .prove(&vrf_input(EPOCH, 2, &SEED))
        .unwrap();
    q.signature = n.sign(&q);
    assert_eq!(n.check(q), Err(ProposalError::BadVrfProof(1)));
    // Another epoch.
    let mut q = p.clone();
    q.epoch += 1;
    assert!(matches!(n.check(q), Err(ProposalError::WrongEpoch { .. })));
    // A round that follows neither its QC nor a TC: round 3 on the genesis QC.
    let q = n.propose(3, &g, None);
    assert_eq!(
        n.check(q),
        Err(ProposalError::RoundDoesNotFollow {
            round: 3,
            qc_round: 0
        })
    );
    // A forged QC.
    let mut forged = n.qc(1, [1; 32]).into_inner();
    forged.data.block_id = [2; 32];
    let mut q = n.propose(2, &n.qc(1, [1; 32]), None);
    q.qc = forged;
    q.signature = n.sign(&q);
    assert!(matches!(n.check(q), Err(ProposalError::Certificate(_))));
}

#[test]
fn after_a_timed_out_round_the_proposal_carries_the_tc_and_a_high_enough_qc() {
    // Jolteon section 4: round r − 1 timed out; the leader of r extends the highest QC the
    // TC's signers reported, and carries the TC.
    let n = net();
    let qc1 = n.qc(1, [1; 32]);
    let tc2 = n.tc(2, &qc1);
    let p = n.propose(3, &qc1, Some(&tc2));
    assert!(n.check(p).is_ok());
    // Without the TC, round 3 does not follow QC(1).
    let p = n.propose(3, &qc1, None);
    assert!(matches!(
        n.check(p),
        Err(ProposalError::RoundDoesNotFollow { .. })
    ));
    // With the TC but an older QC than its signers reported: refused.
    let p = n.propose(3, &n.verifier.genesis_qc(), Some(&tc2));
    assert!(matches!(
        n.check(p),
        Err(ProposalError::RoundDoesNotFollow { .. })
    ));
}
