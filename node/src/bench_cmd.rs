//! `aether bench`: the standard suite (engine, blocks through ParityDB, mempool, RPC) or a
//! user's own contract, measured with medians and confidence intervals; a table on stdout,
//! JSON and SVG charts in the output directory, comparison with a baseline, and the
//! generated section of docs/benchmarks.md.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aether_bench::baseline::{self, Verdict};
use aether_bench::report::{Report, table};
use aether_bench::user::{UserCall, workload};
use aether_bench::workloads::{Size, engine_ratios, engine_suite};
use aether_bench::{Progress, chart, markdown};
use aether_node::bench_workloads::{node_ratios, node_suite};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

/// `aether bench` arguments.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: Option<BenchCommand>,
    #[command(flatten)]
    suite: SuiteArgs,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Measure a call of your own contract, with a breakdown of where its time goes.
    #[command(after_help = "Examples:
  aether bench call --wasm token.wasm --init-args '[1000000]' --call transfer \\
      --args '[\"0x0202020202020202020202020202020202020202020202020202020202020202\", 5]'
  aether bench call --wasm counter.wat --call increment --baseline old.json")]
    Call(CallArgs),
}

#[derive(Args)]
struct SuiteArgs {
    /// Small sizes and short sampling: checks that everything runs (CI), not for comparing.
    #[arg(long)]
    quick: bool,
    /// Only workloads whose name contains one of these comma-separated parts.
    #[arg(long)]
    filter: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
    /// Rewrite the generated section of this Markdown file (docs/benchmarks.md) with the
    /// results.
    #[arg(long, value_name = "FILE")]
    update_doc: Option<PathBuf>,
    /// List the workloads and exit.
    #[arg(long)]
    list: bool,
}

#[derive(Args)]
struct OutputArgs {
    /// Directory for results.json and the charts.
    #[arg(long, value_name = "DIR", default_value = "bench-results")]
    out: PathBuf,
    /// A results.json of an earlier run: regressions beyond noise are flagged and the command
    /// exits with status 1.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// A change smaller than this (percent) is never a regression.
    #[arg(long, default_value_t = 5.0)]
    threshold: f64,
}

#[derive(Args)]
struct CallArgs {
    /// The contract: a `.wasm` binary or `.wat` text.
    #[arg(long)]
    wasm: PathBuf,
    /// The method to measure.
    #[arg(long)]
    call: String,
    /// Its input: 0x-prefixed hex, or a JSON array encoded through the contract's ABI.
    #[arg(long, default_value = "0x")]
    args: String,
    /// Constructor input (hex or JSON as --args).
    #[arg(long, default_value = "0x")]
    init_args: String,
    /// ABI metadata (default: the module's `aether:abi` section or `<name>.abi.json` beside
    /// it).
    #[arg(long)]
    abi: Option<PathBuf>,
    /// Value sent with each call.
    #[arg(long, default_value_t = 0)]
    value: u128,
    /// Gas limit of each call.
    #[arg(long, default_value_t = 50_000_000)]
    gas: u64,
    /// Short sampling.
    #[arg(long)]
    quick: bool,
    #[command(flatten)]
    output: OutputArgs,
}

