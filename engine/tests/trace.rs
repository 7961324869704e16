//! Execution traces: a traced transaction records its frames (nested calls included) with
//! their host calls, storage writes with old and new values, events and gas, and tracing
//! changes no receipt, gas or state, byte for byte, whatever point a run stops at.

mod common;

use aether_engine::GasSchedule;
use aether_engine::sandbox::Sandbox;
use aether_engine::types::{Action, Address, Status, Transaction};
use aether_engine::vm::call_status;
use aether_engine::vm::trace::{Frame, MAX_TRACE_STEPS, Op, Step};
use common::{ALICE, BOB, kitchen_sink, sandbox, token, transfer_input, wasm};
use parity_scale_codec::Encode;

/// Two instances of the kitchen-sink contract (A calls B), and the token.
struct World {
    sb: Sandbox,
    a: Address,
    b: Address,
    token: Address,
}

fn world() -> World {
    let mut sb = sandbox();
    let code = wasm(&kitchen_sink());
    let a = sb.deploy(ALICE, code.clone(), vec![]).unwrap();
    let code_hash = aether_engine::types::Hash::of(&code);
    let b = sb
        .submit(
            ALICE,
            Action::Instantiate {
                code_hash,
                salt: b"b".to_vec(),
                value: 0,
                input: vec![],
                admin: None,
            },
            10_000_000,
        )
        .unwrap()
        .created
        .map(Address)
        .unwrap();
    let token = sb
        .deploy(ALICE, wasm(&token()), 1_000u128.to_le_bytes().to_vec())
        .unwrap();
    World { sb, a, b, token }
}

fn call(contract: Address, method: &str, input: Vec<u8>) -> Action {
    Action::Call {
        contract,
        method: method.into(),
        input,
        value: 0,
    }
}

/// The gas a sandbox transaction is charged before its frame runs.
fn intrinsic(sb: &Sandbox, action: &Action, gas_limit: u64) -> u64 {
    let nonce = sb.state().accounts.get(&ALICE).map_or(0, |a| a.nonce);
    let tx = Transaction {
        chain_id: sb.env().chain_id,
        nonce,
        gas_limit,
        gas_price: 0,
        action: action.clone(),
    };
    GasSchedule::V1.intrinsic(tx.encoded_size() + 33 + 64)
}

fn ops(frame: &Frame) -> Vec<&Op> {
    frame.steps.iter().filter_map(|s| s.op.as_ref()).collect()
}

fn step<'a>(frame: &'a Frame, host: &str) -> &'a Step {
    frame
        .steps
        .iter()
        .find(|s| s.host == host)
        .unwrap_or_else(|| panic!("no `{host}` step in {:#?}", frame.steps))
}

