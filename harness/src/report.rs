//! Human-readable summaries of results.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::report_sections::embed;
use crate::result::RunResult;
use crate::run_kind::RunKind;
use crate::summary::Summary;

/// One line: engine, workload, throughput, latency and correctness.
pub fn one_line(r: &RunResult) -> String {
    format!(
        "{} {}: {:.0} records/s ({:.0}/node, {:.0}/CPU-s), input latency p50 {} p99 {} ms (n={}), output latency p99 {} ms (n={}), {}",
        r.engine,
        r.workload,
        r.throughput.records_per_sec,
        r.throughput.records_per_sec_per_node,
        r.resources.records_per_cpu_second,
        r.latency.input.show(|l| l.p50_ms),
        r.latency.input.show(|l| l.p99_ms),
        r.latency.input.count,
        r.latency.output.show(|l| l.p99_ms),
        r.latency.output.count,
        if r.correct { "correct".to_owned() } else { format!("INCORRECT: {}", r.verification) }
    )
}

/// Writes `report.md`: the machine, the headline tables and every plot.
pub fn write_report(
    dir: &Path,
    summary: &Summary,
    results: &[(String, RunResult)],
    plots: &[PathBuf],
) -> anyhow::Result<()> {
    let mut md = String::new();
    header(&mut md, summary, results);
    if summary.runs.iter().any(|r| r.kind == RunKind::Max) {
        throughput(&mut md, summary);
        embed(&mut md, plots, &["throughput"]);
    }
    if summary.runs.iter().any(|r| matches!(r.kind, RunKind::CommonRate | RunKind::HalfMax)) {
        latency(&mut md, summary);
        embed(&mut md, plots, &["latency-cdf", "latency-vs-rate"]);
    }
    crate::report_sections::batch_interval(&mut md, summary, plots);
    crate::report_sections::disorder(&mut md, summary, plots);
    recovery(&mut md, results);
    checkpoint_cost(&mut md, results);
    embed(&mut md, plots, &["timeline-microbatch-wordcount-fault", "timeline-native-wordcount-fault"]);
    crate::report_sections::scaling(&mut md, summary, plots);
    failed(&mut md, summary);
    plot_list(&mut md, plots);
    std::fs::write(dir.join("report.md"), md)?;
    Ok(())
}

/// The machine and how to reproduce the comparison.
fn header(md: &mut String, summary: &Summary, results: &[(String, RunResult)]) {
    let c = &summary.context;
    let _ = writeln!(*md, "# streambench comparison\n");
    if let Some(d) = &summary.description {
        let _ = writeln!(*md, "{d}\n");
    }
    let _ = writeln!(
        *md,
        "Machine: {} CPUs, {}; {} worker threads per engine, 1 process. streambench {} (git {}), timely {}, differential-dataflow {}.\n",
        c.cpus,
        c.os,
        c.workers,
        c.versions.get("streambench").map(String::as_str).unwrap_or("?"),
        c.git_revision,
        c.versions.get("timely").map(String::as_str).unwrap_or("?"),
        c.versions.get("differential-dataflow").map(String::as_str).unwrap_or("?"),
    );
    let first = results.first().map(|(_, r)| &r.config);
    if let Some(cfg) = first {
        let _ = writeln!(
            *md,
            "Reproduce with `{}`. Each run offers events for {:.1} s after which it drains; the first {:.1} s are warm-up, excluded from the figures. Every output of every run is checked against the oracle.\n",
            command(&c.arguments),
            cfg.duration_ns as f64 / 1e9,
            cfg.warmup_ns as f64 / 1e9
        );
    }
}

/// The command that made the summary, as typed (`streambench compare ...`).
pub(crate) fn command(arguments: &[String]) -> String {
    let args = arguments.iter().skip(1).map(|a| {
        if a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c)) {
            a.clone()
        } else {
            format!("'{}'", a.replace('\'', "'\\''"))
        }
    });
    std::iter::once("streambench".to_owned()).chain(args).collect::<Vec<_>>().join(" ")
}

