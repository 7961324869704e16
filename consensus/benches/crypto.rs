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
    let entries: Vec<_> = keys
        .iter()
        .map(|k| (k.public_key(), k.proof_of_possession()))
        .collect();
    let set = ValidatorSet::new(&entries).unwrap();
    let votes: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (i, k.sign(msg)))
        .collect();
    let qc = set.aggregate(&votes[..set.quorum()]).unwrap();

    c.bench_function("bls/sign", |b| b.iter(|| keys[0].sign(msg)));
    c.bench_function("bls/verify_vote", |b| {
        b.iter(|| set.verify(0, msg, &votes[0].1).unwrap())
    });
    c.bench_function("bls/aggregate_67_of_100", |b| {
        b.iter(|| set.aggregate(&votes[..set.quorum()]).unwrap())
    });
    c.bench_function("bls/verify_quorum_67_of_100", |b| {
        b.iter(|| set.verify_quorum(msg, &qc).unwrap())
    });

    // A timeout certificate: 67 signers, each over its own highest-QC round (distinct
    // messages, so one pairing per signer).
    let verifier = Verifier::new(1, set.clone(), [0; 32]);
    let tc_parts: Vec<_> = keys
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
    // The TC carries the QC of the highest round its signers claim (a quorum's votes).
    let highest = tc_parts.iter().map(|p| p.2).max().unwrap_or(0);
    let vote = VoteData {
        epoch: 1,
        round: highest,
        block_id: [7; 32],
    };
    let high_qc = QuorumCert {
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
    };
    let tc = TimeoutCert {
        epoch: 1,
        round: 1_000,
        hqc_rounds: tc_parts.iter().map(|p| p.2).collect(),
        signatures: set
            .aggregate(&tc_parts.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>())
            .unwrap(),
        high_qc,
    };
    // (Includes the carried QC's check: one more pairing.)
    c.bench_function("bls/verify_timeout_cert_67_of_100", |b| {
        b.iter(|| verifier.tc(tc.clone()).unwrap())
    });
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
