//! The standard engine workloads and their anchors. Every call workload applies a full `Call`
//! transaction through `Executor::apply` on a fresh overlay over an unchanging in-memory state
//! (admission, fee, module cache, instance, method, receipt), so each iteration does the same
//! work and charges the same gas.

use std::collections::HashMap;
use std::hint::black_box;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aether_engine::crypto::Keypair;
use aether_engine::memory::MemoryState;
use aether_engine::sandbox::Sandbox;
use aether_engine::state::Overlay;
use aether_engine::types::{Action, Address, BlockEnv, Hash, Status, Transaction};
use aether_engine::{Checked, Executor, GasSchedule, Vm};
use parity_scale_codec::Encode;

use crate::bare;
use crate::sample::{Routine, timed};

/// How big the heavy workloads are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// `--quick`: small enough for CI.
    Quick,
    /// The full suite.
    Full,
}

/// A workload ready to measure.
pub struct Prepared {
    /// The timed routine.
    pub routine: Box<dyn Routine>,
    /// Gas one iteration charges.
    pub gas: Option<u64>,
    /// Elements one iteration handles.
    pub elements: Option<u64>,
    /// Where an iteration's time goes, measured after the timing (`bench call`).
    pub breakdown: Option<Breakdown>,
}

/// Measures where an iteration's time goes.
pub type Breakdown = Box<dyn FnOnce() -> Result<Vec<crate::report::Share>, String>>;

type Setup = Box<dyn FnOnce(Size) -> Result<Prepared, String>>;

/// A named workload; its set-up runs only if the filter selects it.
pub struct Workload {
    /// `group/name`.
    pub name: String,
    /// What one iteration does.
    pub description: String,
    /// Builds the routine.
    pub setup: Setup,
}

impl Workload {
    /// A workload.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        setup: impl FnOnce(Size) -> Result<Prepared, String> + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            setup: Box::new(setup),
        }
    }
}

/// The WAT token example (`examples/wat/token.wat`): 2 storage reads, 2 writes and an event
/// per transfer; its logic is what the native and bare-wasmi anchors implement.
pub const WAT_TOKEN: &str = include_str!("../../examples/wat/token.wat");
/// The SDK token, built once and frozen (the golden corpus' copy).
pub const SDK_TOKEN: &[u8] = include_bytes!("../../tests/golden/contracts/token.wasm");
/// The SDK escrow, frozen likewise.
pub const SDK_ESCROW: &[u8] = include_bytes!("../../tests/golden/contracts/escrow.wasm");

const ALICE: Address = Address([0xA1; 32]);
const BOB: Address = Address([0xB0; 32]);
const CAROL: Address = Address([0xC4; 32]);

