//! Fuzzing with proptest and wasm-smith: arbitrary modules (structured, importing every host
//! function with random arguments) and arbitrary bytes are uploaded and called. The engine must
//! never panic, must fail cleanly, must leave state untouched on failure, and must give the same
//! result twice: once on a VM that reuses instances between calls and once on a VM that
//! instantiates every call afresh (a reused instance that leaked memory, globals or gas would
//! show as a different receipt). `AETHER_FUZZ_CASES` raises the number of cases (CI runs the
//! default, bounded).

use aether_engine::GasSchedule;
use aether_engine::memory::MemoryState;
use aether_engine::sandbox::Sandbox;
use aether_engine::types::{Action, Address, Receipt, Status};
use aether_engine::vm::{AbiType, DEFAULT_CACHE_MODULES, HOST_FUNCTIONS, Vm};
use proptest::prelude::*;

mod edge_modules;

const ALICE: Address = Address([0xA1; 32]);

fn cases() -> u32 {
    std::env::var("AETHER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(96)
}

fn host_imports_module() -> Vec<u8> {
    let ty = |t: &AbiType| match t {
        AbiType::I32 => "i32",
        AbiType::I64 => "i64",
    };
    let imports: String = HOST_FUNCTIONS
        .iter()
        .map(|f| {
            let p: Vec<_> = f.params.iter().map(ty).collect();
            let r: Vec<_> = f.results.iter().map(ty).collect();
            format!(
                r#"(import "env" "{}" (func (param {}) (result {})))"#,
                f.name,
                p.join(" "),
                r.join(" ")
            )
        })
        .collect();
    wat::parse_str(format!("(module {imports})")).unwrap()
}

fn smith_config() -> wasm_smith::Config {
    wasm_smith::Config {
        available_imports: Some(host_imports_module()),
        exports: Some(
            wat::parse_str(
                r#"(module (memory (export "memory") 1 4)
                   (func (export "init")) (func (export "a")) (func (export "b")))"#,
            )
            .unwrap(),
        ),
        allow_floats: false,
        // The compact import encoding is newer than the wasmparser that wasmi 2.0 uses.
        compact_imports_enabled: false,
        simd_enabled: false,
        relaxed_simd_enabled: false,
        reference_types_enabled: false,
        gc_enabled: false,
        exceptions_enabled: false,
        threads_enabled: false,
        tail_call_enabled: false,
        memory64_enabled: false,
        wide_arithmetic_enabled: false,
        extended_const_enabled: false,
        saturating_float_to_int_enabled: false,
        custom_page_sizes_enabled: false,
        allow_start_export: false,
        max_memories: 0, // the exported `memory` is always generated
        max_table_elements: 1000,
        max_tables: 1,
        max_funcs: 30,
        max_memory32_bytes: 4 * 65536,
        ..wasm_smith::Config::default()
    }
}

/// Whether the VM keeps instances between calls, and whether calls are traced.
#[derive(Clone, Copy, PartialEq)]
enum Instances {
    Reused,
    Fresh,
    /// Reused, every instantiation and call traced: receipts and state must be the same.
    Traced,
}

fn sandbox(instances: Instances) -> Sandbox {
    let pool = match instances {
        Instances::Reused | Instances::Traced => aether_engine::vm::DEFAULT_INSTANCE_POOL_BYTES,
        Instances::Fresh => 0,
    };
    let vm = Vm::with_instance_pool(GasSchedule::V1, DEFAULT_CACHE_MODULES, pool);
    let mut sb = Sandbox::with_vm(MemoryState::with_balances([(ALICE, 1 << 100)]), vm);
    sb.set_gas_price(1);
    sb
}

/// The known wasmi 2.0.0 translator fault (issue 16): the one place a panic may come from when
/// a module is refused as `wasm-translation`. A refusal from anywhere else is a new engine bug.
const KNOWN_FAULT: &str = "src/engine/translator/func/mod.rs:2583";

