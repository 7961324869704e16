//! Instances kept between calls: a call never sees the memory, globals or memory size an
//! earlier call left, reentrant calls get an instance of their own, modules whose table or
//! segments could change are never reused, and receipts are the same as without reuse.

mod common;

use std::sync::Arc;

use aether_engine::GasSchedule;
use aether_engine::memory::MemoryState;
use aether_engine::sandbox::Sandbox;
use aether_engine::types::{Address, Receipt, Status};
use aether_engine::vm::{DEFAULT_CACHE_MODULES, DEFAULT_INSTANCE_POOL_BYTES, Vm};
use common::{ALICE, BOB, IMPORTS, token, transfer_input, wasm};

fn sandbox_with(pool_bytes: usize) -> (Sandbox, Arc<Vm>) {
    let vm = Vm::with_instance_pool(GasSchedule::V1, DEFAULT_CACHE_MODULES, pool_bytes);
    let sb = Sandbox::with_vm(
        MemoryState::with_balances([(ALICE, 1 << 80), (BOB, 1 << 80)]),
        vm.clone(),
    );
    (sb, vm)
}

/// `peek` returns what a fresh instance holds: the data segment at 0, bytes at 100 and at
/// 60,000 (zero when fresh), both mutable globals and the memory size in pages. `dirty`
/// changes all of them; `dirty_then_trap` does the same and traps; `grow` grows the memory.
fn leaky() -> String {
    format!(
        r#"(module {IMPORTS}
  (memory (export "memory") 1 4)
  (global $g (mut i32) (i32.const 7))
  (global $h (mut i64) (i64.const -1))
  (data (i32.const 0) "seed-bytes")
  (func $dirty
    (i64.store (i32.const 0) (i64.const 0x4141414141414141))
    (i64.store (i32.const 100) (i64.const 0x4242424242424242))
    (i64.store (i32.const 60000) (i64.const 0x4343434343434343))
    (global.set $g (i32.const 42))
    (global.set $h (i64.const 99)))
  (func (export "dirty") (call $dirty))
  (func (export "dirty_then_trap") (call $dirty) unreachable)
  (func (export "grow") (call $dirty) (drop (memory.grow (i32.const 1))))
  (func (export "peek")
    (i64.store (i32.const 200) (i64.load (i32.const 0)))
    (i64.store (i32.const 208) (i64.load (i32.const 100)))
    (i64.store (i32.const 216) (i64.load (i32.const 60000)))
    (i32.store (i32.const 224) (global.get $g))
    (i64.store (i32.const 228) (global.get $h))
    (i32.store (i32.const 236) (memory.size))
    (call $return (i32.const 200) (i32.const 40))))"#
    )
}

fn fresh_peek() -> Vec<u8> {
    let mut v = b"seed-byt".to_vec();
    v.extend_from_slice(&[0; 16]);
    v.extend_from_slice(&7i32.to_le_bytes());
    v.extend_from_slice(&(-1i64).to_le_bytes());
    v.extend_from_slice(&1i32.to_le_bytes());
    v
}

fn call(sb: &mut Sandbox, contract: Address, method: &str) -> Receipt {
    sb.call(ALICE, contract, method, Vec::new(), 0, 10_000_000)
        .unwrap()
}

#[test]
fn a_call_never_sees_memory_or_globals_an_earlier_call_left() {
    let (mut sb, vm) = sandbox_with(DEFAULT_INSTANCE_POOL_BYTES);
    let c = sb.deploy(ALICE, wasm(&leaky()), Vec::new()).unwrap();
    assert_eq!(call(&mut sb, c, "peek").return_data, fresh_peek());
    for method in ["dirty", "dirty_then_trap", "grow"] {
        let r = call(&mut sb, c, method);
        let expected = if method == "dirty_then_trap" {
            Status::Trap
        } else {
            Status::Success
        };
        assert_eq!(r.status, expected, "{method}: {r:?}");
        let peek = call(&mut sb, c, "peek");
        assert_eq!(peek.return_data, fresh_peek(), "after {method}");
    }
    // The instance really was reused: it is idle in the pool now.
    assert!(vm.idle_instances().0 >= 1);
}

#[test]
fn an_instance_whose_memory_grew_is_dropped() {
    let (mut sb, vm) = sandbox_with(DEFAULT_INSTANCE_POOL_BYTES);
    let c = sb.deploy(ALICE, wasm(&leaky()), Vec::new()).unwrap();
    call(&mut sb, c, "peek");
    assert_eq!(vm.idle_instances().0, 1);
    let r = call(&mut sb, c, "grow");
    assert_eq!(r.status, Status::Success);
    assert_eq!(vm.idle_instances().0, 0, "a grown memory cannot be reset");
}

