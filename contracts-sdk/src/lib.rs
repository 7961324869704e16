//! # aether-contracts-sdk
//!
//! The guest side of Aether's host ABI (`docs/host-abi.md`). So far it holds only the raw
//! bindings in [`sys`], compiled for `wasm32` targets; typed storage, events, calls and the
//! contract macros are still to come.

#![no_std]

/// Raw imports of module `env`. Signatures mirror the engine's host ABI table exactly.
#[cfg(target_arch = "wasm32")]
pub mod sys {
    #[link(wasm_import_module = "env")]
    unsafe extern "C" {
        pub fn input_len() -> i32;
        pub fn input_read(dst: i32);
        #[link_name = "return"]
        pub fn return_(ptr: i32, len: i32) -> !;
        pub fn revert(ptr: i32, len: i32) -> !;
        pub fn storage_read(key: i32, key_len: i32, dst: i32, cap: i32) -> i32;
        pub fn storage_write(key: i32, key_len: i32, val: i32, val_len: i32);
        pub fn storage_remove(key: i32, key_len: i32) -> i32;
        pub fn storage_has(key: i32, key_len: i32) -> i32;
        pub fn caller(dst: i32);
        pub fn address(dst: i32);
        pub fn value(dst: i32);
        pub fn balance(dst: i32);
        pub fn balance_of(addr: i32, dst: i32);
        pub fn transfer(to: i32, amount: i32) -> i32;
        pub fn block_height() -> i64;
        pub fn block_timestamp() -> i64;
        pub fn chain_id() -> i64;
        pub fn gas_left() -> i64;
        pub fn sha256(ptr: i32, len: i32, dst: i32);
        pub fn keccak256(ptr: i32, len: i32, dst: i32);
        pub fn ed25519_verify(pk: i32, msg: i32, msg_len: i32, sig: i32) -> i32;
        pub fn sr25519_verify(pk: i32, msg: i32, msg_len: i32, sig: i32) -> i32;
        pub fn emit_event(topics: i32, topic_count: i32, data: i32, data_len: i32);
        pub fn call(
            addr: i32,
            method: i32,
            method_len: i32,
            input: i32,
            input_len: i32,
            value: i32,
            gas: i64,
        ) -> i32;
        pub fn instantiate(
            code_hash: i32,
            salt: i32,
            salt_len: i32,
            input: i32,
            input_len: i32,
            value: i32,
            gas: i64,
            addr_out: i32,
        ) -> i32;
        pub fn return_data_len() -> i32;
        pub fn return_data_read(dst: i32);
    }
}
