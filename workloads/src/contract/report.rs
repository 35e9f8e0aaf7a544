//! What a run observed: both latency families, the timeline, the outputs kept, where each partition ended, and
//! each engine's own part (micro-batch batch infos and arrivals, native restores and ingestion
//! stamps).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::hashtags::window::HashtagWindow;
use crate::output::{Alert, UpdateDigest, WindowedCount, WordTotal};

/// Per-micro-batch statistics (Spark's `BatchInfo`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchInfo {
    /// The batch time, ms from the start.
    pub batch_time_ms: u64,
    /// Input records in the batch.
    pub records: u64,
    /// From the batch time until its first job started, ms.
    pub scheduling_delay_ms: f64,
    /// From the first job's start until the last job's end, ms.
    pub processing_delay_ms: f64,
    /// Scheduling plus processing delay, ms.
    pub total_delay_ms: f64,
    /// Map tasks the batch's jobs launched (a stage runs only the tasks whose output is
    /// missing: after an executor loss, the lost executor's share).
    #[serde(default)]
    pub map_tasks: u64,
    /// Result tasks the batch's jobs launched.
    #[serde(default)]
    pub result_tasks: u64,
}

/// One interval of a run's timeline.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TimelineBucket {
    /// Input records ingested in the interval.
    pub inputs: u64,
    /// Outputs produced in the interval.
    pub outputs: u64,
    /// Output latency (µs) of the interval's outputs.
    #[serde(with = "crate::histo")]
    pub output_latency_us: Histogram<u64>,
    /// Input latency (µs) of the inputs first reflected in the interval.
    #[serde(with = "crate::histo")]
    pub input_latency_us: Histogram<u64>,
}

impl TimelineBucket {
    pub(crate) fn new() -> Self {
        Self {
            inputs: 0,
            outputs: 0,
            output_latency_us: crate::histo::coarse(),
            input_latency_us: crate::histo::coarse(),
        }
    }
}

/// The outputs a run kept.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Outputs {
    /// Running-count updates (only with `Collect::Full`).
    pub word_totals: Vec<WordTotal>,
    /// Running-count snapshots (`update_state_by_key` emits every key each batch), by batch
    /// time, ns, row by row (only with `Collect::Full`).
    #[serde(default)]
    pub snapshots: BTreeMap<u64, Vec<WordTotal>>,
    /// The digest of each batch's running-count snapshot, by batch time, ns: always kept (a
    /// snapshot is the whole vocabulary seen so far, every batch: at 10 ms batches, rows would
    /// grow by a million a second).
    #[serde(default)]
    pub snapshot_digests: BTreeMap<u64, UpdateDigest>,
    /// Digest of every running-count update.
    pub digest: UpdateDigest,
    /// Windowed word counts.
    pub windowed: Vec<WindowedCount>,
    /// Hashtag windows.
    pub hashtags: Vec<HashtagWindow>,
    /// Alerts.
    pub alerts: Vec<Alert>,
}

impl Outputs {
    pub(crate) fn merge(&mut self, other: Outputs) {
        self.word_totals.extend(other.word_totals);
        for (t, mut s) in other.snapshots {
            self.snapshots.entry(t).or_default().append(&mut s);
        }
        for (t, d) in other.snapshot_digests {
            self.snapshot_digests.entry(t).or_default().merge(&d);
        }
        self.digest.merge(&other.digest);
        self.windowed.extend(other.windowed);
        self.hashtags.extend(other.hashtags);
        self.alerts.extend(other.alerts);
    }

    /// The number of outputs (running-count updates and snapshot rows by their digests).
    pub fn len(&self) -> u64 {
        let snapshots: u64 = self.snapshot_digests.values().map(|d| d.updates).sum();
        self.digest.updates + snapshots + (self.windowed.len() + self.hashtags.len() + self.alerts.len()) as u64
    }