/// Micro contracts: a no-op, recursive fib, a CoreMark-style integer loop, storage writes,
/// hashes and a signature check.
fn micro_contract() -> Vec<u8> {
    wat::parse_str(
        r#"(module
  (import "env" "storage_write" (func $sw (param i32 i32 i32 i32)))
  (import "env" "sha256" (func $sha256 (param i32 i32 i32)))
  (import "env" "keccak256" (func $keccak (param i32 i32 i32)))
  (import "env" "return" (func $ret (param i32 i32)))
  (import "env" "input_read" (func $input_read (param i32)))
  (import "env" "ed25519_verify" (func $ed (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "noop"))
  (func $fib (param $n i64) (result i64)
    (if (result i64) (i64.lt_u (local.get $n) (i64.const 2))
      (then (local.get $n))
      (else (i64.add (call $fib (i64.sub (local.get $n) (i64.const 1)))
                     (call $fib (i64.sub (local.get $n) (i64.const 2)))))))
  (func (export "fib")
    (i64.store (i32.const 0) (call $fib (i64.const 20)))
    (call $ret (i32.const 0) (i32.const 8)))
  ;; CoreMark's three kernels in miniature, 200 rounds: an 8x8 matrix multiply-accumulate,
  ;; a CRC-16 over the matrix, and a small state machine over the bytes.
  (func (export "coremark") (local $r i32) (local $i i32) (local $j i32) (local $k i32)
    (local $acc i32) (local $crc i32) (local $state i32) (local $b i32)
    (local.set $i (i32.const 0))
    (loop $init
      (i32.store (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 2)))
                 (i32.add (i32.mul (local.get $i) (i32.const 7)) (i32.const 3)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $init (i32.lt_u (local.get $i) (i32.const 64))))
    (local.set $crc (i32.const 0xffff))
    (loop $round
      (local.set $i (i32.const 0))
      (loop $li
        (local.set $j (i32.const 0))
        (loop $lj
          (local.set $acc (i32.const 0))
          (local.set $k (i32.const 0))
          (loop $lk
            (local.set $acc (i32.add (local.get $acc)
              (i32.mul
                (i32.load (i32.add (i32.const 1024) (i32.shl (i32.add (i32.shl (local.get $i) (i32.const 3)) (local.get $k)) (i32.const 2))))
                (i32.load (i32.add (i32.const 1024) (i32.shl (i32.add (i32.shl (local.get $k) (i32.const 3)) (local.get $j)) (i32.const 2)))))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br_if $lk (i32.lt_u (local.get $k) (i32.const 8))))
          (i32.store (i32.add (i32.const 2048) (i32.shl (i32.add (i32.shl (local.get $i) (i32.const 3)) (local.get $j)) (i32.const 2)))
                     (local.get $acc))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br_if $lj (i32.lt_u (local.get $j) (i32.const 8))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $li (i32.lt_u (local.get $i) (i32.const 8))))
      (local.set $i (i32.const 0))
      (loop $bytes
        (local.set $b (i32.load8_u (i32.add (i32.const 2048) (local.get $i))))
        (local.set $crc (i32.xor (local.get $crc) (local.get $b)))
        (local.set $k (i32.const 0))
        (loop $bits
          (local.set $crc (select
            (i32.xor (i32.shr_u (local.get $crc) (i32.const 1)) (i32.const 0xa001))
            (i32.shr_u (local.get $crc) (i32.const 1))
            (i32.and (local.get $crc) (i32.const 1))))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br_if $bits (i32.lt_u (local.get $k) (i32.const 8))))
        (local.set $state (i32.and
          (i32.add (i32.mul (local.get $state) (i32.const 5)) (local.get $b)) (i32.const 7)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $bytes (i32.lt_u (local.get $i) (i32.const 256))))
      (i32.store (i32.const 1024) (i32.add (i32.load (i32.const 1024)) (local.get $crc)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br_if $round (i32.lt_u (local.get $r) (i32.const 200))))
    (i32.store (i32.const 0) (i32.xor (local.get $crc) (local.get $state)))
    (call $ret (i32.const 0) (i32.const 4)))
  (func (export "store100") (local $i i32)
    (loop $l
      (i32.store (i32.const 0) (local.get $i))
      (call $sw (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 32))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 100)))))
  (func (export "sha256") (call $sha256 (i32.const 0) (i32.const 64) (i32.const 100)))
  (func (export "keccak256") (call $keccak (i32.const 0) (i32.const 64) (i32.const 100)))
  ;; input: public key (32) ++ signature (64) ++ message (64)
  (func (export "ed25519")
    (call $input_read (i32.const 0))
    (if (i32.eqz (call $ed (i32.const 0) (i32.const 96) (i32.const 64) (i32.const 32)))
      (then unreachable))))"#,
    )
    .expect("the micro contract compiles")
}

/// State with the contracts of the call workloads deployed.
struct Fixture {
    exec: Executor,
    state: Arc<MemoryState>,
    env: BlockEnv,
    token: Address,
    micro: Address,
    sdk_token: Address,
    escrow: Address,
}