/// Runs `aether bench`.
pub fn run(args: BenchArgs) -> ExitCode {
    let result = match args.command {
        Some(BenchCommand::Call(call)) => run_call(call),
        None => run_suite(args.suite),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn suite(size: Size) -> Vec<aether_bench::workloads::Workload> {
    let mut all = engine_suite();
    all.extend(node_suite(size));
    all
}

fn run_suite(args: SuiteArgs) -> anyhow::Result<ExitCode> {
    let size = if args.quick { Size::Quick } else { Size::Full };
    if args.list {
        for w in suite(size) {
            println!("{:<48} {}", w.name, w.description);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut report = measure(suite(size), args.filter.as_deref(), size)?;
    engine_ratios(&mut report);
    node_ratios(&mut report);
    let mut command = "aether bench".to_string();
    if args.quick {
        command.push_str(" --quick");
    }
    if let Some(f) = &args.filter {
        command.push_str(&format!(" --filter '{f}'"));
    }
    let charts = finish(&report, &args.output)?;
    if let Some(doc) = &args.update_doc {
        update_doc(doc, &report, &command, &charts, &args.output.out)?;
    }
    compare(&report, &args.output)
}

fn run_call(args: CallArgs) -> anyhow::Result<ExitCode> {
    let code = crate::exec::read_module(&args.wasm)?;
    let abi = crate::exec::load_abi(args.abi.as_deref(), &args.wasm, &code)?;
    let input = crate::exec::encode_input("--args", &args.args, &args.call, abi.as_ref())?;
    let init_input =
        crate::exec::encode_input("--init-args", &args.init_args, "init", abi.as_ref())?;
    let w = workload(UserCall {
        code,
        init_input,
        method: args.call.clone(),
        input,
        value: args.value,
        gas_limit: args.gas,
    });
    let size = if args.quick { Size::Quick } else { Size::Full };
    let mut report = measure(vec![w], None, size)?;
    report.mode = "call".into();
    finish(&report, &args.output)?;
    if let Some(m) = report.results.first() {
        if let Some(gas) = m.gas {
            println!(
                "gas per call {gas}, {:.1} gas/µs",
                gas as f64 / (m.median_ns / 1e3)
            );
        }
        for s in &m.breakdown {
            let calls = s.calls.map(|c| format!(" ({c} calls)")).unwrap_or_default();
            println!(
                "  {:<60} {:>10}  {:>5.1}%{calls}",
                s.part,
                aether_bench::report::time(s.ns),
                100.0 * s.ns / m.breakdown.iter().map(|s| s.ns).sum::<f64>().max(1.0)
            );
        }
    }
    compare(&report, &args.output)
}

/// Runs the workloads with a progress bar on stderr.
fn measure(
    workloads: Vec<aether_bench::workloads::Workload>,
    filter: Option<&str>,
    size: Size,
) -> anyhow::Result<Report> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{pos}/{len}] {elapsed_precise} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let result = aether_bench::run(workloads, filter, size, &mut |p| match p {
        Progress::Setup { name, index, total } => {
            bar.set_length(total as u64);
            bar.set_position(index as u64);
            bar.set_message(format!("{name}: setting up"));
        }
        Progress::Measuring { name } => bar.set_message(format!("{name}: measuring")),
        Progress::Done(m) => {
            bar.inc(1);
            let line = format!(
                "{:<48} {:>12}",
                m.name,
                aether_bench::report::time(m.median_ns)
            );
            // A hidden bar (stderr is not a terminal) prints nothing: log the line instead.
            if bar.is_hidden() {
                eprintln!("{line}");
            } else {
                bar.println(line);
            }
        }
    });
    bar.finish_and_clear();
    result.map_err(anyhow::Error::msg)
}

/// Checks the report, prints the table, writes results.json and the charts; returns the
/// charts written (title, file name).
fn finish(report: &Report, out: &OutputArgs) -> anyhow::Result<Vec<(String, String)>> {
    report.check().map_err(anyhow::Error::msg)?;
    print!("{}", table(report));
    std::fs::create_dir_all(&out.out)
        .with_context(|| format!("cannot create {}", out.out.display()))?;
    let json = out.out.join("results.json");
    std::fs::write(&json, serde_json::to_string_pretty(report)? + "\n")
        .with_context(|| format!("cannot write {}", json.display()))?;
    let mut charts = Vec::new();
    let per_call = out.out.join("per_call.svg");
    if chart::per_call(report, &per_call).map_err(anyhow::Error::msg)? {
        charts.push((
            "Median time per call".to_string(),
            "per_call.svg".to_string(),
        ));
    }
    let throughput = out.out.join("throughput.svg");
    if chart::throughput(report, &throughput).map_err(anyhow::Error::msg)? {
        charts.push((
            "Block throughput against block size".to_string(),
            "throughput.svg".to_string(),
        ));
    }
    eprintln!("wrote {} and {} chart(s)", json.display(), charts.len());
    Ok(charts)
}

/// Rewrites the generated section of `doc`; the charts are copied next to it.
fn update_doc(
    doc: &Path,
    report: &Report,
    command: &str,
    charts: &[(String, String)],
    out: &Path,
) -> anyhow::Result<()> {
    let dir = doc.parent().unwrap_or(Path::new("."));
    let mut linked = Vec::new();
    for (title, file) in charts {
        let name = format!("bench-{file}");
        std::fs::copy(out.join(file), dir.join(&name))
            .with_context(|| format!("cannot copy {file} next to {}", doc.display()))?;
        linked.push((title.clone(), name));
    }
    let text =
        std::fs::read_to_string(doc).with_context(|| format!("cannot read {}", doc.display()))?;
    let updated = markdown::update(&text, &markdown::section(report, command, &linked))
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("in {}", doc.display()))?;
    std::fs::write(doc, updated).with_context(|| format!("cannot write {}", doc.display()))?;
    eprintln!("updated the generated section of {}", doc.display());
    Ok(())
}

/// Compares with the baseline, if one was given: status 1 if anything regressed.
fn compare(report: &Report, out: &OutputArgs) -> anyhow::Result<ExitCode> {
    let Some(path) = &out.baseline else {
        return Ok(ExitCode::SUCCESS);
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let base: Report = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a results.json of aether bench", path.display()))?;
    if let Err(e) = base.check() {
        bail!("{}: {e}", path.display());
    }
    for caveat in baseline::caveats(&base, report) {
        eprintln!("warning: {caveat}");
    }
    let changes = baseline::compare(&base, report, out.threshold / 100.0);
    print!(
        "\nagainst {}:\n{}",
        path.display(),
        baseline::render(&changes)
    );
    let regressions = changes
        .iter()
        .filter(|c| c.verdict == Verdict::Regression)
        .count();
    if regressions > 0 {
        eprintln!(
            "{regressions} workload(s) regressed beyond noise and the {}% threshold",
            out.threshold
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
