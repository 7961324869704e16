//! Shared test contracts (WAT) and helpers.
#![allow(dead_code)]

use aether_engine::memory::MemoryState;
use aether_engine::sandbox::Sandbox;
use aether_engine::types::Address;

/// Imports of every host function the test contracts use.
pub const IMPORTS: &str = r#"
  (import "env" "input_len" (func $input_len (result i32)))
  (import "env" "input_read" (func $input_read (param i32)))
  (import "env" "return" (func $return (param i32 i32)))
  (import "env" "revert" (func $revert (param i32 i32)))
  (import "env" "storage_read" (func $storage_read (param i32 i32 i32 i32) (result i32)))
  (import "env" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (import "env" "storage_remove" (func $storage_remove (param i32 i32) (result i32)))
  (import "env" "storage_has" (func $storage_has (param i32 i32) (result i32)))
  (import "env" "caller" (func $caller (param i32)))
  (import "env" "address" (func $address (param i32)))
  (import "env" "value" (func $value (param i32)))
  (import "env" "balance" (func $balance (param i32)))
  (import "env" "transfer" (func $transfer (param i32 i32) (result i32)))
  (import "env" "block_height" (func $block_height (result i64)))
  (import "env" "block_timestamp" (func $block_timestamp (result i64)))
  (import "env" "chain_id" (func $chain_id (result i64)))
  (import "env" "gas_left" (func $gas_left (result i64)))
  (import "env" "sha256" (func $sha256 (param i32 i32 i32)))
  (import "env" "keccak256" (func $keccak256 (param i32 i32 i32)))
  (import "env" "emit_event" (func $emit_event (param i32 i32 i32 i32)))
  (import "env" "call" (func $call (param i32 i32 i32 i32 i32 i32 i64) (result i32)))
  (import "env" "return_data_len" (func $return_data_len (result i32)))
  (import "env" "return_data_read" (func $return_data_read (param i32)))
"#;

/// A multi-purpose contract. Memory map: 0..1024 scratch, 1024.. strings, 4096.. input.
pub fn kitchen_sink() -> String {
    format!(
        r#"(module {IMPORTS}
  (memory (export "memory") 1)
  (data (i32.const 1024) "key")
  (data (i32.const 1032) "dirty")
  (data (i32.const 1040) "nope")
  (data (i32.const 1048) "mine")
  (data (i32.const 1056) "kept")
  (data (i32.const 1064) "status")
  (data (i32.const 1072) "fail_after_write")
  (data (i32.const 1096) "hello")
  (func $read_input (result i32)
    (call $input_read (i32.const 4096))
    (call $input_len))
  (func (export "init"))
  (func (export "store")
    (call $storage_write (i32.const 1024) (i32.const 3) (i32.const 4096) (call $read_input)))
  (func (export "load")
    (local $n i32)
    (local.set $n (call $storage_read (i32.const 1024) (i32.const 3) (i32.const 4096) (i32.const 60000)))
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (call $revert (i32.const 1040) (i32.const 4))))
    (call $return (i32.const 4096) (local.get $n)))
  (func (export "remove")
    (i32.store8 (i32.const 0) (call $storage_remove (i32.const 1024) (i32.const 3)))
    (i32.store8 (i32.const 1) (call $storage_has (i32.const 1024) (i32.const 3)))
    (call $return (i32.const 0) (i32.const 2)))
  (func (export "fail_after_write")
    (call $storage_write (i32.const 1024) (i32.const 3) (i32.const 1032) (i32.const 5))
    (call $emit_event (i32.const 0) (i32.const 0) (i32.const 1096) (i32.const 5))
    (call $revert (i32.const 1040) (i32.const 4)))
  (func (export "emit")
    (drop (call $read_input))
    (call $emit_event (i32.const 4096) (i32.const 1) (i32.const 1096) (i32.const 5)))
  (func (export "pay")
    (drop (call $read_input))
    (i32.store8 (i32.const 0) (call $transfer (i32.const 4096) (i32.const 4128)))
    (call $return (i32.const 0) (i32.const 1)))
  (func (export "call_fail")
    (drop (call $read_input))
    (call $storage_write (i32.const 1048) (i32.const 4) (i32.const 1056) (i32.const 4))
    (i32.store8 (i32.const 0)
      (call $call (i32.const 4096) (i32.const 1072) (i32.const 16) (i32.const 0) (i32.const 0) (i32.const 2048) (i64.const 0)))
    (call $storage_write (i32.const 1064) (i32.const 6) (i32.const 0) (i32.const 1))
    (call $return_data_read (i32.const 8))
    (call $return (i32.const 0) (i32.add (i32.const 8) (call $return_data_len))))
  (func (export "call_self")
    (call $address (i32.const 0))
    (i32.store8 (i32.const 100) (call $call (i32.const 0) (i32.const 1072) (i32.const 16) (i32.const 0) (i32.const 0) (i32.const 2048) (i64.const 0)))
    (call $return (i32.const 100) (i32.const 1)))
  (func (export "env")
    (i64.store (i32.const 0) (call $block_height))
    (i64.store (i32.const 8) (call $block_timestamp))
    (i64.store (i32.const 16) (call $chain_id))
    (call $caller (i32.const 24))
    (call $address (i32.const 56))
    (call $value (i32.const 88))
    (call $balance (i32.const 104))
    (call $return (i32.const 0) (i32.const 120)))
  (func (export "hash")
    (local $n i32)
    (local.set $n (call $read_input))
    (call $sha256 (i32.const 4096) (local.get $n) (i32.const 0))
    (call $keccak256 (i32.const 4096) (local.get $n) (i32.const 32))
    (call $return (i32.const 0) (i32.const 64)))
  (func (export "spin") (loop $l (br $l)))
  (func (export "gas")
    (i64.store (i32.const 0) (call $gas_left))
    (call $return (i32.const 0) (i32.const 8)))
)"#
    )
}

/// The example token (`examples/wat/token.wat`): `init` mints the input amount to the caller,
/// `transfer` takes `to ++ amount`, `balance_of` takes an address.
pub fn token() -> String {
    include_str!("../../../examples/wat/token.wat").to_string()
}

/// Compiles WAT text.
pub fn wasm(wat: &str) -> Vec<u8> {
    wat::parse_str(wat).expect("test WAT compiles")
}

/// A funded user address.
pub const ALICE: Address = Address([0xA1; 32]);
/// Another funded user address.
pub const BOB: Address = Address([0xB0; 32]);

/// A sandbox with ALICE and BOB funded.
pub fn sandbox() -> Sandbox {
    Sandbox::new(MemoryState::with_balances([
        (ALICE, 1 << 80),
        (BOB, 1 << 80),
    ]))
}

/// Token transfer input.
pub fn transfer_input(to: &Address, amount: u128) -> Vec<u8> {
    let mut v = to.0.to_vec();
    v.extend_from_slice(&amount.to_le_bytes());
    v
}
