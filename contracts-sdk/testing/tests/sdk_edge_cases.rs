//! The SDK's less common paths, run on the engine through the `sdk-edge-cases` fixture
//! contract: long map keys, long values, long topics, explicit storage keys and memory
//! exhaustion. The common paths are covered by the examples' own tests.

use aether_contracts_testing::*;
use parity_scale_codec::Encode;
use sdk_edge_cases::FIXED_KEY;
use sdk_edge_cases::edge_cases::Noted;
use sha2::{Digest, Sha256};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/edge-cases");

fn setup() -> (TestEnv, Address) {
    let mut env = TestEnv::new();
    let contract = env.deploy(ALICE, DIR, &()).unwrap();
    (env, contract)
}

/// The prefix the macro gives `EdgeCases::blobs`.
fn blobs_prefix() -> [u8; 8] {
    let digest = Sha256::digest(b"EdgeCases::blobs");
    digest[..8].try_into().unwrap()
}

#[test]
fn map_keys_longer_than_the_host_limit_are_stored_under_their_hash() {
    let (mut env, c) = setup();
    let long_a = vec![1u8; 300];
    let mut long_b = long_a.clone();
    long_b[299] = 2;
    let short = vec![9u8; 5];
    for (key, value) in [(&long_a, 10u8), (&long_b, 20), (&short, 30)] {
        let r = env.call(ALICE, c, "put", &(key.clone(), vec![value]));
        assert!(r.is_success(), "{r:?}");
    }
    // Each key reads back its own value: hashing did not merge the two long keys.
    for (key, value) in [(&long_a, 10u8), (&long_b, 20), (&short, 30)] {
        let got: Option<Vec<u8>> = env.query(ALICE, c, "get", &(key.clone(),)).decode();
        assert_eq!(got, Some(vec![value]));
    }
    // The layout: prefix ‖ 0 ‖ SCALE(key), or prefix ‖ 1 ‖ SHA-256(SCALE(key)) past 256 bytes.
    let mut short_key = blobs_prefix().to_vec();
    short_key.push(0);
    short_key.extend(short.encode());
    assert_eq!(env.storage(c, &short_key), Some(vec![30u8].encode()));
    let mut hashed_key = blobs_prefix().to_vec();
    hashed_key.push(1);
    hashed_key.extend(Sha256::digest(long_a.encode()));
    assert_eq!(env.storage(c, &hashed_key), Some(vec![10u8].encode()));

    assert!(
        env.query(ALICE, c, "has", &(long_b.clone(),))
            .decode::<bool>()
    );
    let r = env.call(ALICE, c, "remove", &(long_b.clone(),));
    assert!(r.decode::<bool>());
    assert!(
        !env.query(ALICE, c, "has", &(long_b.clone(),))
            .decode::<bool>()
    );
    assert!(env.query(ALICE, c, "has", &(long_a,)).decode::<bool>());
}

#[test]
fn a_short_key_cannot_land_on_the_slot_of_a_long_keys_hash() {
    // Find a long key whose hash starts with 0x7c, the SCALE length prefix of a 31-byte
    // vector: the short key of the hash's other 31 bytes then encodes to exactly the hash.
    let (long, digest) = (0u32..)
        .map(|i| {
            let mut k = vec![7u8; 300];
            k[..4].copy_from_slice(&i.to_le_bytes());
            let d = Sha256::digest(k.encode());
            (k, d)
        })
        .find(|(_, d)| d[0] == 0x7c)
        .unwrap();
    let short = digest[1..].to_vec();
    assert_eq!(
        short.encode(),
        digest.to_vec(),
        "the short key encodes to the long key's hash"
    );
    let (mut env, c) = setup();
    assert!(
        env.call(ALICE, c, "put", &(long.clone(), vec![1u8]))
            .is_success()
    );
    assert!(
        env.call(BOB, c, "put", &(short.clone(), vec![2u8]))
            .is_success()
    );
    let get = |k: &Vec<u8>| {
        env.query(ALICE, c, "get", &(k.clone(),))
            .decode::<Option<Vec<u8>>>()
    };
    assert_eq!(get(&long), Some(vec![1]), "the long key keeps its value");
    assert_eq!(get(&short), Some(vec![2]));
}

#[test]
fn values_longer_than_the_first_read_come_back_whole() {
    let (mut env, c) = setup();
    for len in [0usize, 63, 64, 65, 5_000] {
        let value: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let key = len.to_le_bytes().to_vec();
        assert!(
            env.call(ALICE, c, "put", &(key.clone(), value.clone()))
                .is_success()
        );
        let got: Option<Vec<u8>> = env.query(ALICE, c, "get", &(key,)).decode();
        assert_eq!(got, Some(value), "value of {len} bytes");
    }
}

#[test]
fn topics_are_padded_up_to_32_bytes_and_hashed_beyond() {
    let (mut env, c) = setup();
    // SCALE of a 31-byte string is 32 bytes (length prefix + text): padded, not hashed.
    let fits = "a".repeat(31);
    let r = env.call(ALICE, c, "note", &(fits.clone(),));
    assert!(r.is_success(), "{r:?}");
    let mut padded = [0u8; 32];
    padded.copy_from_slice(&fits.encode());
    assert_eq!(r.events[0].topics[1], padded);

    let short = "hi".to_string();
    let r = env.call(ALICE, c, "note", &(short.clone(),));
    let mut padded = [0u8; 32];
    padded[..3].copy_from_slice(&short.encode());
    assert_eq!(r.events[0].topics[1], padded);

    let long = "b".repeat(32);
    let r = env.call(ALICE, c, "note", &(long.clone(),));
    let hashed: [u8; 32] = Sha256::digest(long.encode()).into();
    assert_eq!(r.events[0].topics[1], hashed);
    assert_eq!(
        r.events_of::<Noted>(),
        vec![Noted {
            text: long,
            len: 32
        }]
    );
}

#[test]
fn a_field_with_an_explicit_key_is_stored_at_that_key() {
    let (mut env, c) = setup();
    assert!(
        env.call(ALICE, c, "set_fixed", &(77u64,)).is_success(),
        "set_fixed"
    );
    assert_eq!(
        env.storage(c, &FIXED_KEY.to_le_bytes()),
        Some(77u64.encode())
    );
}

#[test]
fn a_buffer_that_outgrows_memory_reverts_with_out_of_memory() {
    let (env, c) = setup();
    let r = env.query(ALICE, c, "fill", &(100_000u32,));
    assert!(r.is_success(), "{r:?}");
    assert_eq!(r.decode::<u32>(), 100_000);
    // The engine caps linear memory at 2 MiB.
    let r = env.query(ALICE, c, "fill", &(4_000_000u32,));
    assert_eq!(r.status, Status::Revert, "{r:?}");
    assert_eq!(r.panic_message().as_deref(), Some("out of memory"));
}
