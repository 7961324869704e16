//! The upgrade check of storage layouts (`abi::layout::check`): what keeps stored data readable
//! passes, what would misread or strand it is a conflict naming the field.

use aether_contract_build::abi::Abi;
use aether_contract_build::abi::layout::{Presence, check};
use serde_json::{Value, json};

fn prefix(n: u8) -> String {
    format!("0x{}", format!("{n:02x}").repeat(8))
}

fn entry(name: &str, kind: &str, p: u8, key: Option<&str>, value: Option<&str>) -> Value {
    let mut e = json!({"name": name, "kind": kind, "prefix": prefix(p)});
    if let Some(k) = key {
        e["key"] = json!(k);
    }
    if let Some(v) = value {
        e["value"] = json!(v);
    }
    e
}

fn abi(storage: Vec<Value>, types: Value) -> Abi {
    let v = json!({
        "abi_version": 1, "contract": "Token", "constructor": null, "methods": [],
        "events": [], "errors": [], "types": types, "storage": storage,
    });
    Abi::parse(v.to_string().as_bytes()).unwrap()
}

fn token(extra: Vec<Value>) -> Abi {
    let mut storage = vec![
        entry("supply", "Lazy", 1, None, Some("u128")),
        entry("balances", "Mapping", 2, Some("Address"), Some("u128")),
    ];
    storage.extend(extra);
    abi(storage, json!([]))
}

/// Every key holds data.
fn full(_: &[u8]) -> Presence {
    Presence::Present
}

#[test]
fn a_new_field_is_compatible() {
    let r = check(
        &token(vec![]),
        &token(vec![entry("paused", "Lazy", 3, None, Some("bool"))]),
        full,
    )
    .unwrap();
    assert!(r.conflicts.is_empty(), "{r:?}");
    assert!(r.notes[0].contains("`paused` added"), "{r:?}");
}

#[test]
fn a_changed_value_type_is_a_conflict_naming_the_field() {
    let new = abi(
        vec![
            entry("supply", "Lazy", 1, None, Some("u128")),
            entry("balances", "Mapping", 2, Some("Address"), Some("u64")),
        ],
        json!([]),
    );
    let r = check(&token(vec![]), &new, full).unwrap();
    assert_eq!(r.conflicts.len(), 1, "{r:?}");
    assert_eq!(r.conflicts[0].field, "balances");
    assert!(
        r.conflicts[0]
            .problem
            .contains("value type changed from u128 to u64"),
        "{r:?}"
    );
}

#[test]
fn a_changed_key_type_or_kind_is_a_conflict() {
    let new = abi(
        vec![
            entry("supply", "StorageVec", 1, None, Some("u128")),
            entry("balances", "Mapping", 2, Some("u64"), Some("u128")),
        ],
        json!([]),
    );
    let r = check(&token(vec![]), &new, full).unwrap();
    let fields: Vec<&str> = r.conflicts.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["supply", "balances"], "{r:?}");
    assert!(r.conflicts[0].problem.contains("StorageVec<u128>"));
    assert!(r.conflicts[1].problem.contains("key type changed"));
}

#[test]
fn a_removed_field_conflicts_only_while_it_may_hold_data() {
    let old = token(vec![entry("note", "Lazy", 3, None, Some("String"))]);
    let new = abi(
        vec![entry("supply", "Lazy", 1, None, Some("u128"))],
        json!([]),
    );
    // `note` is empty, `balances` is a mapping (its keys cannot be listed).
    let empty_note = |key: &[u8]| {
        if key == [3u8; 8] {
            Presence::Absent
        } else {
            Presence::Present
        }
    };
    let r = check(&old, &new, empty_note).unwrap();
    assert_eq!(r.conflicts.len(), 1, "{r:?}");
    assert_eq!(r.conflicts[0].field, "balances");
    assert!(r.conflicts[0].problem.contains("cannot be listed"));
    assert!(r.notes.iter().any(|n| n.contains("`note` removed")));
    // Holding data, the removed `note` conflicts too.
    let r = check(&old, &new, full).unwrap();
    assert!(
        r.conflicts
            .iter()
            .any(|c| c.field == "note" && c.problem.contains("still holds data"))
    );
}

