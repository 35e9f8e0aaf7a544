//! `summary.json` (every run of a comparison with its headline figures and the COST loop) and
//! `streambench check`, the CI gate that compares a summary with a committed baseline.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::result::{Context, Latencies, RunResult};
use crate::run_kind::RunKind;

/// The COST loop of one workload, measured in the same comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostEntry {
    /// Records processed.
    pub records: u64,
    /// Records per second on one thread.
    pub records_per_sec: f64,
}

/// One run of a comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SummaryRun {
    /// `native` or `microbatch`.
    pub engine: String,
    /// The workload.
    pub workload: String,
    /// Which run of the comparison: `max`, `common-rate` or `half-max`.
    pub kind: RunKind,
    /// The run's JSON, relative to the summary.
    pub file: Option<String>,
    /// The offered rate, `null` at `max`.
    pub offered_rate: Option<f64>,
    /// Whether the run finished and its outputs equal the oracle's.
    pub correct: bool,
    /// Why the run failed, if it did.
    pub error: Option<String>,
    /// Input records per second.
    pub records_per_sec: f64,
    /// Input records per second per node.
    pub records_per_sec_per_node: f64,
    /// Throughput as a ratio to the COST loop run right before it (a `max` run; other runs: the
    /// comparison's first COST loop).
    pub cost_ratio: Option<f64>,
    /// That COST loop's records per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_records_per_sec: Option<f64>,
    /// Both latency families, ms, with their counts.
    pub latency: Latencies,
    /// Which oracle judged `correct`.
    #[serde(default)]
    pub semantics: workloads::verdict::Semantics,
    /// How the window results compare with the event-time oracle's (window jobs).
    #[serde(default)]
    pub event_time_accuracy: Option<workloads::verdict::Accuracy>,
    /// Latency measured from when the source read each record (`--rate max`).
    #[serde(default)]
    pub closed_loop: bool,
    /// CPU seconds of the run.
    #[serde(default)]
    pub cpu_seconds: f64,
    /// Input records per CPU-second.
    #[serde(default)]
    pub records_per_cpu_second: f64,
    /// Peak resident bytes.
    #[serde(default)]
    pub peak_rss_bytes: u64,
    /// Processes and worker threads per process.
    #[serde(default)]
    pub processes: usize,
    /// Worker threads per process.
    #[serde(default)]
    pub workers: usize,
    /// The micro-batch engine's batch interval, ms.
    #[serde(default)]
    pub batch_interval_ms: f64,
    /// The event-time disorder bound, ms.
    #[serde(default)]
    pub disorder_ms: f64,
    /// Micro-batch total delay p99, ms.
    pub batch_total_delay_p99_ms: Option<f64>,
}

impl SummaryRun {
    /// The summary line of a finished run.
    pub fn of(kind: RunKind, file: Option<String>, r: &RunResult, cost: Option<&CostEntry>) -> Self {
        Self {
            engine: r.engine.clone(),
            workload: r.workload.clone(),
            kind,
            file,
            offered_rate: r.offered_rate,
            correct: r.correct,
            error: (!r.correct).then(|| r.verification.clone()),
            records_per_sec: r.throughput.records_per_sec,
            records_per_sec_per_node: r.throughput.records_per_sec_per_node,
            cost_ratio: cost.map(|c| r.throughput.records_per_sec_per_node / c.records_per_sec),
            cost_records_per_sec: cost.map(|c| c.records_per_sec),
            latency: r.latency.clone(),
            processes: r.config.cluster.processes,
            workers: r.config.cluster.workers,
            batch_interval_ms: r.config.microbatch.batch_interval_ns as f64 / 1e6,
            disorder_ms: r.config.disorder_ns as f64 / 1e6,
            closed_loop: r.closed_loop,
            semantics: r.semantics,
            event_time_accuracy: r.event_time_accuracy,
            cpu_seconds: r.resources.cpu_seconds,
            records_per_cpu_second: r.resources.records_per_cpu_second,
            peak_rss_bytes: r.resources.peak_rss_bytes,
            batch_total_delay_p99_ms: r.batches.as_ref().map(|b| b.total_delay_ms.p99),
        }
    }