#[test]
fn a_reentrant_call_gets_an_instance_of_its_own() {
    // `outer` writes a marker, calls itself (`inner`, which returns the marker's place as it
    // sees it), then returns what the inner call saw followed by its own marker.
    let wat = format!(
        r#"(module {IMPORTS}
  (memory (export "memory") 1)
  (global $depth (mut i32) (i32.const 0))
  (data (i32.const 1024) "inner")
  (func (export "__aether_reentrant"))
  (func (export "inner")
    (i32.store (i32.const 300) (global.get $depth))
    (call $return (i32.const 296) (i32.const 8)))
  (func (export "outer")
    (i32.store (i32.const 296) (i32.const 0x6b72616d))
    (global.set $depth (i32.const 5))
    (call $address (i32.const 0))
    (drop (call $call (i32.const 0) (i32.const 1024) (i32.const 5) (i32.const 0) (i32.const 0) (i32.const 2048) (i64.const 0)))
    (call $return_data_read (i32.const 400))
    (i32.store (i32.const 408) (i32.load (i32.const 296)))
    (i32.store (i32.const 412) (global.get $depth))
    (call $return (i32.const 400) (i32.const 16))))"#
    );
    let (mut sb, _vm) = sandbox_with(DEFAULT_INSTANCE_POOL_BYTES);
    let c = sb.deploy(ALICE, wasm(&wat), Vec::new()).unwrap();
    for _ in 0..3 {
        let r = call(&mut sb, c, "outer");
        assert_eq!(r.status, Status::Success, "{r:?}");
        let mut expected = vec![0; 8]; // the inner frame saw a fresh memory and global
        expected.extend_from_slice(b"mark");
        expected.extend_from_slice(&5i32.to_le_bytes());
        assert_eq!(r.return_data, expected);
    }
}

#[test]
fn modules_that_can_change_their_table_or_segments_are_never_reused() {
    let wat = format!(
        r#"(module {IMPORTS}
  (type $t (func (result i32)))
  (memory (export "memory") 1)
  (table 2 funcref)
  (elem (i32.const 0) $one $two)
  (func $one (result i32) (i32.const 1))
  (func $two (result i32) (i32.const 2))
  (func (export "swap") (table.copy (i32.const 0) (i32.const 1) (i32.const 1)))
  (func (export "first")
    (i32.store (i32.const 0) (call_indirect (type $t) (i32.const 0)))
    (call $return (i32.const 0) (i32.const 4))))"#
    );
    let (mut sb, vm) = sandbox_with(DEFAULT_INSTANCE_POOL_BYTES);
    let c = sb.deploy(ALICE, wasm(&wat), Vec::new()).unwrap();
    assert_eq!(call(&mut sb, c, "swap").status, Status::Success);
    assert_eq!(call(&mut sb, c, "first").return_data, 1i32.to_le_bytes());
    assert_eq!(vm.idle_instances().0, 0);
}

#[test]
fn receipts_and_state_are_the_same_with_and_without_reuse() {
    let run = |pool_bytes| {
        let (mut sb, _vm) = sandbox_with(pool_bytes);
        let token = sb
            .deploy(ALICE, wasm(&token()), 1_000_000u128.to_le_bytes().to_vec())
            .unwrap();
        let leaky = sb.deploy(ALICE, wasm(&leaky()), Vec::new()).unwrap();
        let mut receipts = Vec::new();
        for i in 0..20u128 {
            let to = if i % 3 == 0 {
                BOB
            } else {
                Address([i as u8; 32])
            };
            receipts.push(
                sb.call(
                    ALICE,
                    token,
                    "transfer",
                    transfer_input(&to, i),
                    0,
                    1_000_000,
                )
                .unwrap(),
            );
            // Out of gas in the middle of a transfer (one costs 16,120 gas or more), then an
            // overdraft that reverts.
            receipts.push(
                sb.call(ALICE, token, "transfer", transfer_input(&to, 1), 0, 12_000)
                    .unwrap(),
            );
            receipts.push(
                sb.call(
                    BOB,
                    token,
                    "transfer",
                    transfer_input(&ALICE, 1 << 90),
                    0,
                    1_000_000,
                )
                .unwrap(),
            );
            for method in ["dirty", "peek", "dirty_then_trap", "peek"] {
                receipts.push(call(&mut sb, leaky, method));
            }
        }
        (receipts, sb.into_state())
    };
    let (reused, reused_state) = run(DEFAULT_INSTANCE_POOL_BYTES);
    let (fresh, fresh_state) = run(0);
    assert_eq!(reused, fresh);
    assert_eq!(reused_state.storage, fresh_state.storage);
    assert_eq!(reused_state.accounts, fresh_state.accounts);
    assert!(reused.iter().any(|r| r.status == Status::OutOfGas));
    assert!(reused.iter().any(|r| r.status == Status::Revert));
    assert!(reused.iter().any(|r| r.status == Status::Trap));
}

#[test]
fn the_pool_stays_within_its_byte_budget() {
    // Room for about one idle instance of a one-page module.
    let (mut sb, vm) = sandbox_with(100 << 10);
    let a = sb.deploy(ALICE, wasm(&leaky()), Vec::new()).unwrap();
    let b = sb
        .deploy(ALICE, wasm(&token()), 1_000u128.to_le_bytes().to_vec())
        .unwrap();
    call(&mut sb, a, "peek");
    sb.call(ALICE, b, "transfer", transfer_input(&BOB, 1), 0, 1_000_000)
        .unwrap();
    let (count, bytes) = vm.idle_instances();
    assert_eq!(count, 1);
    assert!(bytes <= 100 << 10, "{bytes}");
}
