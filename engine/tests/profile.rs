//! Profiling (`aether bench call`'s breakdown) observes and changes nothing: the same calls
//! give the same receipts and state with it on, and it counts each host call.

mod common;

use aether_engine::vm::profile::profile;
use common::{ALICE, BOB, sandbox, token, transfer_input, wasm};

#[test]
fn profiling_changes_no_receipt_and_counts_every_host_call() {
    let run = |profiled: bool| {
        let mut sb = sandbox();
        let t = sb
            .deploy(ALICE, wasm(&token()), 1_000u128.to_le_bytes().to_vec())
            .unwrap();
        let mut calls = || {
            (0..3)
                .map(|i| {
                    sb.call(ALICE, t, "transfer", transfer_input(&BOB, i), 0, 1_000_000)
                        .unwrap()
                })
                .collect::<Vec<_>>()
        };
        let (receipts, p) = if profiled {
            profile(calls)
        } else {
            (calls(), Default::default())
        };
        (receipts, sb.into_state(), p)
    };
    let (plain, plain_state, nothing) = run(false);
    let (traced, traced_state, p) = run(true);
    assert_eq!(plain, traced);
    assert_eq!(plain_state.storage, traced_state.storage);
    assert_eq!(plain_state.accounts, traced_state.accounts);
    assert_eq!(nothing, Default::default());
    assert_eq!(p.frames, 3);
    assert_eq!(p.instantiations + p.reuses, 3);
    for (name, count) in [
        ("storage_read", 6),
        ("storage_write", 6),
        ("emit_event", 3),
        ("caller", 3),
        ("input_read", 3),
        ("input_len", 3),
    ] {
        assert_eq!(p.host.get(name).map(|h| h.count), Some(count), "{name}");
    }
    assert!(p.frame_ns >= p.host.values().map(|h| h.ns).sum::<u64>());
}
