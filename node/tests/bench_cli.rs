//! `aether bench` from the command line: the quick suite runs (CI's check that every workload
//! still works) and writes a report that reads back under the schema, with its charts; a
//! user's contract is measured with its breakdown; a baseline comparison flags a regression
//! with status 1 and passes an unchanged run; the generated section of a document is rewritten.

use std::path::Path;
use std::process::{Command, Output};

use aether_bench::report::Report;

fn aether(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aether"))
        .args(args)
        .output()
        .expect("run aether")
}

fn report(dir: &Path) -> Report {
    let text = std::fs::read_to_string(dir.join("results.json")).expect("results.json");
    let r: Report = serde_json::from_str(&text).expect("the report follows the schema");
    r.check().expect("a consistent report");
    r
}

#[test]
fn the_quick_suite_runs_every_workload_and_writes_a_report_and_charts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let listed = aether(&["bench", "--quick", "--list"]);
    assert!(listed.status.success());
    let names: Vec<String> = String::from_utf8(listed.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    assert!(names.len() >= 20, "{names:?}");
    let run = aether(&["bench", "--quick", "--out", out]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let r = report(dir.path());
    assert_eq!(r.mode, "quick");
    let measured: Vec<&str> = r.results.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        measured, names,
        "every listed workload is measured, in order"
    );
    for ratio in [
        "token call over native Rust",
        "token call over bare wasmi (the engine's overhead over its VM)",
        "bare wasmi over native Rust (the VM's overhead)",
    ] {
        assert!(r.ratios.iter().any(|x| x.name == ratio), "{ratio}");
    }
    assert!(
        r.get("block/400_transfers_at_5000_accounts")
            .unwrap()
            .elements_per_second
            .unwrap()
            > 0.0
    );
    for chart in ["per_call.svg", "throughput.svg"] {
        let svg = std::fs::read_to_string(dir.path().join(chart)).expect(chart);
        assert!(svg.starts_with("<svg") && svg.contains("</svg>"), "{chart}");
    }
    let table = String::from_utf8(run.stdout).unwrap();
    assert!(table.contains("call/token_transfer") && table.contains("95% CI"));
}

#[test]
fn a_users_contract_is_measured_with_its_breakdown() {
    let dir = tempfile::tempdir().unwrap();
    let token = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/wat/token.wat");
    let mut to = "0x".to_string() + &"02".repeat(32);
    to.push_str(&hex::encode(5u128.to_le_bytes()));
    let init = "0x".to_string() + &hex::encode(1_000_000u128.to_le_bytes());
    let run = aether(&[
        "bench",
        "call",
        "--wasm",
        token,
        "--call",
        "transfer",
        "--args",
        &to,
        "--init-args",
        &init,
        "--quick",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let r = report(dir.path());
    assert_eq!(r.mode, "call");
    let m = &r.results[0];
    assert_eq!(m.name, "user/transfer");
    assert_eq!(m.breakdown.len(), 5);
    let stdout = String::from_utf8(run.stdout).unwrap();
    assert!(
        stdout.contains("gas/µs") && stdout.contains("storage host calls"),
        "{stdout}"
    );
    // A call that fails is refused with a clear error, not measured.
    let bad = aether(&[
        "bench",
        "call",
        "--wasm",
        token,
        "--call",
        "transfer",
        "--args",
        "0x0102",
        "--quick",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("does not succeed"));
}

#[test]
fn a_baseline_flags_a_regression_and_passes_an_unchanged_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("now");
    let filter = "anchor/native";
    let first = aether(&[
        "bench",
        "--quick",
        "--filter",
        filter,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(first.status.success());
    let mut base = report(&out);
    // The same figures: nothing regressed.
    let same = dir.path().join("same.json");
    std::fs::write(&same, serde_json::to_string(&base).unwrap()).unwrap();
    // A baseline ten times faster than anything this machine does: a regression.
    for m in &mut base.results {
        m.median_ns /= 10.0;
        m.ci_low_ns /= 10.0;
        m.ci_high_ns /= 10.0;
    }
    let fast = dir.path().join("fast.json");
    std::fs::write(&fast, serde_json::to_string(&base).unwrap()).unwrap();
    let regressed = aether(&[
        "bench",
        "--quick",
        "--filter",
        filter,
        "--out",
        out.to_str().unwrap(),
        "--baseline",
        fast.to_str().unwrap(),
    ]);
    assert_eq!(regressed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&regressed.stdout).contains("REGRESSION"));
    // Against itself (a quick run's noise stays inside its interval or the 5% threshold most
    // of the time; a threshold of 1000% makes the check exact).
    let unchanged = aether(&[
        "bench",
        "--quick",
        "--filter",
        filter,
        "--out",
        out.to_str().unwrap(),
        "--baseline",
        same.to_str().unwrap(),
        "--threshold",
        "1000",
    ]);
    assert!(unchanged.status.success());
    // A file that is not a report is refused.
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"schema\": 1}").unwrap();
    let refused = aether(&[
        "bench",
        "--quick",
        "--filter",
        filter,
        "--out",
        out.to_str().unwrap(),
        "--baseline",
        junk.to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(2));
}

#[test]
fn the_generated_section_of_a_document_is_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("benchmarks.md");
    std::fs::write(
        &doc,
        format!(
            "# Benchmarks\n\nhand-written\n\n{}\nold\n{}\n\nmore hand-written\n",
            aether_bench::markdown::BEGIN,
            aether_bench::markdown::END
        ),
    )
    .unwrap();
    let run = aether(&[
        "bench",
        "--quick",
        "--filter",
        "call/noop,anchor/native",
        "--out",
        dir.path().join("out").to_str().unwrap(),
        "--update-doc",
        doc.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = std::fs::read_to_string(&doc).unwrap();
    assert!(text.starts_with("# Benchmarks\n\nhand-written\n"));
    assert!(text.ends_with("\n\nmore hand-written\n"));
    assert!(!text.contains("\nold\n"));
    assert!(text.contains("| `call/noop` |"));
    assert!(dir.path().join("bench-per_call.svg").exists());
}
