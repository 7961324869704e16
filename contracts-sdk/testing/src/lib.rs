//! # aether-contracts-testing
//!
//! Unit tests for contracts, run by plain `cargo test`: [`TestEnv::build`] compiles the
//! contract crate to Wasm exactly as `aether contract build` does (once per test process), and
//! [`TestEnv`] runs it in-process on the real engine (the same executor, gas and state rules as
//! a node), with funded accounts, settable block and value, and typed results. With the `node`
//! feature the same tests run against `aether run --dev` over RPC (`AETHER_TEST_NODE=URL`, or
//! [`TestEnv::connect`]).
//!
//! ```no_run
//! use aether_contracts_testing::{TestEnv, ALICE, BOB};
//!
//! let mut env = TestEnv::new();
//! let token = env.deploy(ALICE, env!("CARGO_MANIFEST_DIR"), &(1_000u128,)).unwrap();
//! let r = env.call(ALICE, token, "transfer", &(BOB, 10u128));
//! assert!(r.is_success(), "{r:?}");
//! assert_eq!(env.query(ALICE, token, "balance_of", &(BOB,)).decode::<u128>(), 10);
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[cfg(feature = "node")]
mod node_backend;

use aether_contract_build::{BuildOptions, Built};
use aether_contracts_sdk::event::Event;
use aether_engine::memory::MemoryState;
use aether_engine::sandbox::Sandbox;
use aether_engine::types::{self as engine, Action, Receipt};
use parity_scale_codec::{Decode, Encode};

pub use aether_contract_build::BuildError;
pub use aether_contracts_sdk::{Address, Hash};
pub use aether_engine::types::Status;

/// A funded test account: the dev account `//alice` (its address is its ed25519 key), so the
/// node backend can sign for it.
pub const ALICE: Address = Address(hex32(
    b"d5bf4a3fcce717b0388bcc2749ebc148ad9969b23f45ee1b605fd58778576ac4",
));
/// A funded test account: the dev account `//bob`.
pub const BOB: Address = Address(hex32(
    b"ecc1b58727f3f12b3194881a9ecb9de0b28ce7b207230d8e930fe1bce75e256c",
));
/// A funded test account: the dev account `//charlie`.
pub const CHARLIE: Address = Address(hex32(
    b"c8bf2959a96bd99ffde4e7277b41e57331dba7f7918186c359cf7dce149bb567",
));

/// 32 bytes from 64 lower-case hex digits, at compile time.
const fn hex32(h: &[u8; 64]) -> [u8; 32] {
    const fn digit(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a lower-case hex digit"),
        }
    }
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = digit(h[2 * i]) << 4 | digit(h[2 * i + 1]);
        i += 1;
    }
    out
}
/// What each test account starts with.
pub const INITIAL_BALANCE: u128 = 1_000_000_000_000_000_000_000_000;
/// Gas limit of every transaction unless changed with [`TestEnv::set_gas_limit`]: the block
/// gas limit of `aether run --dev`, so a test passes on a node too.
pub const DEFAULT_GAS: u64 = 30_000_000;

fn eng(a: Address) -> engine::Address {
    engine::Address(a.0)
}

/// An event a call emitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmittedEvent {
    /// The emitting contract.
    pub contract: Address,
    /// Its topics, the signature topic first.
    pub topics: Vec<[u8; 32]>,
    /// Its data (the SCALE-encoded event).
    pub data: Vec<u8>,
}

/// The result of a call, instantiation or query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// How it ended.
    pub status: Status,
    /// Gas charged.
    pub gas_used: u64,
    /// Return data (success) or revert data.
    pub return_data: Vec<u8>,
    /// Events emitted (empty unless successful).
    pub events: Vec<EmittedEvent>,
    /// The engine's message on failure.
    pub error: Option<String>,
    /// The contract created, for an instantiation.
    pub created: Option<Address>,
}

impl From<Receipt> for Outcome {
    fn from(r: Receipt) -> Self {
        Outcome {
            status: r.status,
            gas_used: r.gas_used,
            return_data: r.return_data,
            events: r
                .events
                .into_iter()
                .map(|e| EmittedEvent {
                    contract: Address(e.contract.0),
                    topics: e.topics.into_iter().map(|t| t.0).collect(),
                    data: e.data,
                })
                .collect(),
            error: r.error,
            created: r.created.map(Address),
        }
    }
}