    /// The summary line of a run that failed to finish.
    pub fn failed(engine: &str, workload: &str, kind: RunKind, error: String) -> Self {
        Self {
            engine: engine.to_owned(),
            workload: workload.to_owned(),
            kind,
            file: None,
            offered_rate: None,
            correct: false,
            error: Some(error),
            records_per_sec: 0.0,
            records_per_sec_per_node: 0.0,
            cost_ratio: None,
            cost_records_per_sec: None,
            latency: Latencies::default(),
            processes: 0,
            workers: 0,
            batch_interval_ms: 0.0,
            disorder_ms: 0.0,
            closed_loop: false,
            semantics: workloads::verdict::Semantics::EventTime,
            event_time_accuracy: None,
            cpu_seconds: 0.0,
            records_per_cpu_second: 0.0,
            peak_rss_bytes: 0,
            batch_total_delay_p99_ms: None,
        }
    }
}

/// A comparison's summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Where and how the comparison ran.
    pub context: Context,
    /// Whether it was a `--quick` comparison.
    pub quick: bool,
    /// What the experiment shows (its file's `description`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The COST loop per workload.
    pub cost: BTreeMap<String, CostEntry>,
    /// Every run.
    pub runs: Vec<SummaryRun>,
}

impl Summary {
    /// Reads a summary (or a baseline, which is a summary).
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not a streambench summary", path.display()))
    }
}

/// The verdict on one (engine, workload).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Faster than the baseline beyond the tolerance.
    Faster,
    /// Slower beyond the tolerance: a regression.
    Slower,
    /// Within the tolerance.
    NoChange,
    /// A run failed or was incorrect (in the summary or the baseline), or is missing.
    Incomparable,
}

impl Change {
    fn word(self) -> &'static str {
        match self {
            Change::Faster => "faster",
            Change::Slower => "slower",
            Change::NoChange => "no change",
            Change::Incomparable => "incomparable",
        }
    }
}

/// The outcome of a check: one line per (engine, workload) and whether CI should pass.
#[derive(Clone, Debug)]
pub struct CheckOutcome {
    /// Human-readable lines.
    pub lines: Vec<String>,
    /// The verdicts.
    pub changes: Vec<(String, String, Change)>,
    /// Whether the gate passes.
    pub pass: bool,
}

/// Compares each (engine, workload) max-rate throughput, as a ratio to the COST loop of the
/// same comparison, with the baseline's. Fails on a regression beyond `tolerance` and on any
/// incorrect run in the summary.
pub fn check(baseline: &Summary, summary: &Summary, tolerance: f64) -> CheckOutcome {
    let mut lines = Vec::new();
    let mut changes = Vec::new();
    let mut pass = true;
    for bad in summary.runs.iter().filter(|r| !r.correct) {
        pass = false;
        lines.push(format!(
            "INCORRECT {} {} ({}): {}",
            bad.engine,
            bad.workload,
            bad.kind,
            bad.error.as_deref().unwrap_or("failed")
        ));
    }
    let max_runs = |s: &Summary| -> BTreeMap<(String, String), SummaryRun> {
        s.runs
            .iter()
            .filter(|r| r.kind == RunKind::Max)
            .map(|r| ((r.engine.clone(), r.workload.clone()), r.clone()))
            .collect()
    };
    let base = max_runs(baseline);
    let now = max_runs(summary);
    for ((engine, workload), b) in &base {
        let (change, detail) = match now.get(&(engine.clone(), workload.clone())) {
            None => (Change::Incomparable, "not in the summary".to_owned()),
            Some(n) if !n.correct => (Change::Incomparable, "the run failed or was incorrect".to_owned()),
            Some(_) if !b.correct => (Change::Incomparable, "the baseline run failed or was incorrect".to_owned()),
            Some(n) => match (b.cost_ratio, n.cost_ratio) {
                (Some(old), Some(new)) if old > 0.0 => {
                    let rel = new / old - 1.0;
                    let c = if rel < -tolerance {
                        Change::Slower
                    } else if rel > tolerance {
                        Change::Faster
                    } else {
                        Change::NoChange
                    };
                    (c, format!("{new:.3}x COST, baseline {old:.3}x ({:+.1}%)", rel * 100.0))
                }
                _ => (Change::Incomparable, "no COST ratio".to_owned()),
            },
        };
        if matches!(change, Change::Slower | Change::Incomparable) {
            pass = false;
        }
        lines.push(format!("{:<12} {engine} {workload}: {detail}", change.word()));
        changes.push((engine.clone(), workload.clone(), change));
    }
    for key in now.keys().filter(|k| !base.contains_key(*k)) {
        lines.push(format!("{:<12} {} {}: not in the baseline", "new", key.0, key.1));
    }
    lines.push(if pass { "check passed".into() } else { "check FAILED".into() });
    CheckOutcome { lines, changes, pass }
}
