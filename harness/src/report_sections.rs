//! The report's sections beyond throughput, latency at fixed rates and recovery: the micro-batch
//! engine's latency against its batch interval, event-time accuracy against disorder, and
//! scaling with workers and processes; and the plots each section shows.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::run_kind::RunKind;
use crate::summary::{Summary, SummaryRun};

/// Shows the plots among `plots` whose names start with one of `prefixes`.
pub fn embed(md: &mut String, plots: &[PathBuf], prefixes: &[&str]) {
    for p in plots {
        let name = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if prefixes.iter().any(|x| name.starts_with(x)) {
            let _ = writeln!(*md, "![{name}]({})\n", p.display());
        }
    }
}

fn runs(summary: &Summary, kind: RunKind) -> impl Iterator<Item = &SummaryRun> {
    summary.runs.iter().filter(move |r| r.kind == kind)
}

fn yes(r: &SummaryRun) -> &'static str {
    if r.correct {
        "yes"
    } else {
        "**no**"
    }
}

/// The micro-batch engine at one rate with batch intervals from 10 ms to 2 s, the native engine
/// at the same rate beside it.
pub fn batch_interval(md: &mut String, summary: &Summary, plots: &[PathBuf]) {
    let sweep: Vec<&SummaryRun> = runs(summary, RunKind::BatchInterval).collect();
    let Some(first) = sweep.first() else { return };
    let _ = writeln!(*md, "\n## Micro-batch latency against the batch interval\n");
    let _ = writeln!(
        *md,
        "{} at {:.0} records/s. The native engine's run at the same rate is its line.\n",
        first.workload,
        first.offered_rate.unwrap_or(0.0)
    );
    let _ = writeln!(*md, "| engine | batch interval ms | records/s | input p50 | input p99 | input n | output p99 | output n | correct |");
    let _ = writeln!(*md, "|---|---|---|---|---|---|---|---|---|");
    let native = summary.runs.iter().filter(|r| {
        r.engine == "native"
            && r.workload == first.workload
            && r.kind == RunKind::CommonRate
            && r.offered_rate == first.offered_rate
    });
    for r in sweep.iter().copied().chain(native) {
        let (i, o) = (&r.latency.input, &r.latency.output);
        let interval = if r.engine == "native" { "-".to_owned() } else { format!("{:.0}", r.batch_interval_ms) };
        let _ = writeln!(
            *md,
            "| {} | {interval} | {:.0} | {} | {} | {} | {} | {} | {} |",
            r.engine,
            r.records_per_sec,
            i.show(|l| l.p50_ms),
            i.show(|l| l.p99_ms),
            i.count,
            o.show(|l| l.p99_ms),
            o.count,
            yes(r)
        );
    }
    embed(md, plots, &["latency-vs-batch-interval"]);
}

/// Both engines at one rate with event-time disorder: which oracle judged them, and how close
/// their window results come to the event-time oracle.
pub fn disorder(md: &mut String, summary: &Summary, plots: &[PathBuf]) {
    let sweep: Vec<&SummaryRun> = runs(summary, RunKind::Disorder).collect();
    let Some(first) = sweep.first() else { return };
    let _ = writeln!(*md, "\n## Event-time accuracy against disorder\n");
    let _ = writeln!(*md, "{} at {:.0} records/s, each event's time up to the bound behind its arrival. `correct` is judged by the oracle of the engine's semantics; accuracy is the share of window results equal to the event-time oracle's.\n", first.workload, first.offered_rate.unwrap_or(0.0));
    let _ = writeln!(*md, "| engine | disorder ms | semantics | window results equal | mean relative count error | input p99 | input n | correct |");
    let _ = writeln!(*md, "|---|---|---|---|---|---|---|---|");
    for r in sweep {
        let (equal, error) = r.event_time_accuracy.map_or(("-".to_owned(), "-".to_owned()), |a| {
            (format!("{:.3} of {}", a.equal_share, a.results), format!("{:.4}", a.mean_relative_error))
        });
        let _ = writeln!(
            *md,
            "| {} | {:.0} | {} | {equal} | {error} | {} | {} | {} |",
            r.engine,
            r.disorder_ms,
            r.semantics.name(),
            r.latency.input.show(|l| l.p99_ms),
            r.latency.input.count,
            yes(r)
        );
    }
    embed(md, plots, &["accuracy-vs-disorder"]);
}

/// Throughput at max on 1 worker, on every worker of one process, and on a process per worker.
pub fn scaling(md: &mut String, summary: &Summary, plots: &[PathBuf]) {
    let scaled: Vec<&SummaryRun> = runs(summary, RunKind::Scaling).collect();
    let Some(first) = scaled.first() else { return };
    let _ = writeln!(*md, "\n## Scaling with workers and processes\n");
    let _ = writeln!(
        *md,
        "{} at max. Processes run on loopback (`streambench cluster`); records/s is the total of every process.\n",
        first.workload
    );
    let _ = writeln!(
        *md,
        "| engine | processes x workers | records/s | records/s per node | records per CPU-s | correct |"
    );
    let _ = writeln!(*md, "|---|---|---|---|---|---|");
    let main = summary.runs.iter().filter(|r| r.workload == first.workload && r.kind == RunKind::Max);
    let mut all: Vec<&SummaryRun> = scaled.iter().copied().chain(main).collect();
    all.sort_by_key(|r| (r.engine.clone(), r.processes, r.workers));
    for r in all {
        let _ = writeln!(
            *md,
            "| {} | {} x {} | {:.0} | {:.0} | {:.0} | {} |",
            r.engine,
            r.processes,
            r.workers,
            r.records_per_sec,
            r.records_per_sec_per_node,
            r.records_per_cpu_second,
            yes(r)
        );
    }
    embed(md, plots, &["scaling"]);
}