    /// Whether there is no output.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What one worker, one process or the whole cluster observed in a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunReport {
    /// Output latency (µs): one sample per output after the warm-up, from its reference (a
    /// window's end; the scheduled time of the input that caused an update or alert) to when it
    /// was emitted.
    #[serde(with = "crate::histo")]
    pub output_latency_us: Histogram<u64>,
    /// Input latency (µs): one sample per input first reflected after the warm-up, from its
    /// reference (its scheduled time; at `max`, when its source read it) until the first output
    /// reflecting it was emitted.
    #[serde(with = "crate::histo")]
    pub input_latency_us: Histogram<u64>,
    /// Inputs read that no output had reflected when the run ended.
    #[serde(default)]
    pub inputs_in_flight: u64,
    /// The timeline, one bucket per `timeline_ns`.
    pub timeline: Vec<TimelineBucket>,
    /// The timeline's interval, ns.
    pub timeline_ns: u64,
    /// The outputs kept.
    pub outputs: Outputs,
    /// Input records ingested.
    pub inputs: u64,
    /// Input records ingested after the warm-up.
    pub inputs_measured: u64,
    /// Where each source partition ended (exclusive offset): the ranges to verify against.
    pub partition_ends: BTreeMap<u32, u64>,
    /// Malformed input records (counted, skipped, reported).
    pub malformed: u64,
    /// Examples of malformed records.
    pub malformed_examples: Vec<String>,
    /// Socket runs: the lines that were no event (malformed or blank), as sorted, disjoint
    /// ranges of the stream's offsets. The sender's events are its well-formed lines, so the
    /// judge numbers them without these.
    #[serde(default)]
    pub skipped_lines: Vec<(u64, u64)>,
    /// When the last worker finished, ns from the start.
    pub finished_ns: u64,
    /// When the last recorder that counted inputs finished (the end of the last batch that read
    /// data, for micro-batch; the drain, for native), ns from the start.
    #[serde(default)]
    pub inputs_done_ns: u64,
    /// The micro-batch engine's part (empty for the native engine).
    #[serde(default)]
    pub microbatch: MicrobatchReport,
    /// The native engine's part (empty for the micro-batch engine).
    #[serde(default)]
    pub native: NativeReport,
    /// When each fault took effect (its index in the run's faults -> ns from the start; the
    /// earliest worker's).
    #[serde(default)]
    pub faults_applied: BTreeMap<usize, u64>,
    /// What its checkpoints cost.
    #[serde(default)]
    pub checkpoints: CheckpointStats,
    /// What the run cost its processes (filled in by whoever ran the engine).
    #[serde(default)]
    pub resources: Resources,
}

/// What a run's checkpoints cost (micro-batch: state cuts and metadata files; native: snapshot
/// files).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointStats {
    /// State checkpoints taken (micro-batch cuts; native snapshots, as the busiest worker wrote
    /// them).
    pub taken: u64,
    /// Metadata checkpoints written (micro-batch: one per batch, as Spark's).
    pub metadata: u64,
    /// Bytes written, every file of every worker.
    pub bytes: u64,
    /// Time spent writing them, on the busiest worker (micro-batch: the driver, whose batches
    /// wait for it), ns.
    pub pause_ns: u64,
}

impl CheckpointStats {
    fn merge(&mut self, other: CheckpointStats) {
        self.taken = self.taken.max(other.taken);
        self.metadata = self.metadata.max(other.metadata);
        self.bytes += other.bytes;
        self.pause_ns = self.pause_ns.max(other.pause_ns);
    }
}

/// What a run cost: CPU time and memory, summed over its processes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// User CPU seconds.
    pub user_s: f64,
    /// System CPU seconds.
    pub system_s: f64,
    /// Peak resident bytes (summed over processes).
    pub peak_rss_bytes: u64,
}

impl Resources {
    /// User plus system CPU seconds.
    pub fn cpu_seconds(&self) -> f64 {
        self.user_s + self.system_s
    }
}

/// What only the micro-batch engine reports.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MicrobatchReport {
    /// Per-batch statistics.
    pub batches: Vec<BatchInfo>,
    /// Arrivals: per partition, `(end offset, batch time ns)` for each batch that read it, so
    /// windows by arrival time can be checked.
    #[serde(default)]
    pub arrivals: BTreeMap<u32, Vec<(u64, u64)>>,
}

impl MicrobatchReport {
    fn merge(&mut self, other: MicrobatchReport) {
        self.batches.extend(other.batches);
        self.batches.sort_by_key(|b| b.batch_time_ms);
        merge_runs(&mut self.arrivals, other.arrivals);
    }
}

/// Notes socket line `offset` in `runs`, sorted, disjoint ranges of offsets (lines come in
/// order; one out of order, or noted again, is merged in).
pub(crate) fn skip_line(runs: &mut Vec<(u64, u64)>, offset: u64) {
    match runs.last_mut() {
        Some(last) if last.1 == offset => last.1 += 1,
        Some(last) if last.1 > offset => *runs = union_ranges(std::mem::take(runs), vec![(offset, offset + 1)]),
        _ => runs.push((offset, offset + 1)),
    }
}