/// Throughput at max rate, with the COST loop.
fn throughput(md: &mut String, summary: &Summary) {
    let _ = writeln!(*md, "## Throughput at max rate\n");
    let _ = writeln!(*md, "Per node and per CPU-second (user and system time of the whole run, from getrusage); peak resident memory of the process. The COST loop runs on one thread, so its records/s is also its records per CPU-second. Each engine's × COST is against a COST loop run right before it (its records/s in brackets); the COST loop row is the one run at the start.\n");
    let _ = writeln!(
        *md,
        "| workload | engine | records/s per node | × COST | records per CPU-s | CPU s | peak RSS MiB | correct |"
    );
    let _ = writeln!(*md, "|---|---|---|---|---|---|---|---|");
    for (workload, cost) in &summary.cost {
        let _ = writeln!(
            *md,
            "| {workload} | COST loop (1 thread) | {:.0} | 1.00 | {:.0} | | | |",
            cost.records_per_sec, cost.records_per_sec
        );
        for r in summary.runs.iter().filter(|r| &r.workload == workload && r.kind == RunKind::Max) {
            let _ = writeln!(
                *md,
                "| {workload} | {} | {:.0} | {} | {:.0} | {:.1} | {:.0} | {} |",
                r.engine,
                r.records_per_sec_per_node,
                match (r.cost_ratio, r.cost_records_per_sec) {
                    (Some(x), Some(c)) => format!("{x:.2} ({c:.0})"),
                    (Some(x), None) => format!("{x:.2}"),
                    _ => "-".into(),
                },
                r.records_per_cpu_second,
                r.cpu_seconds,
                r.peak_rss_bytes as f64 / (1 << 20) as f64,
                if r.correct { "yes".to_owned() } else { format!("**no**: {}", r.error.as_deref().unwrap_or("")) }
            );
        }
    }
}

