//! Engine benchmarks beyond `aether bench` (which measures the calls, compute, host functions
//! and anchors): compile time in detail, a block of 10k transfers in memory, and what raw
//! wasmi instantiation costs. `cargo bench -p aether-engine --bench engine`; figures in
//! `docs/benchmarks.md`.

use std::hint::black_box;
use std::sync::Arc;

use aether_engine::crypto::Keypair;
use aether_engine::memory::MemoryState;
use aether_engine::types::{Action, Address, BlockEnv, Transaction};
use aether_engine::{Executor, GasSchedule, Vm};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const TOKEN: &str = include_str!("../../examples/wat/token.wat");

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
    compile,
    block,
    wasmi_instantiate_token,
    wasmi_instantiate_by_memory
);
criterion_main!(benches);
