//! Plots (SVG, plotters): latency CDFs, throughput per node with the COST line, latency against
//! offered rate, run timelines with fault markers, and sweep curves. Every plot is redrawn from
//! stored JSON by `streambench plot DIR`.
//!
//! Log axes are drawn as log10 of the value on a linear axis, labelled with the value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use crate::result::RunResult;
use crate::run_kind::RunKind;
use crate::summary::{Summary, SummaryRun};

/// The colour of an engine's series.
pub fn engine_color(engine: &str) -> RGBColor {
    match engine {
        "microbatch" => RGBColor(214, 39, 40),
        "native" => RGBColor(31, 119, 180),
        "cost" => RGBColor(40, 40, 40),
        _ => RGBColor(44, 160, 44),
    }
}

/// Draws a chart's legend, in the style every plot shares.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    at: SeriesLabelPosition,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(at)
        .draw()
        .map_err(|e| anyhow!("{e}"))
}

/// One line of a chart.
pub struct Series {
    /// The legend entry.
    pub name: String,
    /// The colour.
    pub color: RGBColor,
    /// `(x, y)` points in data units.
    pub points: Vec<(f64, f64)>,
    /// Dashed (reference lines such as COST).
    pub dashed: bool,
}

/// An axis: its label, and whether it is logarithmic.
#[derive(Clone, Copy)]
pub struct Axis<'a> {
    /// The label, with units.
    pub label: &'a str,
    /// Log10 scale.
    pub log: bool,
}

fn fwd(v: f64, log: bool) -> f64 {
    if log {
        v.max(1e-6).log10()
    } else {
        v
    }
}

