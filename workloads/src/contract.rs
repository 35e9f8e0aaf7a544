//! The run contract: what the harness tells an engine to do ([`RunSpec`]) and how an engine
//! reports what happened ([`Observer`], [`Recorder`], [`RunReport`]).
//!
//! Every worker thread owns a [`Recorder`]: latency goes into its own hdrhistogram and timeline,
//! outputs into its own vectors, with no lock and no shared cache line on the hot path. When a
//! worker finishes it hands its recorder back to the [`Observer`] (one lock per worker per run),
//! and the harness merges the workers' reports, and in cluster mode the processes' reports.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::generator::{GeneratorError, LineGenerator, SensorGenerator, TweetGenerator};
use crate::output::{Alert, HashtagWindow, WindowedCount, WordTotal};
use crate::schedule::{count_in_partition, Profile, Schedule, ScheduleError};
use crate::spec::{JobSpec, SECOND_NS};
use crate::verify::UpdateDigest;

/// Where a run's events come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "address", rename_all = "snake_case")]
pub enum Source {
    /// The in-process generator.
    Generator,
    /// Text lines or JSON events read from a TCP address (`host:port`), as sent by `feed`.
    Socket(String),
}

/// What a run keeps of its outputs for verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Collect {
    /// Every output (tests, small runs).
    Full,
    /// Every output except running-count updates, which are kept as an [`UpdateDigest`].
    Digest,
}

/// An injected fault.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Worker (executor) `worker` loses its memory at `at_ns`.
    KillWorker {
        /// The worker's global index.
        worker: usize,
        /// When, ns from the start.
        at_ns: u64,
    },
    /// Process `process` is killed (SIGKILL) at `at_ns`; the supervisor restarts the cluster.
    KillProcess {
        /// The process index.
        process: usize,
        /// When, ns from the start.
        at_ns: u64,
    },
    /// Worker `worker` runs `factor` times slower from `at_ns` for `for_ns`.
    SlowWorker {
        /// The worker's global index.
        worker: usize,
        /// When, ns from the start.
        at_ns: u64,
        /// For how long, ns.
        for_ns: u64,
        /// The slow-down factor (> 1).
        factor: f64,
    },
}

/// A fault spec that does not parse.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("bad fault `{0}`: use kill-worker:W@T, kill-process:P@T or slow-worker:W@T+D*F (T, D durations like 5s or 500ms, F a factor > 1)")]
pub struct BadFault(pub String);

/// Parses a duration such as `10s`, `250ms`, `2m`, `1500us` or `0`.
pub fn parse_duration_ns(s: &str) -> Option<u64> {
    let s = s.trim();
    if s == "0" {
        return Some(0);
    }
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let value: f64 = num.parse().ok()?;
    let scale = match unit {
        "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" | "min" => 60e9,
        _ => return None,
    };
    (value.is_finite() && value >= 0.0).then(|| (value * scale).round() as u64)
}

impl FromStr for Fault {
    type Err = BadFault;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadFault(s.to_owned());
        let (kind, rest) = s.split_once(':').ok_or_else(bad)?;
        let (who, when) = rest.split_once('@').ok_or_else(bad)?;
        let who: usize = who.parse().map_err(|_| bad())?;
        match kind {
            "kill-worker" => Ok(Fault::KillWorker { worker: who, at_ns: parse_duration_ns(when).ok_or_else(bad)? }),
            "kill-process" => Ok(Fault::KillProcess { process: who, at_ns: parse_duration_ns(when).ok_or_else(bad)? }),
            "slow-worker" => {
                let (at, rest) = when.split_once('+').ok_or_else(bad)?;
                let (dur, factor) = rest.split_once('*').ok_or_else(bad)?;
                let factor: f64 = factor.parse().map_err(|_| bad())?;
                if !(factor > 1.0 && factor.is_finite()) {
                    return Err(bad());
                }
                Ok(Fault::SlowWorker {
                    worker: who,
                    at_ns: parse_duration_ns(at).ok_or_else(bad)?,
                    for_ns: parse_duration_ns(dur).ok_or_else(bad)?,
                    factor,
                })
            }
            _ => Err(bad()),
        }
    }
}

