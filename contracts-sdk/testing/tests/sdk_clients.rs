//! Typed clients: `contract_ref!` from an ABI file and the `{Contract}Ref` that `#[contract]`
//! emits call the real contracts on the engine with the same results and error semantics as
//! `Call::invoke` (the escrow example's tests cover `TokenRef`).

use aether_contracts_testing::*;
use sdk_library::library::Error;

const LIBRARY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/library");
const COUNTER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/counter");

#[test]
fn the_checked_in_counter_abi_is_the_counters_own() {
    let file = std::fs::read_to_string(format!("{LIBRARY}/abi/counter.abi.json")).unwrap();
    let file: serde_json::Value = serde_json::from_str(&file).unwrap();
    let own: serde_json::Value = serde_json::from_str(counter::counter::ABI_JSON).unwrap();
    assert_eq!(
        file, own,
        "copy target/aether/counter.abi.json into fixtures/library/abi"
    );
}

#[test]
fn a_client_from_an_abi_file_calls_the_contract_and_reports_its_failure() {
    let mut env = TestEnv::new();
    let lib = env.deploy(ALICE, LIBRARY, &()).unwrap();
    let counter = env.deploy(ALICE, COUNTER, &(40u64,)).unwrap();
    let r = env.call(BOB, lib, "bump", &(counter, 2u64));
    assert_eq!(r.decode::<u64>(), 42);
    assert_eq!(env.query(BOB, counter, "get", &()).decode::<u64>(), 42);
    // The counter's own error (overflow) reaches the caller as a failed call, and the
    // counter's state is unchanged.
    let r = env.call(BOB, lib, "bump", &(counter, u64::MAX));
    assert_eq!(r.contract_error::<Error>(), Some(Error::CallFailed));
    assert_eq!(env.query(BOB, counter, "get", &()).decode::<u64>(), 42);
    // No contract at the address.
    let r = env.call(BOB, lib, "bump", &(CHARLIE, 1u64));
    assert_eq!(r.contract_error::<Error>(), Some(Error::CallFailed));
}

#[test]
fn a_client_instantiates_the_contract_with_its_constructor_arguments() {
    let mut env = TestEnv::new();
    let lib = env.deploy(ALICE, LIBRARY, &()).unwrap();
    let code = env.upload(ALICE, &TestEnv::build(COUNTER).wasm);
    let r = env.call(BOB, lib, "spawn_counter", &(code, 7u64));
    let created: Address = r.decode();
    assert_eq!(env.query(BOB, created, "get", &()).decode::<u64>(), 7);
    // The same salt again: the address is taken, the client reports the failure.
    let r = env.call(BOB, lib, "spawn_counter", &(code, 7u64));
    assert_eq!(r.contract_error::<Error>(), Some(Error::CallFailed));
}

#[test]
fn a_contracts_own_client_sends_value_only_where_a_message_accepts_it() {
    let mut env = TestEnv::new();
    let a = env.deploy(ALICE, LIBRARY, &()).unwrap();
    let b = env.deploy(ALICE, LIBRARY, &()).unwrap();
    let r = env.call(BOB, a, "push_to", &(b, 5u64, 0u128));
    assert!(r.is_success(), "{r:?}");
    assert_eq!(
        env.query(BOB, b, "vec_all", &()).decode::<Vec<u64>>(),
        vec![5]
    );
    // `vec_push` is not payable: sending value through the client fails the call.
    let r = env.call_with_value(BOB, a, "push_to", &(b, 6u64, 1u128), 1);
    assert_eq!(r.contract_error::<Error>(), Some(Error::CallFailed));
    assert_eq!(
        env.query(BOB, b, "vec_all", &()).decode::<Vec<u64>>(),
        vec![5]
    );
    assert_eq!(env.balance(b), 0);
}
