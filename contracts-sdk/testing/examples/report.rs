//! Sizes and gas per call of the example contracts, for `docs/benchmarks.md`:
//! `cargo run --release -p aether-contracts-testing --example report`.

use aether_contracts_testing::*;

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
}
