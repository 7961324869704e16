use parity_scale_codec::{Decode, Encode};

use super::*;
use crate::bls::{BlsSecretKey, ValidatorSet};

const EPOCH: u64 = 3;
const GENESIS: [u8; 32] = [0x9e; 32];
const A: [u8; 32] = [0xa; 32];
const B: [u8; 32] = [0xb; 32];

struct Net {
    keys: Vec<BlsSecretKey>,
    verifier: Verifier,
}

fn net(n: u8) -> Net {
    let keys: Vec<BlsSecretKey> = (0..n)
        .map(|i| BlsSecretKey::from_seed(&[i + 1; 32]).unwrap())
        .collect();
    let entries: Vec<_> = keys
        .iter()
        .map(|k| (k.public_key(), k.proof_of_possession()))
        .collect();
    let verifier = Verifier::new(EPOCH, ValidatorSet::new(&entries).unwrap(), GENESIS);
    Net { keys, verifier }
}

impl Net {
    fn vote(&self, signer: u32, round: Round, block_id: [u8; 32]) -> Vote {
        let data = VoteData {
            epoch: EPOCH,
            round,
            block_id,
        };
        Vote::sign(data, signer, &self.keys[signer as usize])
    }

    /// A QC of `round` for `block` from the first quorum of validators.
    fn qc(&self, round: Round, block: [u8; 32]) -> VerifiedQc {
        let set = self.verifier.validators();
        let mut c = VoteCollector::new(set);
        for i in 0..set.quorum() as u32 {
            let v = self.verifier.vote(self.vote(i, round, block)).unwrap();
            if let VoteOutcome::Certified(qc) = c.add(set, v) {
                return qc;
            }
        }
        unreachable!("a quorum certifies")
    }

    fn timeout(&self, signer: u32, round: Round, high_qc: &VerifiedQc) -> Timeout {
        let data = TimeoutData {
            epoch: EPOCH,
            round,
            hqc_round: high_qc.round(),
        };
        Timeout {
            signature: self.keys[signer as usize].sign(&data.signing_bytes()),
            data,
            high_qc: high_qc.get().clone(),
            signer,
        }
    }
}

#[test]
fn a_vote_counts_only_with_its_own_signer_epoch_and_signature() {
    let n = net(4);
    assert!(n.verifier.vote(n.vote(1, 5, A)).is_ok());
    // Signed by validator 1, claimed as validator 2's.
    let mut forged = n.vote(1, 5, A);
    forged.signer = 2;
    assert_eq!(
        n.verifier.vote(forged),
        Err(CertError::Bls(BlsError::Invalid))
    );
    let mut ghost = n.vote(1, 5, A);
    ghost.signer = 9;
    assert!(matches!(
        n.verifier.vote(ghost),
        Err(CertError::Bls(BlsError::UnknownSigner { index: 9, .. }))
    ));
    // The round or block changed after signing.
    let mut moved = n.vote(1, 5, A);
    moved.data.round = 6;
    assert!(n.verifier.vote(moved).is_err());
    let mut other_epoch = n.vote(1, 5, A);
    other_epoch.data.epoch = EPOCH + 1;
    assert_eq!(
        n.verifier.vote(other_epoch),
        Err(CertError::WrongEpoch {
            expected: EPOCH,
            got: EPOCH + 1
        })
    );
}

#[test]
fn a_quorum_of_votes_for_one_block_certifies_it_once() {
    let n = net(4);
    let set = n.verifier.validators();
    let mut c = VoteCollector::new(set);
    let add = |c: &mut VoteCollector, i| c.add(set, n.verifier.vote(n.vote(i, 7, A)).unwrap());
    assert_eq!(add(&mut c, 0), VoteOutcome::Counted);
    assert_eq!(add(&mut c, 0), VoteOutcome::Duplicate);
    assert_eq!(add(&mut c, 1), VoteOutcome::Counted);
    let VoteOutcome::Certified(qc) = add(&mut c, 2) else {
        panic!("three of four certify")
    };
    assert_eq!((qc.round(), qc.block_id()), (7, A));
    assert_eq!(add(&mut c, 3), VoteOutcome::Counted, "no second QC");
    // The QC travels and verifies on arrival.
    let bytes = qc.get().encode();
    let back = QuorumCert::decode(&mut &bytes[..]).unwrap();
    assert_eq!(n.verifier.qc(back).unwrap(), qc);
    // Pointed at another block, it fails.
    let mut moved = qc.into_inner();
    moved.data.block_id = B;
    assert!(n.verifier.qc(moved).is_err());
}

