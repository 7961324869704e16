//! The validator cryptography consensus pays per message: `cargo bench -p aether-consensus`.

use aether_consensus::bls::{BlsSecretKey, ValidatorSet};
use aether_consensus::certs::{QuorumCert, TimeoutCert, TimeoutData, Verifier, VoteData};
use aether_consensus::vrf::{self, VrfSecretKey};
use criterion::{Criterion, criterion_group, criterion_main};

fn bls(c: &mut Criterion) {
    let msg = b"vote: round 1000, block 0x0123456789abcdef";
    let keys: Vec<BlsSecretKey> = (0..100u8)
        .map(|i| BlsSecretKey::from_seed(&[i; 32]).unwrap())
        .collect();
    let set = set_of(&keys);
    let votes: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (i, k.sign(msg)))
        .collect();
    c.bench_function("bls/sign", |b| b.iter(|| keys[0].sign(msg)));
    c.bench_function("bls/verify_vote", |b| {
        b.iter(|| set.verify(0, msg, &votes[0].1).unwrap())
    });
    c.bench_function("bls/aggregate_67_of_100", |b| {
        b.iter(|| set.aggregate(&votes[..set.quorum()]).unwrap())
    });
    // What a validator pays per certificate at the sizes the simulator runs (4, 7) and at 100.
    for n in [4usize, 7, 100] {
        let keys = &keys[..n];
        let set = set_of(keys);
        let q = set.quorum();
        let verifier = Verifier::new(1, set.clone(), [0; 32]);
        let qc = quorum_cert(keys, &set, 999);
        c.bench_function(&format!("bls/verify_qc_{q}_of_{n}"), |b| {
            b.iter(|| verifier.qc(qc.clone()).unwrap())
        });
        let tc = timeout_cert(keys, &set);
        // Each signer over its own highest-QC round: one pairing per signer, plus the carried
        // QC's check.
        c.bench_function(&format!("bls/verify_tc_{q}_of_{n}"), |b| {
            b.iter(|| verifier.tc(tc.clone()).unwrap())
        });
    }
}

fn set_of(keys: &[BlsSecretKey]) -> ValidatorSet {
    let entries: Vec<_> = keys
        .iter()
        .map(|k| (k.public_key(), k.proof_of_possession()))
        .collect();
    ValidatorSet::new(&entries).unwrap()
}

/// A quorum's QC of `round` (the first validators of the set).
fn quorum_cert(keys: &[BlsSecretKey], set: &ValidatorSet, round: u64) -> QuorumCert {
    let vote = VoteData {
        epoch: 1,
        round,
        block_id: [7; 32],
    };
    QuorumCert {
        data: vote,
        signatures: set
            .aggregate(
                &keys
                    .iter()
                    .enumerate()
                    .take(set.quorum())
                    .map(|(i, k)| (i, k.sign(&vote.signing_bytes())))
                    .collect::<Vec<_>>(),
            )
            .unwrap(),
    }
}

/// A quorum's TC of round 1,000, each signer claiming its own highest-QC round (the highest of
/// them carried as a QC).
fn timeout_cert(keys: &[BlsSecretKey], set: &ValidatorSet) -> TimeoutCert {
    let parts: Vec<_> = keys
        .iter()
        .enumerate()
        .take(set.quorum())
        .map(|(i, k)| {
            let data = TimeoutData {
                epoch: 1,
                round: 1_000,
                hqc_round: 900 + i as u64,
            };
            (i, k.sign(&data.signing_bytes()), data.hqc_round)
        })
        .collect();
    let highest = parts.iter().map(|p| p.2).max().unwrap_or(0);
    TimeoutCert {
        epoch: 1,
        round: 1_000,
        hqc_rounds: parts.iter().map(|p| p.2).collect(),
        signatures: set
            .aggregate(&parts.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>())
            .unwrap(),
        high_qc: quorum_cert(keys, set, highest),
    }
}

fn ecvrf(c: &mut Criterion) {
    let key = VrfSecretKey::from_seed(&[9; 32]);
    let public = key.public_key();
    let proof = key.prove(b"epoch 7, round 1000").unwrap();
    c.bench_function("vrf/prove", |b| {
        b.iter(|| key.prove(b"epoch 7, round 1000").unwrap())
    });
    c.bench_function("vrf/verify", |b| {
        b.iter(|| vrf::verify(&public, b"epoch 7, round 1000", &proof).unwrap())
    });
}

criterion_group!(benches, bls, ecvrf);
criterion_main!(benches);
