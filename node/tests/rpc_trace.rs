//! `debug_traceTransaction` and `debug_traceCall` on a dev node: a committed token transfer
//! re-executed on its block's parent state gives its stored receipt and a trace decoded through
//! the ABI the code carries; a traced dry run of a transfer over the balance names the decoded
//! error; an unknown hash is null.

mod common;

use common::{Node, contract_cmd, deploy_golden_token, json_of, rpc};
use serde_json::json;

const ALICE: &str = "0xd5bf4a3fcce717b0388bcc2749ebc148ad9969b23f45ee1b605fd58778576ac4";
const BOB: &str = "0xecc1b58727f3f12b3194881a9ecb9de0b28ce7b207230d8e930fe1bce75e256c";

#[test]
fn committed_and_dry_run_transactions_are_traced_with_decoded_frames() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("node"));
    let contract = deploy_golden_token(&node.rpc, 1000);
    let sent = json_of(&contract_cmd(
        &node.rpc,
        "call",
        &contract,
        "transfer",
        &format!(r#"["{BOB}", 10]"#),
        &["--json"],
    ));
    assert_eq!(sent["status"], "success", "{sent}");
    let hash = sent["txHash"].as_str().unwrap();

    let traced = rpc(&node.rpc, "debug_traceTransaction", vec![json!(hash)]);
    let stored = rpc(&node.rpc, "chain_getReceipt", vec![json!(hash)]);
    assert_eq!(
        traced["receipt"], stored,
        "the re-execution gives the stored receipt"
    );
    assert_eq!(traced["height"], stored["height"]);
    let frame = &traced["trace"]["frame"];
    assert_eq!(frame["contract"], contract.as_str());
    assert_eq!(frame["method"], "transfer");
    assert_eq!(frame["args"]["to"], BOB, "{frame:#}");
    assert_eq!(frame["args"]["value"], 10);
    let writes = frame["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["host"] == "storage_write")
        .count();
    assert_eq!(writes, 2, "{frame:#}");
    let event = frame["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["host"] == "emit_event")
        .unwrap();
    assert_eq!(event["event"]["name"], "Transfer");

    // A dry run of a transfer over the balance, traced: the decoded error.
    let action = aether_engine::types::Action::Call {
        contract: contract.parse().unwrap(),
        method: "transfer".into(),
        input: {
            let mut v = hex::decode(&BOB[2..]).unwrap();
            v.extend_from_slice(&5_000u128.to_le_bytes());
            v
        },
        value: 0,
    };
    let action = format!(
        "0x{}",
        hex::encode(parity_scale_codec::Encode::encode(&action))
    );
    let dry = rpc(
        &node.rpc,
        "debug_traceCall",
        vec![json!(ALICE), json!(action)],
    );
    assert_eq!(dry["receipt"]["status"], "revert");
    assert_eq!(
        dry["trace"]["frame"]["reverted"]["error"], "Error::InsufficientBalance",
        "{dry:#}"
    );
    // The CLI: `contract call --trace` and `contract query --trace` draw the tree on standard
    // error and add the trace to the JSON.
    let called = contract_cmd(
        &node.rpc,
        "call",
        &contract,
        "transfer",
        &format!(r#"["{BOB}", 1]"#),
        &["--json", "--trace"],
    );
    let v = json_of(&called);
    assert_eq!(v["status"], "success", "{v}");
    assert_eq!(v["trace"]["frame"]["method"], "transfer", "{v}");
    let tree = String::from_utf8_lossy(&called.stderr);
    assert!(
        tree.contains(" transfer(to: ") && tree.contains("storage_write"),
        "{tree}"
    );
    let queried = contract_cmd(
        &node.rpc,
        "query",
        &contract,
        "transfer",
        &format!(r#"["{BOB}", 5000]"#),
        &["--trace"],
    );
    assert!(!queried.status.success());
    let tree = String::from_utf8_lossy(&queried.stderr);
    assert!(tree.contains("Error::InsufficientBalance"), "{tree}");
    // A call whose dry run fails is refused before sending, with that dry run's trace.
    let refused = contract_cmd(
        &node.rpc,
        "call",
        &contract,
        "transfer",
        &format!(r#"["{BOB}", 5000]"#),
        &["--trace"],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("← revert") && stderr.contains("a dry run of this transaction fails"),
        "{stderr}"
    );

    // A hash no block holds.
    let none = rpc(
        &node.rpc,
        "debug_traceTransaction",
        vec![json!(format!("0x{}", "00".repeat(32)))],
    );
    assert!(none.is_null());
}
