//! Faults of the engine itself (issue 16): a module wasmi cannot translate is refused at upload
//! with rule `wasm-translation`, never run; every module that ever faulted the engine is kept in
//! `tests/regressions/` and replayed here; variants of the first fault (other store widths and
//! types, other offsets, other operand sources) are refused at upload or end as a clean receipt.

mod common;

use aether_engine::sandbox::Sandbox;
use aether_engine::types::{Action, Hash, Receipt, Status};
use common::*;

const GAS: u64 = 50_000_000;
/// Gas of each method call (a looping regression module uses all of it).
const CALL_GAS: u64 = 5_000_000;

/// What became of a module: its upload receipt, then (if it uploaded) the instantiation and one
/// call of each named method.
fn run(code: Vec<u8>, methods: &[&str]) -> (Sandbox, Vec<Receipt>) {
    let mut sb = sandbox();
    let hash = Hash::of(&code);
    let up = sb.submit(ALICE, Action::UploadCode { code }, GAS).unwrap();
    let mut receipts = vec![up.clone()];
    if up.status != Status::Success {
        return (sb, receipts);
    }
    let inst = sb
        .submit(
            ALICE,
            Action::Instantiate {
                code_hash: hash,
                salt: vec![],
                value: 0,
                input: vec![],
                admin: None,
            },
            GAS,
        )
        .unwrap();
    receipts.push(inst.clone());
    let Some(contract) = inst.created.map(aether_engine::types::Address) else {
        return (sb, receipts);
    };
    for m in methods {
        let before = sb.state().storage.clone();
        let r = sb.call(ALICE, contract, m, vec![], 0, CALL_GAS).unwrap();
        if r.status != Status::Success {
            assert_eq!(before, sb.state().storage, "a failed call changed storage");
        }
        receipts.push(r);
    }
    (sb, receipts)
}

/// What a regression module's first line says must become of it: the stage that ends it
/// (`upload`, `instantiate` or `run`, the call of method `run`), its status, and text its error
/// contains.
struct Expect {
    stage: usize,
    status: String,
    error: String,
}

fn expectation(path: &std::path::Path, text: &str) -> Expect {
    let line = text.lines().next().unwrap_or_default();
    let rest = line.strip_prefix(";; expect: ").unwrap_or_else(|| {
        panic!(
            "{} must start with `;; expect: STAGE STATUS [ERROR]`",
            path.display()
        )
    });
    let mut words = rest.splitn(3, ' ');
    let stage = match words.next() {
        Some("upload") => 0,
        Some("instantiate") => 1,
        Some("run") => 2,
        other => panic!("{}: unknown stage {other:?}", path.display()),
    };
    Expect {
        stage,
        status: words.next().unwrap_or_default().to_string(),
        error: words.next().unwrap_or_default().to_string(),
    }
}

/// Every module that ever faulted the engine (`tests/regressions/*.wat`) ends as its first line
/// says, the same way twice.
#[test]
fn every_module_that_ever_faulted_the_engine_ends_as_recorded() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("wat") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let expect = expectation(&path, &text);
        let (_, first) = run(wasm(&text), &["run"]);
        let (_, second) = run(wasm(&text), &["run"]);
        assert_eq!(first, second, "{}: two runs differ", path.display());
        let name = path.display();
        assert_eq!(
            first.len(),
            expect.stage + 1,
            "{name}: ended at another stage: {first:?}"
        );
        let last = &first[expect.stage];
        assert_eq!(last.status.as_str(), expect.status, "{name}: {last:?}");
        assert!(
            last.error
                .as_deref()
                .unwrap_or_default()
                .contains(&expect.error),
            "{name}: {last:?}"
        );
        seen += 1;
    }
    assert!(seen >= 3, "the corpus went missing: {seen} modules");
}

fn refused_as_translation_fault(r: &Receipt) -> bool {
    r.status == Status::InvalidModule
        && r.error
            .as_deref()
            .is_some_and(|e| e.starts_with("rule `wasm-translation`"))
}

#[test]
fn the_six_instruction_module_of_issue_16_is_refused_at_upload() {
    let code = wasm(include_str!(
        "regressions/wasmi-2.0.0-store-offset-register-pair.wat"
    ));
    let (mut sb, receipts) = run(code.clone(), &["run"]);
    assert_eq!(receipts.len(), 1, "{receipts:?}");
    assert!(refused_as_translation_fault(&receipts[0]), "{receipts:?}");
    assert_eq!(
        receipts[0].error.as_deref(),
        Some(
            "rule `wasm-translation`: the engine's compiler (wasmi 2.0.0) cannot translate this code"
        )
    );
    // Nothing was stored, and the engine goes on: the same sandbox runs a good contract.
    assert!(sb.state().code.is_empty());
    let c = sb
        .deploy(BOB, wasm(&kitchen_sink()), vec![])
        .expect("deploys");
    let r = sb.call(ALICE, c, "store", vec![1, 2, 3], 0, GAS).unwrap();
    assert_eq!(r.status, Status::Success, "{r:?}");
}

/// Every store and load width, offsets around and beyond 64 KiB up to the largest, and the
/// operand sources that put address and value in registers or slots.
#[test]
fn variants_of_the_fault_are_refused_at_upload_or_end_in_a_clean_receipt() {
    let stores = [
        ("i32.store", "i32"),
        ("i32.store8", "i32"),
        ("i32.store16", "i32"),
        ("i64.store", "i64"),
        ("i64.store8", "i64"),
        ("i64.store16", "i64"),
        ("i64.store32", "i64"),
    ];
    let offsets = [65_535u64, 65_536, 65_537, 1 << 20, u32::MAX as u64];
    let (mut refused, mut trapped, mut total) = (0, 0, 0);
    for (op, ty) in stores {
        for offset in offsets {
            // Address and value: both from one local (the issue's shape), from two locals, from
            // a fresh memory.size and a local, from a call result and a local.
            let value = |from: &str| {
                if ty == "i64" {
                    format!("{from} i64.extend_i32_u")
                } else {
                    from.to_string()
                }
            };
            let bodies = [
                format!(
                    "memory.size local.set 0 local.get 0 {} {op} offset={offset}",
                    value("local.get 0")
                ),
                format!(
                    "memory.size local.set 0 memory.size local.set 1 local.get 0 {} {op} offset={offset}",
                    value("local.get 1")
                ),
                format!(
                    "memory.size local.tee 0 {} {op} offset={offset}",
                    value("local.get 0")
                ),
                format!(
                    "call $one local.set 0 local.get 0 {} {op} offset={offset}",
                    value("call $one")
                ),
                format!(
                    "memory.size local.set 0 local.get 0 {} {op} offset={offset}",
                    value("i32.const -1")
                ),
            ];
            for body in bodies {
                let wat = format!(
                    r#"(module (memory (export "memory") 1)
                         (func $one (result i32) i32.const 1)
                         (func (export "run") (local i32 i32) {body}))"#
                );
                total += 1;
                let (_, receipts) = run(wasm(&wat), &["run"]);
                if refused_as_translation_fault(&receipts[0]) {
                    refused += 1;
                    continue;
                }
                assert_eq!(receipts[0].status, Status::Success, "{wat}: {receipts:?}");
                let call = &receipts[2];
                assert_eq!(call.status, Status::Trap, "{wat}: {call:?}");
                assert_eq!(
                    call.error.as_deref(),
                    Some("trap: out of bounds memory access"),
                    "{wat}"
                );
                trapped += 1;
            }
        }
    }
    eprintln!("{total} variants: {refused} refused at upload, {trapped} trapped cleanly");
    assert!(refused > 0, "the generator no longer reaches the fault");
}