thread_local! {
    /// Where the panics on this thread were raised since the last look.
    static PANICS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Records where every panic is raised (the engine catches them, so the fuzz test would not
/// otherwise see them); panics outside wasmi also go to the default hook, so test failures
/// still print.
fn record_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let at = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let in_wasmi = at.contains("wasmi-");
            PANICS.with(|p| p.borrow_mut().push(at));
            if !in_wasmi {
                default(info);
            }
        }));
    });
}

fn take_panics() -> Vec<String> {
    PANICS.with(|p| std::mem::take(&mut *p.borrow_mut()))
}

/// No receipt shows an engine fault, and a `wasm-translation` refusal comes from the known
/// translator fault only.
fn assert_no_new_engine_fault(receipts: &[Receipt]) {
    let panics = take_panics();
    for r in receipts {
        assert_ne!(
            r.error.as_deref(),
            Some(aether_engine::vm::ENGINE_FAULT),
            "a frame faulted the engine: {r:?}"
        );
    }
    let refused = receipts[0].status == Status::InvalidModule
        && receipts[0]
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("rule `wasm-translation`"));
    if refused {
        assert!(
            !panics.is_empty() && panics.iter().all(|p| p.ends_with(KNOWN_FAULT)),
            "a new translator fault: {panics:?}"
        );
    } else {
        assert!(panics.is_empty(), "the engine panicked: {panics:?}");
    }
}

/// Uploads, instantiates and calls both methods (each twice, so that a reused instance runs a
/// method after another left its state); returns every receipt.
fn exercise(code: &[u8], input: &[u8]) -> Vec<Receipt> {
    exercise_on(code, input, Instances::Reused)
}

fn exercise_on(code: &[u8], input: &[u8], instances: Instances) -> Vec<Receipt> {
    exercise_with_state(code, input, instances).0
}

/// As [`exercise_on`], with the state the calls left.
fn exercise_with_state(
    code: &[u8],
    input: &[u8],
    instances: Instances,
) -> (Vec<Receipt>, MemoryState) {
    record_panics();
    take_panics();
    let (receipts, state) = exercise_unchecked(code, input, instances);
    assert_no_new_engine_fault(&receipts);
    (receipts, state)
}

/// Submits `action`, traced in [`Instances::Traced`] mode.
fn submit(sb: &mut Sandbox, action: Action, gas: u64, instances: Instances) -> Receipt {
    if instances == Instances::Traced {
        sb.submit_traced(ALICE, action, gas).unwrap().0
    } else {
        sb.submit(ALICE, action, gas).unwrap()
    }
}

