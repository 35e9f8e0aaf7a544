//! The result of one run, as written to JSON: what was run (the full config and its context),
//! what it achieved (throughput, latency percentiles and histogram, timeline), and whether its
//! output was right.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use workloads::{RunReport, RunSpec};

/// Where and how a run happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// The git revision the binary was built from (`-dirty` with uncommitted changes).
    pub git_revision: String,
    /// Versions of streambench and of the main dependencies.
    pub versions: BTreeMap<String, String>,
    /// CPUs available to the process.
    pub cpus: usize,
    /// Processes in the run.
    pub processes: usize,
    /// Worker threads per process.
    pub workers: usize,
    /// The command line.
    pub arguments: Vec<String>,
    /// When the run started, seconds since the Unix epoch.
    pub started_unix_s: u64,
    /// The operating system.
    pub os: String,
}

impl Context {
    /// The context of a run of `spec` started now.
    pub fn now(spec: &RunSpec) -> Self {
        let mut versions = BTreeMap::from([("streambench".to_owned(), env!("CARGO_PKG_VERSION").to_owned())]);
        for pair in env!("STREAMBENCH_DEP_VERSIONS").split(',').filter(|p| !p.is_empty()) {
            if let Some((k, v)) = pair.split_once('=') {
                versions.insert(k.to_owned(), v.to_owned());
            }
        }
        Self {
            git_revision: env!("STREAMBENCH_GIT_REV").to_owned(),
            versions,
            cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            processes: spec.cluster.processes,
            workers: spec.cluster.workers,
            arguments: std::env::args().collect(),
            started_unix_s: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            os: std::env::consts::OS.to_owned(),
        }
    }
}

/// Input records per second over the measured window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Input records whose effect reached the output, per second.
    pub records_per_sec: f64,
    /// The same, divided by the number of processes.
    pub records_per_sec_per_node: f64,
    /// The measured window: from the end of the warm-up until the last input was processed.
    pub measured_seconds: f64,
}

/// Latency percentiles in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
    /// Outputs measured.
    pub count: u64,
}

impl Percentiles {
    /// The percentiles of a histogram in µs.
    pub fn of(h: &hdrhistogram::Histogram<u64>) -> Self {
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        if h.is_empty() {
            return Self::default();
        }
        Self {
            p50: ms(0.5),
            p90: ms(0.9),
            p99: ms(0.99),
            p999: ms(0.999),
            max: h.max() as f64 / 1000.0,
            count: h.len(),
        }
    }
}

/// One interval of the timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// The interval's start, s from the start of the run.
    pub t_s: f64,
    /// Input records per second in the interval.
    pub records_per_sec: f64,
    /// Outputs in the interval.
    pub outputs: u64,
    /// Median latency of the interval's outputs, ms.
    pub p50_ms: f64,
    /// 99th percentile latency of the interval's outputs, ms.
    pub p99_ms: f64,
}

/// Micro-batch delay statistics over the batches after the warm-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchStats {
    /// Batches.
    pub batches: u64,
    /// Total delay (scheduling + processing), ms.
    pub total_delay_ms: Percentiles,
    /// Scheduling delay, ms.
    pub scheduling_delay_ms: Percentiles,
    /// Processing delay, ms.
    pub processing_delay_ms: Percentiles,
}

/// Precision and recall of the sensor alerts against the injected anomalies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Alerts that are labelled anomalies, over all alerts.
    pub precision: f64,
    /// Labelled anomalies alerted, over all labelled anomalies.
    pub recall: f64,
}

/// The result of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// `native` or `microbatch`.
    pub engine: String,
    /// The workload.
    pub workload: String,
    /// The full run configuration.
    pub config: RunSpec,
    /// Where and how it ran.
    pub context: Context,
    /// The offered rate (events/s), `null` at `max`.
    pub offered_rate: Option<f64>,
    /// Input records ingested.
    pub input_records: u64,
    /// Outputs produced.
    pub output_records: u64,
    /// Throughput over the measured window.
    pub throughput: Throughput,
    /// Event-time latency percentiles (after the warm-up), ms.
    pub latency_ms: Percentiles,
    /// The latency histogram (µs), hdrhistogram V2 serialisation in base64.
    pub histogram: String,
    /// Per-second records/s and latency.
    pub timeline: Vec<TimelinePoint>,
    /// Whether the outputs equal the oracle's.
    pub correct: bool,
    /// The verification's message.
    pub verification: String,
    /// Malformed input records (socket sources).
    pub malformed: u64,
    /// Examples of malformed records.
    pub malformed_examples: Vec<String>,
    /// Micro-batch statistics; `null` for the native engine.
    pub batches: Option<BatchStats>,
    /// Sensor alert quality; `null` for other workloads.
    pub quality: Option<Quality>,
    /// Recovery under each injected fault; `null` without one.
    pub recovery: Option<Vec<Recovery>>,
}

