//! The node's command line as real processes: keys, `init-genesis`, `run --genesis` resuming
//! from its database, `snapshots create|list|restore` onto a new base path, and clear errors
//! for bad flags, files and keys.

mod common;

use common::{Node, aether, json_of, rpc};
use serde_json::Value;

fn fails_with(args: &[&str], needle: &str) {
    let out = aether(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(
        stderr.contains(needle),
        "{args:?}: `{needle}` not in: {stderr}"
    );
}

#[test]
fn keys_are_generated_and_inspected_for_every_scheme() {
    for (scheme, public_len) in [("ed25519", 32), ("sr25519", 32), ("bls", 48), ("vrf", 32)] {
        let k = json_of(&aether(&["keys", "generate", "--scheme", scheme, "--json"]));
        let public = k["public_key"].as_str().unwrap();
        assert_eq!(public.len(), 2 + 2 * public_len, "{scheme}: {k}");
        let again = json_of(&aether(&[
            "keys",
            "inspect",
            "--scheme",
            scheme,
            k["secret_seed"].as_str().unwrap(),
            "--json",
        ]));
        assert_eq!(again, k, "inspect gives back what generate printed");
    }
    let alice = aether(&["keys", "inspect", "//alice", "--field", "address"]);
    assert!(alice.status.success());
    let address = String::from_utf8_lossy(&alice.stdout).trim().to_string();
    assert_eq!(
        address,
        aether_engine::crypto::Keypair::dev("alice", false)
            .address()
            .to_string()
    );
    fails_with(&["keys", "inspect", "0x1234"], "2 bytes, expected 32");
    fails_with(
        &["keys", "inspect", "--scheme", "rsa", "0x00"],
        "invalid value 'rsa'",
    );
}

#[test]
fn a_genesis_file_runs_resumes_and_restores_from_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = dir.path().join("genesis.json");
    let g = genesis.to_str().unwrap();
    let funded = "0x0707070707070707070707070707070707070707070707070707070707070707";
    let out = aether(&[
        "init-genesis",
        "--dev",
        "--out",
        g,
        "--chain-id",
        "77",
        "--balance",
        &format!("{funded}=12345"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    let hash = printed
        .lines()
        .find_map(|l| l.strip_prefix("genesis hash "))
        .expect("the hash is printed")
        .to_string();
    fails_with(&["init-genesis", "--dev", "--out", g], "--force");
    fails_with(
        &[
            "init-genesis",
            "--out",
            dir.path().join("x.json").to_str().unwrap(),
            "--balance",
            "0x12=5",
        ],
        "bad address",
    );

    let base = dir.path().join("base");
    let b = base.to_str().unwrap();
    let node = Node::start_with(&[
        "--genesis",
        g,
        "--base-path",
        b,
        "--no-metrics",
        "--log-format",
        "json",
    ]);
    let logged: Value = serde_json::from_str(&node.rpc_log_line)
        .unwrap_or_else(|e| panic!("--log-format json logs JSON ({e}): {}", node.rpc_log_line));
    assert_eq!(logged["level"], "INFO");
    let info = rpc(&node.rpc, "system_info", vec![]);
    assert_eq!(info["chainId"], 77);
    assert_eq!(info["genesisHash"], hash.as_str());
    let account = json_of(&aether(&["account", funded, "--rpc", &node.rpc, "--json"]));
    assert_eq!(account["balance"], "12345");
    let paid = json_of(&aether(&[
        "transfer", "--from", "//alice", "--to", funded, "--amount", "5", "--rpc", &node.rpc,
        "--json",
    ]));
    assert_eq!(paid["status"], "success");
    assert!(node.stop().success());

    // Resumes from its database.
    let node = Node::start_with(&["--genesis", g, "--base-path", b, "--no-metrics"]);
    let account = json_of(&aether(&["account", funded, "--rpc", &node.rpc, "--json"]));
    assert_eq!(account["balance"], "12350");
    assert!(node.stop().success());

    // Snapshot of the stopped node, listed, restored onto a new base path, run from there.
    let snaps = dir.path().join("snaps");
    let s = snaps.to_str().unwrap();
    let out = aether(&["snapshots", "create", "--base-path", b, "--out", s]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = aether(&["snapshots", "list", s]);
    let listing = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(listing.contains("height"), "{listing}");
    let file = std::fs::read_dir(&snaps)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "snapshot"))
        .unwrap();
    let restored = dir.path().join("restored");
    let out = aether(&[
        "snapshots",
        "restore",
        file.to_str().unwrap(),
        "--base-path",
        restored.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fails_with(
        &[
            "snapshots",
            "restore",
            file.to_str().unwrap(),
            "--base-path",
            restored.to_str().unwrap(),
        ],
        "not empty",
    );
    let node = Node::start_with(&[
        "--genesis",
        g,
        "--base-path",
        restored.to_str().unwrap(),
        "--no-metrics",
    ]);
    let account = json_of(&aether(&["account", funded, "--rpc", &node.rpc, "--json"]));
    assert_eq!(
        account["balance"], "12350",
        "the restored node has the state"
    );
    assert!(node.stop().success());
}

#[test]
fn bad_flags_files_and_keys_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    fails_with(&["run"], "--genesis FILE");
    fails_with(
        &[
            "run",
            "--genesis",
            "/nonexistent/genesis.json",
            "--base-path",
            "x",
        ],
        "/nonexistent/genesis.json",
    );
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"chain_id\": 1}").unwrap();
    fails_with(
        &[
            "run",
            "--genesis",
            bad.to_str().unwrap(),
            "--base-path",
            "x",
        ],
        "not a valid genesis file",
    );
    fails_with(
        &[
            "transfer", "--from", "alice", "--to", "0x00", "--amount", "1",
        ],
        "--from must be //NAME",
    );
    fails_with(
        &[
            "transfer", "--from", "//alice", "--to", "0x00", "--amount", "1",
        ],
        "not an address",
    );
    fails_with(
        &[
            "account",
            "0x0101010101010101010101010101010101010101010101010101010101010101",
            "--rpc",
            "http://127.0.0.1:1",
        ],
        "state_getAccount",
    );
    fails_with(
        &[
            "snapshots",
            "create",
            "--base-path",
            dir.path().join("none").to_str().unwrap(),
        ],
        "cannot open the node's database",
    );
}

#[test]
fn a_genesis_takes_validators_only_with_their_own_proof_of_possession() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("genesis.json");
    let out = out.to_str().unwrap();
    let key = |scheme: &str| json_of(&aether(&["keys", "generate", "--scheme", scheme, "--json"]));
    let (bls_a, bls_b, vrf) = (key("bls"), key("bls"), key("vrf"));
    let account = "0x0101010101010101010101010101010101010101010101010101010101010101";
    let validator = |bls: &Value, pop: &Value| {
        format!(
            "v1:{account}:{}:{}:{}",
            bls["public_key"].as_str().unwrap(),
            pop["proof_of_possession"].as_str().unwrap(),
            vrf["public_key"].as_str().unwrap()
        )
    };
    let ok = aether(&[
        "init-genesis",
        "--dev",
        "--out",
        out,
        "--validator",
        &validator(&bls_a, &bls_a),
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let written: Value = serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    assert_eq!(
        written["validators"][0]["bls_proof_of_possession"],
        bls_a["proof_of_possession"]
    );
    let refused = |validator: &str, needle: &str| {
        fails_with(
            &[
                "init-genesis",
                "--dev",
                "--force",
                "--out",
                out,
                "--validator",
                validator,
            ],
            needle,
        )
    };
    // Key A with B's proof: refused, naming the validator.
    refused(
        &validator(&bls_a, &bls_b),
        "validator v1: the BLS proof of possession does not verify for its key",
    );
    // A small-order VRF key (the identity point) is refused too.
    let weak = validator(&bls_a, &bls_a).replace(
        vrf["public_key"].as_str().unwrap(),
        "0x0100000000000000000000000000000000000000000000000000000000000000",
    );
    refused(&weak, "vrf_public_key: the VRF public key has small order");
}

/// Issue 18: a genesis far in the future started a node that answered RPC but never sealed a
/// block, and said nothing. `init-genesis` refuses one more than a day ahead; `run` warns
/// loudly, logs why it is not sealing, and `system_health` shows how far ahead the head is.
#[test]
fn a_genesis_in_the_future_is_refused_or_announced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("genesis.json");
    let path = path.to_str().unwrap();
    let far = (1u64 << 63).to_string();
    fails_with(
        &[
            "init-genesis",
            "--dev",
            "--out",
            path,
            "--timestamp-ms",
            &far,
        ],
        "ahead of this machine's clock",
    );
    // Within a day is fine (a chain prepared before it starts).
    let soon = (aether_node::chain::now_ms() + 3_600_000).to_string();
    let out = aether(&[
        "init-genesis",
        "--dev",
        "--out",
        path,
        "--timestamp-ms",
        &soon,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A genesis file edited by hand far into the future still runs, loudly.
    let mut genesis: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    genesis["timestamp_ms"] = serde_json::json!(1u64 << 62);
    std::fs::write(path, genesis.to_string()).unwrap();
    let base = dir.path().join("node");
    let node = Node::start_with(&["--genesis", path, "--base-path", base.to_str().unwrap()]);
    assert!(
        node.wait_for_log("THE GENESIS LIES IN THE FUTURE", 10)
            .is_some(),
        "no warning at start"
    );
    assert!(
        node.wait_for_log("not sealing: the head's timestamp lies in the future", 10)
            .is_some(),
        "no explanation while not sealing"
    );
    let health = rpc(&node.rpc, "system_health", vec![]);
    assert!(
        health["headAheadOfClockMs"].as_u64().unwrap() > 1 << 61,
        "{health}"
    );
    assert_eq!(health["bestHeight"], 0);
    // The dev sealer has no rounds to report.
    assert!(health["consensus"].is_null(), "{health}");
}

/// A busy port is reported once, with the address, not the OS error twice.
#[test]
fn a_busy_rpc_port_is_reported_once() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let out = aether(&["run", "--dev", "--rpc-addr", &addr, "--no-metrics"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("RPC server on {addr}")),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("Address already in use").count(),
        1,
        "{stderr}"
    );
}

/// SIGTERM as soon as the node says where it listens stops it cleanly (exit status 0): its
/// signal handlers are in place before it starts anything.
#[test]
fn a_sigterm_right_after_start_up_stops_the_node_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_str().unwrap();
    for _ in 0..5 {
        // Without metrics the RPC line is the first the node logs: the earliest moment.
        let node = Node::start_with(&["--dev", "--base-path", base, "--no-metrics"]);
        assert!(node.stop().success());
    }
}

/// A validator key file: created readable by its owner only, refused at start once others can
/// read it, and refused for the dev sealer.
#[cfg(unix)]
#[test]
fn a_validator_key_file_must_be_private_and_needs_hotstuff() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("v0.key");
    let key_arg = key.to_str().unwrap();
    let entry = json_of(&aether(&[
        "keys",
        "validator",
        "--name",
        "v0",
        "--out",
        key_arg,
    ]));
    assert_eq!(entry["name"], "v0");
    assert!(
        entry["peer_id"].as_str().unwrap().starts_with("12D3KooW"),
        "{entry}"
    );
    // Never overwritten.
    fails_with(
        &["keys", "validator", "--name", "v0", "--out", key_arg],
        "exists",
    );
    let base = dir.path().join("node");
    let base_arg = base.to_str().unwrap();
    fails_with(
        &[
            "run",
            "--dev",
            "--base-path",
            base_arg,
            "--validator-key",
            key_arg,
        ],
        "need --consensus hotstuff",
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    fails_with(
        &[
            "run",
            "--dev",
            "--base-path",
            base_arg,
            "--consensus",
            "hotstuff",
            "--validator-key",
            key_arg,
        ],
        "readable by others than its owner",
    );
}

#[test]
fn purge_chain_refuses_a_running_node_and_keeps_the_node_key() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_str().unwrap();
    let empty = aether(&["purge-chain", "--base-path", base, "-y"]);
    assert!(empty.status.success());
    assert!(String::from_utf8_lossy(&empty.stdout).contains("nothing to purge"));

    // A node with a network has a node key beside its database.
    let node = Node::start_with(&[
        "--dev",
        "--base-path",
        base,
        "--no-metrics",
        "--listen-addr",
        "/ip4/127.0.0.1/tcp/0",
    ]);
    let url = node.rpc.clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while rpc(&url, "chain_getHead", vec![])["height"].as_u64() < Some(2) {
        assert!(std::time::Instant::now() < deadline, "blocks are sealed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    fails_with(
        &["purge-chain", "--base-path", base, "-y"],
        "stop the node first",
    );
    assert!(node.stop().success());

    let key = dir.path().join("network").join("secret_ed25519");
    let key_before = std::fs::read(&key).expect("the node key");
    let purged = aether(&["purge-chain", "--base-path", base, "-y"]);
    assert!(
        purged.status.success(),
        "{}",
        String::from_utf8_lossy(&purged.stderr)
    );
    assert!(!dir.path().join("db").exists(), "the database is gone");
    assert_eq!(
        std::fs::read(&key).unwrap(),
        key_before,
        "the node key stays"
    );

    // The node starts again from the genesis.
    let node = Node::start_with(&["--dev", "--base-path", base, "--no-metrics"]);
    let head = rpc(&node.rpc, "chain_getHead", vec![]);
    assert!(
        head["height"].as_u64() < Some(2),
        "from the genesis: {head}"
    );
    node.stop();
}

#[test]
fn every_command_shows_an_example_in_its_help() {
    let top = aether(&["--help"]);
    assert!(String::from_utf8_lossy(&top.stdout).contains("Examples:"));
    for command in [
        &["run"][..],
        &["exec"],
        &["init-genesis"],
        &["purge-chain"],
        &["account"],
        &["transfer"],
        &["peers"],
        &["load"],
        &["devnet", "up"],
        &["devnet", "status"],
        &["devnet", "down"],
        &["contract", "build"],
        &["contract", "deploy"],
        &["contract", "call"],
        &["contract", "query"],
        &["contract", "bindings"],
        &["keys", "generate"],
        &["keys", "inspect"],
        &["keys", "validator"],
        &["snapshots", "create"],
        &["snapshots", "list"],
        &["snapshots", "restore"],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let out = aether(&args);
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}");
        assert!(
            help.contains("Example"),
            "{args:?} shows no example:\n{help}"
        );
        assert!(
            help.contains(&format!("aether {}", command.join(" "))),
            "{args:?}'s example runs the command itself:\n{help}"
        );
    }
}