#[test]
fn split_votes_make_no_certificate_and_double_votes_are_evidence() {
    let n = net(4);
    let set = n.verifier.validators();
    let mut c = VoteCollector::new(set);
    let mut add = |i, block| c.add(set, n.verifier.vote(n.vote(i, 2, block)).unwrap());
    assert_eq!(add(0, A), VoteOutcome::Counted);
    assert_eq!(add(1, A), VoteOutcome::Counted);
    assert_eq!(add(2, B), VoteOutcome::Counted);
    assert_eq!(add(3, B), VoteOutcome::Counted);
    // Validator 2 also votes for A: evidence, not a third vote for A.
    match add(2, A) {
        VoteOutcome::Equivocation { first, second } => {
            assert_eq!((first.data.block_id, second.data.block_id), (B, A));
        }
        other => panic!("expected evidence, got {other:?}"),
    }
}

#[test]
fn round_zero_certifies_only_the_genesis_block() {
    let n = net(4);
    let genesis = n.verifier.genesis_qc();
    assert_eq!(n.verifier.qc(genesis.get().clone()).unwrap(), genesis);
    let mut other = genesis.into_inner();
    other.data.block_id = A;
    assert_eq!(n.verifier.qc(other), Err(CertError::NotGenesis));
}

#[test]
fn a_quorum_of_timeouts_certifies_the_round_with_every_signers_qc_round() {
    let n = net(4);
    let set = n.verifier.validators();
    let genesis = n.verifier.genesis_qc();
    let qc1 = n.qc(1, A);
    let mut c = TimeoutCollector::new(set);
    // Round 2 times out; validator 1 holds the QC of round 1, the others only genesis.
    let t = |i, qc: &VerifiedQc| n.verifier.timeout(n.timeout(i, 2, qc)).unwrap();
    assert_eq!(c.add(set, t(0, &genesis)), TimeoutOutcome::Counted);
    assert_eq!(c.add(set, t(0, &genesis)), TimeoutOutcome::Duplicate);
    assert_eq!(c.add(set, t(1, &qc1)), TimeoutOutcome::Counted);
    let TimeoutOutcome::Certified { tc, high_qc } = c.add(set, t(3, &genesis)) else {
        panic!("three of four certify the timeout")
    };
    assert_eq!(tc.round(), 2);
    assert_eq!(
        tc.get().hqc_rounds,
        vec![0, 1, 0],
        "in signer order 0, 1, 3"
    );
    assert_eq!(tc.highest_qc_round(), 1);
    assert_eq!(*high_qc, qc1, "the next leader extends the highest QC");

    let bytes = tc.get().encode();
    let back = TimeoutCert::decode(&mut &bytes[..]).unwrap();
    assert_eq!(n.verifier.tc(back.clone()).unwrap(), *tc);
    // Lowering the reported QC round of validator 1 (to hide its QC) no longer matches the QC
    // the TC carries; carrying genesis instead breaks the signature.
    let mut hidden = back.clone();
    hidden.hqc_rounds[1] = 0;
    assert!(matches!(
        n.verifier.tc(hidden.clone()),
        Err(CertError::BadTimeoutCert { .. })
    ));
    hidden.high_qc = genesis.get().clone();
    assert_eq!(
        n.verifier.tc(hidden),
        Err(CertError::Bls(BlsError::Invalid))
    );
    let mut short = back.clone();
    short.hqc_rounds.pop();
    assert!(matches!(
        n.verifier.tc(short),
        Err(CertError::BadTimeoutCert { .. })
    ));
    let mut late = back;
    late.hqc_rounds[0] = 2;
    assert!(matches!(
        n.verifier.tc(late),
        Err(CertError::BadTimeoutCert { .. })
    ));
}

#[test]
fn a_timeout_must_carry_the_valid_qc_it_claims() {
    let n = net(4);
    let genesis = n.verifier.genesis_qc();
    let qc1 = n.qc(1, A);
    // Claims round 1, carries genesis.
    let mut claim = n.timeout(0, 3, &genesis);
    claim.data.hqc_round = 1;
    assert!(matches!(
        n.verifier.timeout(claim),
        Err(CertError::HighQcMismatch { .. })
    ));
    // A QC not below the timeout's round.
    assert!(matches!(
        n.verifier.timeout(n.timeout(0, 1, &qc1)),
        Err(CertError::HighQcMismatch { .. })
    ));
    // A carried QC with too few signers.
    let mut weak = qc1.clone().into_inner();
    weak.signatures.signers.0[0] = 0b0001;
    let mut t = n.timeout(0, 3, &qc1);
    t.high_qc = weak;
    assert!(matches!(
        n.verifier.timeout(t),
        Err(CertError::Bls(BlsError::NoQuorum { .. }))
    ));
    assert!(n.verifier.timeout(n.timeout(0, 3, &qc1)).is_ok());
}

