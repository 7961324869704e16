use super::*;

fn unhex<const N: usize>(s: &str) -> [u8; N] {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// RFC 9381 Appendix B.3, examples 16 to 18: (SK, PK, alpha, pi, beta).
const EXAMPLES: [(&str, &str, &str, &str, &str); 3] = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "8657106690b5526245a92b003bb079ccd1a92130477671f6fc01ad16f26f723f26f8a57ccaed74ee1b190bed1f479d9727d2d0f9b005a6e456a35d4fb0daab1268a1b0db10836d9826a528ca76567805",
        "90cf1df3b703cce59e2a35b925d411164068269d7b2d29f3301c03dd757876ff66b71dda49d2de59d03450451af026798e8f81cd2e333de5cdf4f3e140fdd8ae",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "f3141cd382dc42909d19ec5110469e4feae18300e94f304590abdced48aed5933bf0864a62558b3ed7f2fea45c92a465301b3bbf5e3e54ddf2d935be3b67926da3ef39226bbc355bdc9850112c8f4b02",
        "eb4440665d3891d668e7e0fcaf587f1b4bd7fbfe99d0eb2211ccec90496310eb5e33821bc613efb94db5e5b54c70a848a0bef4553a41befc57663b56373a5031",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "9bc0f79119cc5604bf02d23b4caede71393cedfbb191434dd016d30177ccbf8096bb474e53895c362d8628ee9f9ea3c0e52c7a5c691b6c18c9979866568add7a2d41b00b05081ed0f58ee5e31b3a970e",
        "645427e5d00c62a23fb703732fa5d892940935942101e456ecca7bb217c61c452118fec1219202a0edcf038bb6373241578be7217ba85a2687f7a0310b2df19f",
    ),
];

#[test]
fn rfc9381_appendix_b3_examples_prove_and_verify_exactly() {
    for (n, (sk, pk, alpha, pi, beta)) in EXAMPLES.iter().enumerate() {
        let example = 16 + n;
        let key = VrfSecretKey::from_seed(&unhex(sk));
        assert_eq!(hex::encode(key.public_key()), *pk, "example {example}: PK");
        let alpha = hex::decode(alpha).unwrap();
        let proof = key.prove(&alpha).unwrap();
        assert_eq!(hex::encode(proof.0), *pi, "example {example}: pi");
        // Verification from the published values alone.
        let out = verify(&unhex(pk), &alpha, &VrfProof(unhex(pi))).unwrap();
        assert_eq!(
            hex::encode(out.as_bytes()),
            *beta,
            "example {example}: beta"
        );
        assert_eq!(hex::encode(proof_to_hash(&proof).unwrap()), *beta);
    }
}

fn example_key() -> VrfSecretKey {
    VrfSecretKey::from_seed(&unhex(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    ))
}

#[test]
fn a_proof_verifies_only_for_its_key_and_input() {
    let (sk, other) = (example_key(), VrfSecretKey::from_seed(&[5; 32]));
    let pi = sk.prove(b"round 12").unwrap();
    let beta = verify(&sk.public_key(), b"round 12", &pi).unwrap();
    assert_eq!(&proof_to_hash(&pi).unwrap(), beta.as_bytes());
    assert_eq!(
        verify(&sk.public_key(), b"round 13", &pi),
        Err(VrfError::Invalid)
    );
    assert_eq!(
        verify(&other.public_key(), b"round 12", &pi),
        Err(VrfError::Invalid)
    );
    // Another input gives another output; the same input the same output.
    let pi2 = sk.prove(b"round 13").unwrap();
    assert_ne!(verify(&sk.public_key(), b"round 13", &pi2).unwrap(), beta);
    assert_eq!(sk.prove(b"round 12").unwrap(), pi);
}

#[test]
fn every_altered_byte_of_a_proof_is_caught() {
    let sk = example_key();
    let pi = sk.prove(b"alpha").unwrap();
    for i in 0..PROOF_LEN {
        let mut bad = pi;
        bad.0[i] ^= 0x01;
        assert!(
            verify(&sk.public_key(), b"alpha", &bad).is_err(),
            "byte {i} altered"
        );
    }
}

#[test]
fn small_order_and_non_canonical_keys_are_refused() {
    let pi = example_key().prove(b"").unwrap();
    // The identity point (0, 1): small order.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert_eq!(verify(&identity, b"", &pi), Err(VrfError::WeakPublicKey));
    // y = p + 1 (p = 2^255 - 19) encodes the same point non-canonically.
    let mut non_canonical = [0xffu8; 32];
    non_canonical[0] = 0xee;
    non_canonical[31] = 0x7f;
    assert_eq!(
        verify(&non_canonical, b"", &pi),
        Err(VrfError::BadPublicKey)
    );
}

#[test]
fn an_s_at_or_above_the_group_order_is_refused() {
    let sk = example_key();
    let mut pi = sk.prove(b"").unwrap();
    // s = q (the group order, little-endian).
    let q = unhex::<32>("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
    pi.0[48..].copy_from_slice(&q);
    assert_eq!(verify(&sk.public_key(), b"", &pi), Err(VrfError::BadProof));
}

/// Regression (review of the parts): `proof_to_hash` was public and returned an output for
/// any decodable proof, so a forged proof (a Gamma its maker chose, any c and s) gave an
/// output of the forger's choosing to whoever took it without verifying. Outputs now come only
/// from `verify`, as a `VrfOutput` no other code can build; a forged proof gets none.
#[test]
fn a_forged_proof_yields_no_output() {
    let key = example_key();
    let honest = key.prove(b"round 7").unwrap();
    // Gamma taken from a proof for another input: a valid point, so it decodes.
    let other = key.prove(b"round 8").unwrap();
    let mut forged = honest;
    forged.0[..32].copy_from_slice(&other.0[..32]);
    assert!(
        proof_to_hash(&forged).is_ok(),
        "it decodes: the old API gave an output"
    );
    assert_eq!(
        verify(&key.public_key(), b"round 7", &forged),
        Err(VrfError::Invalid)
    );
    assert_ne!(
        verify(&key.public_key(), b"round 8", &other).unwrap(),
        verify(&key.public_key(), b"round 7", &honest).unwrap()
    );
}
