//! Real WAT contracts on the engine: storage, transfers, events, revert data, cross-contract
//! calls with rollback, and gas charged exactly as the schedule says.

mod common;

use aether_engine::GasSchedule;
use aether_engine::types::{Action, Address, Hash, Status};
use common::*;

const GAS: u64 = 5_000_000;

#[test]
fn storage_write_read_remove_round_trip() {
    let mut sb = sandbox();
    let c = sb.deploy(ALICE, wasm(&kitchen_sink()), vec![]).unwrap();
    let r = sb
        .call(ALICE, c, "store", b"hello world".to_vec(), 0, GAS)
        .unwrap();
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    assert_eq!(sb.storage(&c, b"key").unwrap(), b"hello world");
    let r = sb.call(ALICE, c, "load", vec![], 0, GAS).unwrap();
    assert_eq!(r.return_data, b"hello world");
    let r = sb.call(ALICE, c, "remove", vec![], 0, GAS).unwrap();
    assert_eq!(r.return_data, [1, 0], "removed, then absent");
    assert!(sb.storage(&c, b"key").is_none());
    let r = sb.call(ALICE, c, "load", vec![], 0, GAS).unwrap();
    assert_eq!(r.status, Status::Revert);
    assert_eq!(r.return_data, b"nope");
}

#[test]
fn token_transfer_moves_balances_and_emits_event() {
    let mut sb = sandbox();
    let t = sb
        .deploy(ALICE, wasm(&token()), 1_000u128.to_le_bytes().to_vec())
        .unwrap();
    let r = sb
        .call(ALICE, t, "transfer", transfer_input(&BOB, 300), 0, GAS)
        .unwrap();
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    assert_eq!(r.events.len(), 1);
    let ev = &r.events[0];
    assert_eq!(ev.contract, t);
    assert_eq!(&ev.topics[0].0[..8], b"Transfer");
    assert_eq!(ev.topics[1], Hash(ALICE.0));
    assert_eq!(ev.topics[2], Hash(BOB.0));
    assert_eq!(ev.data, 300u128.to_le_bytes());
    let bal = |sb: &mut aether_engine::sandbox::Sandbox, who: Address| {
        let r = sb
            .call(ALICE, t, "balance_of", who.0.to_vec(), 0, GAS)
            .unwrap();
        u128::from_le_bytes(r.return_data.try_into().unwrap())
    };
    assert_eq!(bal(&mut sb, ALICE), 700);
    assert_eq!(bal(&mut sb, BOB), 300);
    // Self-transfer keeps the balance.
    sb.call(BOB, t, "transfer", transfer_input(&BOB, 100), 0, GAS)
        .unwrap();
    assert_eq!(bal(&mut sb, BOB), 300);
}

#[test]
fn token_revert_on_insufficient_balance_rolls_back_and_returns_reason() {
    let mut sb = sandbox();
    sb.set_gas_price(2);
    let t = sb
        .deploy(ALICE, wasm(&token()), 50u128.to_le_bytes().to_vec())
        .unwrap();
    let before = sb.state().clone();
    let r = sb
        .call(ALICE, t, "transfer", transfer_input(&BOB, 51), 0, GAS)
        .unwrap();
    assert_eq!(r.status, Status::Revert);
    assert_eq!(r.return_data, b"insufficient balance");
    assert!(r.events.is_empty());
    // Only the fee (and nonce) changed.
    assert_eq!(sb.state().storage, before.storage);
    let fee = u128::from(r.gas_used) * 2;
    assert_eq!(sb.balance(&ALICE), before.accounts[&ALICE].balance - fee);
    assert_eq!(
        sb.state().accounts[&ALICE].nonce,
        before.accounts[&ALICE].nonce + 1
    );
}