#[test]
fn collectors_forget_old_rounds() {
    let n = net(4);
    let set = n.verifier.validators();
    let mut c = VoteCollector::new(set);
    c.add(set, n.verifier.vote(n.vote(0, 1, A)).unwrap());
    c.prune_below(2);
    // After pruning, the round is gone and stays refused (below the window).
    assert_eq!(
        c.add(set, n.verifier.vote(n.vote(0, 1, A)).unwrap()),
        VoteOutcome::OutOfWindow
    );
    let mut t = TimeoutCollector::new(set);
    let g = n.verifier.genesis_qc();
    t.add(set, n.verifier.timeout(n.timeout(0, 1, &g)).unwrap());
    t.prune_below(2);
    assert_eq!(
        t.add(set, n.verifier.timeout(n.timeout(0, 1, &g)).unwrap()),
        TimeoutOutcome::OutOfWindow
    );
}

#[test]
fn safety_rules_take_verified_certificates() {
    use crate::safety::SafetyRules;
    let n = net(4);
    let genesis = n.verifier.genesis_qc();
    let qc1 = n.qc(1, A);
    let mut rules = SafetyRules::default();
    let block = |round, block_id| VoteData {
        epoch: EPOCH,
        round,
        block_id,
    };
    rules.sign_vote(&block(1, A), &genesis, None).unwrap();
    // Block A of round 1 is certified; this validator sees the QC.
    assert!(rules.observe(&qc1).is_some());
    // Round 2's leader is silent: it times out holding QC 1, and so does a quorum.
    rules.sign_timeout(2, &qc1, None).unwrap();
    let set = n.verifier.validators();
    let mut c = TimeoutCollector::new(set);
    let mut tc = None;
    for i in 0..3 {
        if let TimeoutOutcome::Certified { tc: t, .. } =
            c.add(set, n.verifier.timeout(n.timeout(i, 2, &qc1)).unwrap())
        {
            tc = Some(t);
        }
    }
    let tc = tc.unwrap();
    // Round 3's block extends QC 1 after TC 2: safe. On genesis instead: it would skip A.
    assert!(rules.sign_vote(&block(3, B), &genesis, Some(&tc)).is_err());
    rules.sign_vote(&block(3, A), &qc1, Some(&tc)).unwrap();
    // Round 3 may still time out, but not carrying a QC below the highest seen.
    assert!(matches!(
        rules.sign_timeout(3, &genesis, Some(&tc)),
        Err(crate::safety::SafetyError::StaleTimeoutQc { .. })
    ));
    rules.sign_timeout(3, &qc1, Some(&tc)).unwrap();
}

/// Regression (review of the parts): a Byzantine validator's timeout may claim a highest QC of
/// a round no QC has. A TC aggregating it used to verify, and since a proposal after a TC must
/// carry a QC at least as high as any its signers claim (Jolteon, section 4: the locking rule
/// after a timeout), nobody could propose or vote again: liveness lost. A TC must now carry
/// the QC of its highest claimed round.
#[test]
fn a_tc_whose_signers_claim_a_qc_that_does_not_exist_is_refused() {
    let n = net(4);
    let set = n.verifier.validators();
    let qc1 = n.qc(1, A);
    // Validators 0 and 1 time out in round 3 holding QC(1); validator 3 signs a claim of a
    // round-2 QC that no quorum ever formed.
    let honest = |i: u32| n.timeout(i, 3, &qc1);
    let lie = TimeoutData {
        epoch: EPOCH,
        round: 3,
        hqc_round: 2,
    };
    let lie_sig = n.keys[3].sign(&lie.signing_bytes());
    let parts = vec![
        (0, honest(0).signature),
        (1, honest(1).signature),
        (3, lie_sig),
    ];
    let inflated = TimeoutCert {
        epoch: EPOCH,
        round: 3,
        hqc_rounds: vec![1, 1, 2],
        signatures: set.aggregate(&parts).unwrap(),
        high_qc: qc1.get().clone(),
    };
    match n.verifier.tc(inflated.clone()) {
        Err(CertError::BadTimeoutCert { reason, .. }) => assert!(
            reason.contains("claim a highest QC of round 2, it carries one of round 1"),
            "{reason}"
        ),
        other => panic!("the inflated TC was accepted: {other:?}"),
    }
    // Nor can it carry a made-up QC of round 2: its signatures do not check out.
    let mut forged = qc1.get().clone();
    forged.data.round = 2;
    let with_forged = TimeoutCert {
        high_qc: forged,
        ..inflated
    };
    assert!(matches!(
        n.verifier.tc(with_forged),
        Err(CertError::Bls(BlsError::Invalid))
    ));
    // The honest TC of the same round (everyone claiming QC(1)) verifies and carries QC(1).
    let mut c = TimeoutCollector::new(set);
    let mut formed = None;
    for i in [0, 1, 2] {
        if let TimeoutOutcome::Certified { tc, .. } =
            c.add(set, n.verifier.timeout(honest(i)).unwrap())
        {
            formed = Some(tc);
        }
    }
    let tc = formed.expect("three of four certify");
    assert_eq!(n.verifier.tc(tc.get().clone()).unwrap(), *tc);
    assert_eq!(tc.high_qc(), qc1);
}