/// How a run came through one injected fault, read off its timeline. The fault's latency band
/// is the highest per-interval p99 between the warm-up and the fault, plus a quarter (intervals
/// differ that much without any fault).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    /// The fault, as given on the command line.
    pub fault: String,
    /// When it was injected, s from the start.
    pub at_s: f64,
    /// The band: 1.25 x the highest per-interval p99 before the fault, ms.
    pub band_p99_ms: f64,
    /// From the fault until the p99 of fresh outputs is within the band and stays there to the
    /// end of the run, s (timeline resolution); `null` when it never does.
    pub recovery_s: Option<f64>,
    /// From the fault to the first interval with outputs, s; `null` if none followed.
    pub first_output_after_s: Option<f64>,
    /// The highest per-interval p99 from the fault on, ms.
    pub peak_p99_ms: f64,
    /// The outputs still equal the oracle: nothing was lost or duplicated.
    pub exact: bool,
    /// Native engine: how every worker restored (absent for the micro-batch engine, which
    /// recomputes lost partitions from lineage instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<RestoreSummary>,
}

/// What the native engine's workers did after one `kill-worker` fault.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RestoreSummary {
    /// The epoch of the snapshot restored (event time, s); `null`: none was committed, the job
    /// started again from the beginning of its input.
    pub snapshot_epoch_s: Option<f64>,
    /// Newer snapshots passed over, and why.
    pub skipped: Vec<String>,
    /// The slowest worker's restore: from dropping its dataflow to running the restored one, ms.
    pub restore_ms: f64,
    /// Input records read again (after the snapshot's offsets, read before the fault).
    pub replayed_records: u64,
    /// Outputs after the snapshot, written again by the replay (a store keyed by output
    /// overwrites them, so none is duplicated).
    pub rewritten_outputs: u64,
}

/// The native restores in `report`, one summary per `kill-worker` fault, in the order of
/// `faults` (`None` for other faults, or when the engine reported no restore).
fn restores(faults: &[workloads::Fault], report: &RunReport) -> Vec<Option<RestoreSummary>> {
    // Restores number the kills in the order they come due.
    let mut kills: Vec<(u64, usize)> = faults
        .iter()
        .enumerate()
        .filter_map(|(i, f)| match f {
            workloads::Fault::KillWorker { at_ns, .. } => Some((*at_ns, i)),
            _ => None,
        })
        .collect();
    kills.sort_unstable();
    let mut out = vec![None; faults.len()];
    for (k, &(_, i)) in kills.iter().enumerate() {
        let mine: Vec<_> = report.native.restores.iter().filter(|r| r.fault == k).collect();
        let Some(first) = mine.first() else { continue };
        out[i] = Some(RestoreSummary {
            snapshot_epoch_s: first.epoch_ns.map(|e| e as f64 / 1e9),
            skipped: first.skipped.clone(),
            restore_ms: mine.iter().map(|r| r.took_ns).max().unwrap_or(0) as f64 / 1e6,
            replayed_records: mine.iter().map(|r| r.replayed_inputs).sum(),
            rewritten_outputs: mine.iter().map(|r| r.rewritten_outputs).sum(),
        });
    }
    out
}

/// The effect of each of `faults` on `timeline` (intervals of `interval_s`).
pub fn recoveries(
    faults: &[workloads::Fault],
    timeline: &[TimelinePoint],
    interval_s: f64,
    warmup_s: f64,
    exact: bool,
) -> Option<Vec<Recovery>> {
    use workloads::Fault;
    if faults.is_empty() {
        return None;
    }
    let effect = |fault: &Fault| {
        let (at_ns, text) = match *fault {
            Fault::KillWorker { worker, at_ns } => (at_ns, format!("kill-worker:{worker}@{}ms", at_ns / 1_000_000)),
            Fault::KillProcess { process, at_ns } => (at_ns, format!("kill-process:{process}@{}ms", at_ns / 1_000_000)),
            Fault::SlowWorker { worker, at_ns, for_ns, factor } => {
                (at_ns, format!("slow-worker:{worker}@{}ms+{}ms*{factor}", at_ns / 1_000_000, for_ns / 1_000_000))
            }
        };
        let at = at_ns as f64 / 1e9;
        let before = timeline.iter().filter(|p| p.t_s >= warmup_s && p.t_s + interval_s <= at && p.outputs > 0);
        let band = 1.25 * before.map(|p| p.p99_ms).fold(0.0, f64::max);
        // Intervals that end after the fault.
        let after: Vec<&TimelinePoint> = timeline.iter().filter(|p| p.t_s + interval_s > at && p.outputs > 0).collect();
        let settled = after.iter().rposition(|p| p.p99_ms > band).map_or(0, |i| i + 1);
        Recovery {
            fault: text,
            at_s: at,
            band_p99_ms: band,
            recovery_s: after.get(settled).filter(|_| band > 0.0).map(|p| (p.t_s - at).max(0.0)),
            first_output_after_s: after.first().map(|p| (p.t_s - at).max(0.0)),
            peak_p99_ms: after.iter().map(|p| p.p99_ms).fold(0.0, f64::max),
            exact,
            restore: None,
        }
    };
    Some(faults.iter().map(effect).collect())
}

