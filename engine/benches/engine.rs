//! Engine benchmarks. `cargo bench -p aether-engine --bench engine`; figures in
//! `docs/benchmarks.md`.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

use aether_engine::crypto::Keypair;
use aether_engine::memory::MemoryState;
use aether_engine::sandbox::Sandbox;
use aether_engine::state::Overlay;
use aether_engine::types::{Action, Address, BlockEnv, Hash, Transaction};
use aether_engine::{Checked, Executor, GasSchedule, Vm};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const TOKEN: &str = include_str!("../../examples/wat/token.wat");
const ALICE: Address = Address([0xA1; 32]);
const BOB: Address = Address([0xB0; 32]);

/// Small contracts for the micro benchmarks.
fn bench_contract() -> Vec<u8> {
    wat::parse_str(
        r#"(module
  (import "env" "storage_write" (func $sw (param i32 i32 i32 i32)))
  (import "env" "sha256" (func $sha256 (param i32 i32 i32)))
  (import "env" "keccak256" (func $keccak (param i32 i32 i32)))
  (import "env" "return" (func $ret (param i32 i32)))
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
  (func (export "store100") (local $i i32)
    (loop $l
      (i32.store (i32.const 0) (local.get $i))
      (call $sw (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 32))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 100)))))
  (func (export "sha256") (call $sha256 (i32.const 0) (i32.const 64) (i32.const 100)))
  (func (export "keccak256") (call $keccak (i32.const 0) (i32.const 64) (i32.const 100))))"#,
    )
    .unwrap()
}

/// A module of about 7 KB: the token plus arithmetic helper functions.
fn module_7kb() -> Vec<u8> {
    let mut helpers = String::new();
    for i in 0..110 {
        helpers += &format!(
            "(func $h{i} (export \"h{i}\") (local $a i64) (local $b i64)
               (local.set $a (i64.const {i}))
               (local.set $b (i64.mul (local.get $a) (i64.const 31)))
               (i64.store (i32.const 64) (i64.xor (local.get $a) (i64.rotl (local.get $b) (i64.const 7))))
               (i64.store (i32.const 72) (i64.add (i64.load (i32.const 64)) (i64.const {i}))))\n"
        );
    }
    let wat = TOKEN.trim_end().trim_end_matches(')').to_string() + &helpers + ")";
    wat::parse_str(wat).unwrap()
}

struct Fixture {
    exec: Executor,
    state: Arc<MemoryState>,
    env: BlockEnv,
    token: Address,
    micro: Address,
}

fn fixture() -> Fixture {
    let vm = Vm::new(GasSchedule::V1, 64);
    let mut sb = Sandbox::with_vm(
        MemoryState::with_balances([(ALICE, 1 << 100), (BOB, 1 << 100)]),
        vm.clone(),
    );
    let token = sb
        .deploy(
            ALICE,
            wat::parse_str(TOKEN).unwrap(),
            (1u128 << 100).to_le_bytes().to_vec(),
        )
        .unwrap();
    let micro = sb.deploy(ALICE, bench_contract(), vec![]).unwrap();
    let env = BlockEnv {
        chain_id: 1,
        height: 1,
        timestamp_ms: 1,
        proposer: Address([0xEE; 32]),
        gas_limit: u64::MAX,
    };
    Fixture {
        exec: Executor::new(vm),
        state: Arc::new(sb.into_state()),
        env,
        token,
        micro,
    }
}

fn call_tx(f: &Fixture, contract: Address, method: &str, input: Vec<u8>) -> Transaction {
    Transaction {
        chain_id: 1,
        nonce: f.state.accounts[&ALICE].nonce,
        gas_limit: 50_000_000,
        gas_price: 1,
        action: Action::Call {
            contract,
            method: method.into(),
            input,
            value: 0,
        },
    }
}

/// One call transaction applied on a fresh overlay over the (unchanging) state.
fn bench_call(c: &mut Criterion, name: &str, f: &Fixture, tx: Transaction) {
    let checked = Checked {
        sender: ALICE,
        tx: &tx,
        hash: Hash::default(),
        encoded_len: 200,
    };
    let mut ov = Overlay::new(f.state.clone());
    let r = f.exec.apply(&mut ov, &f.env, &checked, u64::MAX).unwrap();
    assert_eq!(
        r.status,
        aether_engine::types::Status::Success,
        "{name}: {:?}",
        r.error
    );
    c.bench_function(name, |b| {
        b.iter(|| {
            let mut ov = Overlay::new(f.state.clone());
            black_box(f.exec.apply(&mut ov, &f.env, &checked, u64::MAX).unwrap());
        })
    });
}

