//! `aether contract build` and `aether exec` with an SDK contract, as real processes: the token
//! example built to Wasm and ABI, called with JSON arguments, with decoded return values,
//! errors and events.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

fn aether(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aether"))
        .args(args)
        .output()
        .expect("run aether")
}

fn ok(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

const DEPLOYER: &str = "0xdededededededededededededededededededededededededededededededede";
const BOB: &str = "0x0202020202020202020202020202020202020202020202020202020202020202";

#[test]
fn built_token_is_called_with_json_arguments_and_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().to_str().unwrap();
    let token = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts-sdk/examples/token");
    let out = aether(&[
        "contract",
        "build",
        token.to_str().unwrap(),
        "--out-dir",
        out_dir,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wasm = dir.path().join("token.wasm");
    let abi: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("token.abi.json")).unwrap()).unwrap();
    assert_eq!(abi["abi_version"], 1);
    assert!(
        abi["methods"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "transfer_from")
    );

    let state = dir.path().join("state.bin");
    let exec = |caller: &str, call: &str, args: &str| {
        aether(&[
            "exec",
            "--wasm",
            wasm.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
            "--init-args",
            "[1000]",
            "--caller",
            caller,
            "--call",
            call,
            "--args",
            args,
        ])
    };

    // The deployer holds the supply minted by the constructor.
    let out = exec(DEPLOYER, "transfer", &format!(r#"["{BOB}", 7]"#));
    assert_eq!(out.status.code(), Some(0));
    let r = ok(&out);
    assert_eq!(r["status"], "success");
    assert_eq!(r["decoded"]["return"], Value::Null);
    assert_eq!(r["events"][0]["decoded"]["name"], "Transfer");
    assert_eq!(
        r["events"][0]["decoded"]["fields"],
        json!({"from": DEPLOYER, "to": BOB, "value": 7})
    );

    let r = ok(&exec(DEPLOYER, "balance_of", &format!(r#"["{BOB}"]"#)));
    assert_eq!(r["decoded"]["return"], 7);

    // BOB cannot send more than he has: the contract error, decoded; exit status 1.
    let out = exec(BOB, "transfer", &format!(r#"["{DEPLOYER}", 8]"#));
    assert_eq!(out.status.code(), Some(1));
    let r = ok(&out);
    assert_eq!(r["status"], "revert");
    assert_eq!(r["decoded"]["error"], "Error::InsufficientBalance");
    let r = ok(&exec(DEPLOYER, "balance_of", &format!(r#"["{BOB}"]"#)));
    assert_eq!(r["decoded"]["return"], 7);

    // Arguments that do not fit the ABI are a usage error naming the argument.
    let out = exec(DEPLOYER, "transfer", r#"["0x02", 7]"#);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("argument `to`"), "{err}");
    let out = exec(DEPLOYER, "transfer", r#"[1]"#);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("takes 2 argument(s)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn building_a_crate_that_is_not_a_contract_fails_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = aether(&["contract", "build", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no Cargo.toml"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A contract's own enum as a JSON argument and in a decoded event, and an error carrying an
/// SDK struct, through `aether exec` (the `sdk-library` fixture's type registry).
#[test]
fn custom_types_are_json_arguments_and_decoded_values_of_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().to_str().unwrap();
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts-sdk/testing/fixtures/library");
    let out = aether(&[
        "contract",
        "build",
        fixture.to_str().unwrap(),
        "--out-dir",
        out_dir,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wasm = dir.path().join("sdk-library.wasm");
    let state = dir.path().join("state.bin");
    let exec = |call: &str, args: &str| {
        aether(&[
            "exec",
            "--wasm",
            wasm.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
            "--caller",
            DEPLOYER,
            "--deployer",
            DEPLOYER,
            "--call",
            call,
            "--args",
            args,
        ])
    };
    let r = ok(&exec("grant", &format!(r#"["Admin", "{BOB}"]"#)));
    assert_eq!(r["status"], "success", "{r}");
    assert_eq!(r["decoded"]["return"], true);
    assert_eq!(
        r["events"][0]["decoded"],
        json!({"name": "Granted", "fields": {"to": BOB, "role": "Admin"}})
    );
    let r = ok(&exec("has_role", &format!(r#"["Admin", "{BOB}"]"#)));
    assert_eq!(r["decoded"]["return"], true);
    let out = exec("vec_set", "[4, 1]");
    assert_eq!(out.status.code(), Some(1));
    let r = ok(&out);
    assert_eq!(
        r["decoded"],
        json!({"error": "Error::OutOfBounds", "fields": [{"index": 4, "len": 0}]})
    );
    // A variant the enum does not have is a usage error naming the argument.
    let out = exec("grant", &format!(r#"["Root", "{BOB}"]"#));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("argument `role`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