fn fixture(pool_bytes: usize) -> Result<Fixture, String> {
    let vm = Vm::with_instance_pool(
        GasSchedule::V1,
        aether_engine::vm::DEFAULT_CACHE_MODULES,
        pool_bytes,
    );
    let mut sb = Sandbox::with_vm(
        MemoryState::with_balances([(ALICE, 1 << 100), (BOB, 1 << 100), (CAROL, 1 << 100)]),
        vm.clone(),
    );
    let deploy = |sb: &mut Sandbox, who, code: Vec<u8>, input: Vec<u8>| {
        sb.deploy(who, code, input)
            .map_err(|r| format!("deploying a workload contract failed: {r:?}"))
    };
    let token = deploy(
        &mut sb,
        ALICE,
        wat::parse_str(WAT_TOKEN).map_err(|e| e.to_string())?,
        (1u128 << 100).to_le_bytes().to_vec(),
    )?;
    let micro = deploy(&mut sb, ALICE, micro_contract(), Vec::new())?;
    let sdk_token = deploy(&mut sb, ALICE, SDK_TOKEN.to_vec(), 1_000_000u128.encode())?;
    let escrow = deploy(
        &mut sb,
        BOB,
        SDK_ESCROW.to_vec(),
        (sdk_token, CAROL, ALICE, 300u128).encode(),
    )?;
    for (who, method, input) in [
        (ALICE, "transfer", (BOB, 10_000u128).encode()),
        (BOB, "approve", (escrow, 300u128).encode()),
    ] {
        let r = sb
            .call(who, sdk_token, method, input, 0, 50_000_000)
            .map_err(|e| e.to_string())?;
        if r.status != Status::Success {
            return Err(format!("setting up the escrow failed: {r:?}"));
        }
    }
    let env = *sb.env_mut();
    Ok(Fixture {
        exec: Executor::new(vm),
        state: Arc::new(sb.into_state()),
        env: BlockEnv {
            gas_limit: u64::MAX,
            ..env
        },
        token,
        micro,
        sdk_token,
        escrow,
    })
}

/// A routine applying one call transaction per iteration; checks once that it succeeds and
/// reports its gas.
fn call(
    f: Rc<Fixture>,
    sender: Address,
    contract: Address,
    method: &str,
    input: Vec<u8>,
) -> Result<Prepared, String> {
    call_with(f, sender, contract, method, input, false)
}

/// As [`call`]; `traced` records the call's execution trace (`Executor::apply_traced`).
fn call_with(
    f: Rc<Fixture>,
    sender: Address,
    contract: Address,
    method: &str,
    input: Vec<u8>,
    traced: bool,
) -> Result<Prepared, String> {
    let tx = Transaction {
        chain_id: f.env.chain_id,
        nonce: f.state.accounts.get(&sender).map_or(0, |a| a.nonce),
        gas_limit: 50_000_000,
        gas_price: 1,
        action: Action::Call {
            contract,
            method: method.into(),
            input,
            value: 0,
        },
    };
    let apply = move |f: &Fixture, tx: &Transaction| {
        let checked = Checked {
            sender,
            tx,
            hash: Hash::default(),
            encoded_len: 200,
        };
        let mut overlay = Overlay::new(f.state.clone());
        if traced {
            f.exec
                .apply_traced(&mut overlay, &f.env, &checked, u64::MAX)
                .map(|(receipt, trace)| {
                    black_box(trace);
                    receipt
                })
                .map_err(|e| e.to_string())
        } else {
            f.exec
                .apply(&mut overlay, &f.env, &checked, u64::MAX)
                .map_err(|e| e.to_string())
        }
    };
    let first = apply(&f, &tx)?;
    if first.status != Status::Success {
        return Err(format!("{method}: {:?} {:?}", first.status, first.error));
    }
    let gas = first.gas_used;
    Ok(Prepared {
        routine: Box::new(move |iters| timed(iters, || apply(&f, &tx).map(|r| drop(black_box(r))))),
        gas: Some(gas),
        elements: None,
        breakdown: None,
    })
}

fn transfer_input(to: Address, amount: u128) -> Vec<u8> {
    let mut v = to.0.to_vec();
    v.extend_from_slice(&amount.to_le_bytes());
    v
}