impl Outcome {
    /// Whether it succeeded.
    pub fn is_success(&self) -> bool {
        self.status == Status::Success
    }

    /// The return value decoded as `R`. Panics (failing the test) with the outcome if the call
    /// did not succeed or the data does not decode.
    pub fn decode<R: Decode>(&self) -> R {
        assert!(self.is_success(), "call did not succeed: {self:?}");
        let mut data = &self.return_data[..];
        let value = R::decode(&mut data)
            .unwrap_or_else(|e| panic!("return data does not decode: {e}: {self:?}"));
        assert!(
            data.is_empty(),
            "return data longer than the type: {self:?}"
        );
        value
    }

    /// The contract error the call reverted with, decoded as `E`.
    pub fn contract_error<E: Decode>(&self) -> Option<E> {
        match (self.status, self.return_data.split_first()) {
            (Status::Revert, Some((&aether_contracts_sdk::revert_tag::ERROR, rest))) => {
                E::decode(&mut &rest[..]).ok()
            }
            _ => None,
        }
    }

    /// The panic message the call reverted with.
    pub fn panic_message(&self) -> Option<String> {
        match (self.status, self.return_data.split_first()) {
            (Status::Revert, Some((&aether_contracts_sdk::revert_tag::PANIC, rest))) => {
                Some(String::from_utf8_lossy(rest).into_owned())
            }
            _ => None,
        }
    }

    /// The events of type `E` emitted, decoded, in order.
    pub fn events_of<E: Event + Decode>(&self) -> Vec<E> {
        self.events
            .iter()
            .filter(|e| e.topics.first() == Some(&E::SIGNATURE_TOPIC))
            .map(|e| {
                E::decode(&mut &e.data[..])
                    .unwrap_or_else(|err| panic!("event {} does not decode: {err}", E::NAME))
            })
            .collect()
    }
}

/// Builds the contract crate at `crate_dir` once per process; later calls return the cached
/// module.
fn build_cached(crate_dir: &Path) -> Result<Arc<Built>, BuildError> {
    static BUILT: Mutex<Option<HashMap<PathBuf, Arc<Built>>>> = Mutex::new(None);
    let mut guard = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    if let Some(b) = map.get(crate_dir) {
        return Ok(b.clone());
    }
    let mut opts = BuildOptions::new(crate_dir);
    opts.quiet = true;
    let built = Arc::new(aether_contract_build::build(&opts)?);
    map.insert(crate_dir.to_path_buf(), built.clone());
    Ok(built)
}

/// Where a [`TestEnv`] runs its transactions.
enum Backend {
    /// In process, on the real engine over in-memory state.
    Memory(Sandbox),
    /// A running node, over JSON-RPC.
    #[cfg(feature = "node")]
    Node(Box<node_backend::NodeBackend>),
}

/// A chain running contracts on the real engine: in process (the default), or a running
/// `aether run --dev` over RPC with the `node` feature ([`TestEnv::connect`], or
/// `AETHER_TEST_NODE=URL` for every `TestEnv::new()`), so one test file runs either way.
pub struct TestEnv {
    backend: Backend,
    gas_limit: u64,
    salt: u64,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    /// A chain where [`ALICE`], [`BOB`] and [`CHARLIE`] hold [`INITIAL_BALANCE`] each: in
    /// process, or, with the `node` feature and `AETHER_TEST_NODE=URL` set, the node there.
    pub fn new() -> Self {
        #[cfg(feature = "node")]
        if let Ok(url) = std::env::var("AETHER_TEST_NODE") {
            return Self::connect(&url).unwrap_or_else(|e| panic!("AETHER_TEST_NODE: {e}"));
        }
        let state =
            MemoryState::with_balances([ALICE, BOB, CHARLIE].map(|a| (eng(a), INITIAL_BALANCE)));
        Self {
            backend: Backend::Memory(Sandbox::new(state)),
            gas_limit: DEFAULT_GAS,
            salt: 0,
        }
    }

