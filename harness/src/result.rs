//! The result of one run, as written to JSON: what was run (the full config and its context),
//! what it achieved (throughput, latency percentiles and histogram, timeline), and whether its
//! output was right.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use workloads::{RunReport, RunSpec};

use crate::recovery::{recoveries, restores, Recovery};
use crate::timeline::TimelinePoint;

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

/// Fewer samples than this give no percentile: `null` in JSON, `n/a (n=K)` in tables.
pub const MIN_SAMPLES: u64 = 100;

/// One latency family's percentiles, ms, and how many samples they come from. A percentile over
/// fewer than [`MIN_SAMPLES`] samples is not a number: `null`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_ms: Option<f64>,
    /// 90th percentile.
    pub p90_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// 99.9th percentile.
    pub p999_ms: Option<f64>,
    /// Largest.
    pub max_ms: Option<f64>,
}

impl Latency {
    /// The percentiles of a histogram in µs.
    pub fn of(h: &hdrhistogram::Histogram<u64>) -> Self {
        let p = Percentiles::of(h);
        let ok = |v: f64| (h.len() >= MIN_SAMPLES).then_some(v);
        Self {
            count: h.len(),
            p50_ms: ok(p.p50),
            p90_ms: ok(p.p90),
            p99_ms: ok(p.p99),
            p999_ms: ok(p.p999),
            max_ms: ok(p.max),
        }
    }

    /// A percentile for a table: `12.34`, or `n/a (n=K)` below [`MIN_SAMPLES`].
    pub fn show(&self, pick: fn(&Latency) -> Option<f64>) -> String {
        match pick(self) {
            Some(v) => format!("{v:.2}"),
            None => format!("n/a (n={})", self.count),
        }
    }
}

/// Both latency families of a run (after the warm-up), computed by the shared observer from what
/// the engine reported.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Latencies {
    /// One sample per input record: from its scheduled time (at `max`, when its source read it)
    /// until the first output reflecting it was emitted (for a window job, the first window
    /// containing it).
    pub input: Latency,
    /// One sample per output (update, window result, alert): its emission time minus its
    /// reference (a window's end; the scheduled time of the input that caused an update or alert).
    pub output: Latency,
}

/// The latency histograms (µs), hdrhistogram V2 serialisation in base64.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Histograms {
    /// Input latency.
    pub input: String,
    /// Output latency.
    pub output: String,
}

/// What the run cost: CPU and memory of its processes, and throughput per CPU-second.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceUse {
    /// User plus system CPU seconds over the whole run (warm-up included).
    pub cpu_seconds: f64,
    /// User CPU seconds.
    pub user_seconds: f64,
    /// System CPU seconds.
    pub system_seconds: f64,
    /// Peak resident bytes (summed over the processes).
    pub peak_rss_bytes: u64,
    /// Input records per CPU-second (all inputs over all CPU time).
    pub records_per_cpu_second: f64,
}

impl ResourceUse {
    /// What `report`'s run cost.
    pub fn of(report: &RunReport) -> Self {
        let cpu = report.resources.cpu_seconds();
        Self {
            cpu_seconds: cpu,
            user_seconds: report.resources.user_s,
            system_seconds: report.resources.system_s,
            peak_rss_bytes: report.resources.peak_rss_bytes,
            records_per_cpu_second: if cpu > 0.0 { report.inputs as f64 / cpu } else { 0.0 },
        }
    }
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

impl BatchStats {
    /// The statistics of `report`'s batches after the warm-up; `None` without batches (the
    /// native engine).
    pub fn of(spec: &RunSpec, report: &RunReport) -> Option<Self> {
        (!report.microbatch.batches.is_empty()).then(|| {
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
        })
    }
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
    /// Both latency families (after the warm-up), ms, with their sample counts.
    pub latency: Latencies,
    /// Latency is measured from when the source read each record (`--rate max`: the generator
    /// waits for the engine), not from a schedule.
    pub closed_loop: bool,
    /// The latency histograms.
    pub histograms: Histograms,
    /// What the run cost.
    pub resources: ResourceUse,
    /// What its checkpoints cost: taken, bytes written, time spent writing them.
    pub checkpoints: workloads::contract::CheckpointStats,
    /// Per-second records/s and latency.
    pub timeline: Vec<TimelinePoint>,
    /// Whether the outputs equal the oracle's (the one `semantics` names).
    pub correct: bool,
    /// Expected outputs that did not come (against the oracle `semantics` names).
    #[serde(default)]
    pub outputs_lost: u64,
    /// Outputs that came more than once.
    #[serde(default)]
    pub outputs_duplicated: u64,
    /// Which oracle judged `correct`: `event-time`, or `arrival-time` (micro-batch windows).
    pub semantics: workloads::verdict::Semantics,
    /// For window jobs: the share of window results equal to the event-time oracle's, and the
    /// mean relative count error; `null` for jobs without windows.
    pub event_time_accuracy: Option<workloads::verdict::Accuracy>,
    /// The verification's message.
    pub verification: String,
    /// How long the verification took after the run (wall seconds: the oracle over every core,
    /// and the alerts' precision and recall); 0 in results written before it was recorded.
    #[serde(default)]
    pub verification_s: f64,
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
    /// A run that spanned process restarts (`kill-process`): how its outputs were delivered
    /// across them; `null` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
}

/// How a run that spanned process restarts delivered its outputs (from its journal, see
/// `workloads::contract::journal`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// `at-least-once` (micro-batch: a batch run again after a restart writes its outputs again)
    /// or `exactly-once` (native: what followed the snapshot restored is thrown away and made
    /// again).
    pub guarantee: String,
    /// Generations of processes (1 + restarts).
    pub generations: u32,
    /// Outputs written again by a batch run again after a restart (not counted twice in the
    /// verification).
    pub replayed_outputs: u64,
    /// Of those, outputs that differ from the first write of their batch (0 for a deterministic
    /// replay).
    pub replayed_mismatches: u64,
    /// Outputs written after the snapshot a restart went back to, thrown away.
    pub discarded_outputs: u64,
    /// Journal frames cut short by a kill and passed over.
    pub torn_frames: usize,
}

