//! `aether exec --trace` on the SDK's token and escrow (frozen builds from the golden corpus,
//! their ABIs embedded): the escrow's deposit shows both frames (the escrow's and the token's
//! `transfer_from`) with their storage writes and gas adding up to the receipt's; a reverted
//! transfer's trace names the contract error decoded through the ABI; the tree for people goes
//! to standard error; and a traced run gives the untraced run's receipt and state.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn contract(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/golden/contracts")
        .join(format!("{name}.wasm"))
}

fn aether(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aether"))
        .args(args)
        .output()
        .expect("run aether")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

const BUYER: &str = "0xb1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1";
const SELLER: &str = "0x5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";

/// `aether exec` of `name` from the buyer (who deploys every contract), on the state in `dir`.
fn exec(dir: &Path, name: &str, extra: &[&str]) -> Output {
    let state = dir.join("state.json");
    let wasm = contract(name);
    let mut args = vec![
        "exec",
        "--wasm",
        wasm.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--deployer",
        BUYER,
        "--caller",
        BUYER,
    ];
    args.extend(extra);
    aether(&args)
}

fn frames(frame: &Value) -> Vec<&Value> {
    let mut all = vec![frame];
    for s in frame["steps"].as_array().unwrap() {
        if s["frame"].is_object() {
            all.extend(frames(&s["frame"]));
        }
    }
    all
}

fn writes(frame: &Value) -> Vec<&Value> {
    frame["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["host"] == "storage_write")
        .collect()
}

#[test]
fn the_escrow_deposit_trace_shows_both_frames_with_their_writes_and_the_receipts_gas() {
    let dir = tempfile::tempdir().unwrap();
    // The token, its supply minted to the buyer.
    let out = exec(
        dir.path(),
        "token",
        &["--init-args", "[1000]", "--call", "total_supply"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = json(&out)["contract"].as_str().unwrap().to_string();
    // The escrow of 100 tokens, to the seller, the buyer as arbiter.
    let init = format!(r#"["{token}", "{SELLER}", "{BUYER}", 100]"#);
    let out = exec(
        dir.path(),
        "escrow",
        &["--init-args", &init, "--call", "state"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let escrow = json(&out)["contract"].as_str().unwrap().to_string();
    let approve = format!(r#"["{escrow}", 100]"#);
    let out = exec(
        dir.path(),
        "token",
        &["--call", "approve", "--args", &approve],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The same deposit untraced (on a copy of the state) and traced.
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(
        dir.path().join("state.json"),
        copy.path().join("state.json"),
    )
    .unwrap();
    let plain = exec(copy.path(), "escrow", &["--call", "deposit"]);
    let out = exec(dir.path(), "escrow", &["--call", "deposit", "--trace"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut traced = json(&out);
    let trace = traced.as_object_mut().unwrap().remove("trace").unwrap();
    assert_eq!(traced, json(&plain), "tracing changed the receipt");
    assert_eq!(
        std::fs::read(dir.path().join("state.json")).unwrap(),
        std::fs::read(copy.path().join("state.json")).unwrap(),
        "tracing changed the state"
    );

    assert_eq!(trace["truncated"], false);
    let root = &trace["frame"];
    assert_eq!(root["contract"], escrow.as_str());
    assert_eq!(root["method"], "deposit");
    assert_eq!(root["status"], "success");
    let all = frames(root);
    assert_eq!(all.len(), 2, "{trace:#}");
    let token_frame = all[1];
    assert_eq!(token_frame["contract"], token.as_str());
    assert_eq!(token_frame["caller"], escrow.as_str());
    assert_eq!(token_frame["method"], "transfer_from");
    // Decoded through the token's ABI: who, to whom, how much.
    assert_eq!(token_frame["args"]["value"], 100, "{token_frame:#}");
    assert_eq!(token_frame["args"]["to"], escrow.as_str());
    // Storage writes in both frames: the allowance and two balances; the escrow's state.
    assert_eq!(writes(token_frame).len(), 3, "{token_frame:#}");
    assert!(!writes(root).is_empty());
    for w in writes(token_frame).into_iter().chain(writes(root)) {
        assert!(w["key"].is_string() && w["new"].is_string() && w.get("old").is_some());
    }
    // The token's Transfer event, decoded.
    let event = token_frame["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["host"] == "emit_event")
        .expect("the token emits Transfer");
    assert_eq!(event["event"]["name"], "Transfer", "{event:#}");
    // Gas: the frame's and the intrinsic gas are the receipt's; the call step holds the
    // token's frame.
    let receipt_gas = traced["gas_used"].as_u64().unwrap();
    let frame_gas = root["gasUsed"].as_u64().unwrap();
    assert!(frame_gas < receipt_gas);
    let call = root["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["host"] == "call")
        .unwrap();
    assert!(call["gas"].as_u64().unwrap() >= token_frame["gasUsed"].as_u64().unwrap());
    let step_gas: u64 = root["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["gas"].as_u64().unwrap())
        .sum();
    assert!(step_gas <= frame_gas);
    // The intrinsic part is what a transaction of this size pays before its frame.
    let schedule = aether_engine::GasSchedule::V1;
    let intrinsic = receipt_gas - frame_gas;
    assert!(intrinsic >= schedule.tx_base, "{intrinsic}");
    assert!(intrinsic < schedule.intrinsic(400), "{intrinsic}");
    // The tree names both frames.
    let tree = String::from_utf8_lossy(&out.stderr);
    assert!(
        tree.contains(" deposit(") && tree.contains(" transfer_from("),
        "{tree}"
    );
}

#[test]
fn a_reverted_transfer_trace_names_the_decoded_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = exec(
        dir.path(),
        "token",
        &["--init-args", "[5]", "--call", "total_supply"],
    );
    assert!(out.status.success());
    let args = format!(r#"["{SELLER}", 6]"#);
    let out = exec(
        dir.path(),
        "token",
        &["--call", "transfer", "--args", &args, "--trace"],
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["status"], "revert");
    let frame = &v["trace"]["frame"];
    assert_eq!(frame["status"], "revert");
    assert_eq!(
        frame["reverted"]["error"], "Error::InsufficientBalance",
        "{frame:#}"
    );
    let tree = String::from_utf8_lossy(&out.stderr);
    assert!(tree.contains("Error::InsufficientBalance"), "{tree}");
}
