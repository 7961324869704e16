//! The storage layout `#[contract]` records in the ABI (what `aether contract upgrade` checks)
//! is the one the code uses: each field's prefix is where its data lives on the engine, with
//! the handle kind and type parameters as written.

use aether_contract_build::abi::{Abi, StorageEntry};
use aether_contracts_testing::*;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/library");

fn entry<'a>(abi: &'a Abi, name: &str) -> &'a StorageEntry {
    abi.storage
        .as_ref()
        .expect("the ABI records the layout")
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no storage field `{name}`"))
}

fn prefix(e: &StorageEntry) -> Vec<u8> {
    let h = e.prefix.trim_start_matches("0x");
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn the_recorded_layout_is_where_the_code_keeps_its_data() {
    let abi = Abi::parse(sdk_library::library::ABI_JSON.as_bytes()).unwrap();
    let fields: Vec<(&str, &str, Option<&str>, Option<&str>)> = abi
        .storage
        .as_ref()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e.name.as_str(),
                e.kind.as_str(),
                e.key.as_deref(),
                e.value.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("list", "StorageVec", None, Some("u64")),
            ("map", "IterableMapping", Some("Vec<u8>"), Some("u64")),
            ("owner", "Ownable", None, None),
            ("roles", "Roles", Some("Role"), None),
            ("signed", "SignedMessages", None, None),
            ("relayed", "Mapping", Some("Address"), Some("u64")),
            ("plain", "Mapping", Some("Vec<u8>"), Some("u64")),
        ]
    );
    // The types it names are described (the registry has `Role`).
    assert!(abi.ty("Role").is_some());

    let mut env = TestEnv::new();
    let c = env.deploy(ALICE, DIR, &()).unwrap();
    // Empty collections keep nothing at their prefix yet; after a push and an insert, their
    // headers are there.
    let list = prefix(entry(&abi, "list"));
    let map = prefix(entry(&abi, "map"));
    assert!(env.storage(c, &list).is_none());
    assert!(env.call(BOB, c, "vec_push", &(7u64,)).is_success());
    assert!(
        env.call(BOB, c, "map_insert", &(b"k".to_vec(), 1u64))
            .is_success()
    );
    assert!(env.storage(c, &list).is_some());
    assert!(env.storage(c, &map).is_some());
    // A map's entries live under its prefix: prefix ‖ 0x00 ‖ SCALE(key) for short keys.
    let plain = prefix(entry(&abi, "plain"));
    assert!(
        env.call(BOB, c, "plain_insert", &(b"k".to_vec(), 5u64))
            .is_success()
    );
    let mut key = plain.clone();
    key.push(0);
    parity_scale_codec::Encode::encode_to(&b"k".to_vec(), &mut key);
    assert_eq!(
        env.storage(c, &key),
        Some(parity_scale_codec::Encode::encode(&5u64))
    );
}
