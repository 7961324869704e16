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

fn prefix(abi: &Abi, e: &StorageEntry) -> Vec<u8> {
    e.prefix_bytes(&abi.contract).unwrap().to_vec()
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
    let list = prefix(&abi, entry(&abi, "list"));
    let map = prefix(&abi, entry(&abi, "map"));
    assert!(env.storage(c, &list).is_none());
    assert!(env.call(BOB, c, "vec_push", &(7u64,)).is_success());
    assert!(
        env.call(BOB, c, "map_insert", &(b"k".to_vec(), 1u64))
            .is_success()
    );
    assert!(env.storage(c, &list).is_some());
    assert!(env.storage(c, &map).is_some());
    // A map's entries live under its prefix: prefix ‖ 0x00 ‖ SCALE(key) for short keys.
    let plain = prefix(&abi, entry(&abi, "plain"));
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

#[test]
fn a_pinned_key_is_in_the_layout_when_the_macro_can_read_it() {
    let abi = Abi::parse(sdk_edge_cases::edge_cases::ABI_JSON.as_bytes()).unwrap();
    // Derived prefixes are left out of the ABI (readers recompute them).
    assert_eq!(entry(&abi, "blobs").prefix, None);
    // A literal key is written out; a key named by a constant cannot be read by the macro.
    let literal = entry(&abi, "literal");
    assert_eq!(literal.prefix.as_deref(), Some("0x8877665544332211"));
    assert_eq!(entry(&abi, "fixed").prefix.as_deref(), Some("pinned"));
    assert_eq!(entry(&abi, "fixed").prefix_bytes(&abi.contract), None);
    // A bare constant parses as one more type argument: recognised as pinned, types kept.
    let bare = entry(&abi, "bare");
    assert_eq!(bare.prefix.as_deref(), Some("pinned"));
    assert_eq!(bare.value.as_deref(), Some("u64"));
    // The literal key is where the value lives.
    let mut env = TestEnv::new();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/edge-cases");
    let c = env.deploy(ALICE, dir, &()).unwrap();
    assert!(env.call(BOB, c, "set_fixed", &(9u64,)).is_success());
    assert_eq!(
        env.storage(c, &prefix(&abi, literal)),
        Some(parity_scale_codec::Encode::encode(&9u64))
    );
}