/// The cluster a run executes on: `processes` processes of `workers` threads each.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSpec {
    /// Worker threads per process.
    pub workers: usize,
    /// Processes.
    pub processes: usize,
    /// This process's index.
    pub process_id: usize,
    /// The hostfile the addresses came from, if any.
    pub hostfile: Option<PathBuf>,
    /// One `host:port` per process (empty for one process).
    pub addresses: Vec<String>,
    /// How long processes wait for each other before failing, ns.
    pub connect_timeout_ns: u64,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        Self {
            workers: 1,
            processes: 1,
            process_id: 0,
            hostfile: None,
            addresses: Vec::new(),
            connect_timeout_ns: 30 * SECOND_NS,
        }
    }
}

impl ClusterSpec {
    /// Workers in the whole cluster.
    pub fn total_workers(&self) -> usize {
        self.workers * self.processes
    }

    /// Reads a hostfile: one `host:port` a line (blank lines and `#` comments skipped), at least
    /// `processes` of them.
    pub fn read_hostfile(path: &Path, processes: usize) -> Result<Vec<String>, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            SpecError(format!("cannot read hostfile {}: {e}: give a file with one host:port per line", path.display()))
        })?;
        let addresses: Vec<String> =
            text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_owned).collect();
        for a in &addresses {
            let ok = a.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
            if !ok {
                return Err(SpecError(format!("hostfile {} has `{a}`, which is not host:port", path.display())));
            }
        }
        if addresses.len() < processes {
            return Err(SpecError(format!(
                "hostfile {} lists {} addresses but --processes is {processes}: give one host:port line per process",
                path.display(),
                addresses.len()
            )));
        }
        Ok(addresses.into_iter().take(processes).collect())
    }
}

/// Checkpointing: how often, and where.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointSpec {
    /// The interval, ns; `None` for the engine's default (or none without a directory).
    pub interval_ns: Option<u64>,
    /// The directory; `None` disables durable checkpoints.
    pub dir: Option<PathBuf>,
}

/// A refused run spec; the message says what to change.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct SpecError(pub String);

impl From<ScheduleError> for SpecError {
    fn from(e: ScheduleError) -> Self {
        SpecError(e.to_string())
    }
}

/// Everything an engine needs to run one measured run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// The workload and its parameters.
    pub job: JobSpec,
    /// The offered rate over time.
    pub profile: Profile,
    /// How long sources offer events, ns.
    pub duration_ns: u64,
    /// The start of the run excluded from latency and throughput, ns.
    pub warmup_ns: u64,
    /// Stop after this many events (all partitions), if set.
    pub records: Option<u64>,
    /// The generator seed.
    pub seed: u64,
    /// Source partitions; `None` for one per worker of the cluster.
    pub partitions: Option<u32>,
    /// Event-time disorder bound, ns.
    pub disorder_ns: u64,
    /// The cluster.
    pub cluster: ClusterSpec,
    /// The micro-batch engine's batch interval, ns.
    pub batch_interval_ns: u64,
    /// Checkpoint settings.
    pub checkpoint: CheckpointSpec,
    /// Injected faults.
    pub faults: Vec<Fault>,
    /// Where events come from.
    pub source: Source,
    /// What to keep of the outputs.
    pub collect: Collect,
}

impl RunSpec {
    /// A spec for `job` at a constant `rate` for `duration_ns` on one worker, everything else at
    /// its default.
    pub fn new(job: JobSpec, profile: Profile, duration_ns: u64) -> Self {
        Self {
            job,
            profile,
            duration_ns,
            warmup_ns: 0,
            records: None,
            seed: 1,
            partitions: None,
            disorder_ns: 0,
            cluster: ClusterSpec::default(),
            batch_interval_ns: SECOND_NS,
            checkpoint: CheckpointSpec::default(),
            faults: Vec::new(),
            source: Source::Generator,
            collect: Collect::Full,
        }
    }

    /// The number of source partitions.
    pub fn partitions(&self) -> u32 {
        self.partitions.unwrap_or(self.cluster.total_workers() as u32).max(1)
    }

    /// The schedule.
    pub fn schedule(&self) -> Schedule {
        Schedule::new(self.profile.clone(), self.partitions(), self.disorder_ns, self.seed)
            .expect("RunSpec::validate checks the schedule")
    }

