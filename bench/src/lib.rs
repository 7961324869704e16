//! # aether-bench
//!
//! The benchmarking harness behind `aether bench`: the standard workloads of the engine
//! ([`workloads::engine_suite`]) with their anchors (native Rust and bare wasmi, so that a
//! report states the engine's overhead over its VM and the VM's over native code), a sampler
//! giving medians with 95% confidence intervals ([`sample`]), a JSON report with the machine,
//! versions and commit ([`report`]), comparison with a saved baseline that flags regressions
//! beyond noise ([`baseline`]), SVG charts ([`chart`]) and the generated section of
//! `docs/benchmarks.md` ([`markdown`]). The node adds its own workloads (blocks through
//! ParityDB, mempool admission, RPC reads) through the same [`workloads::Workload`] type.

pub mod bare;
pub mod baseline;
pub mod chart;
pub mod machine;
pub mod markdown;
pub mod report;
pub mod sample;
pub mod user;
pub mod workloads;

use report::{Measurement, Report, SCHEMA};
use sample::Plan;
use workloads::{Size, Workload};

/// What a run tells its caller as it goes.
pub enum Progress<'a> {
    /// Workload `index` of `total` is being set up.
    Setup {
        /// Its name.
        name: &'a str,
        /// Its position (0-based) among the selected workloads.
        index: usize,
        /// How many were selected.
        total: usize,
    },
    /// It is being measured.
    Measuring {
        /// Its name.
        name: &'a str,
    },
    /// It was measured.
    Done(&'a Measurement),
}

/// Whether `name` is selected by `filter`: a comma-separated list of substrings, any of which
/// may match (no filter selects everything).
pub fn selected(name: &str, filter: Option<&str>) -> bool {
    filter.is_none_or(|f| f.split(',').any(|part| name.contains(part.trim())))
}

/// Runs the selected workloads and returns the report (without ratios: the caller adds the
/// ones whose workloads it ran). A workload that fails to set up or run fails the run.
pub fn run(
    workloads: Vec<Workload>,
    filter: Option<&str>,
    size: Size,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, String> {
    let plan = match size {
        Size::Quick => Plan::QUICK,
        Size::Full => Plan::FULL,
    };
    let chosen: Vec<Workload> = workloads
        .into_iter()
        .filter(|w| selected(&w.name, filter))
        .collect();
    if chosen.is_empty() {
        return Err(format!(
            "no workload matches the filter {:?}",
            filter.unwrap_or("")
        ));
    }
    let total = chosen.len();
    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut results = Vec::with_capacity(total);
    for (index, w) in chosen.into_iter().enumerate() {
        progress(Progress::Setup {
            name: &w.name,
            index,
            total,
        });
        let mut prepared =
            (w.setup)(size).map_err(|e| format!("{}: set-up failed: {e}", w.name))?;
        progress(Progress::Measuring { name: &w.name });
        let summary = sample::measure(prepared.routine.as_mut(), plan)
            .map_err(|e| format!("{}: {e}", w.name))?;
        let mut m = Measurement::new(
            &w.name,
            &w.description,
            &summary,
            prepared.gas,
            prepared.elements,
        );
        if let Some(breakdown) = prepared.breakdown.take() {
            m.breakdown = breakdown().map_err(|e| format!("{}: breakdown: {e}", w.name))?;
        }
        progress(Progress::Done(&m));
        results.push(m);
    }
    Ok(Report {
        schema: SCHEMA.into(),
        mode: match size {
            Size::Quick => "quick",
            Size::Full => "full",
        }
        .into(),
        started_unix,
        machine: machine::machine(),
        versions: machine::versions(),
        results,
        ratios: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_takes_any_of_its_parts() {
        assert!(selected("call/token_transfer", None));
        assert!(selected("call/token_transfer", Some("token")));
        assert!(selected("compile/cold", Some("anchor, compile")));
        assert!(!selected("call/noop", Some("anchor,compile")));
    }

    #[test]
    fn the_quick_engine_suite_runs_and_its_report_checks() {
        let mut seen = Vec::new();
        let mut report = run(
            workloads::engine_suite(),
            Some("call/token_transfer,anchor/"),
            Size::Quick,
            &mut |p| {
                if let Progress::Done(m) = p {
                    seen.push(m.name.clone());
                }
            },
        )
        .expect("the suite runs");
        workloads::engine_ratios(&mut report);
        report.check().expect("a consistent report");
        assert_eq!(
            seen,
            [
                "call/token_transfer",
                "call/token_transfer_fresh_instance",
                "call/token_transfer_traced",
                "anchor/native_token_transfer",
                "anchor/bare_wasmi_token_transfer",
                "anchor/bare_wasmi_token_transfer_fresh_instance"
            ]
        );
        let token = report.get("call/token_transfer").unwrap();
        assert!(token.gas.unwrap() > 10_000);
        assert_eq!(report.ratios.len(), 5);
        let traced = report.get("call/token_transfer_traced").unwrap();
        assert_eq!(traced.gas, token.gas, "tracing changes no gas");
        let json = serde_json::to_string(&report).unwrap();
        let back: Report = serde_json::from_str(&json).unwrap();
        back.check().expect("the report reads back consistent");
        assert_eq!(back.results.len(), report.results.len());
        assert_eq!(back.versions, report.versions);
    }

    #[test]
    fn an_unknown_filter_is_an_error() {
        let r = run(
            workloads::engine_suite(),
            Some("nothing-like-this"),
            Size::Quick,
            &mut |_| {},
        );
        assert!(r.is_err());
    }
}