#[test]
fn a_nested_call_shows_both_frames_with_their_writes_events_and_gas() {
    let mut w = world();
    let action = call(w.a, "call_fail", w.b.0.to_vec());
    let intrinsic = intrinsic(&w.sb, &action, 5_000_000);
    let (receipt, trace) = w.sb.submit_traced(ALICE, action, 5_000_000).unwrap();
    assert_eq!(receipt.status, Status::Success, "{receipt:?}");
    assert!(!trace.truncated);
    let root = trace.frame.expect("the call ran a frame");
    assert_eq!(
        (root.caller, root.contract, root.method.as_deref()),
        (ALICE, w.a, Some("call_fail"))
    );
    assert_eq!(root.status, Status::Success);
    assert_eq!(root.output, receipt.return_data);
    // The frame's gas and the intrinsic gas are the receipt's.
    assert_eq!(root.gas_used + intrinsic, receipt.gas_used);
    // Host calls in order, with what they did.
    let hosts: Vec<&str> = root.steps.iter().map(|s| s.host).collect();
    assert_eq!(
        hosts,
        [
            "input_read",
            "input_len",
            "storage_write",
            "call",
            "storage_write",
            "return_data_read",
            "return_data_len",
            "return"
        ]
    );
    assert_eq!(
        ops(&root)[1],
        &Op::StorageWrite {
            key: b"mine".to_vec(),
            old: None,
            new: b"kept".to_vec()
        }
    );
    let call_step = step(&root, "call");
    assert_eq!(call_step.result, Some(i64::from(call_status::REVERTED)));
    let Some(Op::Call {
        callee,
        method,
        frame: Some(nested),
        ..
    }) = &call_step.op
    else {
        panic!("the call step holds no frame: {call_step:#?}");
    };
    assert_eq!((callee, method.as_str()), (&w.b, "fail_after_write"));
    // The callee's frame: its write, its event and its revert, though all were undone.
    assert_eq!((nested.caller, nested.contract), (w.a, w.b));
    assert_eq!(nested.status, Status::Revert);
    assert_eq!(nested.output, b"nope");
    assert_eq!(
        ops(nested),
        [
            &Op::StorageWrite {
                key: b"key".to_vec(),
                old: None,
                new: b"dirty".to_vec()
            },
            &Op::Event {
                topics: vec![],
                data: b"hello".to_vec()
            },
            &Op::Revert(b"nope".to_vec()),
        ]
    );
    // The call step's gas holds the callee's; the steps cost no more than their frame.
    assert!(call_step.gas >= nested.gas_used, "{call_step:?} {nested:?}");
    assert!(nested.gas_used > 0 && nested.gas_used <= nested.gas_limit);
    let steps: u64 = root.steps.iter().map(|s| s.gas).sum();
    assert!(steps <= root.gas_used, "{steps} > {}", root.gas_used);
    let nested_steps: u64 = nested.steps.iter().map(|s| s.gas).sum();
    assert!(nested_steps <= nested.gas_used);
    // The caller read the callee's revert payload back.
    assert_eq!(ops(&root)[4], &Op::Read(b"nope".to_vec()));
}

#[test]
fn overwrites_and_removals_record_the_value_they_replace() {
    let mut w = world();
    w.sb.submit(ALICE, call(w.a, "store", b"one".to_vec()), 5_000_000)
        .unwrap();
    let (_, trace) =
        w.sb.submit_traced(ALICE, call(w.a, "store", b"two".to_vec()), 5_000_000)
            .unwrap();
    let root = trace.frame.unwrap();
    assert_eq!(
        step(&root, "storage_write").op,
        Some(Op::StorageWrite {
            key: b"key".to_vec(),
            old: Some(b"one".to_vec()),
            new: b"two".to_vec()
        })
    );
    let (receipt, trace) =
        w.sb.submit_traced(ALICE, call(w.a, "remove", vec![]), 5_000_000)
            .unwrap();
    let root = trace.frame.unwrap();
    assert_eq!(
        step(&root, "storage_remove").op,
        Some(Op::StorageRemove {
            key: b"key".to_vec(),
            old: Some(b"two".to_vec())
        })
    );
    assert_eq!(step(&root, "storage_remove").result, Some(1));
    assert_eq!(
        step(&root, "storage_has").op,
        Some(Op::StorageHas {
            key: b"key".to_vec(),
            present: false
        })
    );
    assert_eq!(receipt.return_data, [1, 0]);
    // A token transfer: the balances read and written, the event, the transfer's return.
    let (receipt, trace) =
        w.sb.submit_traced(
            ALICE,
            call(w.token, "transfer", transfer_input(&BOB, 10)),
            5_000_000,
        )
        .unwrap();
    assert_eq!(receipt.status, Status::Success);
    let root = trace.frame.unwrap();
    let writes: Vec<&Op> = ops(&root)
        .into_iter()
        .filter(|o| matches!(o, Op::StorageWrite { .. }))
        .collect();
    assert_eq!(writes.len(), 2, "{:#?}", root.steps);
    assert!(ops(&root).iter().any(|o| matches!(o, Op::Event { .. })));
}