/// Latency at the fixed rates: both families, each with its sample count.
fn latency(md: &mut String, summary: &Summary) {
    let _ = writeln!(*md, "\n## Latency at fixed rates\n");
    let _ = writeln!(*md, "Input latency: one sample per input record, from its scheduled time until the first output reflecting it was emitted (for a window job, the first window containing it). Output latency: one sample per output, its emission time minus its reference (a window's end; for an update or alert, the scheduled time of the input that caused it). Both in ms, computed by the shared observer for both engines; a percentile over fewer than {} samples is shown as n/a.\n", crate::result::MIN_SAMPLES);
    let _ = writeln!(*md, "| workload | engine | run | offered records/s | input p50 | input p99 | input p99.9 | input n | output p50 | output p99 | output n | correct |");
    let _ = writeln!(*md, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in summary.runs.iter().filter(|r| matches!(r.kind, RunKind::CommonRate | RunKind::HalfMax)) {
        let (i, o) = (&r.latency.input, &r.latency.output);
        let _ = writeln!(
            *md,
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.workload,
            r.engine,
            r.kind,
            r.offered_rate.unwrap_or(0.0),
            i.show(|l| l.p50_ms),
            i.show(|l| l.p99_ms),
            i.show(|l| l.p999_ms),
            i.count,
            o.show(|l| l.p50_ms),
            o.show(|l| l.p99_ms),
            o.count,
            if r.correct { "yes" } else { "**no**" }
        );
    }
}

/// The runs with a fault.
fn with_faults(results: &[(String, RunResult)]) -> Vec<&RunResult> {
    results.iter().filter(|(_, r)| !r.config.faults.is_empty()).map(|(_, r)| r).collect()
}

/// Recovery under the fault runs' faults.
fn recovery(md: &mut String, results: &[(String, RunResult)]) {
    let faulted = with_faults(results);
    if !faulted.is_empty() {
        let _ = writeln!(
            *md,
            "\n## Recovery under a fault
"
        );
        let checkpoint_ms = faulted.first().and_then(|r| r.config.checkpoint.interval_ns).unwrap_or(0) / 1_000_000;
        let _ = writeln!(*md, "The same fault in both engines, taking effect at its time (`effective at`, as each engine reported it). Recovery: from then until the input-latency p99 of an interval is back within the band (1.25 x its highest pre-fault value) and the p99 of every input of the {:.0} s from there, pooled, is within it too, at 100 ms resolution; catch-up: until the input p50 is back to its pre-fault level; delayed: the inputs whose latency exceeded the band. The micro-batch engine relaunches the lost executor empty and recomputes what it held from lineage; the native engine drops every worker's dataflow, restores the last committed snapshot and replays from its offsets. Both engines checkpoint every {checkpoint_ms} ms in these runs.\n", crate::recovery::SUSTAIN_S);
        let _ = writeln!(*md, "| workload | engine | fault | effective at s | recovery s | catch-up s | delayed inputs | peak p99 ms | band p99 ms | restored | outputs exact |");
        let _ = writeln!(*md, "|---|---|---|---|---|---|---|---|---|---|---|");
        for r in &faulted {
            for f in r.recovery.iter().flatten() {
                let s = |x: Option<f64>| x.map(|x| format!("{x:.2}")).unwrap_or_else(|| "not within the run".into());
                let restored = match &f.restore {
                    None => "relaunched, from lineage".to_owned(),
                    Some(x) => format!(
                        "{} in {:.1} ms, {} records replayed",
                        x.snapshot_epoch_s.map_or("from the start".to_owned(), |e| format!("snapshot at {e:.1} s")),
                        x.restore_ms,
                        x.replayed_records
                    ),
                };
                let _ = writeln!(
                    *md,
                    "| {} | {} | `{}` | {:.3} | {} | {} | {} | {:.1} | {:.1} | {} | {} |",
                    r.workload,
                    r.engine,
                    f.fault,
                    f.effective_at_s,
                    s(f.recovery_s),
                    s(f.catch_up_s),
                    f.delayed_records,
                    f.peak_p99_ms,
                    f.band_p99_ms,
                    restored,
                    if f.exact { "yes" } else { "**no**" }
                );
            }
        }
    }
}

/// What the fault runs' checkpoints cost each engine.
fn checkpoint_cost(md: &mut String, results: &[(String, RunResult)]) {
    let faulted = with_faults(results);
    if faulted.is_empty() {
        return;
    }
    let _ = writeln!(*md, "\nWhat checkpointing cost in these runs: state checkpoints taken (micro-batch cuts, native snapshots), metadata files (micro-batch, one per batch), bytes written by every worker, and the time spent writing them on the busiest worker (the pause).\n");
    let _ = writeln!(*md, "| workload | engine | state checkpoints | metadata files | MiB written | pause ms |");
    let _ = writeln!(*md, "|---|---|---|---|---|---|");
    for r in faulted {
        let c = &r.checkpoints;
        let _ = writeln!(
            *md,
            "| {} | {} | {} | {} | {:.2} | {:.1} |",
            r.workload,
            r.engine,
            c.taken,
            c.metadata,
            c.bytes as f64 / (1 << 20) as f64,
            c.pause_ns as f64 / 1e6
        );
    }
}

/// The runs that failed.
fn failed(md: &mut String, summary: &Summary) {
    let failed: Vec<_> = summary.runs.iter().filter(|r| r.file.is_none()).collect();
    if !failed.is_empty() {
        let _ = writeln!(*md, "\n## Runs that did not finish\n");
        for r in failed {
            let _ = writeln!(*md, "- {} {} ({}): {}", r.engine, r.workload, r.kind, r.error.as_deref().unwrap_or(""));
        }
    }
}

/// The plots no section showed (the timelines of the common-rate runs).
fn plot_list(md: &mut String, plots: &[PathBuf]) {
    let shown = [
        "throughput",
        "latency-",
        "accuracy-",
        "scaling",
        "timeline-microbatch-wordcount-fault",
        "timeline-native-wordcount-fault",
    ];
    let rest: Vec<PathBuf> = plots
        .iter()
        .filter(|p| !shown.iter().any(|x| p.file_stem().is_some_and(|s| s.to_string_lossy().starts_with(x))))
        .cloned()
        .collect();
    if !rest.is_empty() {
        let _ = writeln!(*md, "\n## Timelines\n");
        embed(md, &rest, &[""]);
    }
}