#[test]
fn value_transfer_from_contract_and_environment_reads() {
    let mut sb = sandbox();
    let c = sb.deploy(ALICE, wasm(&kitchen_sink()), vec![]).unwrap();
    // Send value with a call; the contract sees it and its balance.
    let r = sb.call(ALICE, c, "env", vec![], 1_000, GAS).unwrap();
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    let d = &r.return_data;
    assert_eq!(u64::from_le_bytes(d[0..8].try_into().unwrap()), 1);
    assert_eq!(u64::from_le_bytes(d[16..24].try_into().unwrap()), 1);
    assert_eq!(&d[24..56], &ALICE.0);
    assert_eq!(&d[56..88], &c.0);
    assert_eq!(u128::from_le_bytes(d[88..104].try_into().unwrap()), 1_000);
    assert_eq!(u128::from_le_bytes(d[104..120].try_into().unwrap()), 1_000);
    // The contract pays 400 to a fresh account, then fails to pay more than it has.
    let carol = Address([0xCC; 32]);
    let r = sb
        .call(ALICE, c, "pay", transfer_input(&carol, 400), 0, GAS)
        .unwrap();
    assert_eq!(r.return_data, [0]);
    assert_eq!(sb.balance(&carol), 400);
    let r = sb
        .call(ALICE, c, "pay", transfer_input(&carol, 601), 0, GAS)
        .unwrap();
    assert_eq!(r.return_data, [1], "insufficient balance code");
    assert_eq!(sb.balance(&c), 600);
}

#[test]
fn failed_callee_is_rolled_back_while_caller_writes_stay() {
    let mut sb = sandbox();
    let caller = sb.deploy(ALICE, wasm(&kitchen_sink()), vec![]).unwrap();
    let code_hash = sb.state().accounts[&caller].code_hash.unwrap();
    let callee = sb
        .submit(
            ALICE,
            Action::Instantiate {
                code_hash,
                salt: b"2".to_vec(),
                value: 0,
                input: vec![],
                admin: None,
            },
            GAS,
        )
        .unwrap();
    let callee = Address(callee.created.unwrap());
    let r = sb
        .call(ALICE, caller, "call_fail", callee.0.to_vec(), 0, GAS)
        .unwrap();
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    assert_eq!(r.return_data[0], 1, "callee reverted");
    assert_eq!(
        &r.return_data[8..],
        b"nope",
        "revert data reaches the caller"
    );
    assert_eq!(sb.storage(&caller, b"mine").unwrap(), b"kept");
    assert_eq!(sb.storage(&caller, b"status").unwrap(), &[1]);
    assert!(
        sb.storage(&callee, b"key").is_none(),
        "callee write rolled back"
    );
    assert!(r.events.is_empty(), "callee event rolled back");
}

#[test]
fn reentrancy_is_refused_unless_the_callee_opts_in() {
    let mut sb = sandbox();
    let c = sb.deploy(ALICE, wasm(&kitchen_sink()), vec![]).unwrap();
    let r = sb.call(ALICE, c, "call_self", vec![], 0, GAS).unwrap();
    assert_eq!(
        r.return_data,
        [aether_engine::vm::call_status::REENTRANCY_REFUSED as u8]
    );
    let opted = kitchen_sink().replacen(
        "(func (export \"init\"))",
        "(func (export \"init\")) (func (export \"__aether_reentrant\"))",
        1,
    );
    let c = sb.deploy(BOB, wasm(&opted), vec![]).unwrap();
    let r = sb.call(ALICE, c, "call_self", vec![], 0, GAS).unwrap();
    assert_eq!(
        r.return_data,
        [aether_engine::vm::call_status::REVERTED as u8],
        "reentered, then the callee reverted"
    );
}

#[test]
fn hashes_match_reference_implementations() {
    let mut sb = sandbox();
    let c = sb.deploy(ALICE, wasm(&kitchen_sink()), vec![]).unwrap();
    let r = sb.call(ALICE, c, "hash", b"abc".to_vec(), 0, GAS).unwrap();
    assert_eq!(&r.return_data[..32], aether_engine::crypto::sha256(b"abc"));
    assert_eq!(
        &r.return_data[32..],
        aether_engine::crypto::keccak256(b"abc")
    );
}

#[test]
fn events_carry_topics_and_data() {
    let mut sb = sandbox();
    let c = sb.deploy(ALICE, wasm(&kitchen_sink()), vec![]).unwrap();
    let r = sb
        .call(ALICE, c, "emit", [7u8; 32].to_vec(), 0, GAS)
        .unwrap();
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.events[0].topics, vec![Hash([7; 32])]);
    assert_eq!(r.events[0].data, b"hello");
}

