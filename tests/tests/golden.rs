//! Golden traces: the corpus of `aether_tests::golden` gives exactly the committed
//! `tests/golden/trace.json` (receipts, gas, events, receipts and state roots), in whichever
//! build runs the test (`scripts/test.sh` runs it in debug and in release). A change that
//! alters any figure must update the file on purpose (`AETHER_UPDATE_GOLDEN=1 cargo test -p
//! aether-tests --test golden`) and explain itself in docs/gas.md, whose log names the digest
//! of every version of the trace.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

fn trace_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden/trace.json")
}

fn gas_doc() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/gas.md")
}

/// The digest by which docs/gas.md names a version of the trace: the first 16 hex digits of
/// its SHA-256.
fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))[..16].to_string()
}

/// The first difference between two texts, with a few lines of context from each.
fn first_difference(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let at = w
        .iter()
        .zip(&g)
        .position(|(a, b)| a != b)
        .unwrap_or(w.len().min(g.len()));
    let from = at.saturating_sub(4);
    let show = |lines: &[&str]| {
        lines
            .iter()
            .enumerate()
            .skip(from)
            .take(10)
            .map(|(i, l)| format!("{:>5} {l}", i + 1))
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "first difference at line {}\n--- committed\n{}\n+++ this build\n{}",
        at + 1,
        show(&w),
        show(&g)
    )
}

#[test]
fn the_corpus_gives_the_committed_trace() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let got = aether_tests::golden::trace(dir.path());
    let path = trace_path();
    if std::env::var_os("AETHER_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).expect("write the trace");
        eprintln!(
            "wrote {}; add a row for digest `{}` to docs/gas.md, \"Golden traces\", saying why it changed",
            path.display(),
            digest(&got)
        );
        return;
    }
    let want = std::fs::read_to_string(&path).expect("tests/golden/trace.json is committed");
    assert!(
        want == got,
        "the corpus no longer gives the committed trace ({}); if the change is intended, update \
         it with AETHER_UPDATE_GOLDEN=1 and explain it in docs/gas.md",
        first_difference(&want, &got)
    );
}

#[test]
fn every_version_of_the_trace_is_explained_in_the_gas_doc() {
    let trace = std::fs::read_to_string(trace_path()).expect("the committed trace");
    let doc = std::fs::read_to_string(gas_doc()).expect("docs/gas.md");
    let d = digest(&trace);
    assert!(
        doc.contains(&format!("`{d}`")),
        "docs/gas.md does not explain this version of the golden trace: add a row for `{d}` to its \"Golden traces\" log"
    );
}

#[test]
fn the_corpus_covers_every_outcome_and_cross_contract_calls() {
    let trace: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(trace_path()).expect("the committed trace"))
            .expect("JSON");
    let receipts: Vec<&serde_json::Value> = trace["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .flat_map(|b| b["receipts"].as_array().expect("receipts"))
        .collect();
    for status in [
        "Success",
        "Revert",
        "Trap",
        "OutOfGas",
        "InvalidModule",
        "Rejected",
    ] {
        assert!(
            receipts.iter().any(|r| r["status"] == status),
            "no {status} receipt in the corpus"
        );
    }
    // A call whose events come from another contract than the one called (the escrow's
    // deposit and release make the token emit its Transfer events).
    let cross_contract = receipts.iter().filter(|r| {
        r["status"] == "Success"
            && r["events"]
                .as_array()
                .expect("events")
                .iter()
                .any(|e| !r["callee"].is_null() && e["contract"] != r["callee"])
    });
    assert!(
        cross_contract.count() >= 2,
        "no cross-contract calls with events"
    );
}