fn fmt_value(v: f64) -> String {
    let a = v.abs();
    // One decimal only where it tells two ticks apart (1.5k, not 2k; 2k, not 2.0k).
    let scaled = |x: f64, unit: &str| {
        if (x - x.round()).abs() < 0.05 {
            format!("{:.0}{unit}", x)
        } else {
            format!("{x:.1}{unit}")
        }
    };
    if a >= 1e6 {
        scaled(v / 1e6, "M")
    } else if a >= 1e3 {
        scaled(v / 1e3, "k")
    } else if a >= 10.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else if a >= 0.01 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn bounds(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        let v = fwd(v, log);
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if !log {
        lo = lo.min(0.0);
    }
    let pad = ((hi - lo) * 0.05).max(if log { 0.1 } else { 1e-9 });
    (lo - if log { pad } else { 0.0 }, hi + pad)
}

/// Draws a line chart to `path`, with vertical markers (e.g. faults) at the given x values.
pub fn line_chart(
    path: &Path,
    title: &str,
    x: Axis<'_>,
    y: Axis<'_>,
    series: &[Series],
    markers: &[(f64, String)],
) -> Result<()> {
    let root = SVGBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let (x0, x1) =
        bounds(series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).chain(markers.iter().map(|m| m.0)), x.log);
    let (y0, y1) = bounds(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)), y.log);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| anyhow!("{e}"))?;
    let xf = move |v: &f64| fmt_value(if x.log { 10f64.powf(*v) } else { *v });
    let yf = move |v: &f64| fmt_value(if y.log { 10f64.powf(*v) } else { *v });
    chart
        .configure_mesh()
        .x_desc(x.label)
        .y_desc(y.label)
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for s in series {
        let pts: Vec<(f64, f64)> = s.points.iter().map(|&(a, b)| (fwd(a, x.log), fwd(b, y.log))).collect();
        let color = s.color;
        let style = color.stroke_width(if s.dashed { 1 } else { 2 });
        let drawn = if s.dashed {
            chart.draw_series(DashedLineSeries::new(pts.clone(), 6, 4, style)).map_err(|e| anyhow!("{e}"))?
        } else {
            chart.draw_series(LineSeries::new(pts.clone(), style)).map_err(|e| anyhow!("{e}"))?
        };
        drawn
            .label(s.name.clone())
            .legend(move |(lx, ly)| PathElement::new(vec![(lx, ly), (lx + 20, ly)], color.stroke_width(2)));
        if pts.len() <= 40 && !s.dashed {
            chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled()))).map_err(|e| anyhow!("{e}"))?;
        }
    }
    for (mx, label) in markers {
        let mx = fwd(*mx, x.log);
        chart
            .draw_series(DashedLineSeries::new(vec![(mx, y0), (mx, y1)], 4, 4, BLACK.stroke_width(1)))
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .draw_series(std::iter::once(Text::new(label.clone(), (mx, y1), ("sans-serif", 14))))
            .map_err(|e| anyhow!("{e}"))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// What a throughput chart shows of a max-rate run: its title, the y axis, and the value.
pub struct Metric {
    /// The title.
    pub title: &'static str,
    /// The y axis' label.
    pub y: &'static str,
    /// The value of a run.
    pub value: fn(&SummaryRun) -> f64,
}

/// Records/s per node: the headline throughput.
pub const PER_NODE: Metric = Metric {
    title: "Throughput per node at max rate (COST loop dashed)",
    y: "records/s per node",
    value: |r| r.records_per_sec_per_node,
};

/// Records per CPU-second (the COST loop runs on one CPU, so its line is the same).
pub const PER_CPU: Metric = Metric {
    title: "Records per CPU-second at max rate (COST loop dashed)",
    y: "records per CPU-second",
    value: |r| r.records_per_cpu_second,
};

/// Throughput of each engine per workload (bars), by `metric`, with the COST loop as a dashed
/// line over each workload's group. One panel per workload (their scales differ).
pub fn throughput_chart(path: &Path, summary: &Summary, metric: &Metric) -> Result<()> {
    let workloads: Vec<String> = summary.cost.keys().cloned().collect();
    let engines: Vec<String> = {
        let mut e: Vec<String> = summary.runs.iter().map(|r| r.engine.clone()).collect();
        e.sort();
        e.dedup();
        e
    };
    let root = SVGBackend::new(path, (320 * workloads.len().max(1) as u32 + 40, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let (title_area, body) = root.split_vertically(50);
    title_area.titled(metric.title, ("sans-serif", 22)).map_err(|e| anyhow!("{e}"))?;
    let panels = body.split_evenly((1, workloads.len().max(1)));
    for (panel, workload) in panels.iter().zip(&workloads) {
        let cost = summary.cost.get(workload).map(|c| c.records_per_sec).unwrap_or(0.0);
        let bars = max_bars(summary, &engines, workload, metric.value);
        // Headroom above the tallest bar for the legend.
        let top = bars.iter().map(|b| b.1).fold(cost, f64::max).max(1.0) * 1.5;
        let n = bars.len().max(1) as f64;
        let mut chart = ChartBuilder::on(panel)
            .caption(workload, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..n, 0.0..top)
            .map_err(|e| anyhow!("{e}"))?;
        let names: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
        let xf = move |v: &f64| {
            names.get(v.floor() as usize).filter(|_| v.fract() > 0.4 && v.fract() < 0.6).cloned().unwrap_or_default()
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(2 * bars.len() + 1)
            .x_label_formatter(&xf)
            .y_desc(metric.y)
            .y_label_formatter(&|v| fmt_value(*v))
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        for (i, (engine, v)) in bars.iter().enumerate() {
            let c = engine_color(engine);
            if *v == 0.0 {
                chart
                    .draw_series(std::iter::once(Text::new(
                        "no result",
                        (i as f64 + 0.25, top * 0.05),
                        ("sans-serif", 14),
                    )))
                    .map_err(|e| anyhow!("{e}"))?;
            }
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(i as f64 + 0.15, 0.0), (i as f64 + 0.85, *v)],
                    c.filled(),
                )))
                .map_err(|e| anyhow!("{e}"))?
                .label(engine.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], c.filled()));
        }
        chart
            .draw_series(DashedLineSeries::new(vec![(0.0, cost), (n, cost)], 6, 4, BLACK.stroke_width(2)))
            .map_err(|e| anyhow!("{e}"))?
            .label(format!("COST {}", fmt_value(cost)))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    }
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// Each engine's correct max-rate `value` on `workload` (0 without one).
fn max_bars(
    summary: &Summary,
    engines: &[String],
    workload: &str,
    value: fn(&SummaryRun) -> f64,
) -> Vec<(String, f64)> {
    engines
        .iter()
        .map(|e| {
            let v = summary
                .runs
                .iter()
                .find(|r| &r.engine == e && r.workload == workload && r.kind == RunKind::Max && r.correct)
                .map(value)
                .unwrap_or(0.0);
            (e.clone(), v)
        })
        .collect()
}

/// The CDF points of a run's input-latency histogram: `(latency ms, fraction of inputs at or
/// below)`.
pub fn cdf_points(r: &RunResult) -> Vec<(f64, f64)> {
    let Ok(h) = workloads::histo::decode(&r.histograms.input) else { return Vec::new() };
    if h.is_empty() {
        return Vec::new();
    }
    let mut qs: Vec<f64> = (1..100).map(|i| i as f64 / 100.0).collect();
    qs.extend([0.995, 0.999, 0.9995, 0.9999, 1.0]);
    qs.iter().map(|&q| ((h.value_at_quantile(q) as f64 / 1000.0).max(0.001), q)).collect()
}