#[test]
fn transfer_transaction_costs_exactly_the_intrinsic_gas() {
    let mut sb = sandbox();
    let r = sb
        .submit(ALICE, Action::Transfer { to: BOB, amount: 5 }, GAS)
        .unwrap();
    let s = GasSchedule::V1;
    // Sandbox transactions are measured with a 97-byte signer+signature envelope.
    let tx_len = {
        use parity_scale_codec::Encode;
        aether_engine::types::Transaction {
            chain_id: 1,
            nonce: 0,
            gas_limit: GAS,
            gas_price: 0,
            action: Action::Transfer { to: BOB, amount: 5 },
        }
        .encoded_size()
            + 97
    } as u64;
    assert_eq!(r.gas_used, s.tx_base + s.tx_per_byte * tx_len + s.transfer);
}

#[test]
fn storage_write_gas_follows_the_schedule_for_bytes_and_new_versus_overwrite() {
    let s = GasSchedule::V1;
    let mut sb = sandbox();
    let c = sb.deploy(ALICE, wasm(&kitchen_sink()), vec![]).unwrap();
    // Same instructions, one more value byte: the difference is exactly the per-byte prices
    // (input copy + value copy + storage byte + transaction byte).
    sb.call(ALICE, c, "store", vec![1; 3], 0, GAS).unwrap();
    let a = sb
        .call(ALICE, c, "store", vec![1; 10], 0, GAS)
        .unwrap()
        .gas_used;
    let b = sb
        .call(ALICE, c, "store", vec![1; 11], 0, GAS)
        .unwrap()
        .gas_used;
    assert_eq!(
        b - a,
        s.host_per_byte + s.host_per_byte + s.storage_write_per_byte + s.tx_per_byte
    );
    // First write to a fresh contract is new, the second overwrites.
    let c2 = sb.deploy(BOB, wasm(&kitchen_sink()), vec![]).unwrap();
    let first = sb
        .call(ALICE, c2, "store", vec![1; 10], 0, GAS)
        .unwrap()
        .gas_used;
    let second = sb
        .call(ALICE, c2, "store", vec![1; 10], 0, GAS)
        .unwrap()
        .gas_used;
    assert_eq!(
        first - second,
        s.storage_write_new - s.storage_write_overwrite
    );
}

#[test]
fn failed_transactions_pay_fees_and_out_of_gas_pays_the_whole_limit() {
    let mut sb = sandbox();
    sb.set_gas_price(3);
    let c = sb.deploy(ALICE, wasm(&kitchen_sink()), vec![]).unwrap();
    let before = sb.balance(&ALICE);
    let proposer = Address([0xEE; 32]);
    let proposer_before = sb.balance(&proposer);
    let r = sb.call(ALICE, c, "spin", vec![], 0, 200_000).unwrap();
    assert_eq!(r.status, Status::OutOfGas);
    assert_eq!(r.gas_used, 200_000);
    assert_eq!(sb.balance(&ALICE), before - 600_000);
    assert_eq!(
        sb.balance(&proposer),
        proposer_before + 600_000,
        "proposer earns the fee"
    );
}

#[test]
fn gas_left_decreases_and_is_visible_to_the_contract() {
    let mut sb = sandbox();
    let c = sb.deploy(ALICE, wasm(&kitchen_sink()), vec![]).unwrap();
    let r = sb.call(ALICE, c, "gas", vec![], 0, 1_000_000).unwrap();
    let left = u64::from_le_bytes(r.return_data.try_into().unwrap());
    assert!(left < 1_000_000 && left > 900_000, "{left}");
    // What was used after `gas_left` returned is a handful of instructions and the return.
    let after = r.gas_used + left - 1_000_000;
    assert!(after < 200, "{after}");
}

