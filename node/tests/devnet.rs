//! The dev chain end to end, as real processes: `aether run --dev` on a free loopback port, the
//! SDK token deployed, called and queried with the CLI, its Transfer event read through the log
//! filter and a WebSocket subscription, dry-run gas equal to charged gas, metrics served, a
//! graceful stop on SIGTERM, and the same state after a restart.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Node, aether, http_get, json_of};

use jsonrpsee_core::client::{ClientT, SubscriptionClientT};
use jsonrpsee_core::rpc_params;
use serde_json::{Value, json};

const BOB: &str = "0x0202020202020202020202020202020202020202020202020202020202020202";

fn build_token(dir: &Path) -> (PathBuf, PathBuf) {
    let token = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts-sdk/examples/token");
    let out = aether(&[
        "contract",
        "build",
        token.to_str().unwrap(),
        "--out-dir",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir.join("token.wasm"), dir.join("token.abi.json"))
}

fn head_height(runtime: &tokio::runtime::Runtime, rpc: &str) -> u64 {
    runtime.block_on(async {
        let c = jsonrpsee_http_client::HttpClientBuilder::default()
            .build(rpc)
            .unwrap();
        let h: Value = c.request("chain_getHead", rpc_params![]).await.unwrap();
        h["height"].as_u64().unwrap()
    })
}

#[test]
fn a_dev_chain_runs_the_sdk_token_end_to_end_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (wasm, abi) = build_token(dir.path());
    let (wasm, abi) = (wasm.to_str().unwrap(), abi.to_str().unwrap());
    let base = dir.path().join("node");
    let node = Node::start(&base);
    let rpc = node.rpc.clone();
    let runtime = tokio::runtime::Runtime::new().unwrap();

    // Deploy the token with a supply of 1,000,000 to alice.
    let deployed = json_of(&aether(&[
        "contract",
        "deploy",
        "--wasm",
        wasm,
        "--init-args",
        "[1000000]",
        "--from",
        "//alice",
        "--rpc",
        &rpc,
        "--json",
    ]));
    assert_eq!(deployed["status"], "success", "{deployed}");
    let contract = deployed["contract"].as_str().unwrap().to_string();

    // Subscribe to the token's events before transferring.
    let ws_url = rpc.replace("http://", "ws://");
    let (ws, mut events) = runtime.block_on(async {
        let ws = jsonrpsee_ws_client::WsClientBuilder::default()
            .build(&ws_url)
            .await
            .expect("websocket");
        let sub = ws
            .subscribe::<Value, _>(
                "chain_subscribeEvents",
                rpc_params![json!({ "contract": contract })],
                "chain_unsubscribeEvents",
            )
            .await
            .expect("subscribe");
        (ws, sub)
    });

    // The dry run of the transfer must charge exactly what the real transfer is charged.
    let args = format!(r#"["{BOB}", 100]"#);
    let query = json_of(&aether(&[
        "contract",
        "query",
        "--contract",
        &contract,
        "--method",
        "transfer",
        "--args",
        &args,
        "--abi",
        abi,
        "--from",
        "//alice",
        "--rpc",
        &rpc,
        "--json",
    ]));
    assert_eq!(query["status"], "success", "{query}");
    let sent = json_of(&aether(&[
        "contract",
        "call",
        "--contract",
        &contract,
        "--method",
        "transfer",
        "--args",
        &args,
        "--abi",
        abi,
        "--from",
        "//alice",
        "--rpc",
        &rpc,
        "--json",
    ]));
    assert_eq!(sent["status"], "success", "{sent}");
    assert_eq!(
        sent["gasUsed"], query["gasUsed"],
        "dry-run gas is the charged gas"
    );
    let event = &sent["events"][0];
    assert_eq!(event["decoded"]["name"], "Transfer", "{sent}");
    // A call that can only fail is refused with the contract's own error, decoded through
    // the ABI embedded in the contract's code on chain (no --abi), a dev name as the address.
    let too_much = r#"["//bob", 1000000000]"#;
    let refused = aether(&[
        "contract",
        "call",
        "--contract",
        &contract,
        "--method",
        "transfer",
        "--args",
        too_much,
        "--from",
        "//alice",
        "--rpc",
        &rpc,
    ]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("Error::InsufficientBalance"), "{stderr}");
    assert!(stderr.contains("--gas-limit"), "{stderr}");

    // The Transfer event through the log filter and through the subscription.
    let topic0 = event["topics"][0].as_str().unwrap();
    let logs: Value = runtime.block_on(async {
        ws.request(
            "chain_getLogs",
            rpc_params![json!({ "contract": contract, "topics": [topic0] })],
        )
        .await
        .expect("chain_getLogs")
    });
    let logs = logs.as_array().unwrap();
    assert!(
        logs.iter()
            .any(|l| l["txHash"] == sent["txHash"] && l["data"] == event["data"]),
        "{logs:?}"
    );
    let notified = runtime.block_on(async {
        loop {
            let item = tokio::time::timeout(Duration::from_secs(30), events.next())
                .await
                .expect("an event notification")
                .expect("subscription open")
                .expect("a JSON event");
            if item["txHash"] == sent["txHash"] {
                break item;
            }
        }
    });
    assert_eq!(notified["topics"][0], topic0);
    drop(events);
    drop(ws);

    // A native transfer, and the account command.
    let paid = json_of(&aether(&[
        "transfer", "--from", "//alice", "--to", BOB, "--amount", "5", "--rpc", &rpc, "--json",
    ]));
    assert_eq!(paid["status"], "success", "{paid}");
    let bob = json_of(&aether(&["account", BOB, "--rpc", &rpc, "--json"]));
    assert_eq!(bob["balance"], "5");

    // A single node has no peers.
    let peers = json_of(&aether(&["peers", "--rpc", &rpc, "--json"]));
    assert_eq!(peers, json!([]));

    // Metrics are served.
    let metrics = http_get(node.metrics.as_deref().expect("metrics are on"), "/metrics");
    assert!(metrics.contains("aether_best_height"), "{metrics}");
    for step in ["build", "verify", "commit"] {
        assert!(
            metrics.contains(&format!(
                "aether_block_step_seconds_count{{step=\"{step}\"}}"
            )),
            "{step}: {metrics}"
        );
    }
    assert!(
        metrics.contains("aether_rpc_requests_total{method=\"contract_dryRun\",outcome=\"ok\"}"),
        "{metrics}"
    );

    let head_before: u64 = json_of(&aether(&["account", BOB, "--rpc", &rpc, "--json"]))["nonce"]
        .as_u64()
        .unwrap();
    let height_before = head_height(&runtime, &rpc);
    let status = node.stop();
    assert!(status.success(), "graceful stop exits 0: {status:?}");

    // Restarted on the same base path: the same state, and the chain goes on from its head.
    let node = Node::start(&base);
    let rpc = node.rpc.clone();
    let balance = json_of(&aether(&[
        "contract",
        "query",
        "--contract",
        &contract,
        "--method",
        "balance_of",
        "--args",
        &format!(r#"["{BOB}"]"#),
        "--abi",
        abi,
        "--rpc",
        &rpc,
        "--json",
    ]));
    assert_eq!(balance["decoded"]["return"], 100, "{balance}");
    let bob = json_of(&aether(&["account", BOB, "--rpc", &rpc, "--json"]));
    assert_eq!(bob["balance"], "5");
    assert_eq!(bob["nonce"].as_u64().unwrap(), head_before);
    let height_after = head_height(&runtime, &rpc);
    assert!(
        height_after >= height_before,
        "{height_after} < {height_before}"
    );
    assert!(node.stop().success());
}

/// Issue 16: a module that panicked wasmi's translator stopped the dev chain ("the block
/// production thread died") once a forced transaction called it. Now its upload is refused in
/// the dry run and, forced into a block, ends as an `invalid_module` receipt; the chain goes on
/// sealing and serving.
#[test]
fn a_dev_chain_refuses_a_module_wasmi_cannot_translate_and_keeps_sealing() {
    let dir = tempfile::tempdir().unwrap();
    let crash = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../engine/tests/regressions/wasmi-2.0.0-store-offset-register-pair.wat");
    let crash = crash.to_str().unwrap();
    let node = Node::start(&dir.path().join("node"));
    let rpc = node.rpc.clone();
    let runtime = tokio::runtime::Runtime::new().unwrap();

    // Deploying the same code twice: the hint names --salt.
    let counter = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/wat/counter.wat");
    let counter = counter.to_str().unwrap();
    let first = aether(&[
        "contract", "deploy", "--wasm", counter, "--from", "//alice", "--rpc", &rpc,
    ]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let again = aether(&[
        "contract", "deploy", "--wasm", counter, "--from", "//alice", "--rpc", &rpc,
    ]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success());
    assert!(stderr.contains("--salt"), "{stderr}");
    assert!(
        aether(&[
            "contract", "deploy", "--wasm", counter, "--from", "//alice", "--salt", "0x01",
            "--rpc", &rpc
        ])
        .status
        .success()
    );

    // Without a gas limit the CLI dry-runs first: the dry run answers with the rule.
    let out = aether(&[
        "contract", "deploy", "--wasm", crash, "--from", "//alice", "--rpc", &rpc,
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid_module") && stderr.contains("wasm-translation"),
        "{stderr}"
    );

    // Forced into a block, the upload ends as a receipt.
    let out = aether(&[
        "contract",
        "deploy",
        "--wasm",
        crash,
        "--from",
        "//alice",
        "--gas-limit",
        "1000000",
        "--rpc",
        &rpc,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "a failed deploy exits 1");
    let forced: Value = serde_json::from_slice(&out.stdout).expect("a JSON receipt");
    assert!(
        forced["height"].as_u64().is_some(),
        "it is in a block: {forced}"
    );
    assert_eq!(forced["status"], "invalid_module", "{forced}");
    assert!(
        forced["error"]
            .as_str()
            .unwrap()
            .starts_with("rule `wasm-translation`"),
        "{forced}"
    );

    // The chain goes on: new blocks are sealed and a transfer lands (to a dev name, which
    // every address flag takes; the summary names the transaction).
    let after = head_height(&runtime, &rpc);
    let out = aether(&[
        "transfer", "--from", "//alice", "--to", "//bob", "--amount", "5", "--rpc", &rpc,
    ]);
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(summary.starts_with("success in block"), "{summary}");
    assert!(summary.contains("transaction 0x"), "{summary}");
    let bob = json_of(&aether(&["account", "//bob", "--rpc", &rpc, "--json"]));
    assert!(
        bob["balance"].is_string() || bob["balance"].is_number(),
        "{bob}"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while head_height(&runtime, &rpc) < after + 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the chain stopped sealing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(node);
}