/// Regression (review of the parts): the collectors kept every round they were sent, so a
/// validator could be made to hold votes and timeouts for millions of future rounds. They now
/// keep a window of `ROUND_WINDOW` rounds from the lowest one still of use.
#[test]
fn collectors_keep_only_a_window_of_rounds() {
    let n = net(4);
    let set = n.verifier.validators();
    let mut votes = VoteCollector::new(set);
    let g = n.verifier.genesis_qc();
    let far = ROUND_WINDOW + 5;
    assert_eq!(
        votes.add(set, n.verifier.vote(n.vote(0, far, A)).unwrap()),
        VoteOutcome::OutOfWindow
    );
    assert_eq!(
        votes.add(
            set,
            n.verifier.vote(n.vote(0, ROUND_WINDOW - 1, A)).unwrap()
        ),
        VoteOutcome::Counted
    );
    votes.prune_below(10);
    assert_eq!(
        votes.add(set, n.verifier.vote(n.vote(1, 9, A)).unwrap()),
        VoteOutcome::OutOfWindow,
        "below the window"
    );
    assert_eq!(
        votes.add(set, n.verifier.vote(n.vote(1, far, A)).unwrap()),
        VoteOutcome::Counted,
        "the window moved up with the floor"
    );
    let mut timeouts = TimeoutCollector::new(set);
    assert_eq!(
        timeouts.add(set, n.verifier.timeout(n.timeout(0, far, &g)).unwrap()),
        TimeoutOutcome::OutOfWindow
    );
    timeouts.prune_below(10);
    assert_eq!(
        timeouts.add(set, n.verifier.timeout(n.timeout(0, far, &g)).unwrap()),
        TimeoutOutcome::Counted
    );
}

#[test]
fn a_cached_check_answers_what_checking_again_would() {
    let n = net(4);
    let cache = Arc::new(VerifyCache::new(100));
    let cached = n.verifier.clone().with_cache(cache.clone());
    let qc = n.qc(5, A);
    assert!(cached.qc(qc.get().clone()).is_ok());
    assert!(cached.qc(qc.get().clone()).is_ok(), "a hit passes again");
    let after_pass = cache.len();
    // A forged certificate is refused every time, and never remembered.
    let mut forged = qc.get().clone();
    forged.data.block_id = B;
    for _ in 0..2 {
        assert!(matches!(cached.qc(forged.clone()), Err(CertError::Bls(_))));
    }
    assert_eq!(cache.len(), after_pass, "failures are not cached");
    // Another validator set sharing the cache does not take this set's hits.
    let other = net(7);
    let other = other.verifier.clone().with_cache(cache.clone());
    assert!(
        other.qc(qc.get().clone()).is_err(),
        "another set's quorum is not this one's"
    );
    // A timeout and a TC are cached the same way.
    let t = n.timeout(1, 6, &qc);
    assert!(cached.timeout(t.clone()).is_ok());
    let mut bad = t;
    bad.signature = n.keys[2].sign(b"something else");
    assert!(cached.timeout(bad).is_err());
}

/// Review finding: a TC's signer bitmap was expanded into indices before its size was
/// checked, so a peer could make a node allocate gigabytes with one message of ones.
#[test]
fn a_tc_with_an_oversized_bitmap_is_refused_before_it_is_read() {
    let n = net(4);
    let qc = n.qc(5, A);
    let tc = TimeoutCert {
        epoch: EPOCH,
        round: 6,
        hqc_rounds: vec![5; 3],
        signatures: AggregateSignature {
            signers: crate::bls::SignerBitmap(vec![0xff; 1 << 20]),
            signature: n.keys[0].sign(b"x"),
        },
        high_qc: qc.get().clone(),
    };
    assert!(matches!(
        n.verifier.tc(tc),
        Err(CertError::Bls(BlsError::BitmapSize { .. }))
    ));
}