/// Input records per second over the measured window, and that window's length, s: from the
/// warm-up until the last input was processed (not the empty batches that only close windows).
/// A fixed input read to its end within the warm-up has no window after it: then the whole
/// input is measured, from the start.
pub fn throughput(spec: &RunSpec, report: &RunReport) -> (f64, f64) {
    let end = if report.inputs_done_ns > 0 { report.inputs_done_ns } else { report.finished_ns };
    let (inputs, from) = if spec.warmup_ns < end && report.inputs_measured > 0 {
        (report.inputs_measured, spec.warmup_ns)
    } else {
        (report.inputs, 0)
    };
    let measured = (end - from) as f64 / 1e9;
    (if measured > 0.0 { inputs as f64 / measured } else { 0.0 }, measured)
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
    let timeline = crate::timeline::points(report);
    let mut recovery = recoveries(&spec.faults, report, &timeline, tl, spec.warmup_ns as f64 / 1e9, verdict.correct);
    for (r, restore) in recovery.iter_mut().flatten().zip(restores(&spec.faults, report)) {
        r.restore = restore;
    }
    let batches = BatchStats::of(spec, report);
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
        latency: Latencies {
            input: Latency::of(&report.input_latency_us),
            output: Latency::of(&report.output_latency_us),
        },
        closed_loop: spec.profile.is_max() && matches!(spec.source, workloads::Source::Generator),
        histograms: Histograms {
            input: workloads::histo::encode(&report.input_latency_us),
            output: workloads::histo::encode(&report.output_latency_us),
        },
        resources: ResourceUse::of(report),
        checkpoints: report.checkpoints,
        timeline,
        correct: verdict.correct,
        outputs_lost: verdict.lost,
        outputs_duplicated: verdict.duplicated,
        semantics: verdict.semantics,
        event_time_accuracy: verdict.event_time_accuracy,
        verification: verdict.message.clone(),
        verification_s: 0.0,
        malformed: report.malformed,
        malformed_examples: report.malformed_examples.clone(),
        batches,
        quality,
        recovery,
        delivery: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percentile_needs_a_hundred_samples() {
        let mut h = workloads::histo::fine();
        h.record_n(5_000, 99).unwrap();
        let few = Latency::of(&h);
        assert_eq!((few.count, few.p99_ms, few.max_ms), (99, None, None));
        assert_eq!(few.show(|l| l.p99_ms), "n/a (n=99)");
        h.record(7_000).unwrap();
        let enough = Latency::of(&h);
        assert_eq!(enough.count, 100);
        assert!(enough.p50_ms.is_some_and(|v| (v - 5.0).abs() < 0.01), "{enough:?}");
        assert!(enough.max_ms.is_some_and(|v| (v - 7.0).abs() < 0.01), "{enough:?}");
    }

    #[test]
    fn throughput_is_measured_after_the_warm_up_or_over_an_input_that_ended_within_it() {
        use workloads::{JobSpec, Profile, WordCountSpec};
        let mut spec =
            RunSpec::new(JobSpec::Wordcount(WordCountSpec::default()), Profile::Max { nominal: 1e6 }, 1_000_000_000);
        spec.warmup_ns = 250_000_000;
        let mut report = RunReport::new(100_000_000);
        (report.inputs, report.inputs_measured, report.inputs_done_ns) = (1_000, 600, 750_000_000);
        assert_eq!(throughput(&spec, &report), (1_200.0, 0.5));
        // Every input read by 200 ms, before the warm-up ended: all of it, from the start.
        (report.inputs_measured, report.inputs_done_ns) = (0, 200_000_000);
        assert_eq!(throughput(&spec, &report), (5_000.0, 0.2));
    }
}
