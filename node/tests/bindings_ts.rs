//! `aether contract bindings --lang ts`: the generated client (an ES module with TypeScript
//! declarations) run by Node.js against `aether run --dev`: queries, transactions signed in
//! JavaScript, the contract's own enum as an argument, decoded events, contract errors carrying
//! SDK types, refused arguments, and instantiation from uploaded code.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Node, aether};
use serde_json::{Value, json};

fn ok(out: &std::process::Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_typescript_client_drives_a_contract_on_a_dev_node() {
    if Command::new("node").arg("--version").output().is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "Node.js is needed for this test in CI"
        );
        eprintln!("skipped: Node.js is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts-sdk/testing/fixtures/library");
    ok(&aether(&[
        "contract",
        "build",
        fixture.to_str().unwrap(),
        "--out-dir",
        out,
    ]));
    let wasm = dir.path().join("sdk-library.wasm");
    let client = dir.path().join("client");
    ok(&aether(&[
        "contract",
        "bindings",
        "--lang",
        "ts",
        "--wasm",
        wasm.to_str().unwrap(),
        "--out",
        client.to_str().unwrap(),
    ]));
    let dts = std::fs::read_to_string(client.join("index.d.ts")).unwrap();
    assert!(
        dts.contains("export type Role = \"Writer\" | \"Admin\";"),
        "{dts}"
    );
    assert!(
        dts.contains("grant(role: Role, to: Hex, opts?: SendOptions): Promise<Sent<boolean>>;"),
        "{dts}"
    );

    let node = Node::start(&dir.path().join("chain"));
    let deployed: Value = serde_json::from_str(&ok(&aether(&[
        "contract",
        "deploy",
        "--wasm",
        wasm.to_str().unwrap(),
        "--from",
        "//alice",
        "--rpc",
        &node.rpc,
        "--json",
    ])))
    .unwrap();
    let contract = deployed["contract"].as_str().unwrap();
    let code_hash = deployed["codeHash"].as_str().unwrap();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bindings/library.mjs");
    let run = Command::new("node")
        .arg(&script)
        .arg(format!("file://{}", client.display()))
        .args([&node.rpc, contract, code_hash])
        .output()
        .unwrap();
    let stdout = ok(&run);
    eprintln!("{stdout}");
    let steps: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let step = |name: &str| {
        steps
            .iter()
            .find(|s| s["step"] == name)
            .unwrap_or_else(|| panic!("no step {name} in {stdout}"))["value"]
            .clone()
    };
    let dev = |name: &str| {
        format!(
            "0x{}",
            hex::encode(aether_engine::crypto::Keypair::dev(name, false).address().0)
        )
    };
    let (alice, bob) = (dev("alice"), dev("bob"));
    // The JavaScript dev signer derives the same keys as the CLI: the deployer owns it.
    assert_eq!(step("owner"), json!(alice));
    assert_eq!(
        step("grant"),
        json!({"value": true, "status": "success",
               "events": [{"name": "Granted", "fields": {"to": bob, "role": "Writer"}}]})
    );
    assert_eq!(step("has_role"), json!(true));
    assert_eq!(
        step("grant_by_bob"),
        json!({"status": "revert", "error": "Error::Access", "fields": ["NotOwner"], "panic": null})
    );
    assert_eq!(step("vec_all"), json!(["41", "1"]));
    assert_eq!(
        step("vec_set"),
        json!({"status": "revert", "error": "Error::OutOfBounds",
               "fields": [{"index": 9, "len": 2}], "panic": null})
    );
    assert_eq!(step("map_get"), json!("7"));
    assert_eq!(step("map_entries"), json!([["0x0102", "7"]]));
    let bad = step("bad_argument");
    assert!(
        bad.as_str()
            .unwrap()
            .starts_with("RangeError: value: -1 does not fit u64"),
        "{bad}"
    );
    assert_eq!(
        step("instantiate"),
        json!({"owner": alice, "differs": true})
    );
}