    /// Where partition `p` ends (exclusive offset), if that is known before the run: the events
    /// due within the duration, capped by `records`. `None` for `max` without `records`.
    pub fn partition_end(&self, p: u32) -> Option<u64> {
        let by_count = self.records.map(|r| count_in_partition(r, self.partitions(), p));
        let by_time = (!self.profile.is_max()).then(|| self.schedule().events_before(p, self.duration_ns));
        match (by_count, by_time) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Checks everything that can be checked before a run starts.
    pub fn validate(&self) -> Result<(), SpecError> {
        self.job.validate().map_err(SpecError)?;
        Schedule::new(self.profile.clone(), self.partitions(), self.disorder_ns, self.seed)?;
        let c = &self.cluster;
        if c.workers == 0 {
            return Err(SpecError("--workers must be at least 1".into()));
        }
        if c.processes == 0 {
            return Err(SpecError("--processes must be at least 1".into()));
        }
        if c.process_id >= c.processes {
            return Err(SpecError(format!(
                "--process-id {} is out of range: give 0..{} for {} processes",
                c.process_id,
                c.processes - 1,
                c.processes
            )));
        }
        if c.processes > 1 && c.addresses.len() != c.processes {
            return Err(SpecError(format!(
                "{} processes need {} addresses (a --hostfile with one host:port per line), got {}",
                c.processes,
                c.processes,
                c.addresses.len()
            )));
        }
        if self.duration_ns == 0 && self.records.is_none() {
            return Err(SpecError("--duration must be longer than 0 (or give --records)".into()));
        }
        if self.records == Some(0) {
            return Err(SpecError("--records must be at least 1".into()));
        }
        if self.batch_interval_ns == 0 {
            return Err(SpecError("--batch-interval must be longer than 0".into()));
        }
        if let Some(ns) = self.checkpoint.interval_ns.filter(|ns| *ns < 1_000_000) {
            return Err(SpecError(format!(
                "--checkpoint-interval ({} us) is below the engines' 1 ms time granularity: give 1ms or more",
                ns / 1000
            )));
        }
        for f in &self.faults {
            let (kind, who, limit) = match f {
                Fault::KillWorker { worker, .. } | Fault::SlowWorker { worker, .. } => {
                    ("worker", *worker, c.total_workers())
                }
                Fault::KillProcess { process, .. } => ("process", *process, c.processes),
            };
            if who >= limit {
                return Err(SpecError(format!(
                    "fault names {kind} {who}, but the run has only {limit}: give 0..{}",
                    limit - 1
                )));
            }
        }
        Ok(())
    }

    /// The generator of this spec's workload.
    pub fn generator(&self) -> Result<AnyGenerator, GeneratorError> {
        let schedule = self.schedule();
        Ok(match &self.job {
            JobSpec::Wordcount(s) => AnyGenerator::Lines(LineGenerator::new(s, schedule, self.seed)?),
            JobSpec::Hashtags(s) => AnyGenerator::Tweets(TweetGenerator::new(s, schedule, self.seed)),
            JobSpec::Sensors(s) => AnyGenerator::Sensors(SensorGenerator::new(s, schedule, self.seed)),
        })
    }
}

/// The generator of one of the three workloads.
#[derive(Clone, Debug)]
pub enum AnyGenerator {
    /// `wordcount`.
    Lines(LineGenerator),
    /// `hashtags`.
    Tweets(TweetGenerator),
    /// `sensors`.
    Sensors(SensorGenerator),
}

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
}

/// One interval of a run's timeline.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TimelineBucket {
    /// Input records ingested in the interval.
    pub inputs: u64,
    /// Outputs produced in the interval.
    pub outputs: u64,
    /// Latency (µs) of the interval's outputs.
    #[serde(with = "crate::histo")]
    pub latency_us: Histogram<u64>,
}

impl TimelineBucket {
    fn new() -> Self {
        Self { inputs: 0, outputs: 0, latency_us: crate::histo::coarse() }
    }
}