    /// The node at `url` (`aether run --dev`: its dev accounts are [`ALICE`], [`BOB`] and
    /// [`CHARLIE`]). Contracts are instantiated under salts unique to this process, so tests
    /// may share a chain and run again on it.
    #[cfg(feature = "node")]
    pub fn connect(url: &str) -> Result<Self, String> {
        let backend = node_backend::NodeBackend::connect(url)?;
        // Salts unique to this environment: the time, the process, and a count of the
        // environments this process made (two may start in one clock tick on two threads);
        // each instantiation adds 1, so environments are 2^32 salts apart.
        static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let made = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        let unique = (now ^ u64::from(std::process::id()) << 40).wrapping_add(made) << 32;
        Ok(Self {
            backend: Backend::Node(Box::new(backend)),
            gas_limit: DEFAULT_GAS,
            salt: unique,
        })
    }

    /// Whether transactions go to a node (else they run in process).
    pub fn on_node(&self) -> bool {
        !matches!(self.backend, Backend::Memory(_))
    }

    #[cfg_attr(not(feature = "node"), allow(unused_variables))]
    fn memory(&mut self, what: &str) -> &mut Sandbox {
        match &mut self.backend {
            Backend::Memory(s) => s,
            #[cfg(feature = "node")]
            Backend::Node(_) => panic!("{what} needs the in-process backend"),
        }
    }

    /// Builds the contract crate at `crate_dir` (usually `env!("CARGO_MANIFEST_DIR")`) to Wasm,
    /// once per test process. Panics with the build error.
    pub fn build(crate_dir: &str) -> Arc<Built> {
        build_cached(Path::new(crate_dir)).unwrap_or_else(|e| panic!("building {crate_dir}: {e}"))
    }

    /// Sets the gas limit of later transactions.
    pub fn set_gas_limit(&mut self, gas: u64) {
        self.gas_limit = gas;
    }

    /// Sets the block later transactions run in.
    /// Only in process: a node's blocks follow its own clock.
    pub fn set_block(&mut self, height: u64, timestamp_ms: u64) {
        let env = self.memory("set_block").env_mut();
        env.height = height;
        env.timestamp_ms = timestamp_ms;
    }

    /// The chain id contracts see (`env::chain_id()`), for example to build a
    /// [`aether_contracts_sdk::access::signed_message`] to sign.
    pub fn chain_id(&self) -> u64 {
        match &self.backend {
            Backend::Memory(s) => s.env().chain_id,
            #[cfg(feature = "node")]
            Backend::Node(n) => n.chain_id(),
        }
    }

    /// Credits `amount` to `who`.
    /// (On a node: a transfer from [`ALICE`].)
    pub fn fund(&mut self, who: Address, amount: u128) {
        match &mut self.backend {
            Backend::Memory(s) => s.fund(eng(who), amount),
            #[cfg(feature = "node")]
            Backend::Node(n) => n.fund(who, amount),
        }
    }

    /// The balance of `who`.
    pub fn balance(&self, who: Address) -> u128 {
        match &self.backend {
            Backend::Memory(s) => s.balance(&eng(who)),
            #[cfg(feature = "node")]
            Backend::Node(n) => n.balance(who),
        }
    }

    /// The raw value `contract` stores at `key`: for checking a storage layout (a `Lazy` field
    /// lives at its 8-byte key, a `Mapping` entry at prefix ‖ SCALE(key); values are SCALE).
    pub fn storage(&self, contract: Address, key: &[u8]) -> Option<Vec<u8>> {
        match &self.backend {
            Backend::Memory(s) => s.storage(&eng(contract), key).cloned(),
            #[cfg(feature = "node")]
            Backend::Node(n) => n.storage(contract, key),
        }
    }

    fn submit(&mut self, from: Address, action: Action) -> Outcome {
        let gas = self.gas_limit;
        match &mut self.backend {
            Backend::Memory(s) => s
                .submit(eng(from), action, gas)
                .map(Outcome::from)
                .unwrap_or_else(|e| panic!("in-memory state failed: {e}")),
            #[cfg(feature = "node")]
            Backend::Node(n) => n.submit(from, action, gas),
        }
    }

    /// Uploads `wasm`; returns its code hash. Panics if the engine rejects it.
    pub fn upload(&mut self, from: Address, wasm: &[u8]) -> Hash {
        let r = self.submit(
            from,
            Action::UploadCode {
                code: wasm.to_vec(),
            },
        );
        match (r.status, r.created) {
            (Status::Success, Some(h)) => Hash(h.0),
            _ => panic!("upload rejected: {r:?}"),
        }
    }

