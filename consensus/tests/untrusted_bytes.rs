//! Keys, proofs, signatures, signer bitmaps and proposals arrive from the network: any bytes get an
//! error, never a panic, and never an acceptance.

use aether_consensus::bls::{
    AggregateSignature, BlsPublicKey, BlsSecretKey, BlsSignature, SignerBitmap, ValidatorSet,
};
use aether_consensus::certs::{QuorumCert, Timeout, TimeoutCert, Verifier, Vote};
use aether_consensus::leader::LeaderSchedule;
use aether_consensus::proposal::{Proposal, verify_proposal};
use aether_consensus::vrf::{self, VrfProof, VrfSecretKey};
use parity_scale_codec::Decode;
use proptest::prelude::*;

fn set() -> ValidatorSet {
    let entries: Vec<_> = (1..=4u8)
        .map(|i| {
            let k = BlsSecretKey::from_seed(&[i; 32]).unwrap();
            (k.public_key(), k.proof_of_possession())
        })
        .collect();
    ValidatorSet::new(&entries).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_vrf_keys_and_proofs_are_refused(
        key in proptest::array::uniform32(any::<u8>()),
        proof in proptest::collection::vec(any::<u8>(), 80),
        alpha in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let proof = VrfProof(proof.try_into().unwrap());
        prop_assert!(vrf::verify(&key, &alpha, &proof).is_err());
        // A real key with a random proof is refused too.
        let real = VrfSecretKey::from_seed(&key).public_key();
        prop_assert!(vrf::verify(&real, &alpha, &proof).is_err());
    }

    #[test]
    fn random_bls_signatures_and_bitmaps_are_refused(
        sig in proptest::collection::vec(any::<u8>(), 96),
        bitmap in proptest::collection::vec(any::<u8>(), 0..3),
        key in proptest::collection::vec(any::<u8>(), 48),
    ) {
        let set = set();
        let sig = BlsSignature(sig.try_into().unwrap());
        let agg = AggregateSignature { signers: SignerBitmap(bitmap), signature: sig };
        prop_assert!(set.verify_quorum(b"m", &agg).is_err());
        prop_assert!(set.verify(0, b"m", &sig).is_err());
        let key = BlsPublicKey(key.try_into().unwrap());
        prop_assert!(aether_consensus::bls::verify(&key, b"m", &sig).is_err());
    }

    #[test]
    fn random_bytes_decode_to_an_aggregate_or_an_error(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        if let Ok(agg) = AggregateSignature::decode(&mut &bytes[..]) {
            prop_assert!(set().verify_quorum(b"m", &agg).is_err());
        }
    }

    #[test]
    fn random_bytes_never_verify_as_votes_timeouts_or_certificates(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let verifier = Verifier::new(0, set(), [7; 32]);
        if let Ok(v) = Vote::decode(&mut &bytes[..]) {
            prop_assert!(verifier.vote(v).is_err());
        }
        if let Ok(qc) = QuorumCert::decode(&mut &bytes[..]) {
            prop_assert!(verifier.qc(qc).is_err());
        }
        if let Ok(t) = Timeout::decode(&mut &bytes[..]) {
            prop_assert!(verifier.timeout(t).is_err());
        }
        if let Ok(tc) = TimeoutCert::decode(&mut &bytes[..]) {
            prop_assert!(verifier.tc(tc).is_err());
        }
        if let Ok(p) = Proposal::decode(&mut &bytes[..]) {
            let schedule = LeaderSchedule::new([7; 32], 4);
            prop_assert!(verify_proposal(&verifier, &schedule, &[[1; 32]; 4], p).is_err());
        }
    }
}