/// The outputs a run kept.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Outputs {
    /// Running-count updates (only with [`Collect::Full`]).
    pub word_totals: Vec<WordTotal>,
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
    fn merge(&mut self, other: Outputs) {
        self.word_totals.extend(other.word_totals);
        self.digest.merge(&other.digest);
        self.windowed.extend(other.windowed);
        self.hashtags.extend(other.hashtags);
        self.alerts.extend(other.alerts);
    }

    /// The number of outputs (running-count updates by the digest).
    pub fn len(&self) -> u64 {
        self.digest.updates + (self.windowed.len() + self.hashtags.len() + self.alerts.len()) as u64
    }

    /// Whether there is no output.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What one worker, one process or the whole cluster observed in a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunReport {
    /// Latency (µs) of outputs after the warm-up.
    #[serde(with = "crate::histo")]
    pub latency_us: Histogram<u64>,
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
    /// When the last worker finished, ns from the start.
    pub finished_ns: u64,
    /// When the last recorder that counted inputs finished (the end of the last batch that read
    /// data, for micro-batch; the drain, for native), ns from the start.
    #[serde(default)]
    pub inputs_done_ns: u64,
    /// Micro-batch statistics (empty for the native engine).
    pub batches: Vec<BatchInfo>,
    /// Micro-batch arrivals: per partition, `(end offset, batch time ns)` for each batch that
    /// read it, so windows by arrival time can be checked (empty for the native engine).
    #[serde(default)]
    pub arrivals: BTreeMap<u32, Vec<(u64, u64)>>,
    /// Native restores after a fault, one per worker and fault (empty for the micro-batch engine).
    #[serde(default)]
    pub restores: Vec<Restore>,
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
    digest: UpdateDigest,
    word_totals: usize,
    windowed: usize,
    hashtags: usize,
    alerts: usize,
}

impl RunReport {
    fn empty(timeline_ns: u64) -> Self {
        Self {
            latency_us: crate::histo::fine(),
            timeline: Vec::new(),
            timeline_ns,
            outputs: Outputs::default(),
            inputs: 0,
            inputs_measured: 0,
            partition_ends: BTreeMap::new(),
            malformed: 0,
            malformed_examples: Vec::new(),
            finished_ns: 0,
            inputs_done_ns: 0,
            batches: Vec::new(),
            arrivals: BTreeMap::new(),
            restores: Vec::new(),
        }
    }

    /// Folds another report (another worker's or process's) into this one.
    pub fn merge(&mut self, other: RunReport) {
        self.latency_us.add(&other.latency_us).expect("histograms of one configuration");
        for (i, b) in other.timeline.into_iter().enumerate() {
            if self.timeline.len() <= i {
                self.timeline.push(TimelineBucket::new());
            }
            let mine = &mut self.timeline[i];
            mine.inputs += b.inputs;
            mine.outputs += b.outputs;
            mine.latency_us.add(&b.latency_us).expect("histograms of one configuration");
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
        self.malformed_examples.truncate(crate::verify::EXAMPLES);
        self.finished_ns = self.finished_ns.max(other.finished_ns);
        self.inputs_done_ns = self.inputs_done_ns.max(other.inputs_done_ns);
        self.batches.extend(other.batches);
        self.batches.sort_by_key(|b| b.batch_time_ms);
        for (p, mut a) in other.arrivals {
            let mine = self.arrivals.entry(p).or_default();
            mine.append(&mut a);
            mine.sort_unstable();
        }
        self.restores.extend(other.restores);
    }
}

struct Shared {
    live: Mutex<BTreeMap<usize, TimelineBucket>>,
    epoch: OnceLock<Instant>,
    warmup_ns: u64,
    timeline_ns: u64,
    collect: Collect,
    reports: Mutex<Vec<RunReport>>,
}

/// Collects what every worker of one process observed. Cheap to clone (one per worker).
#[derive(Clone)]
pub struct Observer {
    shared: Arc<Shared>,
}

impl Observer {
    /// An observer for a run of `spec`: timeline intervals of a thirtieth of the run, between
    /// 100 ms and 1 s.
    pub fn new(spec: &RunSpec) -> Self {
        let interval = (spec.duration_ns / 30).clamp(SECOND_NS / 10, SECOND_NS);
        Self::with(spec.warmup_ns, interval - interval % (SECOND_NS / 10), spec.collect)
    }

