//! `aether run --consensus hotstuff` as a real process: the dev chain's validator (alice)
//! proposes, votes, forms QCs and commits by the 2-chain rule with real BLS and VRF; it stops
//! and resumes from the commit proof stored beside its head and its safety record; a missing
//! safety record past genesis refuses to start unless reset knowingly.

mod common;

use common::{Node, aether, rpc};

fn finalized(node: &Node) -> u64 {
    rpc(&node.rpc, "system_health", vec![])["finalizedHeight"]
        .as_u64()
        .expect("a finalized height")
}

fn wait_finalized(node: &Node, height: u64) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let h = finalized(node);
        if h >= height {
            return h;
        }
        assert!(std::time::Instant::now() < deadline, "stuck at height {h}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_hotstuff_validator_commits_resumes_and_guards_its_safety_record() {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().to_str().unwrap();
    let args = [
        "--dev",
        "--base-path",
        b,
        "--no-metrics",
        "--consensus",
        "hotstuff",
        "--validator",
        "alice",
    ];
    let node = Node::start_with(&args);
    assert_eq!(
        rpc(&node.rpc, "system_info", vec![])["consensus"],
        "hotstuff"
    );
    let before = wait_finalized(&node, 3);
    // Where consensus stands is reported: rounds advance and blocks commit.
    let progress = rpc(&node.rpc, "system_health", vec![])["consensus"].clone();
    assert!(progress["round"].as_u64().unwrap() >= 3, "{progress}");
    assert!(
        progress["committedRound"].as_u64().unwrap() >= 1
            && progress["committedRound"].as_u64() < progress["round"].as_u64(),
        "{progress}"
    );
    // Transactions go through HotStuff blocks.
    let paid = common::json_of(&aether(&[
        "transfer", "--from", "//alice", "--to", "//bob", "--amount", "5", "--rpc", &node.rpc,
        "--json",
    ]));
    assert_eq!(paid["status"], "success", "{paid}");
    assert!(node.stop().success());
    assert!(
        dir.path().join("consensus/safety").exists(),
        "the safety record is on disk"
    );

    // Resumes from the commit proof beside its head and its safety record.
    let node = Node::start_with(&args);
    wait_finalized(&node, before + 3);
    assert!(node.stop().success());

    // Without its safety record, past genesis, it refuses to start...
    std::fs::remove_file(dir.path().join("consensus/safety")).unwrap();
    let mut run = vec!["run"];
    run.extend(args);
    run.extend(["--rpc-addr", "127.0.0.1:0"]);
    let out = aether(&run);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("no safety record"), "{stderr}");
    // ...unless told to reset it, knowingly.
    let mut reset = args.to_vec();
    reset.push("--reset-safety-record");
    let node = Node::start_with(&reset);
    assert!(node.wait_for_log("--reset-safety-record", 10).is_some());
    wait_finalized(&node, before + 4);
    assert!(node.stop().success());
}

#[test]
fn a_dev_sealed_chain_does_not_continue_under_hotstuff() {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().to_str().unwrap();
    let node = Node::start_with(&["--dev", "--base-path", b, "--no-metrics"]);
    wait_finalized(&node, 2);
    assert!(node.stop().success());
    let out = aether(&[
        "run",
        "--dev",
        "--base-path",
        b,
        "--no-metrics",
        "--rpc-addr",
        "127.0.0.1:0",
        "--consensus",
        "hotstuff",
        "--validator",
        "alice",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("dev sealer cannot continue under HotStuff"),
        "{stderr}"
    );
    // A key that is not a validator's is refused by name.
    let fresh = tempfile::tempdir().unwrap();
    let out = aether(&[
        "run",
        "--dev",
        "--base-path",
        fresh.path().to_str().unwrap(),
        "--no-metrics",
        "--rpc-addr",
        "127.0.0.1:0",
        "--consensus",
        "hotstuff",
        "--validator",
        "mallory",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not in the genesis's validator set"));
}
