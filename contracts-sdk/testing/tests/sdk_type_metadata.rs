//! Full type metadata: a contract's own structs and enums, and the SDK types it uses, are in
//! its ABI's type registry with their doc comments, and tools encode JSON arguments and decode
//! return values, errors and events of those types exactly as the contract does, checked
//! against real calls on the engine.

use aether_contract_build::abi::Abi;
use aether_contracts_sdk::access::{AccessError, Scheme};
use aether_contracts_sdk::collections::OutOfBounds;
use aether_contracts_testing::*;
use parity_scale_codec::Encode;
use sdk_library::library::{ABI_JSON, Role};
use serde_json::json;

const LIBRARY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/library");

fn abi() -> Abi {
    Abi::parse(ABI_JSON.as_bytes()).unwrap()
}

fn hex(a: Address) -> String {
    format!(
        "0x{}",
        a.0.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

#[test]
fn the_contracts_types_and_the_sdk_types_it_names_are_registered_with_their_docs() {
    let abi = abi();
    let names: Vec<&str> = abi.types.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["Role", "AccessError", "Scheme", "OutOfBounds"]);
    let role = &abi.types[0];
    assert_eq!(role.docs, "A role of this contract.");
    let variants = role.variants.as_ref().unwrap();
    assert_eq!(variants[0].name, "Writer");
    assert_eq!(variants[0].docs, "May append to the list.");
    assert_eq!(variants[1].index, 1);
    // The token names none of them: its ABI has no registry (it is code, paid per byte).
    assert!(!token::token::ABI_JSON.contains("\"types\""));
}

#[test]
fn json_arguments_of_custom_types_encode_as_the_contract_decodes_them() {
    let abi = abi();
    let encoded = abi
        .encode_args("grant", &json!(["Admin", hex(BOB)]))
        .unwrap();
    assert_eq!(encoded, (Role::Admin, BOB).encode());
    let encoded = abi
        .encode_args(
            "relay",
            &json!(["Sr25519", hex(BOB), 3, 9, format!("0x{}", "ab".repeat(64))]),
        )
        .unwrap();
    assert_eq!(
        encoded,
        (Scheme::Sr25519, BOB, 3u64, 9u64, [0xabu8; 64]).encode()
    );

    // Encoded by the ABI, run by the contract.
    let mut env = TestEnv::new();
    let c = env.deploy(ALICE, LIBRARY, &()).unwrap();
    let args = abi
        .encode_args("grant", &json!(["Writer", hex(BOB)]))
        .unwrap();
    let r = env.call_raw(ALICE, c, "grant", &args);
    assert!(r.is_success(), "{r:?}");
    assert!(
        env.query(BOB, c, "has_role", &(Role::Writer, BOB))
            .decode::<bool>()
    );
    // The event's custom field decodes through the registry.
    let e = &r.events[0];
    assert_eq!(
        abi.decode_event(&e.topics[0], &e.data),
        Ok(json!({"name": "Granted", "fields": {"to": hex(BOB), "role": "Writer"}}))
    );
}

#[test]
fn errors_carrying_sdk_types_decode_as_the_sdk_encodes_them() {
    let abi = abi();
    let mut env = TestEnv::new();
    let c = env.deploy(ALICE, LIBRARY, &()).unwrap();
    // A real revert: a signed message with the wrong nonce.
    let r = env.call(
        BOB,
        c,
        "relay",
        &(Scheme::Ed25519, BOB, 4u64, 1u64, [0u8; 64]),
    );
    assert_eq!(r.status, Status::Revert);
    assert_eq!(
        abi.decode_revert("relay", &r.return_data),
        Ok(json!({"error": "Error::Access", "fields": [{"WrongNonce": {"expected": 0}}]}))
    );
    let r = env.call(BOB, c, "vec_set", &(5u32, 1u64));
    assert_eq!(
        abi.decode_revert("vec_set", &r.return_data),
        Ok(json!({"error": "Error::OutOfBounds", "fields": [{"index": 5, "len": 0}]}))
    );
    // Every SDK type the registry describes, each variant, against the SDK's own encoding.
    let cases = [
        (
            "AccessError",
            json!("NotOwner"),
            AccessError::NotOwner.encode(),
        ),
        (
            "AccessError",
            json!("NotProposedOwner"),
            AccessError::NotProposedOwner.encode(),
        ),
        (
            "AccessError",
            json!("MissingRole"),
            AccessError::MissingRole.encode(),
        ),
        (
            "AccessError",
            json!({"WrongNonce": {"expected": 7}}),
            AccessError::WrongNonce { expected: 7 }.encode(),
        ),
        (
            "AccessError",
            json!("BadSignature"),
            AccessError::BadSignature.encode(),
        ),
        ("Scheme", json!("Ed25519"), Scheme::Ed25519.encode()),
        ("Scheme", json!("Sr25519"), Scheme::Sr25519.encode()),
        (
            "OutOfBounds",
            json!({"index": 1, "len": 2}),
            OutOfBounds { index: 1, len: 2 }.encode(),
        ),
    ];
    for (ty, value, rust) in cases {
        let t = abi.ty(ty).unwrap();
        let mut out = Vec::new();
        aether_contract_build::abi::encode(&t, &value, "x", &mut out).unwrap();
        assert_eq!(out, rust, "{ty} {value}");
        assert_eq!(
            aether_contract_build::abi::decode_exact(&t, &rust),
            Ok(value)
        );
    }
}