/// The ranges of both, sorted and coalesced (a line reported twice, by a batch run again,
/// counts once).
fn union_ranges(mut a: Vec<(u64, u64)>, b: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    a.extend(b);
    a.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(a.len());
    for (s, e) in a {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// Per-partition `(end offset, time)` runs from two reports, in offset order.
fn merge_runs(mine: &mut BTreeMap<u32, Vec<(u64, u64)>>, other: BTreeMap<u32, Vec<(u64, u64)>>) {
    for (p, mut runs) in other {
        let m = mine.entry(p).or_default();
        m.append(&mut runs);
        m.sort_unstable();
    }
}

/// What only the native engine reports.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NativeReport {
    /// Restores after a fault, one per worker and fault.
    #[serde(default)]
    pub restores: Vec<Restore>,
    /// Socket runs of window jobs: per partition, `(end offset, a read stamp)` for each run of
    /// lines read within one window slide (their event time is when they were read), so that
    /// windows by ingestion time can be checked.
    #[serde(default)]
    pub ingestion: BTreeMap<u32, Vec<(u64, u64)>>,
}

/// One worker's restore after a fault (native engine): which snapshot it went back to, what it
/// replays and how long the restore took.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restore {
    /// Which fault (its index in the run's faults).
    pub fault: usize,
    /// When the worker dropped its dataflow, ns from the start.
    pub at_ns: u64,
    /// The epoch of the snapshot restored (event time, ns); `None`: no snapshot was committed,
    /// so the job starts again from the beginning of its input.
    pub epoch_ns: Option<u64>,
    /// Why newer snapshots were passed over (missing, truncated or corrupt parts).
    pub skipped: Vec<String>,
    /// From dropping the dataflow to running the restored one, ns.
    pub took_ns: u64,
    /// Input records read again: read before the fault, after the snapshot's offsets.
    pub replayed_inputs: u64,
    /// Outputs written after the snapshot, which the replay writes again.
    pub rewritten_outputs: u64,
}

/// Where a worker's outputs stood at a snapshot, so a restore can rewind them: the outputs are a
/// store keyed by (key, window) or (word, count), and the replay writes the outputs after the
/// snapshot again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputMark {
    pub(crate) digest: UpdateDigest,
    pub(crate) word_totals: usize,
    pub(crate) windowed: usize,
    pub(crate) hashtags: usize,
    pub(crate) alerts: usize,
}

impl RunReport {
    /// A report with nothing observed yet, on timeline intervals of `timeline_ns`.
    pub fn new(timeline_ns: u64) -> Self {
        Self::empty(timeline_ns)
    }

    pub(crate) fn empty(timeline_ns: u64) -> Self {
        Self {
            output_latency_us: crate::histo::fine(),
            input_latency_us: crate::histo::fine(),
            inputs_in_flight: 0,
            timeline: Vec::new(),
            timeline_ns,
            outputs: Outputs::default(),
            inputs: 0,
            inputs_measured: 0,
            partition_ends: BTreeMap::new(),
            malformed: 0,
            malformed_examples: Vec::new(),
            skipped_lines: Vec::new(),
            finished_ns: 0,
            inputs_done_ns: 0,
            microbatch: MicrobatchReport::default(),
            native: NativeReport::default(),
            faults_applied: BTreeMap::new(),
            checkpoints: CheckpointStats::default(),
            resources: Resources::default(),
        }
    }

    /// Folds another report (another worker's or process's) into this one.
    pub fn merge(&mut self, other: RunReport) {
        self.output_latency_us.add(&other.output_latency_us).expect("histograms of one configuration");
        self.input_latency_us.add(&other.input_latency_us).expect("histograms of one configuration");
        self.inputs_in_flight += other.inputs_in_flight;
        for (i, b) in other.timeline.into_iter().enumerate() {
            if self.timeline.len() <= i {
                self.timeline.push(TimelineBucket::new());
            }
            let mine = &mut self.timeline[i];
            mine.inputs += b.inputs;
            mine.outputs += b.outputs;
            mine.output_latency_us.add(&b.output_latency_us).expect("histograms of one configuration");
            mine.input_latency_us.add(&b.input_latency_us).expect("histograms of one configuration");
        }
        self.outputs.merge(other.outputs);
        self.inputs += other.inputs;
        self.inputs_measured += other.inputs_measured;
        for (p, end) in other.partition_ends {
            let e = self.partition_ends.entry(p).or_insert(0);
            *e = (*e).max(end);
        }
        self.malformed += other.malformed;
        self.malformed_examples.extend(other.malformed_examples);
        self.malformed_examples.truncate(crate::verdict::EXAMPLES);
        self.skipped_lines = union_ranges(std::mem::take(&mut self.skipped_lines), other.skipped_lines);
        self.finished_ns = self.finished_ns.max(other.finished_ns);
        self.inputs_done_ns = self.inputs_done_ns.max(other.inputs_done_ns);
        self.microbatch.merge(other.microbatch);
        self.native.restores.extend(other.native.restores);
        merge_runs(&mut self.native.ingestion, other.native.ingestion);
        for (f, at) in other.faults_applied {
            let e = self.faults_applied.entry(f).or_insert(at);
            *e = (*e).min(at);
        }
        self.checkpoints.merge(other.checkpoints);
        self.resources.user_s += other.resources.user_s;
        self.resources.system_s += other.resources.system_s;
        self.resources.peak_rss_bytes += other.resources.peak_rss_bytes;
    }
}