fn exercise_unchecked(
    code: &[u8],
    input: &[u8],
    instances: Instances,
) -> (Vec<Receipt>, MemoryState) {
    let mut sb = sandbox(instances);
    let mut receipts = Vec::new();
    let up = sb
        .submit(
            ALICE,
            Action::UploadCode {
                code: code.to_vec(),
            },
            20_000_000,
        )
        .unwrap();
    assert!(
        matches!(
            up.status,
            Status::Success | Status::InvalidModule | Status::OutOfGas
        ),
        "{up:?}"
    );
    let ok = up.status == Status::Success;
    receipts.push(up);
    if !ok {
        return (receipts, sb.into_state());
    }
    let code_hash = aether_engine::types::Hash::of(code);
    let inst = submit(
        &mut sb,
        Action::Instantiate {
            code_hash,
            salt: vec![],
            value: 5,
            input: input.to_vec(),
            admin: None,
        },
        2_000_000,
        instances,
    );
    let Some(contract) = inst.created.map(Address) else {
        receipts.push(inst);
        return (receipts, sb.into_state());
    };
    receipts.push(inst);
    for method in ["a", "b", "a", "b", "init", "missing"] {
        let before = sb.state().clone();
        let call = Action::Call {
            contract,
            method: method.into(),
            input: input.to_vec(),
            value: 1,
        };
        let r = submit(&mut sb, call, 2_000_000, instances);
        assert_ne!(r.status, Status::Rejected, "{r:?}");
        if r.status != Status::Success {
            assert_eq!(
                before.storage,
                sb.state().storage,
                "failed call changed storage"
            );
            assert_eq!(before.code, sb.state().code, "failed call changed code");
            assert!(r.events.is_empty());
        }
        receipts.push(r);
    }
    (receipts, sb.into_state())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_structured_modules_never_panic_and_are_deterministic(
        seed in prop::collection::vec(any::<u8>(), 64..4096),
        input in prop::collection::vec(any::<u8>(), 0..96),
    ) {
        let mut u = arbitrary::Unstructured::new(&seed);
        let Ok(module) = wasm_smith::Module::new(smith_config(), &mut u) else { return Ok(()); };
        let code = module.to_bytes();
        let first = exercise_with_state(&code, &input, Instances::Reused);
        let second = exercise_on(&code, &input, Instances::Fresh);
        prop_assert_eq!(&first.0, &second);
        let traced = exercise_with_state(&code, &input, Instances::Traced);
        prop_assert!(first == traced, "a traced run differs from an untraced one");
    }

    #[test]
    fn modules_with_immediates_at_their_limits_never_panic_and_are_deterministic(
        a in edge_modules::body(),
        b in edge_modules::body(),
        input in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let code = edge_modules::module(&a, &b);
        let first = exercise_with_state(&code, &input, Instances::Reused);
        let second = exercise_on(&code, &input, Instances::Fresh);
        prop_assert_eq!(&first.0, &second);
        let traced = exercise_with_state(&code, &input, Instances::Traced);
        prop_assert!(first == traced, "a traced run differs from an untraced one");
    }

    #[test]
    fn arbitrary_bytes_are_rejected_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let receipts = exercise(&bytes, &[]);
        prop_assert!(receipts[0].status == Status::InvalidModule, "{:?}", receipts[0]);
    }

    #[test]
    fn mutated_valid_modules_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut code = wat::parse_str(include_str!("../../examples/wat/token.wat")).unwrap();
        for (i, b) in flips {
            let at = i.index(code.len());
            code[at] ^= b | 1;
        }
        exercise(&code, &[0; 48]);
    }
}

/// The structured generator must actually reach execution, or the fuzzing above is hollow.
#[test]
fn generated_modules_mostly_pass_validation_and_run() {
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let (mut generated, mut valid, mut executed) = (0, 0, 0);
    for _ in 0..100 {
        let seed: Vec<u8> = (0..2048).map(|_| next() as u8).collect();
        let mut u = arbitrary::Unstructured::new(&seed);
        let Ok(module) = wasm_smith::Module::new(smith_config(), &mut u) else {
            continue;
        };
        generated += 1;
        let receipts = exercise(&module.to_bytes(), &[1, 2, 3]);
        if receipts[0].status == Status::Success {
            valid += 1;
        }
        if receipts.len() > 2 {
            executed += 1;
        }
    }
    eprintln!("generated {generated}, valid {valid}, executed {executed}");
    assert!(generated >= 90);
    assert!(
        valid * 2 >= generated,
        "only {valid}/{generated} generated modules validated"
    );
    assert!(
        executed * 4 >= generated,
        "only {executed}/{generated} reached execution"
    );
}

/// The edge generator must reach both execution and the translator fault of issue 16 (refused
/// at upload as `wasm-translation`), or its fuzzing is hollow.
#[test]
fn edge_modules_reach_execution_and_the_translation_fault_of_issue_16() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = (edge_modules::body(), edge_modules::body());
    let (mut refused, mut executed, total) = (0, 0, 500);
    for _ in 0..total {
        let (a, b) = strategy.new_tree(&mut runner).unwrap().current();
        let receipts = exercise(&edge_modules::module(&a, &b), &[]);
        let up = &receipts[0];
        if up.status == Status::InvalidModule {
            let error = up.error.as_deref().unwrap_or_default();
            assert!(error.starts_with("rule `wasm-translation`"), "{error}");
            refused += 1;
        } else if receipts.len() > 2 {
            executed += 1;
        }
    }
    eprintln!("{total} edge modules: {refused} refused as translation faults, {executed} executed");
    assert!(refused >= 1, "no edge module reached the translation fault");
    assert!(
        executed * 2 >= total,
        "only {executed}/{total} reached execution"
    );
}
