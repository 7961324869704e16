//! `aether contract upgrade` on a dev chain with the SDK token and its next version (fixture
//! `token-v2`: a new `paused` field and its migration `v2`): an upgrade adding a field passes,
//! with or without a migration, and the balances carry over; a version whose `balances` hold
//! `u64` (fixture `token-narrow`) is refused naming the conflict; a failing migration, a dry run and a
//! caller who is not the admin leave the old code and storage; a migration cannot be called
//! afterwards.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{Node, aether, contract_cmd, json_of};
use serde_json::Value;

const BOB: &str = "0xecc1b58727f3f12b3194881a9ecb9de0b28ce7b207230d8e930fe1bce75e256c";

/// Builds the contract crate at `crate_dir` (relative to the repository) into `out`.
fn build(crate_dir: &str, out: &Path) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(crate_dir);
    let built = aether(&[
        "contract",
        "build",
        dir.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

struct Chain {
    node: Node,
    v2: PathBuf,
    v2_abi: PathBuf,
    v1: PathBuf,
    narrow: PathBuf,
}

impl Chain {
    fn deploy(&self, salt: &str) -> String {
        let deployed = json_of(&aether(&[
            "contract",
            "deploy",
            "--wasm",
            self.v1.to_str().unwrap(),
            "--init-args",
            "[1000]",
            "--salt",
            salt,
            "--from",
            "//alice",
            "--rpc",
            &self.node.rpc,
            "--json",
        ]));
        assert_eq!(deployed["status"], "success", "{deployed}");
        deployed["contract"].as_str().unwrap().to_string()
    }

    fn query(&self, contract: &str, method: &str, args: &str) -> Value {
        json_of(&contract_cmd(
            &self.node.rpc,
            "query",
            contract,
            method,
            args,
            &["--json"],
        ))
    }

    fn code(&self, contract: &str) -> Value {
        common::rpc(
            &self.node.rpc,
            "state_getCode",
            vec![serde_json::json!(contract)],
        )
    }

    fn upgrade(&self, contract: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "contract",
            "upgrade",
            "--contract",
            contract,
            "--wasm",
            self.v2.to_str().unwrap(),
            "--rpc",
            &self.node.rpc,
        ];
        args.extend(extra);
        aether(&args)
    }
}

#[test]
fn upgrades_check_the_storage_layout_and_migrations_run_once_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    build("contracts-sdk/examples/token", dir.path());
    build("contracts-sdk/testing/fixtures/token-v2", dir.path());
    build("contracts-sdk/testing/fixtures/token-narrow", dir.path());
    let chain = Chain {
        node: Node::start(&dir.path().join("node")),
        v1: dir.path().join("token.wasm"),
        v2: dir.path().join("sdk-token-v2.wasm"),
        v2_abi: dir.path().join("sdk-token-v2.abi.json"),
        narrow: dir.path().join("sdk-token-narrow.wasm"),
    };
    let token = chain.deploy("0x01");
    let args = format!(r#"["{BOB}", 10]"#);
    let sent = json_of(&contract_cmd(
        &chain.node.rpc,
        "call",
        &token,
        "transfer",
        &args,
        &["--json"],
    ));
    assert_eq!(sent["status"], "success", "{sent}");
    let v1_code = chain.code(&token);

    // A version whose `balances` are u64: refused, naming the field and both types. So is
    // the same layout given as an ABI file.
    let out = aether(&[
        "contract",
        "upgrade",
        "--contract",
        &token,
        "--wasm",
        chain.narrow.to_str().unwrap(),
        "--from",
        "//alice",
        "--rpc",
        &chain.node.rpc,
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("refused") && err.contains("`balances`: value type changed from u128 to u64"),
        "{err}"
    );
    let mut bad: Value = serde_json::from_slice(&std::fs::read(&chain.v2_abi).unwrap()).unwrap();
    for f in bad["storage"].as_array_mut().unwrap() {
        if f["name"] == "balances" {
            f["value"] = "u64".into();
        }
    }
    let bad_abi = dir.path().join("bad.abi.json");
    std::fs::write(&bad_abi, bad.to_string()).unwrap();
    let out = chain.upgrade(
        &token,
        &["--abi", bad_abi.to_str().unwrap(), "--from", "//alice"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("`balances`: value type changed from u128 to u64"),
        "{}",
        stderr(&out)
    );
    assert_eq!(chain.code(&token), v1_code);

    // Not the admin: the dry run fails, nothing is sent.
    let out = chain.upgrade(&token, &["--from", "//bob"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is not the admin"),
        "{}",
        stderr(&out)
    );

    // A migration that fails: refused by its dry run, with the contract's error decoded; the
    // old code and balances stay.
    let out = chain.upgrade(&token, &["--migrate", "broken", "--from", "//alice"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("dry run fails") && err.contains("Error::MigrationRefused"),
        "{err}"
    );
    assert_eq!(chain.code(&token), v1_code);
    // Sent anyway (an explicit gas limit skips the dry run): the block undoes it.
    let out = chain.upgrade(
        &token,
        &[
            "--migrate",
            "broken",
            "--from",
            "//alice",
            "--gas-limit",
            "5000000",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "a failed transaction exits 1");
    let failed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(failed["status"], "revert", "{failed}");
    assert_eq!(failed["decoded"]["error"], "Error::MigrationRefused");
    assert_eq!(chain.code(&token), v1_code);
    assert_eq!(
        chain.query(&token, "balance_of", r#"["//alice"]"#)["decoded"]["return"],
        990
    );
    // An unknown migration is named with the ones the new code has.
    let out = chain.upgrade(&token, &["--migrate", "v3", "--from", "//alice"]);
    assert!(
        stderr(&out).contains("its migrations: v2, broken"),
        "{}",
        stderr(&out)
    );

    // A dry run of the real upgrade: its gas and the migration's event; nothing changes.
    let dry = json_of(&chain.upgrade(
        &token,
        &[
            "--migrate",
            "v2",
            "--args",
            "[true]",
            "--dry-run",
            "--from",
            "//alice",
            "--json",
        ],
    ));
    assert_eq!(dry["status"], "success", "{dry}");
    assert_eq!(dry["dryRun"], true);
    assert!(dry["gasUsed"].as_u64().unwrap() > 0);
    assert_eq!(dry["events"][0]["decoded"]["name"], "Migrated", "{dry}");
    assert_eq!(chain.code(&token), v1_code);

    // The upgrade: the new field is compatible, the migration sets it, balances carry over.
    let up = json_of(&chain.upgrade(
        &token,
        &[
            "--migrate",
            "v2",
            "--args",
            "[true]",
            "--from",
            "//alice",
            "--json",
        ],
    ));
    assert_eq!(up["status"], "success", "{up}");
    assert!(
        up["layout"]["conflicts"].as_array().unwrap().is_empty(),
        "{up}"
    );
    assert!(
        up["layout"]["notes"][0]
            .as_str()
            .unwrap()
            .contains("`paused` added"),
        "{up}"
    );
    assert_ne!(chain.code(&token), v1_code);
    assert_eq!(
        chain.query(&token, "balance_of", &format!(r#"["{BOB}"]"#))["decoded"]["return"],
        10
    );
    assert_eq!(
        chain.query(&token, "paused", "[]")["decoded"]["return"],
        true
    );
    let args = format!(r#"["{BOB}", 1]"#);
    let paused = contract_cmd(
        &chain.node.rpc,
        "query",
        &token,
        "transfer",
        &args,
        &["--json"],
    );
    assert_eq!(paused.status.code(), Some(1));
    let paused: Value = serde_json::from_slice(&paused.stdout).unwrap();
    assert_eq!(paused["decoded"]["error"], "Error::Paused", "{paused}");
    // The migration cannot be called again.
    let again = contract_cmd(
        &chain.node.rpc,
        "call",
        &token,
        "__aether_migrate_v2",
        "[false]",
        &[],
    );
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("runs only in an upgrade"),
        "{}",
        stderr(&again)
    );

    // Another token upgraded without a migration: a new field needs none.
    let other = chain.deploy("0x02");
    let up = json_of(&chain.upgrade(&other, &["--from", "//alice", "--json"]));
    assert_eq!(up["status"], "success", "{up}");
    assert_eq!(
        chain.query(&other, "paused", "[]")["decoded"]["return"],
        false
    );
    assert_eq!(
        chain.query(&other, "balance_of", r#"["//alice"]"#)["decoded"]["return"],
        1000
    );

    // A trace names storage through the layout: the field, the map key and decoded values.
    let args = format!(r#"["{BOB}", 5]"#);
    let traced = contract_cmd(
        &chain.node.rpc,
        "call",
        &other,
        "transfer",
        &args,
        &["--json", "--trace"],
    );
    let v = json_of(&traced);
    let writes: Vec<&Value> = v["trace"]["frame"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["host"] == "storage_write")
        .collect();
    let alice = "0xd5bf4a3fcce717b0388bcc2749ebc148ad9969b23f45ee1b605fd58778576ac4";
    assert_eq!(
        writes[0]["slot"],
        format!(r#"balances["{alice}"]"#),
        "{writes:#?}"
    );
    assert_eq!(
        (
            writes[0]["oldDecoded"].as_u64(),
            writes[0]["newDecoded"].as_u64()
        ),
        (Some(1000), Some(995))
    );
    assert_eq!(writes[1]["slot"], format!(r#"balances["{BOB}"]"#));
    assert_eq!(writes[1]["newDecoded"], 5);
    let tree = stderr(&traced);
    assert!(
        tree.contains(&format!(r#"storage_write balances["{alice}"]: 1000 → 995"#)),
        "{tree}"
    );
    // The `paused` read: a `Lazy` by its name.
    assert!(tree.contains("storage_read paused = "), "{tree}");
}
