//! Charts written next to the JSON report (SVG): the median time per call of each call
//! workload and anchor, and block throughput against block size.

use std::path::Path;

use plotters::prelude::*;

use crate::report::Report;

fn err(e: impl std::fmt::Display) -> String {
    format!("chart: {e}")
}

/// Horizontal bars: the median of every `call/`, `host/` and `anchor/` workload, in µs.
/// Returns `false` (and writes nothing) if the report has none.
pub fn per_call(report: &Report, path: &Path) -> Result<bool, String> {
    let items: Vec<(String, f64)> = report
        .results
        .iter()
        .filter(|m| {
            ["call/", "host/", "anchor/"]
                .iter()
                .any(|g| m.name.starts_with(g))
        })
        .map(|m| (m.name.clone(), m.median_ns / 1e3))
        .collect();
    if items.is_empty() {
        return Ok(false);
    }
    let n = items.len() as i32;
    let max = items.iter().map(|i| i.1).fold(0.0, f64::max) * 1.15;
    let height = 80 + 26 * items.len() as u32;
    let root = SVGBackend::new(path, (960, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Median time per call (µs, lower is better)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(360)
        .build_cartesian_2d(0.0..max, (0..n).into_segmented())
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(items.len())
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => items
                .get(*i as usize)
                .map_or(String::new(), |(name, _)| name.clone()),
            _ => String::new(),
        })
        .x_desc("µs")
        .draw()
        .map_err(err)?;
    chart
        .draw_series(items.iter().enumerate().map(|(i, (_, v))| {
            let i = i as i32;
            Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(i)),
                    (*v, SegmentValue::Exact(i + 1)),
                ],
                BLUE.mix(0.6).filled(),
            )
        }))
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(true)
}

/// Block size and account count of a `block/{size}_transfers_at_{accounts}_accounts` result.
fn block_point(name: &str) -> Option<(u64, u64)> {
    let rest = name.strip_prefix("block/")?;
    let (size, rest) = rest.split_once("_transfers_at_")?;
    let accounts = rest.strip_suffix("_accounts")?;
    Some((size.parse().ok()?, accounts.parse().ok()?))
}

/// Lines: transactions per second against block size, one line per account count. Returns
/// `false` (and writes nothing) if the report has no block results.
pub fn throughput(report: &Report, path: &Path) -> Result<bool, String> {
    let mut series: std::collections::BTreeMap<u64, Vec<(f64, f64)>> = Default::default();
    for m in &report.results {
        if let (Some((size, accounts)), Some(tps)) = (block_point(&m.name), m.elements_per_second) {
            series.entry(accounts).or_default().push((size as f64, tps));
        }
    }
    if series.is_empty() {
        return Ok(false);
    }
    for points in series.values_mut() {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let max_x = series.values().flatten().map(|p| p.0).fold(0.0, f64::max) * 1.05;
    let max_y = series.values().flatten().map(|p| p.1).fold(0.0, f64::max) * 1.15;
    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "A block of transfers verified and committed through ParityDB (tx/s)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..max_x, 0.0..max_y)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("transactions per block")
        .y_desc("transactions per second")
        .draw()
        .map_err(err)?;
    for (i, (accounts, points)) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(err)?
            .label(format!("{accounts} accounts"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        chart
            .draw_series(points.iter().map(|p| Circle::new(*p, 4, color.filled())))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_names_give_their_size_and_accounts() {
        assert_eq!(
            block_point("block/10000_transfers_at_1000000_accounts"),
            Some((10_000, 1_000_000))
        );
        assert_eq!(block_point("call/noop"), None);
    }
}
