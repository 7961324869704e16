//! Sizes and gas per call of the example contracts, for `docs/benchmarks.md`:
//! `cargo run --release -p aether-contracts-testing --example report`.

use aether_contracts_testing::*;
use parity_scale_codec::Encode;

fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let dir = |name: &str| format!("{root}/{name}");
    println!("| contract | size (bytes) |");
    println!("|---|---|");
    for name in ["counter", "token", "escrow"] {
        let built = TestEnv::build(&dir(name));
        println!("| {name} | {} |", built.wasm.len());
    }

    let mut env = TestEnv::new();
    let mut rows = Vec::new();
    let mut row = |what: &str, o: &Outcome| {
        assert!(o.is_success(), "{what}: {o:?}");
        rows.push(format!("| {what} | {} |", o.gas_used));
    };

    let counter = env.deploy(ALICE, &dir("counter"), &(0u64,)).unwrap();
    row(
        "counter.increment",
        &env.call(ALICE, counter, "increment", &(1u64,)),
    );
    row(
        "counter.get (query)",
        &env.query(ALICE, counter, "get", &()),
    );

    let token = env.deploy(ALICE, &dir("token"), &(1_000_000u128,)).unwrap();
    row(
        "token.transfer (new recipient)",
        &env.call(ALICE, token, "transfer", &(BOB, 10u128)),
    );
    row(
        "token.transfer (existing recipient)",
        &env.call(ALICE, token, "transfer", &(BOB, 10u128)),
    );
    row(
        "token.approve",
        &env.call(ALICE, token, "approve", &(BOB, 100u128)),
    );
    row(
        "token.transfer_from",
        &env.call(BOB, token, "transfer_from", &(ALICE, CHARLIE, 10u128)),
    );
    row(
        "token.balance_of (query)",
        &env.query(ALICE, token, "balance_of", &(BOB,)),
    );

    let escrow = env
        .deploy(ALICE, &dir("escrow"), &(token, BOB, CHARLIE, 500u128))
        .unwrap();
    assert!(
        env.call(ALICE, token, "approve", &(escrow, 500u128))
            .is_success()
    );
    row(
        "escrow.deposit (calls token.transfer_from)",
        &env.call(ALICE, escrow, "deposit", &()),
    );
    row(
        "escrow.release (calls token.transfer)",
        &env.call(ALICE, escrow, "release", &()),
    );

    println!();
    println!("| call | gas |");
    println!("|---|---|");
    for r in rows {
        println!("{r}");
    }
    library();
}

/// Gas per operation of the SDK's collections and access control, through the `sdk-library`
/// fixture: each call's gas, and what it costs over a call of the fixture that does nothing.
fn library() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/library");
    let mut env = TestEnv::new();
    let c = env.deploy(ALICE, dir, &()).unwrap();
    let mut rows = Vec::new();
    let base = env.query(ALICE, c, "noop", &()).gas_used;
    let mut row = |what: &str, o: Outcome| {
        assert!(o.is_success(), "{what}: {o:?}");
        rows.push(format!(
            "| {what} | {} | {} |",
            o.gas_used,
            o.gas_used as i64 - base as i64
        ));
    };
    let k = |i: u8| vec![i; 8];
    row("noop (baseline)", env.query(ALICE, c, "noop", &()));
    for i in 0..10u64 {
        env.call(ALICE, c, "vec_push", &(i,));
    }
    row(
        "StorageVec::push",
        env.call(ALICE, c, "vec_push", &(10u64,)),
    );
    row("StorageVec::get", env.query(ALICE, c, "vec_get", &(3u32,)));
    row(
        "StorageVec::set",
        env.call(ALICE, c, "vec_set", &(3u32, 9u64)),
    );
    row("StorageVec::len", env.query(ALICE, c, "vec_len", &()));
    row("StorageVec::pop", env.call(ALICE, c, "vec_pop", &()));
    row(
        "StorageVec::swap_remove",
        env.call(ALICE, c, "vec_swap_remove", &(2u32,)),
    );
    row(
        "StorageVec::iter, 9 elements",
        env.query(ALICE, c, "vec_all", &()),
    );
    row(
        "Mapping::insert (new key)",
        env.call(ALICE, c, "plain_insert", &(k(1), 1u64)),
    );
    row("Mapping::get", env.query(ALICE, c, "plain_get", &(k(1),)));
    for i in 0..10u8 {
        env.call(ALICE, c, "map_insert", &(k(i), i as u64));
    }
    row(
        "IterableMapping::insert (new key)",
        env.call(ALICE, c, "map_insert", &(k(10), 10u64)),
    );
    row(
        "IterableMapping::insert (existing key)",
        env.call(ALICE, c, "map_insert", &(k(10), 11u64)),
    );
    row(
        "IterableMapping::get",
        env.query(ALICE, c, "map_get", &(k(3),)),
    );
    row(
        "IterableMapping::remove (middle key)",
        env.call(ALICE, c, "map_remove", &(k(5),)),
    );
    row(
        "IterableMapping::keys, 10 keys",
        env.query(ALICE, c, "map_keys", &()),
    );
    row(
        "IterableMapping::iter, 10 entries",
        env.query(ALICE, c, "map_entries", &()),
    );
    row(
        "Ownable::ensure_owner + Roles::grant",
        env.call(
            ALICE,
            c,
            "grant",
            &(sdk_library::library::Role::Writer, BOB),
        ),
    );
    row(
        "Roles::ensure + StorageVec::push",
        env.call(BOB, c, "write", &(1u64,)),
    );
    let key = aether_engine::crypto::Keypair::ed25519_from_seed(&[7; 32]);
    let amount = 5u64.encode();
    let scope: [u8; 8] = {
        use sha2::Digest;
        sha2::Sha256::digest(b"Library::signed")[..8]
            .try_into()
            .unwrap()
    };
    let message =
        aether_contracts_sdk::access::signed_message(env.chain_id(), &c, scope, 0, &amount);
    let args = (
        aether_contracts_sdk::access::Scheme::Ed25519,
        Address(key.address().0),
        0u64,
        5u64,
        key.sign(&message).0,
    );
    row(
        "SignedMessages::authorize (ed25519) + Mapping::insert",
        env.call(ALICE, c, "relay", &args),
    );
    println!();
    println!("| operation (one call) | gas | over noop |");
    println!("|---|---:|---:|");
    for r in rows {
        println!("{r}");
    }
}
