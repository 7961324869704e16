//! The Rust client `aether contract bindings --lang rust` generates (checked in as
//! `generated/library.rs`; `node/tests/bindings_rust.rs` holds it to the generator's output)
//! drives the `sdk-library` fixture on the engine: call inputs, return values, the contract's
//! errors with SDK types inside, and events all agree with the contract.

#[rustfmt::skip]
#[path = "generated/library.rs"]
mod client;

use aether_contracts_testing::*;
use client::{AccessError, Event, Granted, Library, OutOfBounds, Revert, Role};

const LIBRARY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/library");

#[test]
fn the_generated_rust_client_encodes_calls_and_decodes_results_errors_and_events() {
    let mut env = TestEnv::new();
    let c = env.deploy(ALICE, LIBRARY, &()).unwrap();

    let grant = Library::grant(Role::Writer, BOB.0);
    assert!(grant.mutates);
    let r = env.call_raw(ALICE, c, grant.method, &grant.input);
    assert_eq!(grant.decode_return(&r.return_data), Ok(true));
    let e = &r.events[0];
    assert_eq!(
        client::decode_event(&e.topics[0], &e.data),
        Some(Ok(Event::Granted(Granted {
            to: BOB.0,
            role: Role::Writer
        })))
    );

    let has = Library::has_role(Role::Writer, BOB.0);
    assert!(!has.mutates);
    let q = env.query_raw(ALICE, c, has.method, &has.input);
    assert_eq!(has.decode_return(&q.return_data), Ok(true));

    // Errors with the SDK's types inside.
    let r = env.call_raw(BOB, c, grant.method, &grant.input);
    assert_eq!(
        grant.decode_revert(&r.return_data),
        Revert::Error(client::Error::Access(AccessError::NotOwner))
    );
    let set = Library::vec_set(3, 1);
    let r = env.call_raw(ALICE, c, set.method, &set.input);
    assert_eq!(
        set.decode_revert(&r.return_data),
        Revert::Error(client::Error::OutOfBounds(OutOfBounds { index: 3, len: 0 }))
    );
    // A panic message.
    let push = Library::vec_push(1);
    let r = env.call_with_value_raw(ALICE, c, push.method, &push.input, 5);
    assert_eq!(
        push.decode_revert(&r.return_data),
        Revert::Panic("method `vec_push` does not accept value".into())
    );

    // Collections through the client: bytes, options, tuples.
    let insert = Library::map_insert(vec![1, 2], 7);
    env.call_raw(ALICE, c, insert.method, &insert.input);
    let entries = Library::map_entries();
    let q = env.query_raw(ALICE, c, entries.method, &entries.input);
    assert_eq!(
        entries.decode_return(&q.return_data),
        Ok(vec![(vec![1, 2], 7)])
    );
    // Bytes that are not the type are an error, not a value.
    assert!(entries.decode_return(&[9]).is_err());
}