fn calls(c: &mut Criterion) {
    let f = fixture();
    let mut input = BOB.0.to_vec();
    input.extend_from_slice(&7u128.to_le_bytes());
    bench_call(
        c,
        "call/token_transfer",
        &f,
        call_tx(&f, f.token, "transfer", input),
    );
    bench_call(c, "call/noop", &f, call_tx(&f, f.micro, "noop", vec![]));
    bench_call(c, "call/fib20", &f, call_tx(&f, f.micro, "fib", vec![]));
    bench_call(
        c,
        "call/storage_100_writes",
        &f,
        call_tx(&f, f.micro, "store100", vec![]),
    );
    bench_call(
        c,
        "call/sha256_64B",
        &f,
        call_tx(&f, f.micro, "sha256", vec![]),
    );
    bench_call(
        c,
        "call/keccak256_64B",
        &f,
        call_tx(&f, f.micro, "keccak256", vec![]),
    );
}

/// The token transfer's logic in native Rust, on the same kind of state (hash maps keyed by
/// address) with an event pushed, for the ratio.
fn native(c: &mut Criterion) {
    let mut balances: HashMap<(Address, Vec<u8>), Vec<u8>> = HashMap::new();
    let token = Address([0x70; 32]);
    balances.insert(
        (token, ALICE.0.to_vec()),
        (1u128 << 100).to_le_bytes().to_vec(),
    );
    let mut events: Vec<(Address, Vec<Hash>, Vec<u8>)> = Vec::new();
    c.bench_function("native/token_transfer", |b| {
        b.iter(|| {
            let (from, to, amount) = (black_box(ALICE), black_box(BOB), black_box(7u128));
            let get = |m: &HashMap<(Address, Vec<u8>), Vec<u8>>, a: &Address| {
                m.get(&(token, a.0.to_vec()))
                    .map_or(0, |v| u128::from_le_bytes(v[..16].try_into().unwrap()))
            };
            let fb = get(&balances, &from);
            let tb = get(&balances, &to);
            assert!(fb >= amount);
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
        })
    });
}

/// A module of about `kib` KiB of dense straight-line code (loads, stores, arithmetic on
/// locals) in functions of about 1 KiB: the most translation work per uploaded byte among the
/// shapes tried.
fn dense_module(kib: usize) -> Vec<u8> {
    let body = "(local.set $a (i64.add (local.get $a) (i64.load offset=8 (local.get $p))))
                (i64.store offset=16 (local.get $p) (i64.mul (local.get $a) (local.get $b)))
                (local.set $b (i64.xor (local.get $b) (i64.rotl (local.get $a) (i64.const 7))))
                (local.set $p (i32.and (i32.add (local.get $p) (i32.const 8)) (i32.const 4095)))\n"
        .repeat(26);
    let mut funcs = String::new();
    for i in 0..kib {
        funcs += &format!(
            "(func (export \"f{i}\") (local $p i32) (local $a i64) (local $b i64) {body})\n"
        );
    }
    wat::parse_str(format!("(module (memory (export \"memory\") 1) {funcs})")).unwrap()
}

fn compile(c: &mut Criterion) {
    let vm = Vm::new(GasSchedule::V1, 1);
    // The engine before issue 16 translated lazily (each function on its first call): the same
    // configuration but the compilation mode, on bare wasmi.
    let mut lazy_config = aether_engine::vm::wasmi_config();
    lazy_config.compilation_mode(wasmi::CompilationMode::LazyTranslation);
    let lazy = wasmi::Engine::new(&lazy_config);
    let mut g = c.benchmark_group("compile");
    for code in [module_7kb(), dense_module(16), dense_module(110)] {
        let n = code.len();
        eprintln!("cold-compile module: {n} bytes");
        g.throughput(Throughput::Bytes(n as u64));
        g.bench_function(format!("cold_{n}B"), |b| {
            b.iter(|| black_box(vm.compile(black_box(&code)).unwrap()))
        });
        g.bench_function(format!("lazy_translation_validate_only_{n}B"), |b| {
            b.iter(|| black_box(wasmi::Module::new(&lazy, black_box(&code)).unwrap()))
        });
    }
    let code = module_7kb();
    g.throughput(Throughput::Bytes(code.len() as u64));
    g.bench_function("structure_check_only", |b| {
        b.iter(|| black_box(aether_engine::vm::check_structure(black_box(&code)).unwrap()))
    });
    g.finish();
    // The reference of the gas schedule: one ed25519 check is priced 25,000 gas.
    let key = Keypair::ed25519_from_seed(&[7; 32]);
    let msg = [0x5A; 64];
    let (pk, sig) = (key.public(), key.sign(&msg));
    c.bench_function("gas_reference/ed25519_verify_64B", |b| {
        b.iter(|| black_box(aether_engine::crypto::verify(&pk, black_box(&msg), &sig)))
    });
}