/// Draws every plot of a comparison into `dir`; returns the files written (relative to `dir`).
pub fn compare_plots(dir: &Path, summary: &Summary, results: &[(String, RunResult)]) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots)?;
    let rel = |name: String| PathBuf::from("plots").join(name);

    for (name, metric) in [("throughput.svg", &PER_NODE), ("throughput-per-cpu.svg", &PER_CPU)] {
        let f = rel(name.into());
        throughput_chart(&dir.join(&f), summary, metric)?;
        written.push(f);
    }

    let kind_of = |file: &str| summary.runs.iter().find(|r| r.file.as_deref() == Some(file)).map(|r| r.kind);
    let mut by_workload: BTreeMap<String, Vec<(&String, &RunResult)>> = BTreeMap::new();
    for (file, r) in results {
        by_workload.entry(r.workload.clone()).or_default().push((file, r));
    }
    for (workload, runs) in &by_workload {
        // Latency CDF of the common-rate runs.
        let cdf: Vec<Series> = runs
            .iter()
            .filter(|(f, _)| kind_of(f) == Some(RunKind::CommonRate))
            .map(|(_, r)| Series {
                name: format!("{} at {}/s", r.engine, fmt_value(r.offered_rate.unwrap_or(0.0))),
                color: engine_color(&r.engine),
                points: cdf_points(r),
                dashed: false,
            })
            .filter(|s| !s.points.is_empty())
            .collect();
        if !cdf.is_empty() {
            let f = rel(format!("latency-cdf-{workload}.svg"));
            line_chart(
                &dir.join(&f),
                &format!("{workload}: input latency CDF at a common rate"),
                Axis { label: "input latency (ms, log scale)", log: true },
                Axis { label: "fraction of inputs at or below", log: false },
                &cdf,
                &[],
            )?;
            written.push(f);
        }
        // p99 against offered rate.
        let mut per_engine: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
        for (_, r) in runs.iter().filter(|(_, r)| r.offered_rate.is_some() && r.correct) {
            if let Some(p99) = r.latency.input.p99_ms {
                per_engine.entry(&r.engine).or_default().push((r.offered_rate.unwrap_or(0.0), p99.max(0.001)));
            }
        }
        if !per_engine.is_empty() {
            let series: Vec<Series> = per_engine
                .into_iter()
                .map(|(e, mut pts)| {
                    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                    Series { name: format!("{e} input p99"), color: engine_color(e), points: pts, dashed: false }
                })
                .collect();
            let f = rel(format!("latency-vs-rate-{workload}.svg"));
            line_chart(
                &dir.join(&f),
                &format!("{workload}: input-latency p99 against offered rate"),
                Axis { label: "offered rate (records/s)", log: false },
                Axis { label: "input-latency p99 (ms, log scale)", log: true },
                &series,
                &[],
            )?;
            written.push(f);
        }
        // Timelines of the common-rate runs and of the runs with a fault.
        for (file, r) in runs.iter().filter(|(f, _)| matches!(kind_of(f), Some(RunKind::CommonRate | RunKind::Fault))) {
            let suffix = if kind_of(file) == Some(RunKind::Fault) { "-fault" } else { "" };
            let f = rel(format!("timeline-{}-{workload}{suffix}.svg", r.engine));
            timeline_chart(&dir.join(&f), r)?;
            written.push(f);
        }
    }
    Ok(written)
}

/// A run's timeline: records/s (top) and input-latency p99 (bottom) per interval, faults marked
/// where they took effect.
pub fn timeline_chart(path: &Path, r: &RunResult) -> Result<()> {
    let markers: Vec<(f64, String)> = r
        .config
        .faults
        .iter()
        .map(|f| {
            let at = match f {
                workloads::Fault::KillWorker { at_ns, .. }
                | workloads::Fault::KillProcess { at_ns, .. }
                | workloads::Fault::SlowWorker { at_ns, .. } => *at_ns,
            };
            (at as f64 / 1e9, "fault".to_owned())
        })
        .collect();
    let root = SVGBackend::new(path, (900, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let (top, bottom) = root.split_vertically(320);
    // Points sit at the middle of their interval.
    let half = r.timeline.get(1).map(|t| t.t_s / 2.0).unwrap_or(0.5);
    let title = format!("{} {}: timeline", r.engine, r.workload);
    for (area, (label, values, caption)) in [top, bottom].iter().zip([
        ("input records/s", r.timeline.iter().map(|t| (t.t_s, t.records_per_sec)).collect::<Vec<_>>(), title.clone()),
        // Intervals without samples have no latency (not a latency of 0).
        (
            "input-latency p99 (ms)",
            r.timeline.iter().filter_map(|t| Some((t.t_s, t.input_p99_ms?))).collect::<Vec<_>>(),
            String::new(),
        ),
    ]) {
        let x1 = values.iter().map(|v| v.0).fold(1.0, f64::max) + 1.0;
        let y1 = values.iter().map(|v| v.1).fold(1e-3, f64::max) * 1.15;
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..x1, 0.0..y1)
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .x_desc("time since start (s)")
            .y_desc(label)
            .y_label_formatter(&|v| fmt_value(*v))
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        let c = engine_color(&r.engine);
        chart
            .draw_series(LineSeries::new(values.iter().map(|v| (v.0 + half, v.1)), c.stroke_width(2)).point_size(2))
            .map_err(|e| anyhow!("{e}"))?
            .label(format!("{} {label}", r.engine))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        for (mx, text) in &markers {
            chart
                .draw_series(DashedLineSeries::new(vec![(*mx, 0.0), (*mx, y1)], 4, 4, BLACK.stroke_width(1)))
                .map_err(|e| anyhow!("{e}"))?;
            chart
                .draw_series(std::iter::once(Text::new(text.clone(), (*mx, y1 * 0.95), ("sans-serif", 14))))
                .map_err(|e| anyhow!("{e}"))?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    }
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}
