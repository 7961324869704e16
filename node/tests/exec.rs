//! `aether exec`, the sandbox, run as a real process: JSON receipts, exit codes, state files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/wat")
        .join(name)
}

fn aether(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aether"))
        .args(args)
        .output()
        .expect("run aether")
}

fn receipt(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn successful_call_prints_receipt_and_exits_zero() {
    let counter = example("counter.wat");
    let out = aether(&[
        "exec",
        "--wasm",
        counter.to_str().unwrap(),
        "--call",
        "increment",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = receipt(&out);
    assert_eq!(r["status"], "success");
    assert_eq!(r["return"], "0x0100000000000000");
    assert!(r["gas_used"].as_u64().unwrap() > 0);
    assert!(r.get("error").is_none(), "no error on success");
    assert_eq!(r["events"], Value::Array(vec![]));
}

#[test]
fn state_file_persists_between_runs_and_accepts_wasm_binaries() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.bin");
    let wasm = dir.path().join("counter.wasm");
    std::fs::write(&wasm, wat::parse_file(example("counter.wat")).unwrap()).unwrap();
    for expected in [
        "0x0100000000000000",
        "0x0200000000000000",
        "0x0300000000000000",
    ] {
        let out = aether(&[
            "exec",
            "--wasm",
            wasm.to_str().unwrap(),
            "--call",
            "increment",
            "--state",
            state.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(receipt(&out)["return"], expected);
    }
    let out = aether(&[
        "exec",
        "--wasm",
        wasm.to_str().unwrap(),
        "--call",
        "get",
        "--state",
        state.to_str().unwrap(),
    ]);
    assert_eq!(receipt(&out)["return"], "0x0300000000000000");
}

#[test]
fn revert_prints_receipt_with_error_and_exits_one() {
    let token = example("token.wat");
    let mut args = "0x".to_string() + &"22".repeat(32);
    args += &hex::encode(5u128.to_le_bytes());
    let out = aether(&[
        "exec",
        "--wasm",
        token.to_str().unwrap(),
        "--call",
        "transfer",
        "--args",
        &args,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let r = receipt(&out);
    assert_eq!(r["status"], "revert");
    assert_eq!(
        r["return"],
        format!("0x{}", hex::encode("insufficient balance"))
    );
    assert!(r["error"].is_string());
}

#[test]
fn out_of_gas_and_unknown_method_exit_one() {
    let counter = example("counter.wat");
    let out = aether(&[
        "exec",
        "--wasm",
        counter.to_str().unwrap(),
        "--call",
        "increment",
        "--gas",
        "7000",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(receipt(&out)["status"], "out_of_gas");
    assert_eq!(receipt(&out)["gas_used"], 7000);
    let out = aether(&[
        "exec",
        "--wasm",
        counter.to_str().unwrap(),
        "--call",
        "nope",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(receipt(&out)["status"], "trap");
}

#[test]
fn invalid_module_is_reported_with_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.wasm");
    std::fs::write(&bad, b"\0asm\x01\0\0\0garbage").unwrap();
    let out = aether(&["exec", "--wasm", bad.to_str().unwrap(), "--call", "x"]);
    assert_eq!(out.status.code(), Some(1));
    let r = receipt(&out);
    assert_eq!(r["status"], "invalid_module");
    assert!(r["error"].as_str().unwrap().contains("rule `"));
    let floats = dir.path().join("floats.wat");
    std::fs::write(
        &floats,
        r#"(module (memory (export "memory") 1) (func (export "f") (drop (f64.const 1))))"#,
    )
    .unwrap();
    let out = aether(&["exec", "--wasm", floats.to_str().unwrap(), "--call", "f"]);
    assert!(
        receipt(&out)["error"]
            .as_str()
            .unwrap()
            .contains("no-floats")
    );
}

#[test]
fn bad_usage_and_unreadable_input_exit_two_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let counter = example("counter.wat");
    let c = counter.to_str().unwrap();
    let corrupt = dir.path().join("corrupt.state");
    std::fs::write(&corrupt, b"AETHSTATE1\xff\xff\xff").unwrap();
    let not_state = dir.path().join("other.state");
    std::fs::write(&not_state, b"hello").unwrap();
    let bad_wat = dir.path().join("bad.wat");
    std::fs::write(&bad_wat, "(module (func").unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["exec", "--wasm", "/nonexistent/file.wasm", "--call", "x"],
        vec!["exec", "--wasm", c, "--call", "get", "--args", "0xZZ"],
        vec!["exec", "--wasm", c, "--call", "get", "--args", "1234"],
        vec!["exec", "--wasm", c, "--call", "get", "--caller", "0x1234"],
        vec!["exec", "--wasm", c, "--call", "get", "--gas", "-5"],
        vec!["exec", "--wasm", c],
        vec!["exec", "--wasm", c, "--call", "get", "--bogus"],
        vec![
            "exec",
            "--wasm",
            c,
            "--call",
            "get",
            "--state",
            corrupt.to_str().unwrap(),
        ],
        vec![
            "exec",
            "--wasm",
            c,
            "--call",
            "get",
            "--state",
            not_state.to_str().unwrap(),
        ],
        vec!["exec", "--wasm", bad_wat.to_str().unwrap(), "--call", "get"],
        vec!["frobnicate"],
    ];
    for args in cases {
        let out = aether(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.trim().is_empty(), "{args:?} explains itself");
    }
}

/// Issue 16: the six-instruction module that panicked wasmi's translator (and `aether exec`
/// with it, exit 101) is refused with its rule, exit 1, a JSON receipt.
#[test]
fn a_module_wasmi_cannot_translate_is_refused_without_a_panic() {
    let crash = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../engine/tests/regressions/wasmi-2.0.0-store-offset-register-pair.wat");
    let out = aether(&["exec", "--wasm", crash.to_str().unwrap(), "--call", "run"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = receipt(&out);
    assert_eq!(r["status"], "invalid_module", "{r}");
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .starts_with("rule `wasm-translation`"),
        "{r}"
    );
}

/// A module whose method `run` returns the given bytes.
fn returning(bytes: &[u8]) -> String {
    let data: String = bytes.iter().map(|b| format!("\\{b:02x}")).collect();
    format!(
        r#"(module
  (import "env" "return" (func $return (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{data}")
  (func (export "run") (call $return (i32.const 0) (i32.const {}))))"#,
        bytes.len()
    )
}

fn abi_returning(returns: &str) -> String {
    serde_json::json!({
        "abi_version": 1,
        "contract": "Hostile",
        "constructor": null,
        "methods": [{"name": "run", "args": [], "returns": returns, "error": null,
                     "mutates": false, "payable": false}],
        "events": [],
        "errors": [],
    })
    .to_string()
}

/// Issue 18: the three ways a contract's author crashed `aether exec` (stack overflow on a
/// deeply nested type, unbounded allocation for a huge zero-sized array type, and for a
/// truthful `Vec<()>` whose data claims a billion elements) now end with a clear message.
#[test]
fn hostile_abis_and_return_data_get_clear_messages_not_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let module = write("m.wat", &returning(&[0x03, 0xff, 0xff, 0xff, 0xff]));

    // 30,000 levels of `Vec<`: the ABI is refused, exit 2, naming the limit.
    let deep = format!("{}u8{}", "Vec<".repeat(30_000), ">".repeat(30_000));
    let abi = write("deep.abi.json", &abi_returning(&deep));
    let out = aether(&["exec", "--wasm", &module, "--call", "run", "--abi", &abi]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("method `run` return type: type is 150002 bytes long, the limit is 1024"),
        "{stderr}"
    );
    // 100,000 parentheses: the same.
    let abi = write("parens.abi.json", &abi_returning(&"(".repeat(100_000)));
    let out = aether(&["exec", "--wasm", &module, "--call", "run", "--abi", &abi]);
    assert_eq!(out.status.code(), Some(2));
    // Deep within the length limit: refused by depth.
    let abi = write("nested.abi.json", &abi_returning(&"(".repeat(500)));
    let out = aether(&["exec", "--wasm", &module, "--call", "run", "--abi", &abi]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("type nests deeper than 32 levels"),
        "{stderr}"
    );

    // `[(); 100000000000]`: the call runs, the return is shown raw with why it is not decoded.
    for returns in ["[();100000000000]", "Vec<()>"] {
        let abi = write("zero.abi.json", &abi_returning(returns));
        let out = aether(&["exec", "--wasm", &module, "--call", "run", "--abi", &abi]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r = receipt(&out);
        assert_eq!(r["status"], "success");
        assert_eq!(r["return"], "0x03ffffffff");
        assert!(r.get("decoded").is_none(), "{r}");
        let why = r["decodeError"].as_str().unwrap();
        assert!(why.contains("zero-sized elements"), "{returns}: {why}");
    }
}

/// `--deployer` deploys (and so places) the contract; `--caller` makes the call.
#[test]
fn the_deployer_and_the_caller_are_chosen_by_flags() {
    let counter = example("counter.wat");
    let counter = counter.to_str().unwrap();
    let default = receipt(&aether(&["exec", "--wasm", counter, "--call", "increment"]));
    let mine = "0x0707070707070707070707070707070707070707070707070707070707070707";
    let chosen = receipt(&aether(&[
        "exec",
        "--wasm",
        counter,
        "--call",
        "increment",
        "--deployer",
        mine,
    ]));
    assert_eq!(default["status"], "success");
    assert_eq!(chosen["status"], "success");
    assert_ne!(
        default["contract"], chosen["contract"],
        "the address follows from the deployer"
    );
}
