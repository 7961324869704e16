//! Determinism: the same block on the same state gives identical receipts, gas and change set,
//! run twice in one process and in two separate processes.

use std::process::Command;

#[test]
fn same_block_twice_in_one_process_gives_identical_hashes() {
    let w = aether_tests::mixed_block(400, 40);
    let a = aether_tests::run(&w);
    let b = aether_tests::run(&w);
    assert_eq!(a, b);
    assert!(a.gas_used > 0);
}

#[test]
fn same_block_in_two_processes_gives_identical_hashes() {
    // sr25519 signatures are randomised, so the block is built once and handed to both children.
    let w = aether_tests::mixed_block(400, 40);
    let dir = std::env::temp_dir().join(format!("aether-determinism-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("block.scale");
    std::fs::write(&file, w.encode()).unwrap();
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_aether-determinism"))
            .arg(&file)
            .output()
            .expect("spawn aether-determinism");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let first = run();
    let second = run();
    assert_eq!(first, second);
    let here = aether_tests::run(&w).to_string();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(first.trim(), here, "child process and this process agree");
}

#[test]
fn the_mixed_block_exercises_every_outcome() {
    use aether_engine::types::Status;
    let w = aether_tests::mixed_block(400, 40);
    let exec =
        aether_engine::Executor::new(aether_engine::Vm::new(aether_engine::GasSchedule::V1, 8));
    let out = exec.execute_block(w.state.clone(), &w.env, &w.txs).unwrap();
    for s in [Status::Success, Status::Revert, Status::Rejected] {
        assert!(
            out.receipts.iter().any(|r| r.status == s),
            "no {s:?} receipt"
        );
    }
}
