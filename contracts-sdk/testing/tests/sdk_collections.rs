//! The SDK's storage collections, run on the engine through the `sdk-library` fixture: each
//! behaves as its in-memory model (`Vec`, an insertion-ordered map) under random operation
//! sequences, keeps its documented storage layout, and costs the same gas per operation
//! whatever its size. `AETHER_FUZZ_CASES` raises the number of random sequences (CI runs 24).

use aether_contracts_testing::*;
use parity_scale_codec::Encode;
use proptest::prelude::*;
use sdk_library::library::Error;
use sha2::{Digest, Sha256};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/library");

fn cases() -> u32 {
    std::env::var("AETHER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

fn setup() -> (TestEnv, Address) {
    let mut env = TestEnv::new();
    let contract = env.deploy(ALICE, DIR, &()).unwrap();
    (env, contract)
}

/// The prefix the macro gives field `field` of `Library`.
fn prefix(field: &str) -> [u8; 8] {
    let digest = Sha256::digest(format!("Library::{field}").as_bytes());
    digest[..8].try_into().unwrap()
}

fn ok<R: parity_scale_codec::Decode>(o: Outcome) -> R {
    assert!(o.is_success(), "{o:?}");
    o.decode()
}

#[derive(Clone, Debug)]
enum VecOp {
    Push(u64),
    Pop,
    Get(u32),
    Last,
    Set(u32, u64),
    SwapRemove(u32),
    Clear,
}

fn vec_op() -> impl Strategy<Value = VecOp> {
    prop_oneof![
        6 => any::<u64>().prop_map(VecOp::Push),
        2 => Just(VecOp::Pop),
        2 => (0u32..12).prop_map(VecOp::Get),
        1 => Just(VecOp::Last),
        2 => ((0u32..12), any::<u64>()).prop_map(|(i, v)| VecOp::Set(i, v)),
        2 => (0u32..12).prop_map(VecOp::SwapRemove),
        1 => Just(VecOp::Clear),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn a_storage_vec_behaves_as_a_vec_under_random_operations(ops in prop::collection::vec(vec_op(), 1..40)) {
        let (mut env, c) = setup();
        let mut model: Vec<u64> = Vec::new();
        for op in ops {
            match op {
                VecOp::Push(v) => {
                    assert!(env.call(BOB, c, "vec_push", &(v,)).is_success());
                    model.push(v);
                }
                VecOp::Pop => {
                    let got: Option<u64> = ok(env.call(BOB, c, "vec_pop", &()));
                    prop_assert_eq!(got, model.pop());
                }
                VecOp::Get(i) => {
                    let got: Option<u64> = ok(env.query(BOB, c, "vec_get", &(i,)));
                    prop_assert_eq!(got, model.get(i as usize).copied());
                }
                VecOp::Last => {
                    let got: Option<u64> = ok(env.query(BOB, c, "vec_last", &()));
                    prop_assert_eq!(got, model.last().copied());
                }
                VecOp::Set(i, v) => {
                    let r = env.call(BOB, c, "vec_set", &(i, v));
                    if (i as usize) < model.len() {
                        prop_assert!(r.is_success(), "{:?}", r);
                        model[i as usize] = v;
                    } else {
                        prop_assert_eq!(r.status, Status::Revert);
                        let Some(Error::OutOfBounds(e)) = r.contract_error::<Error>() else {
                            panic!("{r:?}");
                        };
                        prop_assert_eq!((e.index, e.len as usize), (i, model.len()));
                    }
                }
                VecOp::SwapRemove(i) => {
                    let got: Option<u64> = ok(env.call(BOB, c, "vec_swap_remove", &(i,)));
                    let want = ((i as usize) < model.len()).then(|| model.swap_remove(i as usize));
                    prop_assert_eq!(got, want);
                }
                VecOp::Clear => {
                    assert!(env.call(BOB, c, "vec_clear", &()).is_success());
                    model.clear();
                }
            }
            let len: u32 = ok(env.query(BOB, c, "vec_len", &()));
            prop_assert_eq!(len as usize, model.len());
        }
        let all: Vec<u64> = ok(env.query(BOB, c, "vec_all", &()));
        prop_assert_eq!(&all, &model);
        let reversed: Vec<u64> = ok(env.query(BOB, c, "vec_all_reversed", &()));
        prop_assert_eq!(reversed, model.iter().rev().copied().collect::<Vec<_>>());
        // Nothing is left past the end: every slot from len to the highest index used is empty.
        for i in model.len() as u32..64 {
            let mut key = prefix("list").to_vec();
            key.extend(i.to_le_bytes());
            prop_assert_eq!(env.storage(c, &key), None, "slot {} left behind", i);
        }
    }
}

#[derive(Clone, Debug)]
enum MapOp {
    Insert(Vec<u8>, u64),
    Remove(Vec<u8>),
    Take(Vec<u8>),
    Get(Vec<u8>),
    Contains(Vec<u8>),
    Clear,
}

/// Keys from a small set, so operations meet existing keys; two are longer than the host's
/// 256-byte key limit (stored under their hash).
fn map_key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => (0u8..6).prop_map(|k| vec![k]),
        1 => (0u8..2).prop_map(|k| vec![k; 300]),
    ]
}

fn map_op() -> impl Strategy<Value = MapOp> {
    prop_oneof![
        6 => (map_key(), any::<u64>()).prop_map(|(k, v)| MapOp::Insert(k, v)),
        2 => map_key().prop_map(MapOp::Remove),
        2 => map_key().prop_map(MapOp::Take),
        2 => map_key().prop_map(MapOp::Get),
        1 => map_key().prop_map(MapOp::Contains),
        1 => Just(MapOp::Clear),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn an_iterable_mapping_behaves_as_an_insertion_ordered_map_under_random_operations(ops in prop::collection::vec(map_op(), 1..40)) {
        let (mut env, c) = setup();
        // The model: entries in the order their keys were (last) first inserted.
        let mut model: Vec<(Vec<u8>, u64)> = Vec::new();
        let find = |m: &Vec<(Vec<u8>, u64)>, k: &[u8]| m.iter().position(|(x, _)| x == k);
        for op in ops {
            match op {
                MapOp::Insert(k, v) => {
                    let new: bool = ok(env.call(BOB, c, "map_insert", &(k.clone(), v)));
                    match find(&model, &k) {
                        Some(i) => {
                            prop_assert!(!new);
                            model[i].1 = v;
                        }
                        None => {
                            prop_assert!(new);
                            model.push((k, v));
                        }
                    }
                }
                MapOp::Remove(k) => {
                    let was: bool = ok(env.call(BOB, c, "map_remove", &(k.clone(),)));
                    let i = find(&model, &k);
                    prop_assert_eq!(was, i.is_some());
                    if let Some(i) = i {
                        model.remove(i);
                    }
                }
                MapOp::Take(k) => {
                    let got: Option<u64> = ok(env.call(BOB, c, "map_take", &(k.clone(),)));
                    let want = find(&model, &k).map(|i| model.remove(i).1);
                    prop_assert_eq!(got, want);
                }
                MapOp::Get(k) => {
                    let got: Option<u64> = ok(env.query(BOB, c, "map_get", &(k.clone(),)));
                    prop_assert_eq!(got, find(&model, &k).map(|i| model[i].1));
                }
                MapOp::Contains(k) => {
                    let got: bool = ok(env.query(BOB, c, "map_contains", &(k.clone(),)));
                    prop_assert_eq!(got, find(&model, &k).is_some());
                }
                MapOp::Clear => {
                    assert!(env.call(BOB, c, "map_clear", &()).is_success());
                    model.clear();
                }
            }
            let len: u32 = ok(env.query(BOB, c, "map_len", &()));
            prop_assert_eq!(len as usize, model.len());
        }
        let entries: Vec<(Vec<u8>, u64)> = ok(env.query(BOB, c, "map_entries", &()));
        prop_assert_eq!(&entries, &model);
        let keys: Vec<Vec<u8>> = ok(env.query(BOB, c, "map_keys", &()));
        prop_assert_eq!(keys, model.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>());
        let sum: u64 = ok(env.query(BOB, c, "map_sum", &()));
        prop_assert_eq!(sum, model.iter().fold(0u64, |a, (_, v)| a.wrapping_add(*v)));
    }
}

#[test]
fn a_storage_vec_keeps_its_documented_layout() {
    let (mut env, c) = setup();
    for v in [10u64, 20, 30] {
        assert!(env.call(BOB, c, "vec_push", &(v,)).is_success());
    }
    let p = prefix("list");
    // The length at the bare prefix, SCALE u32.
    assert_eq!(env.storage(c, &p), Some(3u32.encode()));
    // Element i at prefix ‖ i (u32 LE).
    for (i, v) in [10u64, 20, 30].iter().enumerate() {
        let mut key = p.to_vec();
        key.extend((i as u32).to_le_bytes());
        assert_eq!(env.storage(c, &key), Some(v.encode()));
    }
    // Emptied, nothing is left: not even the length.
    assert!(env.call(BOB, c, "vec_clear", &()).is_success());
    assert_eq!(env.storage(c, &p), None);
}

#[test]
fn an_iterable_mapping_keeps_its_documented_layout() {
    let (mut env, c) = setup();
    for (k, v) in [(b"a".to_vec(), 1u64), (b"b".to_vec(), 2)] {
        assert!(env.call(BOB, c, "map_insert", &(k, v)).is_success());
    }
    let p = prefix("map");
    // Header (len, head, tail, last_slot).
    assert_eq!(env.storage(c, &p), Some((2u32, 1u32, 2u32, 2u32).encode()));
    // Entry: prefix ‖ 0 ‖ SCALE(key) → (slot, value).
    let entry = |k: &[u8]| {
        let mut key = p.to_vec();
        key.push(0);
        key.extend(k.to_vec().encode());
        key
    };
    assert_eq!(env.storage(c, &entry(b"a")), Some((1u32, 1u64).encode()));
    assert_eq!(env.storage(c, &entry(b"b")), Some((2u32, 2u64).encode()));
    // Node: prefix ‖ 2 ‖ slot (u32 LE) → (prev, next, key).
    let node = |slot: u32| {
        let mut key = p.to_vec();
        key.push(2);
        key.extend(slot.to_le_bytes());
        key
    };
    assert_eq!(
        env.storage(c, &node(1)),
        Some((0u32, 2u32, b"a".to_vec()).encode())
    );
    assert_eq!(
        env.storage(c, &node(2)),
        Some((1u32, 0u32, b"b".to_vec()).encode())
    );
    // Removing the head relinks the next node and the header; its slots are gone.
    assert!(ok::<bool>(env.call(
        BOB,
        c,
        "map_remove",
        &(b"a".to_vec(),)
    )));
    assert_eq!(env.storage(c, &entry(b"a")), None);
    assert_eq!(env.storage(c, &node(1)), None);
    assert_eq!(
        env.storage(c, &node(2)),
        Some((0u32, 0u32, b"b".to_vec()).encode())
    );
    assert_eq!(env.storage(c, &p), Some((1u32, 2u32, 2u32, 2u32).encode()));
}

/// Gas of one call after `before` calls of `method` with `args(i)`.
fn gas_at<A: Encode>(
    env: &mut TestEnv,
    c: Address,
    method: &str,
    before: u32,
    args: impl Fn(u32) -> A,
) -> u64 {
    for i in 0..before {
        assert!(env.call(BOB, c, method, &args(i)).is_success());
    }
    let r = env.call(BOB, c, method, &args(before));
    assert!(r.is_success(), "{r:?}");
    r.gas_used
}

#[test]
fn operations_cost_the_same_gas_at_any_size() {
    // Push onto a vector of 2 and of 300 elements; the length's encoding has a fixed width.
    let (mut env, c) = setup();
    let small = gas_at(&mut env, c, "vec_push", 2, |i| (i as u64,));
    let (mut env, c) = setup();
    let large = gas_at(&mut env, c, "vec_push", 300, |i| (i as u64,));
    assert_eq!(small, large, "push");
    let get = |env: &mut TestEnv, c, i: u32| env.query(BOB, c, "vec_get", &(i,)).gas_used;
    assert_eq!(get(&mut env, c, 1), get(&mut env, c, 299), "get");

    // Insert a new key into a map of 2 and of 300 keys (keys of one length).
    let key = |i: u32| (i.to_le_bytes().to_vec(), 7u64);
    let (mut env, c) = setup();
    let small = gas_at(&mut env, c, "map_insert", 2, key);
    let (mut env, c) = setup();
    let large = gas_at(&mut env, c, "map_insert", 300, key);
    assert_eq!(small, large, "insert");
    // Removing a middle key of the large map costs what removing one of the small map did.
    let remove = |env: &mut TestEnv, c, i: u32| {
        let r = env.call(BOB, c, "map_remove", &(i.to_le_bytes().to_vec(),));
        assert!(r.decode::<bool>());
        r.gas_used
    };
    let large_remove = remove(&mut env, c, 150);
    let (mut env, c) = setup();
    gas_at(&mut env, c, "map_insert", 2, key);
    assert_eq!(remove(&mut env, c, 1), large_remove, "remove");
}
