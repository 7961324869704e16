//! Hostile contracts (after rs-soroban-env's `hostile.rs`): each must fail cleanly with a precise
//! status or rule, never crash the host, and leave the state unchanged but for the fee.

mod common;

use aether_engine::memory::MemoryState;
use aether_engine::sandbox::Sandbox;
use aether_engine::types::{Action, Address, Receipt, Status};
use aether_engine::vm::{AbiType, HOST_FUNCTIONS, call_status};
use common::*;

const GAS: u64 = 2_000_000;
const PRICE: u128 = 7;

fn sandbox_with_price() -> Sandbox {
    let mut sb = sandbox();
    sb.set_gas_price(PRICE);
    sb
}

/// Everything but ALICE's balance and nonce and the proposer's balance is as before, and
/// ALICE paid exactly the fee of `r`.
fn assert_only_fee_changed(before: &MemoryState, after: &MemoryState, r: &Receipt) {
    assert_eq!(before.storage, after.storage, "storage changed");
    assert_eq!(before.code, after.code, "code changed");
    let fee = u128::from(r.gas_used) * PRICE;
    for (addr, acc) in &after.accounts {
        let old = before.accounts.get(addr).cloned().unwrap_or_default();
        if *addr == ALICE {
            assert_eq!(
                acc.balance,
                old.balance - fee,
                "sender pays exactly the fee"
            );
            assert_eq!(acc.nonce, old.nonce + 1);
        } else if *addr == Address([0xEE; 32]) {
            assert_eq!(acc.balance, old.balance + fee, "proposer earns the fee");
        } else {
            assert_eq!(*acc, old, "account {addr} changed");
        }
    }
}

fn run_method(wat: &str, method: &str, gas: u64) -> Receipt {
    let mut sb = sandbox_with_price();
    let c = sb.deploy(BOB, wasm(wat), vec![]).expect("deploys");
    let before = sb.state().clone();
    let r = sb.call(ALICE, c, method, vec![], 0, gas).unwrap();
    assert_only_fee_changed(&before, sb.state(), &r);
    r
}

fn upload_rejected(code: Vec<u8>, rule: &str) {
    let mut sb = sandbox_with_price();
    let before = sb.state().clone();
    let r = sb
        .submit(ALICE, Action::UploadCode { code }, 50_000_000)
        .unwrap();
    assert_eq!(r.status, Status::InvalidModule, "{:?}", r.error);
    let err = r.error.clone().unwrap();
    assert!(
        err.contains(&format!("rule `{rule}`")),
        "expected rule `{rule}`, got: {err}"
    );
    assert_only_fee_changed(&before, sb.state(), &r);
}

const MEM: &str = r#"(memory (export "memory") 1)"#;

#[test]
fn infinite_loop_is_out_of_gas_and_charges_the_whole_limit() {
    let r = run_method(
        &format!(r#"(module {MEM} (func (export "run") (loop $l (br $l))))"#),
        "run",
        300_000,
    );
    assert_eq!(r.status, Status::OutOfGas);
    assert_eq!(r.gas_used, 300_000);
}

#[test]
fn memory_grow_bomb_is_refused_cleanly() {
    // Grow one page at a time until refused, then revert with the page count reached.
    let wat = format!(
        r#"(module {IMPORTS} {MEM}
        (func (export "run") (local $n i32)
          (block $done (loop $l
            (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))
            (br $l)))
          (i32.store (i32.const 0) (local.get $n))
          (call $revert (i32.const 0) (i32.const 4)))
        (func (export "huge") (i32.store (i32.const 0) (memory.grow (i32.const 65536)))
          (call $revert (i32.const 0) (i32.const 4))))"#
    );
    let r = run_method(&wat, "run", GAS);
    assert_eq!(r.status, Status::Revert);
    let grown = u32::from_le_bytes(r.return_data[..4].try_into().unwrap());
    assert_eq!(
        grown,
        aether_engine::vm::MAX_MEMORY_PAGES - 1,
        "grew to the page limit, no further"
    );
    let r = run_method(&wat, "huge", GAS);
    assert_eq!(
        r.return_data,
        (-1i32).to_le_bytes(),
        "a huge grow returns -1"
    );
}

