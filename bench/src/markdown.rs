//! The generated section of `docs/benchmarks.md`: the figures of a full run, written by
//! `aether bench --update-doc`, never by hand.

use crate::report::{Report, rate, time};

/// The line that opens the generated section.
pub const BEGIN: &str = "<!-- aether bench: generated section begins; edit with `aether bench --update-doc`, not by hand -->";
/// The line that closes it.
pub const END: &str = "<!-- aether bench: generated section ends -->";

/// The section for `report`, as measured by `command`, with its charts (title, relative path).
pub fn section(report: &Report, command: &str, charts: &[(String, String)]) -> String {
    let m = &report.machine;
    let v = &report.versions;
    let mut out = String::new();
    out.push_str(BEGIN);
    out.push('\n');
    out.push_str(&format!(
        "\n```sh\n{command}\n```\n\n**Machine:** {}, {} CPUs, {} MiB, {}. **Build:** aether {} at \
         `{}`, {}, {} profile, wasmi {}, gas schedule {}. Mode `{}`; each figure is the median \
         of its samples with the 95% confidence interval of the median.\n\n",
        m.cpu,
        m.cpus,
        m.memory_mib,
        m.os,
        v.aether,
        v.commit,
        v.rustc,
        v.profile,
        v.wasmi,
        v.gas_schedule,
        report.mode
    ));
    out.push_str(
        "| workload | median | 95% CI | gas | gas/s | elements/s | what one iteration does |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|\n");
    for r in &report.results {
        out.push_str(&format!(
            "| `{}` | {} | {} – {} | {} | {} | {} | {} |\n",
            r.name,
            time(r.median_ns),
            time(r.ci_low_ns),
            time(r.ci_high_ns),
            r.gas.map(|g| g.to_string()).unwrap_or_default(),
            r.gas_per_second.map(rate).unwrap_or_default(),
            r.elements_per_second.map(rate).unwrap_or_default(),
            r.description.replace('|', "\\|")
        ));
    }
    if !report.ratios.is_empty() {
        out.push_str("\n| ratio (same run) | value | target |\n|---|---|---|\n");
        for r in &report.ratios {
            let target = r.target.map_or(String::new(), |t| {
                let verdict = if r.value <= t { "met" } else { "missed" };
                format!("≤ {t}×: {verdict}")
            });
            out.push_str(&format!(
                "| {} (`{}` ÷ `{}`) | {:.2}× | {target} |\n",
                r.name, r.numerator, r.denominator, r.value
            ));
        }
    }
    for (title, path) in charts {
        out.push_str(&format!("\n![{title}]({path})\n"));
    }
    out.push('\n');
    out.push_str(END);
    out
}

/// `doc` with its generated section replaced by `section`.
pub fn update(doc: &str, section: &str) -> Result<String, String> {
    let start = doc
        .find(BEGIN)
        .ok_or("the document has no generated section (its opening marker is missing)")?;
    let end = doc[start..]
        .find(END)
        .map(|i| start + i + END.len())
        .ok_or("the generated section has no closing marker")?;
    Ok(format!("{}{section}{}", &doc[..start], &doc[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_generated_section_is_replaced() {
        let doc = format!("# T\n\nbefore\n\n{BEGIN}\nold figures\n{END}\n\nafter\n");
        let new = update(&doc, &format!("{BEGIN}\nnew figures\n{END}")).unwrap();
        assert_eq!(
            new,
            format!("# T\n\nbefore\n\n{BEGIN}\nnew figures\n{END}\n\nafter\n")
        );
        assert!(update("# no markers", "x").is_err());
    }
}
