//! `aether devnet up|status|down`: four validator processes started with keys of their own,
//! agreeing, reported, loaded by `aether load` (every transfer finalized once), stopped, and
//! started again on the same keys and chain.

mod common;

use std::time::{Duration, Instant};

use common::aether;
use serde_json::Value;

fn status(dir: &str) -> (bool, Vec<Value>) {
    let out = aether(&["devnet", "status", "--dir", dir, "--json"]);
    let rows: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.success(), rows.as_array().unwrap().clone())
}

/// Stops the devnet whatever happens in the test.
struct Down(String);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = aether(&["devnet", "down", "--dir", &self.0]);
    }
}

#[test]
fn a_devnet_comes_up_agrees_and_goes_down() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("net");
    let d = d.to_str().unwrap();
    let _down = Down(d.to_string());
    let up = aether(&[
        "devnet",
        "up",
        "--validators",
        "4",
        "--dir",
        d,
        "--block-time-ms",
        "200",
    ]);
    let printed = String::from_utf8_lossy(&up.stdout).to_string();
    assert!(
        up.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert_eq!(
        printed.matches("rpc http://127.0.0.1:").count(),
        4,
        "{printed}"
    );
    // A second devnet in the same place is refused while this one runs.
    let again = aether(&["devnet", "up", "--dir", d]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already running"));

    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (all_up, rows) = status(d);
        assert!(all_up, "{rows:?}");
        let done = rows
            .iter()
            .all(|r| r["finalizedHeight"].as_u64().is_some_and(|h| h >= 3) && r["peers"] == 3);
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "{rows:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // `aether load` against the devnet: signed transfers spread over the four validators'
    // RPC endpoints, each finalized exactly once, none refused or lost.
    let (_, rows) = status(d);
    let mut args = vec!["load", "--txs", "400", "--json", "--stall-secs", "60"];
    for r in &rows {
        args.extend(["--rpc", r["rpc"].as_str().unwrap()]);
    }
    let load = aether(&args);
    assert!(
        load.status.success(),
        "{}{}",
        String::from_utf8_lossy(&load.stdout),
        String::from_utf8_lossy(&load.stderr)
    );
    let report: Value = serde_json::from_slice(&load.stdout).unwrap();
    assert_eq!(report["finalized"], 400, "{report}");
    assert_eq!(report["accepted"], 400, "{report}");
    assert_eq!(report["lost"], 0, "{report}");
    assert_eq!(report["duplicated"], 0, "{report}");
    assert!(
        report["latencyMs"]["p50"].as_f64().unwrap() > 0.0,
        "{report}"
    );

    let (_, rows_before_down) = status(d);
    let down = aether(&["devnet", "down", "--dir", d]);
    assert!(down.status.success());
    let (all_up, rows) = status(d);
    assert!(!all_up);
    assert!(rows.iter().all(|r| r["running"] == false), "{rows:?}");
    let finalized_before = max_finalized(&rows_before_down);

    // The keys are the devnet's own, not the dev keys derived from names, in files only their
    // owner can read.
    let genesis: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("net/genesis.json")).unwrap(),
    )
    .unwrap();
    let validators = genesis["validators"].as_array().unwrap();
    assert_eq!(validators.len(), 4);
    for v in validators {
        let name = v["name"].as_str().unwrap();
        let dev = aether_node::genesis::Validator::dev(name);
        assert_ne!(
            v["bls_public_key"],
            Value::from(dev.bls_public_key.clone()),
            "{v}"
        );
        assert_ne!(
            v["peer_id"],
            Value::from(dev.peer_id.clone().unwrap()),
            "{v}"
        );
        let key = dir.path().join(format!("net/keys/{name}.key"));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&key).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{}", key.display());
    }

    // Another size in the same place is refused; `up` again resumes the chain on the same keys.
    let other = aether(&["devnet", "up", "--dir", d, "--validators", "7"]);
    assert!(!other.status.success());
    assert!(String::from_utf8_lossy(&other.stderr).contains("has 4 validators"));
    let again = aether(&["devnet", "up", "--dir", d, "--block-time-ms", "200"]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (_, rows) = status(d);
        let done = rows.iter().all(|r| {
            r["finalizedHeight"]
                .as_u64()
                .is_some_and(|h| h >= finalized_before + 2)
        });
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "{finalized_before} {rows:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let after: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("net/genesis.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(after, genesis, "the genesis was rewritten");
    assert!(aether(&["devnet", "down", "--dir", d]).status.success());
}

fn max_finalized(rows: &[Value]) -> u64 {
    rows.iter()
        .filter_map(|r| r["finalizedHeight"].as_u64())
        .max()
        .expect("a validator answered")
}
