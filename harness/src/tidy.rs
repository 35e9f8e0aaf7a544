//! Tidy CSV beside every summary: `runs.csv`, one row per run (every parameter, throughput, both
//! latency families, correctness, recovery), and `timeline.csv`, one row per run and interval.
//! The README documents each column; a test reads them back against the JSON.

use std::path::Path;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::result::{Latency, RunResult};
use crate::summary::{Summary, SummaryRun};

/// One row of `runs.csv`. Times in seconds (`_s`) or milliseconds (`_ms`); an empty cell is a
/// value that does not apply (a failed run's figures, a percentile over fewer than 100 samples).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    /// The run's JSON, relative to the summary (empty for a run that failed to finish).
    pub file: String,
    /// The kind of run (`max`, `common-rate`, `half-max`, `fault`, `batch-interval`, ...).
    pub kind: String,
    /// `microbatch` or `native`.
    pub engine: String,
    /// The workload.
    pub workload: String,
    /// Offered records/s; empty at `max`.
    pub offered_rate: Option<f64>,
    /// Each run's duration, s.
    pub duration_s: Option<f64>,
    /// The warm-up, s.
    pub warmup_s: Option<f64>,
    /// Processes.
    pub processes: Option<usize>,
    /// Worker threads per process.
    pub workers: Option<usize>,
    /// Source partitions.
    pub partitions: Option<u32>,
    /// The micro-batch engine's batch interval, ms.
    pub batch_interval_ms: Option<f64>,
    /// The checkpoint interval, ms; empty for the engine's default.
    pub checkpoint_interval_ms: Option<f64>,
    /// The event-time disorder bound, ms.
    pub disorder_ms: Option<f64>,
    /// The generator seed.
    pub seed: Option<u64>,
    /// `generator`, or the socket's address.
    pub source: String,
    /// The job's first window length, ms (empty for a running count).
    pub window_ms: Option<f64>,
    /// Its slide, ms.
    pub slide_ms: Option<f64>,
    /// The injected faults, `;` between them.
    pub faults: String,
    /// Whether the run finished and its outputs equal the oracle's.
    pub correct: bool,
    /// Which oracle judged it: `event-time` or `arrival-time`.
    pub semantics: String,
    /// Why the run failed or was incorrect.
    pub error: String,
    /// Input records read.
    pub input_records: Option<u64>,
    /// Output records.
    pub output_records: Option<u64>,
    /// Input records/s after the warm-up.
    pub records_per_sec: f64,
    /// Input records/s per node.
    pub records_per_sec_per_node: f64,
    /// Records/s per node as a ratio to the COST loop.
    pub cost_ratio: Option<f64>,
    /// CPU seconds, user plus system.
    pub cpu_seconds: f64,
    /// Input records per CPU-second.
    pub records_per_cpu_second: f64,
    /// Peak resident bytes.
    pub peak_rss_bytes: u64,
    /// Input-latency samples.
    pub input_count: u64,
    /// Input latency p50, ms.
    pub input_p50_ms: Option<f64>,
    /// p90.
    pub input_p90_ms: Option<f64>,
    /// p99.
    pub input_p99_ms: Option<f64>,
    /// p99.9.
    pub input_p999_ms: Option<f64>,
    /// Largest.
    pub input_max_ms: Option<f64>,
    /// Output-latency samples.
    pub output_count: u64,
    /// Output latency p50, ms.
    pub output_p50_ms: Option<f64>,
    /// p90.
    pub output_p90_ms: Option<f64>,
    /// p99.
    pub output_p99_ms: Option<f64>,
    /// p99.9.
    pub output_p999_ms: Option<f64>,
    /// Largest.
    pub output_max_ms: Option<f64>,
    /// Latency measured from when the source read each record (`max`).
    pub closed_loop: bool,
    /// Window jobs: the share of window results equal to the event-time oracle's.
    pub event_time_equal_share: Option<f64>,
    /// Window jobs: the mean relative count error against the event-time oracle.
    pub event_time_mean_relative_error: Option<f64>,
    /// Malformed records counted.
    pub malformed: Option<u64>,
    /// Time spent verifying, s.
    pub verification_s: Option<f64>,
    /// State checkpoints taken.
    pub checkpoints_taken: Option<u64>,
    /// Checkpoint bytes written.
    pub checkpoint_bytes: Option<u64>,
    /// Time spent writing checkpoints on the busiest worker (or the driver), ms.
    pub checkpoint_pause_ms: Option<f64>,
    /// Micro-batch: total delay p99 of the batches, ms.
    pub batch_total_delay_p99_ms: Option<f64>,
    /// The first fault: when it took effect, s from the start.
    pub recovery_effective_at_s: Option<f64>,
    /// From then to a sustained stretch back in band, s.
    pub recovery_s: Option<f64>,
    /// From then until the backlog was drained, s.
    pub catch_up_s: Option<f64>,
    /// Inputs whose output the fault delayed beyond the band.
    pub delayed_records: Option<u64>,
    /// Whether the outputs after the fault still equal the oracle.
    pub recovery_exact: Option<bool>,
}

/// One row of `timeline.csv`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelineRow {
    /// The run's JSON, as in `runs.csv`.
    pub file: String,
    /// The engine.
    pub engine: String,
    /// The workload.
    pub workload: String,
    /// The kind of run.
    pub kind: String,
    /// The interval's start, s from the start of the run.
    pub t_s: f64,
    /// Input records/s in the interval.
    pub records_per_sec: f64,
    /// Outputs in the interval.
    pub outputs: u64,
    /// Inputs first reflected in the interval.
    pub reflected: u64,
    /// Input latency p50 of those, ms.
    pub input_p50_ms: Option<f64>,
    /// Input latency p99 of those, ms.
    pub input_p99_ms: Option<f64>,
    /// Output latency p99 of the interval's outputs, ms.
    pub output_p99_ms: Option<f64>,
}