fn block(c: &mut Criterion) {
    const N: usize = 10_000;
    let mut g = c.benchmark_group("block");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    for sr in [false, true] {
        let keys: Vec<Keypair> = (0..1000)
            .map(|i| Keypair::dev(&format!("k{i}"), sr))
            .collect();
        let state = Arc::new(MemoryState::with_balances(
            keys.iter().map(|k| (k.address(), 1u128 << 100)),
        ));
        let txs: Vec<_> = (0..N)
            .map(|i| {
                let k = &keys[i % keys.len()];
                k.sign_tx(Transaction {
                    chain_id: 1,
                    nonce: (i / keys.len()) as u64,
                    gas_limit: 100_000,
                    gas_price: 1,
                    action: Action::Transfer {
                        to: keys[(i + 1) % keys.len()].address(),
                        amount: 1,
                    },
                })
            })
            .collect();
        let exec = Executor::new(Vm::new(GasSchedule::V1, 8));
        let env = BlockEnv {
            chain_id: 1,
            height: 1,
            timestamp_ms: 1,
            proposer: Address([0xEE; 32]),
            gas_limit: u64::MAX,
        };
        let out = exec.execute_block(state.clone(), &env, &txs).unwrap();
        assert!(
            out.receipts
                .iter()
                .all(|r| r.status == aether_engine::types::Status::Success)
        );
        let name = if sr {
            "10k_transfers_sr25519"
        } else {
            "10k_transfers_ed25519"
        };
        let items: Vec<_> = txs
            .iter()
            .map(|t| (t.signer, t.tx.signing_payload(), t.signature))
            .collect();
        g.bench_function(format!("{name}_signatures_only"), |b| {
            b.iter(|| black_box(aether_engine::crypto::verify_many(&items)))
        });
        g.bench_function(name, |b| {
            b.iter_batched(
                || state.clone(),
                |s| black_box(exec.execute_block(s, &env, &txs).unwrap()),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

/// What wasmi itself costs per fresh instance (a new store, imports linked, memory zeroed),
/// to explain the call figures: no engine code runs here.
fn wasmi_instantiate_token(c: &mut Criterion) {
    let engine = wasmi::Engine::new(&aether_engine::vm::limits::wasmi_config());
    let code = wat::parse_str(TOKEN).unwrap();
    let module = wasmi::Module::new(&engine, &code).unwrap();
    let mut linker = wasmi::Linker::<()>::new(&engine);
    for f in aether_engine::vm::HOST_FUNCTIONS {
        let ty = |t: &aether_engine::vm::AbiType| match t {
            aether_engine::vm::AbiType::I32 => wasmi::ValType::I32,
            _ => wasmi::ValType::I64,
        };
        let ft = wasmi::FuncType::new(f.params.iter().map(ty), f.results.iter().map(ty));
        linker
            .func_new("env", f.name, ft, |_c, _p, _r| Ok(()))
            .unwrap();
    }
    c.bench_function("breakdown/wasmi_instantiate_token", |b| {
        b.iter(|| {
            let mut store = wasmi::Store::new(&engine, ());
            store.set_fuel(1_000_000).unwrap();
            black_box(linker.instantiate_and_start(&mut store, &module).unwrap());
        })
    });
}

/// Instantiation cost by initial memory size (Rust contracts default to 17 pages).
fn wasmi_instantiate_by_memory(c: &mut Criterion) {
    let engine = wasmi::Engine::new(&aether_engine::vm::limits::wasmi_config());
    let linker = wasmi::Linker::<()>::new(&engine);
    for (name, wat) in [
        (
            "mem1",
            r#"(module (memory (export "memory") 1) (func (export "a")))"#,
        ),
        (
            "mem0",
            r#"(module (memory (export "memory") 0) (func (export "a")))"#,
        ),
        (
            "mem17",
            r#"(module (memory (export "memory") 17) (func (export "a")))"#,
        ),
    ] {
        let module = wasmi::Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
        c.bench_function(&format!("breakdown/wasmi_instantiate_{name}"), |b| {
            b.iter(|| {
                let mut store = wasmi::Store::new(&engine, ());
                black_box(linker.instantiate_and_start(&mut store, &module).unwrap());
            })
        });
    }
}

criterion_group!(
    benches,
    calls,
    native,
    compile,
    block,
    wasmi_instantiate_token,
    wasmi_instantiate_by_memory
);
criterion_main!(benches);
