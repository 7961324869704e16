//! The report: what ran, where, and what it measured; written as JSON, printed as a table,
//! compared against a baseline, and turned into the generated section of docs/benchmarks.md.

use serde::{Deserialize, Serialize};

/// The schema this crate writes and reads.
pub const SCHEMA: &str = "aether-bench/1";

/// A whole run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// `quick` or `full`.
    pub mode: String,
    /// When the run started (seconds since the Unix epoch).
    pub started_unix: u64,
    /// The machine.
    pub machine: Machine,
    /// Versions of what was measured.
    pub versions: Versions,
    /// One entry per workload, in the order they ran.
    pub results: Vec<Measurement>,
    /// Ratios between results of this run (the engine's overheads).
    pub ratios: Vec<Ratio>,
}

/// The machine a report was measured on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Machine {
    /// CPU model name, with family and model where the OS tells them.
    pub cpu: String,
    /// Logical CPUs available.
    pub cpus: usize,
    /// Memory in MiB (0 if unknown).
    pub memory_mib: u64,
    /// Operating system and architecture.
    pub os: String,
}

/// Versions of the code measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Versions {
    /// The aether crate version.
    pub aether: String,
    /// The git commit (`unknown` outside a checkout).
    pub commit: String,
    /// The compiler that built the harness.
    pub rustc: String,
    /// The wasmi release the engine runs.
    pub wasmi: String,
    /// The gas schedule.
    pub gas_schedule: String,
    /// The build profile (`release` or `debug`): figures from a debug build are not comparable.
    pub profile: String,
}

/// One workload's figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measurement {
    /// Name, `group/workload` (what `--filter` matches).
    pub name: String,
    /// What one iteration does.
    pub description: String,
    /// Median time of one iteration, in nanoseconds.
    pub median_ns: f64,
    /// 95% confidence interval of the median, low end.
    pub ci_low_ns: f64,
    /// 95% confidence interval of the median, high end.
    pub ci_high_ns: f64,
    /// Samples taken.
    pub samples: usize,
    /// Iterations per sample.
    pub iterations_per_sample: u64,
    /// Gas one iteration charges, where it charges gas.
    pub gas: Option<u64>,
    /// Gas per second at the median.
    pub gas_per_second: Option<f64>,
    /// Elements one iteration handles (transactions in a block, say).
    pub elements: Option<u64>,
    /// Elements per second at the median.
    pub elements_per_second: Option<f64>,
    /// Where the time of one iteration goes, if the workload can say (`bench call`).
    pub breakdown: Vec<Share>,
}

/// A part of an iteration's time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Share {
    /// What (`instantiation`, `execution`, `host calls`, `storage`).
    pub part: String,
    /// Nanoseconds per iteration.
    pub ns: f64,
    /// Host calls per iteration, for the parts that are host calls.
    pub calls: Option<u64>,
}

/// `numerator / denominator` of two medians of the same run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ratio {
    /// What the ratio says.
    pub name: String,
    /// The result above the line.
    pub numerator: String,
    /// The result below the line.
    pub denominator: String,
    /// The ratio of the medians.
    pub value: f64,
    /// The target, if there is one (the ratio must not exceed it).
    pub target: Option<f64>,
}

impl Report {
    /// The result named `name`.
    pub fn get(&self, name: &str) -> Option<&Measurement> {
        self.results.iter().find(|m| m.name == name)
    }

    /// Adds the ratio of two results of this run, if both ran.
    pub fn add_ratio(
        &mut self,
        name: &str,
        numerator: &str,
        denominator: &str,
        target: Option<f64>,
    ) {
        let (Some(n), Some(d)) = (self.get(numerator), self.get(denominator)) else {
            return;
        };
        if d.median_ns <= 0.0 {
            return;
        }
        let value = n.median_ns / d.median_ns;
        self.ratios.push(Ratio {
            name: name.into(),
            numerator: numerator.into(),
            denominator: denominator.into(),
            value,
            target,
        });
    }

    /// Checks what the schema cannot say: every figure finite and positive, each median
    /// inside its interval, ratios between results that exist.
    pub fn check(&self) -> Result<(), String> {
        if self.schema != SCHEMA {
            return Err(format!("schema {} is not {SCHEMA}", self.schema));
        }
        if !matches!(self.mode.as_str(), "quick" | "full" | "call") {
            return Err(format!("unknown mode {}", self.mode));
        }
        for m in &self.results {
            let ok = m.median_ns.is_finite()
                && m.median_ns > 0.0
                && m.ci_low_ns <= m.median_ns
                && m.median_ns <= m.ci_high_ns
                && m.samples > 0
                && m.iterations_per_sample > 0;
            if !ok {
                return Err(format!("{}: inconsistent figures {m:?}", m.name));
            }
            if m.gas.is_some() != m.gas_per_second.is_some()
                || m.elements.is_some() != m.elements_per_second.is_some()
            {
                return Err(format!("{}: a rate without its quantity", m.name));
            }
        }
        for r in &self.ratios {
            if self.get(&r.numerator).is_none() || self.get(&r.denominator).is_none() {
                return Err(format!("ratio {} names a result that did not run", r.name));
            }
        }
        Ok(())
    }
}

impl Measurement {
    /// A measurement from a summary and what one iteration is.
    pub fn new(
        name: &str,
        description: &str,
        s: &crate::sample::Summary,
        gas: Option<u64>,
        elements: Option<u64>,
    ) -> Self {
        let per_second = |q: u64| q as f64 * 1e9 / s.median_ns;
        Measurement {
            name: name.into(),
            description: description.into(),
            median_ns: s.median_ns,
            ci_low_ns: s.ci_low_ns,
            ci_high_ns: s.ci_high_ns,
            samples: s.samples,
            iterations_per_sample: s.iterations_per_sample,
            gas,
            gas_per_second: gas.map(per_second),
            elements,
            elements_per_second: elements.map(per_second),
            breakdown: Vec::new(),
        }
    }
}

/// A time in the unit that suits it.
pub fn time(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// A rate with a metric prefix.
pub fn rate(per_second: f64) -> String {
    if per_second >= 1e9 {
        format!("{:.2} G", per_second / 1e9)
    } else if per_second >= 1e6 {
        format!("{:.2} M", per_second / 1e6)
    } else if per_second >= 1e3 {
        format!("{:.1} k", per_second / 1e3)
    } else {
        format!("{per_second:.0}")
    }
}

/// The results as a plain-text table.
pub fn table(report: &Report) -> String {
    let mut rows = vec![[
        "workload".to_string(),
        "median".to_string(),
        "95% CI".to_string(),
        "gas/s".to_string(),
        "elements/s".to_string(),
    ]];
    for m in &report.results {
        rows.push([
            m.name.clone(),
            time(m.median_ns),
            format!("{} – {}", time(m.ci_low_ns), time(m.ci_high_ns)),
            m.gas_per_second.map(rate).unwrap_or_default(),
            m.elements_per_second.map(rate).unwrap_or_default(),
        ]);
    }
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..5).map(width).collect();
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                let pad = w - cell.chars().count();
                if i == 0 {
                    format!("{cell}{}", " ".repeat(pad))
                } else {
                    format!("{}{cell}", " ".repeat(pad))
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    for r in &report.ratios {
        let target = r
            .target
            .map(|t| {
                let verdict = if r.value <= t { "met" } else { "missed" };
                format!(" (target ≤ {t}×: {verdict})")
            })
            .unwrap_or_default();
        out.push_str(&format!("{}: {:.2}×{target}\n", r.name, r.value));
    }
    out
}
