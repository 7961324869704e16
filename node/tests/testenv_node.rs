//! `TestEnv`'s node backend: one test body run in process and against `aether run --dev`
//! over RPC gives the same statuses, return values, events, errors, balances and storage, and
//! the same gas.

mod common;

use aether_contracts_testing::*;
use common::Node;
use counter::counter::{Changed, Error};

const COUNTER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../contracts-sdk/examples/counter"
);

/// A counter's life, as a list of what each step gave (gas included).
fn scenario(env: &mut TestEnv) -> Vec<String> {
    let mut seen = Vec::new();
    let c = env.deploy(ALICE, COUNTER, &(40u64,)).unwrap();
    let r = env.call(BOB, c, "increment", &(2u64,));
    assert_eq!(r.decode::<u64>(), 42);
    assert_eq!(
        r.events_of::<Changed>(),
        vec![Changed { by: BOB, value: 42 }]
    );
    seen.push(format!("increment {:?} {}", r.status, r.gas_used));
    let q = env.query(CHARLIE, c, "get", &());
    assert_eq!(q.decode::<u64>(), 42);
    seen.push(format!("get {}", q.gas_used));
    // The contract's error, decoded; the state unchanged.
    let r = env.call(BOB, c, "increment", &(u64::MAX,));
    assert_eq!(r.contract_error::<Error>(), Some(Error::Overflow));
    seen.push(format!("overflow {:?} {}", r.status, r.gas_used));
    let r = env.call(BOB, c, "reset", &());
    assert_eq!(r.contract_error::<Error>(), Some(Error::NotOwner));
    // A panic message from the SDK: value sent to a method that is not payable.
    let r = env.call_with_value(BOB, c, "increment", &(1u64,), 5);
    assert_eq!(
        r.panic_message().as_deref(),
        Some("method `increment` does not accept value")
    );
    seen.push(format!("payable {:?} {}", r.status, r.gas_used));
    assert_eq!(env.balance(c), 0);
    // Storage as the layout says: the `value` field at its 8-byte key.
    let key: [u8; 8] = aether_engine::crypto::sha256(b"Counter::value")[..8]
        .try_into()
        .unwrap();
    assert_eq!(env.storage(c, &key), Some(42u64.to_le_bytes().to_vec()));
    // Funding moves balance.
    let before = env.balance(CHARLIE);
    env.fund(CHARLIE, 7);
    assert_eq!(env.balance(CHARLIE), before + 7);
    assert!(env.call(ALICE, c, "reset", &()).is_success());
    assert_eq!(env.query(BOB, c, "get", &()).decode::<u64>(), 0);
    seen
}

#[test]
fn the_same_test_runs_in_process_and_against_a_dev_node_with_the_same_results() {
    let in_process = scenario(&mut TestEnv::new());
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let mut env = TestEnv::connect(&node.rpc).unwrap();
    assert!(env.on_node());
    assert_eq!(env.chain_id(), 1337);
    let on_node = scenario(&mut env);
    assert_eq!(in_process, on_node);
    // Run twice on one chain: the salts differ, so a second deployment does not collide.
    let mut again = TestEnv::connect(&node.rpc).unwrap();
    assert_eq!(scenario(&mut again), in_process);
    // What only the in-process backend can do is refused with a clear message.
    let refused =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || env.set_block(5, 0)));
    let message = refused.unwrap_err();
    let text = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        text.contains("set_block needs the in-process backend"),
        "{text}"
    );
}