    /// Instantiates uploaded code with constructor `args` and `value`. Each instantiation
    /// gets a fresh salt, so the same code can be deployed many times.
    pub fn instantiate<A: Encode>(
        &mut self,
        from: Address,
        code_hash: Hash,
        args: &A,
        value: u128,
    ) -> Result<Address, Outcome> {
        self.salt += 1;
        let r = self.submit(
            from,
            Action::Instantiate {
                code_hash: engine::Hash(code_hash.0),
                salt: self.salt.to_le_bytes().to_vec(),
                value,
                input: args.encode(),
                admin: Some(eng(from)),
            },
        );
        match (r.status, r.created) {
            (Status::Success, Some(a)) => Ok(a),
            _ => Err(r),
        }
    }

    /// Builds (once), uploads and instantiates the contract crate at `crate_dir`.
    pub fn deploy<A: Encode>(
        &mut self,
        from: Address,
        crate_dir: &str,
        args: &A,
    ) -> Result<Address, Outcome> {
        let built = Self::build(crate_dir);
        let code = self.upload(from, &built.wasm);
        self.instantiate(from, code, args, 0)
    }

    /// Calls `method` of `contract` with `args` (a tuple of the method's arguments).
    pub fn call<A: Encode>(
        &mut self,
        from: Address,
        contract: Address,
        method: &str,
        args: &A,
    ) -> Outcome {
        self.call_with_value(from, contract, method, args, 0)
    }

    /// As [`TestEnv::call`], sending `value`.
    pub fn call_with_value<A: Encode>(
        &mut self,
        from: Address,
        contract: Address,
        method: &str,
        args: &A,
        value: u128,
    ) -> Outcome {
        self.submit(from, call_action(contract, method, args, value))
    }

    /// Calls `method` of `contract` with `input` as it is: input encoded elsewhere (by the ABI
    /// codec from JSON, as the CLI does, or by a generated client).
    pub fn call_raw(
        &mut self,
        from: Address,
        contract: Address,
        method: &str,
        input: &[u8],
    ) -> Outcome {
        self.call_with_value_raw(from, contract, method, input, 0)
    }

    /// As [`TestEnv::call_raw`], sending `value`.
    pub fn call_with_value_raw(
        &mut self,
        from: Address,
        contract: Address,
        method: &str,
        input: &[u8],
        value: u128,
    ) -> Outcome {
        let action = Action::Call {
            contract: eng(contract),
            method: method.to_string(),
            input: input.to_vec(),
            value,
        };
        self.submit(from, action)
    }

    /// As [`TestEnv::query`], with `input` as it is.
    pub fn query_raw(
        &self,
        from: Address,
        contract: Address,
        method: &str,
        input: &[u8],
    ) -> Outcome {
        self.query(from, contract, method, &RawInput(input))
    }

    /// Runs a call without keeping its changes: the return value, events and the exact gas a
    /// real call would be charged.
    pub fn query<A: Encode>(
        &self,
        from: Address,
        contract: Address,
        method: &str,
        args: &A,
    ) -> Outcome {
        let action = call_action(contract, method, args, 0);
        match &self.backend {
            Backend::Memory(s) => s
                .dry_run(eng(from), action, self.gas_limit)
                .map(Outcome::from)
                .unwrap_or_else(|e| panic!("in-memory state failed: {e}")),
            #[cfg(feature = "node")]
            Backend::Node(n) => n.dry_run(from, action, self.gas_limit),
        }
    }
}

/// Input already encoded: its encoding is its bytes as they are.
struct RawInput<'a>(&'a [u8]);

impl Encode for RawInput<'_> {
    fn size_hint(&self) -> usize {
        self.0.len()
    }

    fn encode_to<T: parity_scale_codec::Output + ?Sized>(&self, dest: &mut T) {
        dest.write(self.0)
    }
}

fn call_action<A: Encode>(contract: Address, method: &str, args: &A, value: u128) -> Action {
    Action::Call {
        contract: eng(contract),
        method: method.to_string(),
        input: args.encode(),
        value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_accounts_are_the_dev_accounts_of_a_node() {
        for (account, name) in [(ALICE, "alice"), (BOB, "bob"), (CHARLIE, "charlie")] {
            let dev = aether_engine::crypto::Keypair::dev(name, false).address();
            assert_eq!(account.0, dev.0, "{name}");
        }
    }
}