    /// An observer with an explicit warm-up, timeline interval and collection mode.
    pub fn with(warmup_ns: u64, timeline_ns: u64, collect: Collect) -> Self {
        Self {
            shared: Arc::new(Shared {
                live: Mutex::new(BTreeMap::new()),
                epoch: OnceLock::new(),
                warmup_ns,
                timeline_ns: timeline_ns.max(1),
                collect,
                reports: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Fixes the start of the run (the first caller wins); every worker calls this once its
    /// dataflow is built and the workers are synchronised. Returns the epoch.
    pub fn start(&self) -> Instant {
        *self.shared.epoch.get_or_init(Instant::now)
    }

    /// A recorder for one worker. Call after [`Observer::start`].
    pub fn recorder(&self) -> Recorder {
        let s = &self.shared;
        Recorder {
            epoch: self.start(),
            warmup_ns: s.warmup_ns,
            timeline_ns: s.timeline_ns,
            collect: s.collect,
            report: RunReport::empty(s.timeline_ns),
            observer: self.clone(),
            finished: false,
        }
    }

    /// The latest interval every worker has finished: `(interval start s, input records/s, p99
    /// ms)`, for a live status line. Workers publish an interval once, when they move past it.
    pub fn live(&self) -> Option<(f64, f64, f64)> {
        let live = self.shared.live.lock().expect("observer lock");
        let (&i, b) = live.iter().next_back()?;
        let secs = self.shared.timeline_ns as f64 / 1e9;
        let p99 = if b.latency_us.is_empty() { 0.0 } else { b.latency_us.value_at_quantile(0.99) as f64 / 1000.0 };
        Some((i as f64 * secs, b.inputs as f64 / secs, p99))
    }

    /// Merges every finished recorder's report.
    pub fn report(&self) -> RunReport {
        let mut all = RunReport::empty(self.shared.timeline_ns);
        for r in self.shared.reports.lock().expect("observer lock").drain(..) {
            all.merge(r);
        }
        all
    }
}

/// One worker's view of a run: latency histogram, timeline and outputs, owned by the worker.
pub struct Recorder {
    epoch: Instant,
    warmup_ns: u64,
    timeline_ns: u64,
    collect: Collect,
    report: RunReport,
    observer: Observer,
    finished: bool,
}

impl Recorder {
    /// Nanoseconds since the start of the run. Read it once per batch of records, not per
    /// record.
    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// The run's start.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// Whether running-count updates should be kept one by one.
    #[inline]
    pub fn keeps_updates(&self) -> bool {
        self.collect == Collect::Full
    }

    #[inline]
    fn bucket(&mut self, now_ns: u64) -> &mut TimelineBucket {
        let i = (now_ns / self.timeline_ns) as usize;
        if self.report.timeline.len() <= i {
            self.publish();
            self.report.timeline.resize_with(i + 1, TimelineBucket::new);
        }
        &mut self.report.timeline[i]
    }

    /// Adds this worker's last interval to the observer's live view (once per interval).
    #[cold]
    fn publish(&self) {
        if let Some(last) = self.report.timeline.len().checked_sub(1) {
            let mut live = self.observer.shared.live.lock().expect("observer lock");
            let b = &self.report.timeline[last];
            let entry = live.entry(last).or_insert_with(TimelineBucket::new);
            entry.inputs += b.inputs;
            entry.outputs += b.outputs;
            let _ = entry.latency_us.add(&b.latency_us);
            while live.len() > 4 {
                live.pop_first();
            }
        }
    }

    /// Counts `n` input records ingested at `now_ns`.
    #[inline]
    pub fn inputs(&mut self, n: u64, now_ns: u64) {
        self.report.inputs += n;
        if now_ns >= self.warmup_ns {
            self.report.inputs_measured += n;
        }
        self.bucket(now_ns).inputs += n;
    }

    /// Records one output produced at `now_ns` whose reference time (the input's scheduled time,
    /// or the window's end) is `reference_ns`.
    #[inline]
    pub fn latency(&mut self, reference_ns: u64, now_ns: u64) {
        self.latencies(reference_ns, now_ns, 1);
    }

    /// Records `n` outputs produced at `now_ns` with the same reference time. An output before
    /// its reference time (a window closed early because the input ended) counts as an output
    /// but has no latency.
    #[inline]
    pub fn latencies(&mut self, reference_ns: u64, now_ns: u64, n: u64) {
        if now_ns < reference_ns {
            self.bucket(now_ns).outputs += n;
            return;
        }
        let us = (now_ns - reference_ns) / 1000;
        if now_ns >= self.warmup_ns {
            let _ = self.report.latency_us.record_n(us.min(crate::histo::MAX_US), n);
        }
        let b = self.bucket(now_ns);
        b.outputs += n;
        let _ = b.latency_us.record_n(us.min(crate::histo::MAX_US), n);
    }

    /// A run-length encoder of latencies: outputs of one input (the words of a line) share a
    /// reference time, so a batch records one histogram entry per run rather than per output.
    #[inline]
    pub fn latency_runs(&mut self, now_ns: u64) -> LatencyRuns<'_> {
        LatencyRuns { recorder: self, now_ns, reference_ns: 0, n: 0 }
    }

    /// A running-count update.
    #[inline]
    pub fn word_total(&mut self, word: &str, word_hash: u64, count: u64) {
        self.report.outputs.digest.add(word_hash, count);
        if self.collect == Collect::Full {
            self.report.outputs.word_totals.push(WordTotal { word: word.to_owned(), count });
        }
    }

    /// A running-count snapshot (`update_state_by_key` emits every key each batch): always
    /// kept, as snapshots are bounded by the vocabulary per batch.
    pub fn word_snapshot(&mut self, word: &str, count: u64) {
        self.report.outputs.word_totals.push(WordTotal { word: word.to_owned(), count });
    }

    /// Notes that partition `p` was read up to `end` by the batch at `batch_ns`.
    pub fn arrival(&mut self, p: u32, end: u64, batch_ns: u64) {
        self.report.arrivals.entry(p).or_default().push((end, batch_ns));
    }

    /// A windowed word count.
    pub fn windowed(&mut self, out: WindowedCount) {
        self.report.outputs.windowed.push(out);
    }

    /// A hashtag window.
    pub fn hashtag_window(&mut self, out: HashtagWindow) {
        self.report.outputs.hashtags.push(out);
    }

    /// An alert.
    pub fn alert(&mut self, out: Alert) {
        self.report.outputs.alerts.push(out);
    }

    /// A malformed input record: counted and reported, never fatal.
    pub fn malformed(&mut self, example: impl FnOnce() -> String) {
        self.report.malformed += 1;
        if self.report.malformed_examples.len() < crate::verify::EXAMPLES {
            self.report.malformed_examples.push(example());
        }
    }

    /// Notes that partition `p` was read up to (exclusive) offset `end`.
    pub fn partition_end(&mut self, p: u32, end: u64) {
        let e = self.report.partition_ends.entry(p).or_insert(0);
        *e = (*e).max(end);
    }

    /// Where this worker's outputs stand, for a snapshot.
    pub fn mark(&self) -> OutputMark {
        let o = &self.report.outputs;
        OutputMark {
            digest: o.digest,
            word_totals: o.word_totals.len(),
            windowed: o.windowed.len(),
            hashtags: o.hashtags.len(),
            alerts: o.alerts.len(),
        }
    }

    /// Rewinds this worker's outputs to `mark` (taken by [`Recorder::mark`] on this recorder):
    /// what was written since will be written again by the replay. Returns how many outputs were
    /// rewound. Latencies and the timeline keep the rewound outputs: they were delivered.
    pub fn rewind(&mut self, mark: &OutputMark) -> u64 {
        let o = &mut self.report.outputs;
        let before = o.digest.updates + (o.windowed.len() + o.hashtags.len() + o.alerts.len()) as u64;
        o.digest = mark.digest;
        o.word_totals.truncate(mark.word_totals);
        o.windowed.truncate(mark.windowed);
        o.hashtags.truncate(mark.hashtags);
        o.alerts.truncate(mark.alerts);
        before - (o.digest.updates + (o.windowed.len() + o.hashtags.len() + o.alerts.len()) as u64)
    }

    /// Notes a restore after a fault.
    pub fn restore(&mut self, restore: Restore) {
        self.report.restores.push(restore);
    }

    /// Adds a micro-batch's statistics.
    pub fn batch(&mut self, info: BatchInfo) {
        self.report.batches.push(info);
    }

    /// Hands the report to the observer. Dropping a recorder does the same.
    pub fn finish(mut self) {
        self.hand_over();
    }

    /// Hands the report to the observer now, when the recorder is shared and cannot be consumed;
    /// anything recorded afterwards is dropped.
    pub fn complete(&mut self) {
        self.hand_over();
    }

    fn hand_over(&mut self) {
        if !self.finished {
            self.finished = true;
            self.report.finished_ns = self.now_ns();
            if self.report.inputs > 0 {
                self.report.inputs_done_ns = self.report.finished_ns;
            }
            let report = std::mem::replace(&mut self.report, RunReport::empty(self.timeline_ns));
            self.observer.shared.reports.lock().expect("observer lock").push(report);
        }
    }
}

/// See [`Recorder::latency_runs`]; records the last run when dropped.
pub struct LatencyRuns<'a> {
    recorder: &'a mut Recorder,
    now_ns: u64,
    reference_ns: u64,
    n: u64,
}

impl LatencyRuns<'_> {
    /// One output with this reference time.
    #[inline]
    pub fn add(&mut self, reference_ns: u64) {
        if reference_ns != self.reference_ns && self.n > 0 {
            self.recorder.latencies(self.reference_ns, self.now_ns, self.n);
            self.n = 0;
        }
        self.reference_ns = reference_ns;
        self.n += 1;
    }

    /// The recorder, for outputs.
    #[inline]
    pub fn recorder(&mut self) -> &mut Recorder {
        self.recorder
    }
}

impl Drop for LatencyRuns<'_> {
    fn drop(&mut self) {
        if self.n > 0 {
            self.recorder.latencies(self.reference_ns, self.now_ns, self.n);
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.hand_over();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_and_bad_ones_are_refused() {
        assert_eq!("kill-worker:1@5s".parse(), Ok(Fault::KillWorker { worker: 1, at_ns: 5 * SECOND_NS }));
        assert_eq!("kill-process:0@1500ms".parse(), Ok(Fault::KillProcess { process: 0, at_ns: 1_500_000_000 }));
        assert_eq!(
            "slow-worker:2@1s+2s*4".parse(),
            Ok(Fault::SlowWorker { worker: 2, at_ns: SECOND_NS, for_ns: 2 * SECOND_NS, factor: 4.0 })
        );
        for bad in ["kill-worker", "kill-worker:x@1s", "explode:1@1s", "kill-worker:1@soon", "slow-worker:1@1s+1s*0.5"]
        {
            assert!(bad.parse::<Fault>().is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration_ns("10s"), Some(10 * SECOND_NS));
        assert_eq!(parse_duration_ns("250ms"), Some(250_000_000));
        assert_eq!(parse_duration_ns("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration_ns("0"), Some(0));
        assert_eq!(parse_duration_ns("10"), None);
        assert_eq!(parse_duration_ns("fast"), None);
    }

    #[test]
    fn recorders_merge_without_sharing() {
        let obs = Observer::with(0, SECOND_NS, Collect::Full);
        obs.start();
        let mut a = obs.recorder();
        let mut b = obs.recorder();
        a.inputs(10, 0);
        a.latency(0, 2_000_000);
        b.inputs(5, 1_500_000_000);
        b.latency(1_000_000_000, 1_500_000_000);
        b.alert(Alert { sensor: 1, seq: 2, milli: 3 });
        a.finish();
        drop(b);
        let r = obs.report();
        assert_eq!(r.inputs, 15);
        assert_eq!(r.latency_us.len(), 2);
        assert_eq!(r.timeline.len(), 2);
        assert_eq!(r.timeline[1].inputs, 5);
        assert_eq!(r.outputs.alerts.len(), 1);
        assert!(r.latency_us.value_at_quantile(1.0) >= 499_000);
    }

    #[test]
    fn validation_names_the_fix() {
        let mut spec = RunSpec::new(
            JobSpec::default_for(crate::spec::Workload::Wordcount),
            Profile::Constant { rate: 10.0 },
            SECOND_NS,
        );
        assert!(spec.validate().is_ok());
        spec.cluster.workers = 0;
        assert!(spec.validate().unwrap_err().0.contains("--workers"));
        spec.cluster.workers = 1;
        spec.faults.push(Fault::KillWorker { worker: 3, at_ns: 0 });
        assert!(spec.validate().unwrap_err().0.contains("0..0"));
        spec.faults.clear();
        spec.checkpoint.interval_ns = Some(0);
        assert!(spec.validate().unwrap_err().0.contains("give 1ms or more"));
    }
}