#[test]
fn types_compare_by_encoding_not_by_name() {
    let deal = |name: &str, field: &str, extra_variant: bool| {
        let mut variants = vec![
            json!({"name": "Created", "index": 0, "fields": []}),
            json!({"name": "Funded", "index": 1, "fields": [{"type": "u128"}]}),
        ];
        if extra_variant {
            variants.push(json!({"name": "Closed", "index": 2, "fields": []}));
        }
        abi(
            vec![
                entry("deal", "Lazy", 1, None, Some(name)),
                entry("state", "Lazy", 2, None, Some("State")),
            ],
            json!([
                {"name": name, "fields": [{"name": field, "type": "Address"}, {"name": "amount", "type": "u128"}]},
                {"name": "State", "variants": variants},
            ]),
        )
    };
    // A struct and a field renamed, an enum gaining a variant at the end: compatible.
    let r = check(
        &deal("Deal", "buyer", false),
        &deal("Agreement", "payer", true),
        full,
    )
    .unwrap();
    assert!(r.conflicts.is_empty(), "{r:?}");
    // An enum losing a variant that may be stored: a conflict.
    let r = check(
        &deal("Deal", "buyer", true),
        &deal("Deal", "buyer", false),
        full,
    )
    .unwrap();
    assert_eq!(r.conflicts.len(), 1, "{r:?}");
    assert_eq!(r.conflicts[0].field, "state");
}

#[test]
fn an_abi_without_a_layout_cannot_be_checked() {
    let v = json!({
        "abi_version": 1, "contract": "Old", "constructor": null, "methods": [],
        "events": [], "errors": [],
    });
    let old = Abi::parse(v.to_string().as_bytes()).unwrap();
    let err = check(&old, &token(vec![]), full).unwrap_err();
    assert!(
        err.to_string()
            .contains("old code's ABI records no storage layout")
    );
}

mod hostile {
    //! Layouts come from ABIs on chain, written by anyone: comparing any two never panics and
    //! stays bounded (types through the ABI's limits, prefixes checked).
    use super::*;
    use proptest::prelude::*;

    fn ty() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("u128".to_string()),
            Just("Address".to_string()),
            Just("Deal".to_string()),
            Just("Vec<Option<(u8,Deal)>>".to_string()),
            "[A-Za-z0-9_<>(),;\\[\\] ]{0,40}",
        ]
    }

    fn field() -> impl Strategy<Value = Value> {
        (
            "[a-z]{1,3}",
            prop_oneof![
                Just("Lazy"),
                Just("Mapping"),
                Just("StorageVec"),
                Just("Roles"),
                Just("Odd")
            ],
            prop::option::of(prop_oneof![
                Just("0x0101010101010101".to_string()),
                Just("pinned".to_string()),
                "0x[0-9a-f]{0,20}",
            ]),
            prop::option::of(ty()),
            prop::option::of(ty()),
        )
            .prop_map(|(name, kind, prefix, key, value)| {
                let mut e = json!({"name": name, "kind": kind});
                if let Some(p) = prefix {
                    e["prefix"] = json!(p);
                }
                if let Some(k) = key {
                    e["key"] = json!(k);
                }
                if let Some(v) = value {
                    e["value"] = json!(v);
                }
                e
            })
    }

    fn types() -> Value {
        json!([{"name": "Deal", "fields": [{"name": "a", "type": "Address"}, {"name": "d", "type": "Vec<Deal>"}]}])
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn any_two_layouts_compare_without_panicking(
            old in prop::collection::vec(field(), 0..6),
            new in prop::collection::vec(field(), 0..6),
            present in any::<bool>(),
        ) {
            let (old, new) = (abi(old, types()), abi(new, types()));
            let presence = if present { Presence::Present } else { Presence::Absent };
            let _ = check(&old, &new, |_| presence);
        }
    }
}