#[test]
fn a_host_call_that_runs_out_of_gas_is_the_last_step_and_names_the_trap() {
    let mut w = world();
    // One gas short of what the call needs: the write, its last charge, fails.
    let action = call(w.a, "store", vec![7; 64]);
    let needs =
        w.sb.dry_run(ALICE, action.clone(), 5_000_000)
            .unwrap()
            .gas_used;
    let (receipt, trace) = w.sb.submit_traced(ALICE, action, needs - 1).unwrap();
    assert_eq!(receipt.status, Status::OutOfGas, "{receipt:?}");
    let root = trace.frame.unwrap();
    assert_eq!(root.status, Status::OutOfGas);
    let last = root.steps.last().unwrap();
    assert_eq!(last.host, "storage_write");
    assert_eq!(last.trap.as_deref(), Some("out of gas"));
    assert_eq!(last.op, None, "nothing was written");
}

/// Every method, at a sweep of gas limits that stops runs at every point, traced and untraced
/// in two sandboxes: the same receipts (encoded) and the same state after each.
#[test]
fn tracing_changes_no_receipt_gas_or_state() {
    let (mut plain, mut traced) = (world(), world());
    let actions = |w: &World| {
        vec![
            call(w.a, "store", b"value".to_vec()),
            call(w.a, "load", vec![]),
            call(w.a, "call_fail", w.b.0.to_vec()),
            call(w.a, "remove", vec![]),
            call(w.a, "emit", vec![9; 32]),
            call(w.a, "pay", transfer_input(&BOB, 1)),
            call(w.a, "env", vec![]),
            call(w.a, "hash", b"abc".to_vec()),
            call(w.a, "gas", vec![]),
            call(w.a, "call_self", vec![]),
            call(w.a, "spin", vec![]),
            call(w.token, "transfer", transfer_input(&BOB, 3)),
            call(w.token, "transfer", transfer_input(&BOB, 1 << 100)),
        ]
    };
    let mut checked = 0;
    for (x, y) in actions(&plain).into_iter().zip(actions(&traced)) {
        let base = intrinsic(&plain.sb, &x, 1);
        for extra in (0..120_000).step_by(3_001).chain([2_000_000]) {
            let limit = base + extra;
            let r1 = plain.sb.submit(ALICE, x.clone(), limit).unwrap();
            let (r2, _) = traced.sb.submit_traced(ALICE, y.clone(), limit).unwrap();
            assert_eq!(r1.encode(), r2.encode(), "{x:?} at {limit}");
            assert_eq!(
                plain.sb.state().encode(),
                traced.sb.state().encode(),
                "{x:?} at {limit}"
            );
            checked += 1;
        }
    }
    assert!(checked > 400);
}

#[test]
fn a_trace_past_its_bounds_is_truncated_and_the_receipt_is_whole() {
    let code = wasm(&format!(
        r#"(module {}
  (memory (export "memory") 1)
  (func (export "many")
    (local $i i32)
    (loop $l
      (drop (call $block_height))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const {})))))
)"#,
        common::IMPORTS,
        MAX_TRACE_STEPS + 10
    ));
    let (mut plain, mut traced) = (sandbox(), sandbox());
    let a = plain.deploy(ALICE, code.clone(), vec![]).unwrap();
    traced.deploy(ALICE, code, vec![]).unwrap();
    let r1 = plain
        .submit(ALICE, call(a, "many", vec![]), 100_000_000)
        .unwrap();
    let (r2, trace) = traced
        .submit_traced(ALICE, call(a, "many", vec![]), 100_000_000)
        .unwrap();
    assert_eq!(r1.status, Status::Success, "{r1:?}");
    assert_eq!(r1.encode(), r2.encode());
    assert!(trace.truncated);
    let root = trace.frame.unwrap();
    assert_eq!(
        root.steps.len(),
        MAX_TRACE_STEPS - 1,
        "the frame counts as one"
    );
    assert!(root.gas_used < r1.gas_used);
}
