//! Comparing a run with a saved one: a workload regressed when its new median is above the
//! old one by more than the threshold and the two confidence intervals do not overlap (a
//! change inside the noise is not flagged, however large).

use crate::report::Report;

/// How a workload moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Slower beyond noise and threshold.
    Regression,
    /// Faster beyond noise and threshold.
    Improvement,
    /// Within the noise or the threshold.
    Unchanged,
}

/// One workload in both runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The workload.
    pub name: String,
    /// Its median in the baseline (ns).
    pub baseline_ns: f64,
    /// Its median now (ns).
    pub current_ns: f64,
    /// current / baseline − 1.
    pub change: f64,
    /// The verdict.
    pub verdict: Verdict,
}

/// Compares every workload present in both reports; `threshold` is a fraction (0.05 = 5%).
pub fn compare(baseline: &Report, current: &Report, threshold: f64) -> Vec<Change> {
    current
        .results
        .iter()
        .filter_map(|now| {
            let before = baseline.get(&now.name)?;
            let change = now.median_ns / before.median_ns - 1.0;
            let verdict = if change > threshold && now.ci_low_ns > before.ci_high_ns {
                Verdict::Regression
            } else if change < -threshold && now.ci_high_ns < before.ci_low_ns {
                Verdict::Improvement
            } else {
                Verdict::Unchanged
            };
            Some(Change {
                name: now.name.clone(),
                baseline_ns: before.median_ns,
                current_ns: now.median_ns,
                change,
                verdict,
            })
        })
        .collect()
}

/// Warnings about comparing these two runs at all (another machine, another build profile).
pub fn caveats(baseline: &Report, current: &Report) -> Vec<String> {
    let mut out = Vec::new();
    if baseline.machine.cpu != current.machine.cpu {
        out.push(format!(
            "the baseline ran on another CPU ({}); this run: {}",
            baseline.machine.cpu, current.machine.cpu
        ));
    }
    if baseline.versions.profile != current.versions.profile {
        out.push(format!(
            "the baseline is a {} build, this run a {} build",
            baseline.versions.profile, current.versions.profile
        ));
    }
    out
}

/// The comparison as text, regressions marked.
pub fn render(changes: &[Change]) -> String {
    let mut out = String::new();
    for c in changes {
        let mark = match c.verdict {
            Verdict::Regression => "REGRESSION",
            Verdict::Improvement => "improved",
            Verdict::Unchanged => "",
        };
        out.push_str(&format!(
            "{:<44} {:>12} -> {:>12}  {:>+7.1}%  {mark}\n",
            c.name,
            crate::report::time(c.baseline_ns),
            crate::report::time(c.current_ns),
            c.change * 100.0
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Machine, Measurement, SCHEMA, Versions};

    fn report(results: &[(&str, f64, f64, f64)]) -> Report {
        Report {
            schema: SCHEMA.into(),
            mode: "quick".into(),
            started_unix: 0,
            machine: Machine {
                cpu: "cpu".into(),
                cpus: 2,
                memory_mib: 0,
                os: "linux".into(),
            },
            versions: Versions {
                aether: "0".into(),
                commit: "x".into(),
                rustc: "r".into(),
                wasmi: "2.0.0".into(),
                gas_schedule: "1".into(),
                profile: "release".into(),
            },
            results: results
                .iter()
                .map(|(name, low, median, high)| Measurement {
                    name: (*name).into(),
                    description: String::new(),
                    median_ns: *median,
                    ci_low_ns: *low,
                    ci_high_ns: *high,
                    samples: 10,
                    iterations_per_sample: 1,
                    gas: None,
                    gas_per_second: None,
                    elements: None,
                    elements_per_second: None,
                    breakdown: Vec::new(),
                })
                .collect(),
            ratios: Vec::new(),
        }
    }

    #[test]
    fn only_a_change_beyond_threshold_and_noise_is_flagged() {
        let before = report(&[
            ("a", 95.0, 100.0, 105.0),
            ("b", 95.0, 100.0, 105.0),
            ("c", 95.0, 100.0, 105.0),
            ("d", 95.0, 100.0, 105.0),
        ]);
        let now = report(&[
            ("a", 115.0, 120.0, 125.0), // slower, intervals apart: regression
            ("b", 90.0, 120.0, 150.0),  // slower but the intervals overlap: noise
            ("c", 101.0, 103.0, 106.0), // apart but below the threshold
            ("d", 70.0, 75.0, 80.0),    // faster
            ("e", 1.0, 2.0, 3.0),       // not in the baseline
        ]);
        let v: Vec<(String, Verdict)> = compare(&before, &now, 0.05)
            .into_iter()
            .map(|c| (c.name, c.verdict))
            .collect();
        assert_eq!(
            v,
            vec![
                ("a".into(), Verdict::Regression),
                ("b".into(), Verdict::Unchanged),
                ("c".into(), Verdict::Unchanged),
                ("d".into(), Verdict::Improvement),
            ]
        );
    }

    #[test]
    fn another_machine_or_profile_is_a_caveat() {
        let before = report(&[]);
        let mut now = report(&[]);
        assert!(caveats(&before, &now).is_empty());
        now.machine.cpu = "other".into();
        now.versions.profile = "debug".into();
        assert_eq!(caveats(&before, &now).len(), 2);
    }
}
