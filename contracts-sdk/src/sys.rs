//! Raw imports of module `env`: the host ABI exactly as `docs/host-abi.md` documents it. Prefer
//! the typed wrappers of this crate; these are for what they do not cover.
//!
//! Every pointer is a guest linear-memory address; the host checks every range and traps the
//! contract on a bad one.
//!
//! Contract code runs only as Wasm inside the engine. So that a contract crate still compiles
//! natively (for its unit tests, which run the compiled Wasm on the engine, and for linting),
//! on other targets each function exists with the same signature and aborts with a message
//! saying where contract code must run.

#![allow(missing_docs, clippy::missing_safety_doc, clippy::too_many_arguments)]

macro_rules! host_abi {
    ($( fn $name:ident $(as $link:literal)? ( $($arg:ident : $ty:ty),* ) $(-> $ret:ty)?; )*) => {
        #[cfg(target_arch = "wasm32")]
        #[link(wasm_import_module = "env")]
        unsafe extern "C" {
            $( $(#[link_name = $link])? pub fn $name($($arg: $ty),*) $(-> $ret)?; )*
        }

        $(
            #[cfg(not(target_arch = "wasm32"))]
            pub unsafe fn $name($(_: $ty),*) $(-> $ret)? {
                outside_engine(stringify!($name))
            }
        )*

        /// Every imported function as `(name, "param types -> result")`, e.g.
        /// `("storage_has", "i32 i32 -> i32")`; `-> !` marks a function that does not return.
        pub const IMPORTS: &[(&str, &str)] = &[
            $( (host_abi!(@name $name $($link)?), concat!($(stringify!($ty), " ",)* "->" $(, " ", stringify!($ret))?)), )*
        ];
    };
    (@name $name:ident $link:literal) => { $link };
    (@name $name:ident) => { stringify!($name) };
}

#[cfg(not(target_arch = "wasm32"))]
#[cold]
fn outside_engine(name: &str) -> ! {
    panic!(
        "host function `{name}` called outside the Aether engine: contract code runs only as \
         Wasm; test contracts with aether-contracts-testing"
    )
}

host_abi! {
    fn input_len() -> i32;
    fn input_read(dst: i32);
    fn return_ as "return" (ptr: i32, len: i32) -> !;
    fn revert(ptr: i32, len: i32) -> !;
    fn storage_read(key: i32, key_len: i32, dst: i32, cap: i32) -> i32;
    fn storage_write(key: i32, key_len: i32, val: i32, val_len: i32);
    fn storage_remove(key: i32, key_len: i32) -> i32;
    fn storage_has(key: i32, key_len: i32) -> i32;
    fn caller(dst: i32);
    fn address(dst: i32);
    fn value(dst: i32);
    fn balance(dst: i32);
    fn balance_of(addr: i32, dst: i32);
    fn transfer(to: i32, amount: i32) -> i32;
    fn block_height() -> i64;
    fn block_timestamp() -> i64;
    fn chain_id() -> i64;
    fn gas_left() -> i64;
    fn sha256(ptr: i32, len: i32, dst: i32);
    fn keccak256(ptr: i32, len: i32, dst: i32);
    fn ed25519_verify(pk: i32, msg: i32, msg_len: i32, sig: i32) -> i32;
    fn sr25519_verify(pk: i32, msg: i32, msg_len: i32, sig: i32) -> i32;
    fn emit_event(topics: i32, topic_count: i32, data: i32, data_len: i32);
    fn call(addr: i32, method: i32, method_len: i32, input: i32, input_len: i32, value: i32, gas: i64) -> i32;
    fn instantiate(code_hash: i32, salt: i32, salt_len: i32, input: i32, input_len: i32, value: i32, gas: i64, addr_out: i32) -> i32;
    fn return_data_len() -> i32;
    fn return_data_read(dst: i32);
}
