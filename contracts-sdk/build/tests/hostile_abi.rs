//! Hostile ABIs and data (issue 18): arbitrary type strings, ABI documents (with a type
//! registry whose structs and enums hold the same hostile strings and may name themselves),
//! return data and JSON arguments never make the ABI parser, decoder or encoder panic, recurse
//! deeply or allocate beyond a bound. Everything runs on a thread with a small stack, under an allocator
//! that counts the bytes held at once. `AETHER_FUZZ_CASES` raises the number of cases (CI runs
//! the default).
//!
//! One test function on purpose: the allocation peak is global, so nothing else may run in
//! this process at the same time.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use aether_contract_build::abi::{Abi, Ty, decode_exact};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

/// Counts the bytes allocated and not yet freed, and the most at any time.
struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = HELD.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        HELD.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Most bytes one parse, decode or encode may hold beyond what was held before it: the
/// decoder's item budget (2^18 values) at well under 256 bytes a value, with room to spare.
const ALLOCATION_BOUND: usize = 96 << 20;

/// The stack the operations run on: far less than a main thread's, so unbounded recursion
/// would overflow it in any case the generators reach.
const STACK: usize = 2 << 20;

fn cases() -> u32 {
    std::env::var("AETHER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// Runs `f` and checks the bytes it held at once stayed under [`ALLOCATION_BOUND`].
fn bounded<R>(what: &str, f: impl FnOnce() -> R) -> R {
    let before = HELD.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let r = f();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    assert!(
        peak < ALLOCATION_BOUND,
        "{what} held {peak} bytes at once, the bound is {ALLOCATION_BOUND}"
    );
    r
}

/// Type strings: well-formed ones from the grammar (deep, wide, with huge array lengths and
/// zero-sized elements), and noise made of the grammar's characters.
fn type_string() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec![
        "u8", "u16", "u32", "u64", "u128", "i8", "i64", "i128", "bool", "String", "Address",
        "Hash", "()", "Deal", "Pick", "Missing",
    ])
    .prop_map(str::to_string);
    let grammar = leaf.prop_recursive(40, 256, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| format!("Vec<{t}>")),
            inner.clone().prop_map(|t| format!("Option<{t}>")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("Result<{a},{b}>")),
            (
                inner.clone(),
                prop::sample::select(vec![
                    0u64,
                    1,
                    3,
                    1024,
                    1025,
                    1 << 20,
                    100_000_000_000,
                    u64::MAX
                ])
            )
                .prop_map(|(t, n)| format!("[{t};{n}]")),
            prop::collection::vec(inner, 0..4).prop_map(|ts| format!("({})", ts.join(","))),
        ]
    });
    let noise = prop::collection::vec(
        prop::sample::select(vec![
            "Vec<", ">", "(", ")", "[", ";", "]", ",", "u8", "()", "9",
        ]),
        0..200,
    )
    .prop_map(|parts| parts.concat());
    let deep = (
        1usize..50_000,
        prop::sample::select(vec![("Vec<", ">"), ("(", ")"), ("[", ";1]")]),
    )
        .prop_map(|(n, (open, close))| format!("{}u8{}", open.repeat(n), close.repeat(n)));
    prop_oneof![4 => grammar, 2 => noise, 1 => deep]
}

/// Data a contract might return: random bytes, and compact lengths that claim huge counts.
fn data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        (
            prop::sample::select(vec![0x03u8, 0xfe, 0xff]),
            prop::collection::vec(any::<u8>(), 0..16)
        )
            .prop_map(|(first, rest)| [vec![first, 0xff, 0xff, 0xff, 0xff], rest].concat()),
    ]
}

/// JSON arguments: nested arrays, numbers at the edges, hex strings, nulls.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        Just(json!("340282366920938463463374607431768211455")),
        prop::collection::vec(any::<u8>(), 0..40)
            .prop_map(|b| json!(format!("0x{}", hex::encode(b)))),
        prop::sample::select(vec!["A", "B", "C"]).prop_map(|v| json!(v)),
    ];
    leaf.prop_recursive(8, 128, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            // Struct fields and enum variants of the registry, and keys it does not have.
            (
                prop::sample::select(vec!["x", "y", "A", "B", "C"]),
                inner.clone()
            )
                .prop_map(|(k, v)| json!({ k: v })),
            (inner.clone(), inner).prop_map(|(a, b)| json!({"x": a, "y": b})),
        ]
    })
}

fn abi_json(returns: &str, arg: &str, event: &str, error_field: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "abi_version": 1,
        "contract": "Hostile",
        "constructor": null,
        "methods": [{"name": "m", "args": [{"name": "a", "type": arg}], "returns": returns,
                     "error": "E", "mutates": true, "payable": false}],
        "events": [{"name": "Ev", "signature_topic": format!("0x{}", "11".repeat(32)),
                    "fields": [{"name": "f", "type": event, "topic": false}]}],
        "errors": [{"name": "E", "variants": [{"name": "V", "fields": [error_field]}]}],
        // A registry whose fields are the same hostile strings: a struct, possibly naming
        // itself (recursion), and an enum naming the struct.
        "types": [
            {"name": "Deal", "fields": [{"name": "x", "type": arg}, {"name": "y", "type": returns}]},
            {"name": "Pick", "variants": [
                {"name": "A", "index": 0, "fields": [{"type": event}, {"type": "Deal"}]},
                {"name": "B", "index": 1},
                {"name": "C", "index": 255, "fields": [{"type": error_field}]},
            ]},
        ],
    }))
    .unwrap()
}

fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap_or_else(|_| panic!("a case failed (see above)"));
}

#[test]
fn hostile_types_abis_data_and_arguments_are_handled_within_bounds() {
    on_small_stack(|| {
        let config = Config {
            cases: cases(),
            failure_persistence: None,
            ..Config::default()
        };
        // Types and data: parse, then decode arbitrary bytes as the type.
        TestRunner::new(config.clone())
            .run(&(type_string(), data()), |(ty, bytes)| {
                let parsed = bounded("parse", || Ty::parse_checked(&ty));
                if let Ok(t) = parsed {
                    bounded("decode", || {
                        let _ = decode_exact(&t, &bytes);
                    });
                    let _ = t.to_string();
                }
                Ok(())
            })
            .unwrap();
        // Whole ABI documents with hostile types in every place, then every decoder and the
        // argument encoder.
        TestRunner::new(config)
            .run(
                &(
                    (type_string(), type_string(), type_string(), type_string()),
                    data(),
                    json_value(),
                ),
                |((returns, arg, event, field), bytes, value)| {
                    let json = abi_json(&returns, &arg, &event, &field);
                    let Ok(abi) = bounded("ABI parse", || Abi::parse(&json)) else {
                        return Ok(());
                    };
                    bounded("decode_return", || abi.decode_return("m", &bytes)).ok();
                    let revert = [vec![0u8, 0], bytes.clone()].concat();
                    bounded("decode_revert", || abi.decode_revert("m", &revert)).ok();
                    bounded("decode_event", || abi.decode_event(&[0x11; 32], &bytes)).ok();
                    let args = Value::Array(vec![value]);
                    bounded("encode_args", || abi.encode_args("m", &args)).ok();
                    Ok(())
                },
            )
            .unwrap();
    });
}
