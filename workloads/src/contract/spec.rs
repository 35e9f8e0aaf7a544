//! What the harness hands an engine: the job, the offered load, the cluster, checkpoints,
//! faults, and each engine's own settings, validated before anything runs.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::contract::fault::Fault;
use crate::job::JobSpec;
use crate::schedule::{count_in_partition, Profile, Schedule, ScheduleError};
use crate::spec::SECOND_NS;

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
    /// Every output except running-count updates, which are kept as an `UpdateDigest`.
    Digest,
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
    /// The journal of a run that spans process restarts (set by `streambench cluster` when the
    /// run has `kill-process` faults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<crate::contract::journal::JournalSpec>,
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
            journal: None,
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

/// The micro-batch engine's settings (Spark's `spark.streaming.*`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MicrobatchSettings {
    /// The batch interval, ns.
    pub batch_interval_ns: u64,
    /// How often receivers cut their records into a block, ns (`spark.streaming.blockInterval`).
    #[serde(default = "MicrobatchSettings::default_block_interval_ns")]
    pub block_interval_ns: u64,
    /// Backpressure (`spark.streaming.backpressure.enabled`); `None`: on at `--rate max` only.
    #[serde(default)]
    pub backpressure: Option<bool>,
    /// A killed executor stays dead and the survivors take its partitions (the default relaunches
    /// it empty, as a cluster manager does, so that the run goes on with N executors).
    #[serde(default)]
    pub keep_lost_executors_dead: bool,
    /// Batches back to back instead of at their time on the wall clock (Spark's `ManualClock`):
    /// at a fixed rate each batch still reads the events due by its time, and nothing waits, so
    /// a run's work does not depend on timing (counted runs).
    #[serde(default)]
    pub manual_clock: bool,
    /// The receivers' write-ahead log (`spark.streaming.receiver.writeAheadLog.enable`): a
    /// socket source's blocks are written to the checkpoint directory before they count as
    /// stored, so what the receiver stored survives a restart of the driver's process.
    #[serde(default)]
    pub receiver_wal: bool,
}

impl Default for MicrobatchSettings {
    fn default() -> Self {
        Self {
            batch_interval_ns: SECOND_NS,
            block_interval_ns: Self::default_block_interval_ns(),
            backpressure: None,
            keep_lost_executors_dead: false,
            manual_clock: false,
            receiver_wal: false,
        }
    }
}

impl MicrobatchSettings {
    fn default_block_interval_ns() -> u64 {
        SECOND_NS / 5
    }

    /// Checks the settings against `job`: the batch interval must divide every window of the
    /// job; the error names batch intervals that fit.
    pub fn validate(&self, job: &JobSpec) -> Result<(), SpecError> {
        let b = self.batch_interval_ns;
        if b == 0 {
            return Err(SpecError("--batch-interval must be longer than 0".into()));
        }
        if self.block_interval_ns == 0 {
            return Err(SpecError("the block interval must be longer than 0".into()));
        }
        let ms = |ns: u64| ns as f64 / 1e6;
        let windows = job.windows();
        let g = windows.iter().fold(0, |g, (_, len)| gcd(g, *len));
        for (flag, len) in &windows {
            if !len.is_multiple_of(b) {
                let fits: Vec<String> = [1, 2, 4, 5, 10]
                    .iter()
                    .filter(|d| g.is_multiple_of(**d))
                    .map(|d| format!("{} ms", ms(g / d)))
                    .collect();
                return Err(SpecError(format!(
                    "{flag} ({} ms) is not a multiple of --batch-interval ({} ms): use a batch interval that divides it, e.g. {}",
                    ms(*len),
                    ms(b),
                    fits.join(", ")
                )));
            }
        }
        Ok(())
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The native engine's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativeSettings {
    /// How far, in event time, a source may run ahead of the output probe, ns: the engine's
    /// bound on ingestion (timely has no backpressure of its own).
    #[serde(default = "NativeSettings::default_max_lead_ns")]
    pub max_lead_ns: u64,
    /// How many of its own snapshot files each worker keeps (older ones are removed).
    #[serde(default = "NativeSettings::default_snapshots_kept")]
    pub snapshots_kept: usize,
}

impl Default for NativeSettings {
    fn default() -> Self {
        Self { max_lead_ns: Self::default_max_lead_ns(), snapshots_kept: Self::default_snapshots_kept() }
    }
}

impl NativeSettings {
    fn default_max_lead_ns() -> u64 {
        SECOND_NS / 10
    }

    fn default_snapshots_kept() -> usize {
        3
    }

    /// Checks the settings; the error says what to change.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.max_lead_ns < 1_000_000 {
            return Err(SpecError("the native source lead must be at least 1 ms".into()));
        }
        if self.snapshots_kept == 0 {
            return Err(SpecError("the native engine must keep at least 1 snapshot per worker".into()));
        }
        Ok(())
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
    /// The micro-batch engine's own settings.
    #[serde(flatten)]
    pub microbatch: MicrobatchSettings,
    /// The native engine's own settings.
    #[serde(flatten, default)]
    pub native: NativeSettings,
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
            microbatch: MicrobatchSettings::default(),
            native: NativeSettings::default(),
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
        if self.microbatch.batch_interval_ns == 0 {
            return Err(SpecError("--batch-interval must be longer than 0".into()));
        }
        self.native.validate()?;
        if self.microbatch.manual_clock && !matches!(self.source, crate::Source::Generator) {
            return Err(SpecError(
                "--manual-clock runs batches back to back, which only a generator source can feed: drop it for a socket source".into(),
            ));
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
                // A restarted generation (on as many processes or not) has had its kills applied
                // to the ones before it by the supervisor.
                Fault::KillProcess { .. } if c.journal.as_ref().is_some_and(|j| j.generation > 0) => continue,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_fix() {
        let mut spec = RunSpec::new(
            JobSpec::default_for(crate::job::Workload::Wordcount),
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