/// Picks a call workload's sender, contract, method and input from the fixture.
type Pick = fn(&Fixture) -> (Address, Address, &'static str, Vec<u8>);

/// The engine's workloads and anchors.
pub fn engine_suite() -> Vec<Workload> {
    let shared: Rc<std::cell::OnceCell<Result<Rc<Fixture>, String>>> = Rc::default();
    let get = {
        let shared = shared.clone();
        move || {
            shared
                .get_or_init(|| {
                    fixture(aether_engine::vm::DEFAULT_INSTANCE_POOL_BYTES).map(Rc::new)
                })
                .clone()
        }
    };
    let call_workload = |name: &str, description: &str, pick: Pick| {
        let get = get.clone();
        Workload::new(name, description, move |_| {
            let f = get()?;
            let (sender, contract, method, input) = pick(&f);
            call(f, sender, contract, method, input)
        })
    };
    let mut ed_input = Vec::new();
    let key = Keypair::ed25519_from_seed(&[7; 32]);
    let msg = [0x5a; 64];
    ed_input.extend_from_slice(&key.address().0);
    ed_input.extend_from_slice(&key.sign(&msg).0);
    ed_input.extend_from_slice(&msg);
    let ed_input = Rc::new(ed_input);
    vec![
        call_workload(
            "call/token_transfer",
            "a WAT token transfer (2 storage reads, 2 writes, an event with 3 topics) through Executor::apply",
            |f| (ALICE, f.token, "transfer", transfer_input(BOB, 7)),
        ),
        Workload::new(
            "call/token_transfer_fresh_instance",
            "the same with instance reuse off: a new wasmi store and instance for the call",
            |_| {
                let f = Rc::new(fixture(0)?);
                let token = f.token;
                call(f, ALICE, token, "transfer", transfer_input(BOB, 7))
            },
        ),
        Workload::new(
            "call/token_transfer_traced",
            "the same, traced (Executor::apply_traced: every host call and its data recorded)",
            {
                let get = get.clone();
                move |_| {
                    let f = get()?;
                    let token = f.token;
                    call_with(f, ALICE, token, "transfer", transfer_input(BOB, 7), true)
                }
            },
        ),
        call_workload("call/noop", "an empty method", |f| {
            (ALICE, f.micro, "noop", Vec::new())
        }),
        call_workload(
            "call/sdk_token_transfer",
            "a transfer of the SDK token example (Rust, 9.9 KB)",
            |f| (ALICE, f.sdk_token, "transfer", (CAROL, 5u128).encode()),
        ),
        call_workload(
            "call/escrow_deposit",
            "the SDK escrow's deposit: a cross-contract call to the token's transfer_from",
            |f| (BOB, f.escrow, "deposit", Vec::new()),
        ),
        call_workload(
            "compute/fib20",
            "recursive fib(20) in Wasm (≈ 22k calls)",
            |f| (ALICE, f.micro, "fib", Vec::new()),
        ),
        call_workload(
            "compute/coremark_200",
            "200 rounds of CoreMark-style kernels: 8×8 matrix multiply, CRC-16, a state machine",
            |f| (ALICE, f.micro, "coremark", Vec::new()),
        ),
        call_workload(
            "storage/100_writes",
            "100 new 4-byte keys with 32-byte values",
            |f| (ALICE, f.micro, "store100", Vec::new()),
        ),
        call_workload(
            "host/sha256_64B",
            "the sha256 host function on 64 bytes",
            |f| (ALICE, f.micro, "sha256", Vec::new()),
        ),
        call_workload(
            "host/keccak256_64B",
            "the keccak256 host function on 64 bytes",
            |f| (ALICE, f.micro, "keccak256", Vec::new()),
        ),
        {
            let get = get.clone();
            Workload::new(
                "host/ed25519_verify",
                "the ed25519_verify host function on a valid 64-byte message",
                move |_| {
                    let f = get()?;
                    let micro = f.micro;
                    call(f, ALICE, micro, "ed25519", (*ed_input).clone())
                },
            )
        },
        Workload::new(
            "compile/cold_sdk_token",
            "upload validation and eager compilation of the SDK token (9,852 B) on a new VM",
            |_| compile(SDK_TOKEN),
        ),
        Workload::new(
            "compile/cold_sdk_escrow",
            "the same for the SDK escrow (18,165 B)",
            |_| compile(SDK_ESCROW),
        ),
        Workload::new(
            "anchor/native_token_transfer",
            "the token transfer's logic in Rust on hash maps, with its event",
            |_| Ok(native()),
        ),
        Workload::new(
            "anchor/bare_wasmi_token_transfer",
            "the WAT token's transfer on bare wasmi: one long-lived instance, host functions over a hash map, no engine code",
            |_| bare::call_only(WAT_TOKEN),
        ),
        Workload::new(
            "anchor/bare_wasmi_token_transfer_fresh_instance",
            "the same with a new wasmi store and instance per call",
            |_| bare::fresh_instance(WAT_TOKEN),
        ),
    ]
}

/// The ratios the engine's report states.
pub fn engine_ratios(report: &mut crate::report::Report) {
    report.add_ratio(
        "token call over native Rust",
        "call/token_transfer",
        "anchor/native_token_transfer",
        Some(12.0),
    );
    report.add_ratio(
        "token call over bare wasmi (the engine's overhead over its VM)",
        "call/token_transfer",
        "anchor/bare_wasmi_token_transfer",
        None,
    );
    report.add_ratio(
        "bare wasmi over native Rust (the VM's overhead)",
        "anchor/bare_wasmi_token_transfer",
        "anchor/native_token_transfer",
        None,
    );
    report.add_ratio(
        "instance reuse: fresh instance over reused",
        "call/token_transfer_fresh_instance",
        "call/token_transfer",
        None,
    );
    report.add_ratio(
        "tracing: a traced token call over an untraced one",
        "call/token_transfer_traced",
        "call/token_transfer",
        None,
    );
}

fn compile(code: &'static [u8]) -> Result<Prepared, String> {
    Ok(Prepared {
        routine: Box::new(move |iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // A new VM each time: nothing cached, the engine as cold as at an upload.
                let vm = Vm::new(GasSchedule::V1, 4);
                let t = Instant::now();
                let compiled = vm.compile(code).map_err(|e| e.to_string())?;
                total += t.elapsed();
                black_box(compiled);
            }
            Ok(total)
        }),
        gas: None,
        elements: None,
        breakdown: None,
    })
}