/// Input records per second over the measured window, and that window's length, s: from the
/// warm-up until the last input was processed (not the empty batches that only close windows).
pub fn throughput(spec: &RunSpec, report: &RunReport) -> (f64, f64) {
    let end = if report.inputs_done_ns > 0 { report.inputs_done_ns } else { report.finished_ns };
    let warmup = spec.warmup_ns.min(end);
    let measured = (end - warmup) as f64 / 1e9;
    (if measured > 0.0 { report.inputs_measured as f64 / measured } else { 0.0 }, measured)
}

/// Builds the result of a finished run from its (merged) report and verdict.
pub fn summarize(
    engine: &str,
    spec: &RunSpec,
    report: &RunReport,
    verdict: &workloads::verdict::Verdict,
    quality: Option<Quality>,
    context: Context,
) -> RunResult {
    let (rps, measured) = throughput(spec, report);
    let tl = report.timeline_ns as f64 / 1e9;
    let timeline: Vec<TimelinePoint> = report
        .timeline
        .iter()
        .enumerate()
        .map(|(i, b)| TimelinePoint {
            t_s: i as f64 * tl,
            // The last interval may be cut short by the end of the run.
            records_per_sec: b.inputs as f64 / (report.finished_ns as f64 / 1e9 - i as f64 * tl).clamp(1e-3, tl),
            outputs: b.outputs,
            p50_ms: if b.latency_us.is_empty() { 0.0 } else { b.latency_us.value_at_quantile(0.5) as f64 / 1000.0 },
            p99_ms: if b.latency_us.is_empty() { 0.0 } else { b.latency_us.value_at_quantile(0.99) as f64 / 1000.0 },
        })
        .collect();
    let mut recovery = recoveries(&spec.faults, &timeline, tl, spec.warmup_ns as f64 / 1e9, verdict.correct);
    for (r, restore) in recovery.iter_mut().flatten().zip(restores(&spec.faults, report)) {
        r.restore = restore;
    }
    let batches = (!report.microbatch.batches.is_empty()).then(|| {
        let measured: Vec<_> =
            report.microbatch.batches.iter().filter(|b| b.batch_time_ms * 1_000_000 >= spec.warmup_ns).collect();
        let stats = |f: &dyn Fn(&workloads::contract::BatchInfo) -> f64| {
            let mut h = workloads::histo::fine();
            for b in &measured {
                h.saturating_record((f(b) * 1000.0).max(0.0) as u64);
            }
            Percentiles::of(&h)
        };
        BatchStats {
            batches: measured.len() as u64,
            total_delay_ms: stats(&|b| b.total_delay_ms),
            scheduling_delay_ms: stats(&|b| b.scheduling_delay_ms),
            processing_delay_ms: stats(&|b| b.processing_delay_ms),
        }
    });
    RunResult {
        engine: engine.to_owned(),
        workload: spec.job.workload().name().to_owned(),
        config: spec.clone(),
        context,
        offered_rate: (!spec.profile.is_max()).then(|| spec.profile.mean_rate(spec.duration_ns)),
        input_records: report.inputs,
        output_records: report.outputs.len(),
        throughput: Throughput {
            records_per_sec: rps,
            records_per_sec_per_node: rps / spec.cluster.processes as f64,
            measured_seconds: measured,
        },
        latency_ms: Percentiles::of(&report.latency_us),
        histogram: workloads::histo::encode(&report.latency_us),
        timeline,
        correct: verdict.correct,
        verification: verdict.message.clone(),
        malformed: report.malformed,
        malformed_examples: report.malformed_examples.clone(),
        batches,
        quality,
        recovery,
    }
}
