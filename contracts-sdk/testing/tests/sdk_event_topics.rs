//! The topics `Abi::event_topics` computes for a typed event query (the CLI's `aether events
//! --where`, the RPC filter's `where`) are the ones the SDK emits (`event::topic_of`): padded
//! encodings up to 32 bytes, SHA-256 beyond, for every kind of value. (End to end, on a dev
//! chain: `node/tests/events_typed.rs`.)

use aether_contract_build::abi::{Abi, AbiError};
use aether_contracts_sdk::Address;
use aether_contracts_sdk::event::topic_of;
use serde_json::{Map, Value, json};

fn abi() -> Abi {
    let field =
        |name: &str, ty: &str, topic: bool| json!({"name": name, "type": ty, "topic": topic});
    let v = json!({
        "abi_version": 1,
        "contract": "T",
        "constructor": null,
        "methods": [],
        "errors": [],
        "events": [
            {"name": "A", "signature_topic": format!("0x{}", "11".repeat(32)), "fields": [
                field("who", "Address", true),
                field("n", "u64", true),
                field("text", "String", true),
                field("plain", "u128", false),
            ]},
            {"name": "B", "signature_topic": format!("0x{}", "22".repeat(32)), "fields": [
                field("bytes", "Vec<u8>", true),
                field("pair", "(u32, bool)", true),
            ]},
        ],
    });
    Abi::parse(v.to_string().as_bytes()).unwrap()
}

/// The topic of a value whose encoding is longer than 32 bytes: the SHA-256 of the encoding
/// (`event::write_topic`; the SDK hashes through the host, so natively it is computed here).
fn hashed<T: parity_scale_codec::Encode>(v: &T) -> [u8; 32] {
    let encoded = v.encode();
    assert!(encoded.len() > 32);
    aether_engine::crypto::sha256(&encoded)
}

fn values(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn query_topics_are_the_topics_the_sdk_emits() {
    let abi = abi();
    let who = Address([7; 32]);
    let short = "hello".to_string();
    let long = "a text longer than thirty-two bytes, so it is hashed".to_string();
    let topics = abi
        .event_topics(
            "A",
            &values(json!({"who": format!("0x{}", "07".repeat(32)), "n": 42, "text": long})),
        )
        .unwrap();
    assert_eq!(
        topics,
        [
            Some([0x11; 32]),
            Some(topic_of(&who)),
            Some(topic_of(&42u64)),
            Some(hashed(&long))
        ]
    );
    // Open positions are `None`; trailing ones are dropped.
    let topics = abi
        .event_topics("A", &values(json!({"n": 1, "text": short})))
        .unwrap();
    assert_eq!(
        topics,
        [
            Some([0x11; 32]),
            None,
            Some(topic_of(&1u64)),
            Some(topic_of(&short))
        ]
    );
    let topics = abi
        .event_topics(
            "A",
            &values(json!({"who": format!("0x{}", "07".repeat(32))})),
        )
        .unwrap();
    assert_eq!(topics, [Some([0x11; 32]), Some(topic_of(&who))]);
    let bytes = vec![9u8; 40];
    let topics = abi
        .event_topics(
            "B",
            &values(json!({"bytes": format!("0x{}", "09".repeat(40)), "pair": [5, true]})),
        )
        .unwrap();
    assert_eq!(
        topics,
        [
            Some([0x22; 32]),
            Some(hashed(&bytes)),
            Some(topic_of(&(5u32, true)))
        ]
    );
}

#[test]
fn a_query_naming_what_the_event_has_not_is_refused_with_what_it_has() {
    let abi = abi();
    let err = abi.event_topics("C", &Map::new()).unwrap_err();
    assert!(matches!(err, AbiError::NoEvent { .. }));
    assert!(err.to_string().contains("A, B"), "{err}");
    let err = abi
        .event_topics("A", &values(json!({"plain": 1})))
        .unwrap_err();
    assert!(
        err.to_string().contains("not indexed") && err.to_string().contains("who, n, text"),
        "{err}"
    );
    let err = abi
        .event_topics("A", &values(json!({"nope": 1})))
        .unwrap_err();
    assert!(err.to_string().contains("no field `nope`"), "{err}");
    let err = abi
        .event_topics("A", &values(json!({"n": "many"})))
        .unwrap_err();
    assert!(matches!(err, AbiError::Value { .. }), "{err}");
}
