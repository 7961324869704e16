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
    fixture_on(Vm::new(GasSchedule::V1, 64))
}

fn fixture_on(vm: Arc<Vm>) -> Fixture {
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
        call_tx(&f, f.token, "transfer", input.clone()),
    );
    bench_call(c, "call/noop", &f, call_tx(&f, f.micro, "noop", vec![]));
    // The same calls on a VM that instantiates every call in a new store (no instance reuse).
    let fresh = fixture_on(Vm::with_instance_pool(GasSchedule::V1, 64, 0));
    let tx = call_tx(&fresh, fresh.token, "transfer", input.clone());
    bench_call(c, "call/token_transfer_fresh_instance", &fresh, tx);
    let tx = call_tx(&fresh, fresh.micro, "noop", vec![]);
    bench_call(c, "call/noop_fresh_instance", &fresh, tx);
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

/// What the bare-wasmi anchor's host functions work on: storage in a hash map, no gas beyond
/// wasmi's fuel, no journal, no receipt.
#[derive(Default)]
struct Bare {
    storage: HashMap<Vec<u8>, Vec<u8>>,
    input: Vec<u8>,
    caller: [u8; 32],
    events: Vec<(Vec<u8>, Vec<u8>)>,
    memory: Option<wasmi::Memory>,
}

fn bare_linker(engine: &wasmi::Engine) -> wasmi::Linker<Bare> {
    use wasmi::{Caller, Error};
    type C<'a> = Caller<'a, Bare>;
    fn mem<'a>(c: &'a mut C) -> (&'a mut [u8], &'a mut Bare) {
        let m = c.data().memory.unwrap();
        m.data_and_store_mut(c)
    }
    fn slice(m: &[u8], p: i32, l: i32) -> Result<std::ops::Range<usize>, Error> {
        let (p, l) = (p as u32 as usize, l as u32 as usize);
        (p + l <= m.len())
            .then_some(p..p + l)
            .ok_or_else(|| Error::new("out of bounds"))
    }
    let mut l = wasmi::Linker::new(engine);
    l.func_wrap("env", "input_len", |c: C| c.data().input.len() as i32)
        .unwrap();
    l.func_wrap("env", "input_read", |mut c: C, p: i32| {
        let (m, st) = mem(&mut c);
        let r = slice(m, p, st.input.len() as i32)?;
        m[r].copy_from_slice(&st.input);
        Ok(())
    })
    .unwrap();
    l.func_wrap("env", "return", |_c: C, _p: i32, _l: i32| Ok(()))
        .unwrap();
    l.func_wrap("env", "revert", |_c: C, _p: i32, _l: i32| {
        Err::<(), _>(Error::new("reverted"))
    })
    .unwrap();
    l.func_wrap(
        "env",
        "storage_read",
        |mut c: C, kp: i32, kl: i32, dp: i32, cap: i32| {
            let (m, st) = mem(&mut c);
            let key = &m[slice(m, kp, kl)?];
            let Some(v) = st.storage.get(key) else {
                return Ok(-1);
            };
            let n = v.len() as i32;
            if n <= cap {
                let r = slice(m, dp, n)?;
                m[r].copy_from_slice(v);
            }
            Ok(n)
        },
    )
    .unwrap();
    l.func_wrap(
        "env",
        "storage_write",
        |mut c: C, kp: i32, kl: i32, vp: i32, vl: i32| {
            let (m, st) = mem(&mut c);
            let key = m[slice(m, kp, kl)?].to_vec();
            let value = m[slice(m, vp, vl)?].to_vec();
            st.storage.insert(key, value);
            Ok(())
        },
    )
    .unwrap();
    l.func_wrap("env", "caller", |mut c: C, p: i32| {
        let (m, st) = mem(&mut c);
        let r = slice(m, p, 32)?;
        m[r].copy_from_slice(&st.caller);
        Ok(())
    })
    .unwrap();
    l.func_wrap(
        "env",
        "emit_event",
        |mut c: C, tp: i32, tn: i32, dp: i32, dl: i32| {
            let (m, st) = mem(&mut c);
            let topics = m[slice(m, tp, tn * 32)?].to_vec();
            let data = m[slice(m, dp, dl)?].to_vec();
            st.events.push((topics, data));
            if st.events.len() > 1024 {
                st.events.clear();
            }
            Ok(())
        },
    )
    .unwrap();
    l
}

/// The anchor for the engine's overhead over its VM: the token's `transfer` on bare wasmi
/// (same wasmi configuration, host functions over a hash map, none of the engine's code), once
/// with a new store and instance per call (the isolation a plain wasmi embedder gets) and once
/// in one long-lived instance (no isolation between calls: the VM's floor).
fn bare_wasmi(c: &mut Criterion) {
    let engine = wasmi::Engine::new(&aether_engine::vm::limits::wasmi_config());
    let module = wasmi::Module::new(&engine, wat::parse_str(TOKEN).unwrap()).unwrap();
    let linker = bare_linker(&engine);
    let mut input = BOB.0.to_vec();
    input.extend_from_slice(&7u128.to_le_bytes());
    let mut host = Bare {
        input,
        caller: ALICE.0,
        ..Bare::default()
    };
    host.storage
        .insert(ALICE.0.to_vec(), (1u128 << 100).to_le_bytes().to_vec());
    let run = |store: &mut wasmi::Store<Bare>, instance: wasmi::Instance| {
        store.set_fuel(50_000_000).unwrap();
        let f = instance
            .get_typed_func::<(), ()>(&*store, "transfer")
            .unwrap();
        f.call(store, ()).unwrap();
    };
    let mut slot = Some(host);
    c.bench_function("bare_wasmi/token_transfer_fresh_instance", |b| {
        b.iter(|| {
            let mut store = wasmi::Store::new(&engine, slot.take().unwrap());
            store.set_fuel(50_000_000).unwrap();
            let instance = linker.instantiate_and_start(&mut store, &module).unwrap();
            store.data_mut().memory = instance.get_memory(&store, "memory");
            run(&mut store, instance);
            slot = Some(store.into_data());
        })
    });
    let mut store = wasmi::Store::new(&engine, slot.take().unwrap());
    let instance = linker.instantiate_and_start(&mut store, &module).unwrap();
    store.data_mut().memory = instance.get_memory(&store, "memory");
    c.bench_function("bare_wasmi/token_transfer_call_only", |b| {
        b.iter(|| run(&mut store, instance))
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
    bare_wasmi,
    compile,
    block,
    wasmi_instantiate_token,
    wasmi_instantiate_by_memory
);
criterion_main!(benches);