#[test]
fn memory_growth_is_charged_per_page() {
    let wat = |pages: u32| {
        format!(r#"(module {MEM} (func (export "run") (drop (memory.grow (i32.const {pages})))))"#)
    };
    let a = run_method(&wat(1), "run", GAS).gas_used;
    let b = run_method(&wat(5), "run", GAS).gas_used;
    // The schedule's price per page, plus wasmi's own fuel for `memory.grow`: one unit per
    // 64 bytes grown (1,024 per page).
    assert_eq!(
        b - a,
        4 * (aether_engine::GasSchedule::V1.memory_per_page + 1024)
    );
}

#[test]
fn huge_initial_memory_is_rejected_at_upload() {
    upload_rejected(
        wasm(r#"(module (memory (export "memory") 40000))"#),
        "memory",
    );
}

#[test]
fn deep_guest_recursion_traps_without_native_stack_overflow() {
    let r = run_method(
        &format!(r#"(module {MEM} (func $f (export "run") (call $f)))"#),
        "run",
        50_000_000,
    );
    assert_eq!(r.status, Status::Trap, "{:?}", r.error);
    assert!(r.error.unwrap().to_lowercase().contains("stack"));
}

#[test]
fn host_to_guest_reentry_is_bounded_by_call_depth() {
    // Each frame calls itself again (it opted into reentrancy) and records the status it got.
    let wat = format!(
        r#"(module {IMPORTS} {MEM}
        (data (i32.const 100) "run")
        (func (export "__aether_reentrant"))
        (func (export "run")
          (call $address (i32.const 0))
          (i32.store8 (i32.const 200)
            (call $call (i32.const 0) (i32.const 100) (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 300) (i64.const 0)))
          (call $return_data_read (i32.const 201))
          (call $return (i32.const 200) (i32.add (i32.const 1) (call $return_data_len)))))"#
    );
    let mut sb = sandbox_with_price();
    let c = sb.deploy(BOB, wasm(&wat), vec![]).unwrap();
    // Run on a thread with a small (1 MiB) native stack to show host re-entry stays shallow.
    let r = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || sb.call(ALICE, c, "run", vec![], 0, 50_000_000).unwrap())
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    // Frames 1..15 got SUCCESS from their callee; the 16th was refused with DEPTH_EXCEEDED.
    let codes = &r.return_data;
    assert_eq!(codes.len(), aether_engine::vm::MAX_CALL_DEPTH);
    assert!(
        codes[..codes.len() - 1]
            .iter()
            .all(|c| *c == call_status::SUCCESS as u8)
    );
    assert_eq!(*codes.last().unwrap(), call_status::DEPTH_EXCEEDED as u8);
}

#[test]
fn float_types_and_instructions_are_rejected() {
    upload_rejected(
        wasm(&format!(
            r#"(module {MEM} (func (export "run") (local f64)))"#
        )),
        "no-floats",
    );
    upload_rejected(
        wasm(&format!(
            r#"(module {MEM} (func (export "run") (drop (f32.const 1))))"#
        )),
        "no-floats",
    );
    upload_rejected(
        wasm(&format!(r#"(module {MEM} (func $f (param f32)))"#)),
        "no-floats",
    );
}

#[test]
fn unknown_imports_and_wrong_signatures_are_rejected() {
    upload_rejected(
        wasm(&format!(
            r#"(module (import "env" "syscall" (func)) {MEM})"#
        )),
        "known-imports",
    );
    upload_rejected(
        wasm(&format!(
            r#"(module (import "wasi" "fd_write" (func)) {MEM})"#
        )),
        "known-imports",
    );
    upload_rejected(
        wasm(&format!(
            r#"(module (import "env" "caller" (func (param i64))) {MEM})"#
        )),
        "import-signature",
    );
    upload_rejected(
        wasm(r#"(module (import "env" "memory" (memory 1)))"#),
        "import-kind",
    );
}

#[test]
fn start_function_is_rejected() {
    upload_rejected(
        wasm(&format!(r#"(module {MEM} (func $s) (start $s))"#)),
        "no-start-function",
    );
}

#[test]
fn garbage_and_truncated_bytes_are_rejected() {
    upload_rejected(b"definitely not wasm".to_vec(), "wasm-format");
    upload_rejected(Vec::new(), "wasm-format");
    let good = wasm(&token());
    // (8 bytes would be a valid, empty module: magic and version only.)
    for cut in [4, 5, 9, good.len() / 2, good.len() - 1] {
        upload_rejected(good[..cut].to_vec(), "wasm-format");
    }
}

#[test]
fn oversized_module_is_rejected() {
    let big = "x".repeat(aether_engine::vm::MAX_CODE_SIZE);
    upload_rejected(
        wasm(&format!(r#"(module {MEM} (data (i32.const 0) "{big}"))"#)),
        "code-size",
    );
}

#[test]
fn too_many_functions_locals_globals_and_huge_tables_are_rejected() {
    let funcs = "(func)".repeat(aether_engine::vm::MAX_FUNCTIONS as usize + 1);
    upload_rejected(wasm(&format!("(module {MEM} {funcs})")), "max-functions");
    let locals = "(local i64) ".repeat(aether_engine::vm::MAX_LOCALS as usize + 1);
    upload_rejected(
        wasm(&format!("(module {MEM} (func {locals}))")),
        "max-locals",
    );
    let globals = "(global i32 (i32.const 0))".repeat(aether_engine::vm::MAX_GLOBALS as usize + 1);
    upload_rejected(wasm(&format!("(module {MEM} {globals})")), "max-globals");
    upload_rejected(
        wasm(&format!("(module {MEM} (table 100000 funcref))")),
        "table",
    );
    upload_rejected(
        wasm(&format!(
            "(module {MEM} (table 1 funcref) (table 1 funcref))"
        )),
        "table",
    );
}

#[test]
fn missing_memory_and_bad_method_signatures_are_rejected() {
    upload_rejected(wasm(r#"(module (func (export "run")))"#), "memory");
    upload_rejected(
        wasm(r#"(module (memory 1) (func (export "run")))"#),
        "memory",
    );
    upload_rejected(
        wasm(&format!(
            r#"(module {MEM} (func (export "run") (param i32)))"#
        )),
        "method-signature",
    );
}

#[test]
fn disallowed_proposals_are_rejected() {
    // Tail calls and SIMD are off.
    let mut sb = sandbox_with_price();
    for wat in [
        format!(r#"(module {MEM} (func $f (return_call $f)))"#),
        format!(r#"(module {MEM} (func (drop (v128.const i64x2 0 0))))"#),
    ] {
        let r = sb
            .submit(ALICE, Action::UploadCode { code: wasm(&wat) }, 50_000_000)
            .unwrap();
        assert_eq!(r.status, Status::InvalidModule, "{wat}");
    }
}

#[test]
fn out_of_bounds_pointers_to_every_host_function_trap() {
    let bad = -16i32; // 0xFFFF_FFF0: far outside the one-page memory
    let mut tested = 0;
    for f in HOST_FUNCTIONS {
        if !f.params.contains(&AbiType::I32) {
            continue; // no pointer to check
        }
        let ty = |t: &AbiType| match t {
            AbiType::I32 => "i32",
            AbiType::I64 => "i64",
        };
        let params: Vec<_> = f.params.iter().map(ty).collect();
        let results: Vec<_> = f.results.iter().map(ty).collect();
        let args: String = f
            .params
            .iter()
            .map(|t| match t {
                AbiType::I32 => format!("(i32.const {bad}) "),
                AbiType::I64 => "(i64.const 0) ".to_string(),
            })
            .collect();
        let drop = if results.is_empty() { "" } else { "drop" };
        let wat = format!(
            r#"(module
              (import "env" "{name}" (func $h (param {p}) {r}))
              {MEM}
              (func (export "run") (call $h {args}) {drop}))"#,
            name = f.name,
            p = params.join(" "),
            r = if results.is_empty() {
                String::new()
            } else {
                format!("(result {})", results.join(" "))
            },
        );
        let r = run_method(&wat, "run", GAS);
        assert_eq!(r.status, Status::Trap, "{}: {:?}", f.name, r.error);
        tested += 1;
    }
    assert!(tested >= 20, "only {tested} pointer-taking host functions");
}

#[test]
fn trap_messages_are_the_same_in_every_run() {
    // An element segment beyond its table fails instantiation; wasmi's own message for it
    // names a store-internal handle that differs between stores.
    let wat = r#"(module
      (memory (export "memory") 1)
      (table 1 funcref)
      (func $f)
      (elem (i32.const 5) $f)
      (func (export "run")))"#;
    let deploy = || {
        let mut sb = sandbox_with_price();
        let before = sb.state().clone();
        let r = *sb
            .deploy(BOB, wasm(wat), vec![])
            .expect_err("instantiation traps");
        assert_eq!(before.storage, sb.state().storage);
        r
    };
    let first = deploy();
    let second = deploy();
    assert_eq!(first.status, Status::Trap, "{first:?}");
    assert_eq!(first, second);
    let msg = first.error.unwrap();
    assert!(!msg.contains("Store"), "{msg}");
    assert!(msg.contains("does not fit the table"), "{msg}");
}

#[test]
fn a_long_memory_grow_loop_runs_out_of_gas_without_native_stack_overflow() {
    // With wasmi's tail-call dispatch every refused `memory.grow` recursed on the native
    // stack; a few thousand iterations overflowed it and aborted the process.
    let r = run_method(
        r#"(module (memory (export "memory") 1)
          (func (export "run")
            (loop $l (drop (memory.grow (i32.const 0))) (drop (memory.grow (i32.const 100))) (br $l))))"#,
        "run",
        5_000_000,
    );
    assert_eq!(r.status, Status::OutOfGas, "{r:?}");
}
