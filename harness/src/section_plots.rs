//! The plots of the report's sections beyond throughput and latency at fixed rates: the
//! micro-batch engine's latency against its batch interval (with the native engine's line),
//! event-time accuracy against disorder, and throughput against workers and processes. Each is
//! drawn from the summary alone, so `streambench plot DIR` redraws it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::plot::{engine_color, line_chart, Axis, Series};
use crate::run_kind::RunKind;
use crate::summary::{Summary, SummaryRun};

fn series(name: String, engine: &str, mut points: Vec<(f64, f64)>, dashed: bool) -> Series {
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    Series { name, color: engine_color(engine), points, dashed }
}

fn of_kind(summary: &Summary, kind: RunKind) -> impl Iterator<Item = &SummaryRun> {
    summary.runs.iter().filter(move |r| r.kind == kind && r.correct)
}

/// Every plot of a comparison: those of `plot::compare_plots`, then the sections'; returns the
/// files (relative to `dir`).
pub fn all(dir: &Path, summary: &Summary, results: &[(String, crate::result::RunResult)]) -> Result<Vec<PathBuf>> {
    let mut written = crate::plot::compare_plots(dir, summary, results)?;
    written.extend(draw(dir, summary)?);
    Ok(written)
}

/// Draws every section plot the summary has runs for into `dir/plots`; returns the files
/// (relative to `dir`).
pub fn draw(dir: &Path, summary: &Summary) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let mut save = |name: &str, title: &str, x: Axis<'_>, y: Axis<'_>, lines: Vec<Series>| -> Result<()> {
        if lines.iter().any(|s| !s.points.is_empty()) {
            let f = PathBuf::from("plots").join(name);
            line_chart(&dir.join(&f), title, x, y, &lines, &[])?;
            written.push(f);
        }
        Ok(())
    };
    let (name, title, lines) = batch_interval(summary);
    let x = Axis { label: "batch interval (ms, log scale)", log: true };
    save(name, &title, x, Axis { label: "latency (ms, log scale)", log: true }, lines)?;
    let (name, title, lines) = disorder(summary);
    let y = Axis { label: "window results equal to the event-time oracle", log: false };
    save(name, &title, Axis { label: "disorder bound (ms)", log: false }, y, lines)?;
    let (name, title, lines) = scaling(summary);
    let y = Axis { label: "records/s (all processes)", log: false };
    save(name, &title, Axis { label: "worker threads in all", log: false }, y, lines)?;
    Ok(written)
}

/// Micro-batch input and output p99 against the batch interval; the native engine's input p99
/// at the same rate as a dashed line.
fn batch_interval(summary: &Summary) -> (&'static str, String, Vec<Series>) {
    let runs: Vec<&SummaryRun> = of_kind(summary, RunKind::BatchInterval).collect();
    let workload = runs.first().map(|r| r.workload.clone()).unwrap_or_default();
    let pick =
        |f: fn(&SummaryRun) -> Option<f64>| runs.iter().filter_map(|r| Some((r.batch_interval_ms, f(r)?))).collect();
    let mut lines = vec![
        series("microbatch input p99".into(), "microbatch", pick(|r| r.latency.input.p99_ms), false),
        series("microbatch output p99".into(), "microbatch", pick(|r| r.latency.output.p99_ms), true),
    ];
    let rate = runs.first().and_then(|r| r.offered_rate);
    let native = summary.runs.iter().find(|r| {
        r.engine == "native" && r.workload == workload && r.kind == RunKind::CommonRate && r.offered_rate == rate
    });
    if let (Some(n), Some(p99)) = (native, native.and_then(|n| n.latency.input.p99_ms)) {
        let xs = runs.iter().map(|r| r.batch_interval_ms);
        let (lo, hi) = (xs.clone().fold(f64::MAX, f64::min), xs.fold(0.0, f64::max));
        lines.push(series(format!("{} input p99", n.engine), "native", vec![(lo, p99), (hi, p99)], true));
    }
    let title =
        format!("{workload}: micro-batch latency against its batch interval, at {:.0} records/s", rate.unwrap_or(0.0));
    ("latency-vs-batch-interval.svg", title, lines)
}

/// The share of window results equal to the event-time oracle against the disorder bound.
fn disorder(summary: &Summary) -> (&'static str, String, Vec<Series>) {
    let mut per_engine: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    let mut workload = String::new();
    for r in of_kind(summary, RunKind::Disorder) {
        workload.clone_from(&r.workload);
        if let Some(a) = r.event_time_accuracy {
            per_engine.entry(&r.engine).or_default().push((r.disorder_ms, a.equal_share));
        }
    }
    let lines = per_engine.into_iter().map(|(e, pts)| series(e.to_owned(), e, pts, false)).collect();
    ("accuracy-vs-disorder.svg", format!("{workload}: event-time accuracy against disorder"), lines)
}

/// Records/s at max against the worker threads in all: one process (1 and N workers), and
/// processes of one worker each (dashed).
fn scaling(summary: &Summary) -> (&'static str, String, Vec<Series>) {
    let mut lines = Vec::new();
    let runs: Vec<&SummaryRun> = of_kind(summary, RunKind::Scaling).collect();
    let workload = runs.first().map(|r| r.workload.clone()).unwrap_or_default();
    let mut engines: Vec<&str> = runs.iter().map(|r| r.engine.as_str()).collect();
    engines.dedup();
    for e in engines {
        let total = |r: &SummaryRun| (r.workers * r.processes) as f64;
        let max = summary.runs.iter().filter(|r| r.engine == e && r.workload == workload && r.kind == RunKind::Max);
        let one: Vec<(f64, f64)> = runs
            .iter()
            .filter(|r| r.engine == e && r.processes == 1)
            .copied()
            .chain(max)
            .map(|r| (total(r), r.records_per_sec))
            .collect();
        let many: Vec<(f64, f64)> =
            runs.iter().filter(|r| r.engine == e && r.processes > 1).map(|r| (total(r), r.records_per_sec)).collect();
        lines.push(series(format!("{e}, one process"), e, one, false));
        lines.push(series(format!("{e}, a process per worker"), e, many, true));
    }
    ("scaling.svg", format!("{workload}: throughput at max against workers and processes"), lines)
}