#[test]
fn upgrade_code_requires_the_admin_and_runs_the_migration() {
    let mut sb = sandbox();
    let c = sb.deploy(ALICE, wasm(&kitchen_sink()), vec![]).unwrap();
    let new_code = wasm(&token());
    let h = sb.upload(ALICE, new_code).unwrap();
    let up = |migrate: Option<&str>| Action::UpgradeCode {
        contract: c,
        code_hash: h,
        migrate: migrate.map(String::from),
        input: vec![],
    };
    let r = sb.submit(BOB, up(None), GAS).unwrap();
    assert_eq!(r.status, Status::Revert, "not the admin");
    let r = sb.submit(ALICE, up(Some("nonexistent")), GAS).unwrap();
    assert_eq!(r.status, Status::Trap);
    assert_ne!(
        sb.state().accounts[&c].code_hash,
        Some(h),
        "failed upgrade undone"
    );
    let r = sb.submit(ALICE, up(None), GAS).unwrap();
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    assert_eq!(sb.state().accounts[&c].code_hash, Some(h));
}

#[test]
fn a_migration_runs_only_in_an_upgrade() {
    // New code with a migration export (`__aether_migrate_`, as the SDK's `#[migrate]`) that
    // writes a marker, and a method that tries to call it.
    let code = wasm(&format!(
        r#"(module {}
  (memory (export "memory") 1)
  (data (i32.const 0) "__aether_migrate_v2")
  (data (i32.const 32) "migrated")
  (func (export "__aether_migrate_v2")
    (call $storage_write (i32.const 32) (i32.const 8) (i32.const 32) (i32.const 8)))
  (func (export "poke")
    (call $address (i32.const 64))
    (i32.store8 (i32.const 100)
      (call $call (i32.const 64) (i32.const 0) (i32.const 19) (i32.const 0) (i32.const 0) (i32.const 128) (i64.const 0)))
    (call $return (i32.const 100) (i32.const 1)))
)"#,
        common::IMPORTS
    ));
    let mut sb = sandbox();
    let c = sb.deploy(ALICE, wasm(&kitchen_sink()), vec![]).unwrap();
    let h = sb.upload(ALICE, code).unwrap();
    let migrate = "__aether_migrate_v2";
    let upgrade = Action::UpgradeCode {
        contract: c,
        code_hash: h,
        migrate: Some(migrate.into()),
        input: vec![],
    };
    let r = sb.submit(ALICE, upgrade, GAS).unwrap();
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    assert_eq!(
        sb.storage(&c, b"migrated").map(Vec::as_slice),
        Some(&b"migrated"[..])
    );
    // Neither a call transaction nor the `call` host function runs it again.
    let r = sb.call(BOB, c, migrate, vec![], 0, GAS).unwrap();
    assert_eq!(r.status, Status::Trap);
    assert!(r.error.unwrap().contains("runs only in an upgrade"));
    let r = sb.call(BOB, c, "poke", vec![], 0, GAS).unwrap();
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    assert_eq!(
        r.return_data,
        [aether_engine::vm::call_status::NOT_FOUND as u8]
    );
}

#[test]
fn gas_does_not_depend_on_the_module_cache() {
    // First call (module freshly compiled, functions translated on first use) and later calls
    // (everything cached) cost the same; so does a call on a VM with a cold cache.
    let mut sb = sandbox();
    let c = sb.deploy(ALICE, wasm(&kitchen_sink()), vec![]).unwrap();
    let state = sb.state().clone();
    let g1 = sb
        .call(ALICE, c, "hash", b"abc".to_vec(), 0, GAS)
        .unwrap()
        .gas_used;
    let mut warm = aether_engine::sandbox::Sandbox::new(state.clone());
    let mut cold = aether_engine::sandbox::Sandbox::new(state);
    let g2 = warm
        .call(ALICE, c, "hash", b"abc".to_vec(), 0, GAS)
        .unwrap()
        .gas_used;
    let g3 = warm
        .call(BOB, c, "hash", b"abc".to_vec(), 0, GAS)
        .unwrap()
        .gas_used;
    let g4 = cold
        .call(ALICE, c, "hash", b"abc".to_vec(), 0, GAS)
        .unwrap()
        .gas_used;
    assert_eq!(g1, g2);
    assert_eq!(g2, g3);
    assert_eq!(g3, g4);
}