impl RunRow {
    /// The row of a summary line and, when it finished, its result.
    pub fn of(s: &SummaryRun, r: Option<&RunResult>) -> Self {
        let mut row = RunRow {
            file: s.file.clone().unwrap_or_default(),
            kind: s.kind.name().to_owned(),
            engine: s.engine.clone(),
            workload: s.workload.clone(),
            offered_rate: s.offered_rate,
            correct: s.correct,
            error: s.error.clone().unwrap_or_default(),
            records_per_sec: s.records_per_sec,
            records_per_sec_per_node: s.records_per_sec_per_node,
            cost_ratio: s.cost_ratio,
            cpu_seconds: s.cpu_seconds,
            records_per_cpu_second: s.records_per_cpu_second,
            peak_rss_bytes: s.peak_rss_bytes,
            closed_loop: s.closed_loop,
            batch_total_delay_p99_ms: s.batch_total_delay_p99_ms,
            ..RunRow::default()
        };
        row.latencies(&s.latency.input, &s.latency.output);
        if let Some(r) = r {
            row.result(r);
        }
        row
    }

    fn latencies(&mut self, i: &Latency, o: &Latency) {
        (self.input_count, self.input_p50_ms, self.input_p90_ms) = (i.count, i.p50_ms, i.p90_ms);
        (self.input_p99_ms, self.input_p999_ms, self.input_max_ms) = (i.p99_ms, i.p999_ms, i.max_ms);
        (self.output_count, self.output_p50_ms, self.output_p90_ms) = (o.count, o.p50_ms, o.p90_ms);
        (self.output_p99_ms, self.output_p999_ms, self.output_max_ms) = (o.p99_ms, o.p999_ms, o.max_ms);
    }

    fn result(&mut self, r: &RunResult) {
        let c = &r.config;
        let ms = |ns: u64| ns as f64 / 1e6;
        self.duration_s = Some(c.duration_ns as f64 / 1e9);
        self.warmup_s = Some(c.warmup_ns as f64 / 1e9);
        self.processes = Some(c.cluster.processes);
        self.workers = Some(c.cluster.workers);
        self.partitions = Some(c.partitions());
        self.batch_interval_ms = Some(ms(c.microbatch.batch_interval_ns));
        self.checkpoint_interval_ms = c.checkpoint.interval_ns.map(ms);
        self.disorder_ms = Some(ms(c.disorder_ns));
        self.seed = Some(c.seed);
        self.source = match &c.source {
            workloads::Source::Generator => "generator".to_owned(),
            workloads::Source::Socket(address) => format!("socket://{address}"),
        };
        if let Some(&(_, w)) = c.job.windows().first() {
            self.window_ms = Some(ms(w));
            self.slide_ms = c.job.windows().get(1).map(|&(_, s)| ms(s));
        }
        self.faults = c.faults.iter().map(|f| crate::recovery::describe(f).1).collect::<Vec<_>>().join(";");
        self.semantics =
            serde_json::to_value(r.semantics).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        self.input_records = Some(r.input_records);
        self.output_records = Some(r.output_records);
        self.event_time_equal_share = r.event_time_accuracy.map(|a| a.equal_share);
        self.event_time_mean_relative_error = r.event_time_accuracy.map(|a| a.mean_relative_error);
        self.malformed = Some(r.malformed);
        self.verification_s = Some(r.verification_s);
        self.checkpoints_taken = Some(r.checkpoints.taken);
        self.checkpoint_bytes = Some(r.checkpoints.bytes);
        self.checkpoint_pause_ms = Some(ms(r.checkpoints.pause_ns));
        if let Some(first) = r.recovery.as_ref().and_then(|v| v.first()) {
            self.recovery_effective_at_s = Some(first.effective_at_s);
            self.recovery_s = first.recovery_s;
            self.catch_up_s = first.catch_up_s;
            self.delayed_records = Some(first.delayed_records);
            self.recovery_exact = Some(first.exact);
        }
    }
}

/// Writes `runs.csv` and `timeline.csv` into `dir` from a summary and its results (`(file,
/// result)`, the file as the summary names it).
pub fn write(dir: &Path, summary: &Summary, results: &[(String, RunResult)]) -> Result<()> {
    let find = |file: &Option<String>| file.as_ref().and_then(|f| results.iter().find(|(g, _)| g == f).map(|(_, r)| r));
    let path = dir.join("runs.csv");
    let mut runs = csv::Writer::from_path(&path).with_context(|| format!("creating {}", path.display()))?;
    for s in &summary.runs {
        runs.serialize(RunRow::of(s, find(&s.file)))?;
    }
    runs.flush().with_context(|| format!("writing {}", path.display()))?;
    let path = dir.join("timeline.csv");
    let mut timeline = csv::Writer::from_path(&path).with_context(|| format!("creating {}", path.display()))?;
    for s in &summary.runs {
        for p in find(&s.file).map(|r| r.timeline.as_slice()).unwrap_or_default() {
            timeline.serialize(TimelineRow {
                file: s.file.clone().unwrap_or_default(),
                engine: s.engine.clone(),
                workload: s.workload.clone(),
                kind: s.kind.name().to_owned(),
                t_s: p.t_s,
                records_per_sec: p.records_per_sec,
                outputs: p.outputs,
                reflected: p.reflected,
                input_p50_ms: p.input_p50_ms,
                input_p99_ms: p.input_p99_ms,
                output_p99_ms: p.output_p99_ms,
            })?;
        }
    }
    timeline.flush().with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
