//! The host ABI table: every function of module `env`, its Wasm signature and its return codes.
//! Upload validation checks imports against this table, the linker is checked against it in
//! tests, and `docs/host-abi.md` documents it.

/// A Wasm value type used by the ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbiType {
    /// `i32`: pointers, lengths, return codes.
    I32,
    /// `i64`: heights, timestamps, gas.
    I64,
}

/// One host function.
#[derive(Clone, Copy, Debug)]
pub struct HostFn {
    /// Import name in module `env`.
    pub name: &'static str,
    /// Parameter types.
    pub params: &'static [AbiType],
    /// Result types (none or one).
    pub results: &'static [AbiType],
}

use AbiType::{I32, I64};

macro_rules! host_fns {
    ($( $name:literal ( $($p:ident),* ) -> ( $($r:ident),* ); )*) => {
        /// Every host function, in documentation order.
        pub const HOST_FUNCTIONS: &[HostFn] = &[
            $( HostFn { name: $name, params: &[$($p),*], results: &[$($r),*] }, )*
        ];
    };
}

host_fns! {
    "input_len"() -> (I32);
    "input_read"(I32) -> ();
    "return"(I32, I32) -> ();
    "revert"(I32, I32) -> ();
    "storage_read"(I32, I32, I32, I32) -> (I32);
    "storage_write"(I32, I32, I32, I32) -> ();
    "storage_remove"(I32, I32) -> (I32);
    "storage_has"(I32, I32) -> (I32);
    "caller"(I32) -> ();
    "address"(I32) -> ();
    "value"(I32) -> ();
    "balance"(I32) -> ();
    "balance_of"(I32, I32) -> ();
    "transfer"(I32, I32) -> (I32);
    "block_height"() -> (I64);
    "block_timestamp"() -> (I64);
    "chain_id"() -> (I64);
    "gas_left"() -> (I64);
    "sha256"(I32, I32, I32) -> ();
    "keccak256"(I32, I32, I32) -> ();
    "ed25519_verify"(I32, I32, I32, I32) -> (I32);
    "sr25519_verify"(I32, I32, I32, I32) -> (I32);
    "emit_event"(I32, I32, I32, I32) -> ();
    "call"(I32, I32, I32, I32, I32, I32, I64) -> (I32);
    "instantiate"(I32, I32, I32, I32, I32, I32, I64, I32) -> (I32);
    "return_data_len"() -> (I32);
    "return_data_read"(I32) -> ();
}

/// Looks a host function up by name.
pub fn host_fn(name: &str) -> Option<&'static HostFn> {
    HOST_FUNCTIONS.iter().find(|f| f.name == name)
}

/// Return codes of `call` and `instantiate`.
pub mod call_status {
    /// The callee returned normally (or with `return`).
    pub const SUCCESS: i32 = 0;
    /// The callee reverted; its revert data is in the return-data buffer.
    pub const REVERTED: i32 = 1;
    /// The callee trapped.
    pub const TRAPPED: i32 = 2;
    /// The callee ran out of its gas limit.
    pub const OUT_OF_GAS: i32 = 3;
    /// The target is not a contract, lacks the method, or (instantiate) the code hash is unknown
    /// or the address is taken.
    pub const NOT_FOUND: i32 = 4;
    /// The callee is already executing higher in the call stack and did not opt into reentry.
    pub const REENTRANCY_REFUSED: i32 = 5;
    /// The call would exceed [`crate::vm::MAX_CALL_DEPTH`].
    pub const DEPTH_EXCEEDED: i32 = 6;
    /// The caller cannot pay the value sent.
    pub const INSUFFICIENT_BALANCE: i32 = 7;
}

/// Name of the export by which a contract opts into reentrant calls.
pub const REENTRANT_EXPORT: &str = "__aether_reentrant";
/// Name of the constructor export, run by instantiation.
pub const CONSTRUCTOR: &str = "init";

/// Exports whose names start with this are migrations: they run only as the `migrate` method
/// of an `UpgradeCode` transaction, never from a `Call` transaction or the `call` host
/// function (the SDK's `#[migrate]` exports `__aether_migrate_<name>`).
pub const MIGRATION_PREFIX: &str = "__aether_migrate_";
