use super::*;

fn key(i: u8) -> BlsSecretKey {
    BlsSecretKey::from_seed(&[i; 32]).unwrap()
}

fn set_of(n: u8) -> (Vec<BlsSecretKey>, ValidatorSet) {
    let keys: Vec<BlsSecretKey> = (0..n).map(key).collect();
    let entries: Vec<_> = keys
        .iter()
        .map(|k| (k.public_key(), k.proof_of_possession()))
        .collect();
    let set = ValidatorSet::new(&entries).unwrap();
    (keys, set)
}

#[test]
fn a_signature_verifies_only_for_its_key_and_message() {
    let (a, b) = (key(1), key(2));
    let sig = a.sign(b"block 7");
    assert_eq!(verify(&a.public_key(), b"block 7", &sig), Ok(()));
    assert_eq!(
        verify(&a.public_key(), b"block 8", &sig),
        Err(BlsError::Invalid)
    );
    assert_eq!(
        verify(&b.public_key(), b"block 7", &sig),
        Err(BlsError::Invalid)
    );
}

#[test]
fn malformed_keys_and_signatures_are_refused_not_accepted() {
    let sig = key(1).sign(b"m");
    assert_eq!(
        verify(&BlsPublicKey([0; 48]), b"m", &sig),
        Err(BlsError::BadPublicKey)
    );
    // The compressed identity (infinity) is refused as a key.
    let mut infinity = [0u8; 48];
    infinity[0] = 0xc0;
    assert_eq!(
        verify(&BlsPublicKey(infinity), b"m", &sig),
        Err(BlsError::BadPublicKey)
    );
    let mut bad = sig;
    bad.0[5] ^= 0xff;
    assert!(matches!(
        verify(&key(1).public_key(), b"m", &bad),
        Err(BlsError::BadSignature | BlsError::Invalid)
    ));
    assert_eq!(
        BlsSecretKey::from_seed(&[1; 31]).err(),
        Some(BlsError::ShortSeed)
    );
}

#[test]
fn a_set_admits_only_keys_with_a_proof_of_possession() {
    let (a, b) = (key(1), key(2));
    // A plain signature of the key is not a proof of possession (separate domain).
    let plain = a.sign(&a.public_key().0);
    assert_eq!(
        ValidatorSet::new(&[(a.public_key(), plain)]).err(),
        Some(BlsError::BadPossession { index: 0 })
    );
    // Another key's proof does not do either.
    assert_eq!(
        ValidatorSet::new(&[
            (b.public_key(), b.proof_of_possession()),
            (a.public_key(), b.proof_of_possession())
        ])
        .err(),
        Some(BlsError::BadPossession { index: 1 })
    );
    let entry = (a.public_key(), a.proof_of_possession());
    assert_eq!(
        ValidatorSet::new(&[entry, entry]).err(),
        Some(BlsError::DuplicateKey { index: 1 })
    );
    assert_eq!(ValidatorSet::new(&[]).err(), Some(BlsError::EmptySet));
}

#[test]
fn a_quorum_is_n_minus_f_so_two_quorums_share_an_honest_validator() {
    for (n, f, q) in [
        (1, 0, 1),
        (2, 0, 2),
        (3, 0, 3),
        (4, 1, 3),
        (5, 1, 4),
        (7, 2, 5),
        (10, 3, 7),
    ] {
        let (_, set) = set_of(n);
        assert_eq!((set.max_faulty(), set.quorum()), (f, q), "n = {n}");
        // Two quorums overlap in 2q − n validators, more than f.
        assert!(2 * q - n as usize > f);
    }
}

#[test]
fn a_quorum_aggregate_verifies_and_anything_less_or_altered_does_not() {
    let (keys, set) = set_of(4);
    let msg = b"vote: round 3, block 0xab";
    let votes: Vec<(usize, BlsSignature)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (i, k.sign(msg)))
        .collect();
    for (i, sig) in &votes {
        assert_eq!(set.verify(*i, msg, sig), Ok(()));
    }

    let qc = set.aggregate(&votes[..3]).unwrap();
    assert_eq!(qc.signers.count(), 3);
    assert_eq!(set.verify_quorum(msg, &qc), Ok(()));
    assert_eq!(
        set.verify_quorum(b"another message", &qc),
        Err(BlsError::Invalid)
    );

    // Two signers are not a quorum of four.
    let short = set.aggregate(&votes[..2]).unwrap();
    assert_eq!(
        set.verify_quorum(msg, &short),
        Err(BlsError::NoQuorum {
            signers: 2,
            quorum: 3
        })
    );
    // Duplicates do not count twice.
    let padded = set.aggregate(&[votes[0], votes[0], votes[1]]).unwrap();
    assert_eq!(padded.signers.count(), 2);

    // Claiming a validator who did not sign breaks the signature.
    let mut claimed = set.aggregate(&votes[..3]).unwrap();
    claimed.signers.insert(3);
    assert_eq!(set.verify_quorum(msg, &claimed), Err(BlsError::Invalid));
    // Leaving one out does too.
    let mut dropped = set.aggregate(&votes).unwrap();
    dropped.signers.0[0] &= !1;
    assert_eq!(set.verify_quorum(msg, &dropped), Err(BlsError::Invalid));

    // A bitmap for another set size is refused before any pairing.
    let mut wide = qc.clone();
    wide.signers.0.push(0);
    assert!(matches!(
        set.verify_quorum(msg, &wide),
        Err(BlsError::BitmapSize {
            got: 2,
            expected: 1,
            ..
        })
    ));
    // Bits past the last validator name nobody.
    let mut ghost = qc.clone();
    ghost.signers.0[0] |= 1 << 6;
    assert_eq!(
        set.verify_quorum(msg, &ghost),
        Err(BlsError::UnknownSigner {
            index: 6,
            validators: 4
        })
    );
    assert_eq!(
        set.aggregate(&[(9, votes[0].1)]).err(),
        Some(BlsError::UnknownSigner {
            index: 9,
            validators: 4
        })
    );
}

#[test]
fn aggregates_round_trip_through_scale() {
    let (keys, set) = set_of(10);
    let msg = b"m";
    let votes: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (i, k.sign(msg)))
        .collect();
    let qc = set.aggregate(&votes[3..]).unwrap();
    let bytes = qc.encode();
    let back = AggregateSignature::decode(&mut &bytes[..]).unwrap();
    assert_eq!(back, qc);
    assert_eq!(
        back.signers.iter().collect::<Vec<_>>(),
        (3..10).collect::<Vec<_>>()
    );
    assert_eq!(set.verify_quorum(msg, &back), Ok(()));
}

#[test]
fn keys_match_the_node_s_key_derivation() {
    // `aether keys generate --scheme bls` uses the IETF KeyGen on the 32-byte seed, as here.
    let sk = blst::min_pk::SecretKey::key_gen(&[7; 32], &[]).unwrap();
    assert_eq!(
        BlsSecretKey::from_seed(&[7; 32]).unwrap().public_key().0,
        sk.sk_to_pk().compress()
    );
}