fn native() -> Prepared {
    let token = Address([0x70; 32]);
    let mut balances: HashMap<(Address, Vec<u8>), Vec<u8>> = HashMap::new();
    balances.insert(
        (token, ALICE.0.to_vec()),
        (1u128 << 100).to_le_bytes().to_vec(),
    );
    let mut events: Vec<(Address, Vec<Hash>, Vec<u8>)> = Vec::new();
    Prepared {
        routine: Box::new(move |iters| {
            timed(iters, || {
                let (from, to, amount) = (black_box(ALICE), black_box(BOB), black_box(7u128));
                let get = |m: &HashMap<(Address, Vec<u8>), Vec<u8>>, a: &Address| {
                    m.get(&(token, a.0.to_vec())).map_or(0, |v| {
                        let mut b = [0u8; 16];
                        b.copy_from_slice(&v[..16]);
                        u128::from_le_bytes(b)
                    })
                };
                let fb = get(&balances, &from);
                let tb = get(&balances, &to);
                if fb < amount {
                    return Err("insufficient balance".into());
                }
                balances.insert(
                    (token, from.0.to_vec()),
                    (fb - amount).to_le_bytes().to_vec(),
                );
                balances.insert((token, to.0.to_vec()), (tb + amount).to_le_bytes().to_vec());
                events.push((
                    token,
                    vec![Hash([1; 32]), Hash(from.0), Hash(to.0)],
                    amount.to_le_bytes().to_vec(),
                ));
                if events.len() > 1024 {
                    events.clear();
                }
                Ok(())
            })
        }),
        gas: None,
        elements: None,
        breakdown: None,
    }
}
