//! The options of one run, shared by `run`, `compare`, `sustainable`, `sweep` and `cluster`, and
//! the validated run spec they make.

use std::path::PathBuf;

use anyhow::{bail, Result};
use workloads::contract::journal::JournalSpec;
use workloads::contract::{CheckpointSpec, ClusterSpec};
use workloads::{Collect, Fault, JobOptions, RunSpec, Source, Workload};

use crate::engine::Engine;
use crate::options::{parse_duration, parse_rate, parse_seed, parse_source, workload_parser, CollectArg, Rate};

/// The options of one run (shared by `run`, `compare`, `sustainable`, `sweep` and `cluster`).
#[derive(Clone, Debug, clap::Args)]
pub struct RunArgs {
    /// The engine.
    #[arg(long, value_enum, env = "STREAMBENCH_ENGINE")]
    pub engine: Engine,
    /// The workload.
    #[arg(long, value_parser = workload_parser(), env = "STREAMBENCH_WORKLOAD")]
    pub workload: Workload,
    /// Offered events per second (all partitions), or `max`.
    #[arg(long, default_value = "100k", value_parser = parse_rate, env = "STREAMBENCH_RATE")]
    pub rate: Rate,
    /// How long sources offer events.
    #[arg(long, default_value = "10s", value_parser = parse_duration, env = "STREAMBENCH_DURATION")]
    pub duration: u64,
    /// The start of the run excluded from the measurements.
    #[arg(long, default_value = "2s", value_parser = parse_duration, env = "STREAMBENCH_WARMUP")]
    pub warmup: u64,
    /// Stop after this many events, if sooner.
    #[arg(long, env = "STREAMBENCH_RECORDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub records: Option<u64>,
    /// Worker threads per process.
    #[arg(long, default_value_t = 1, env = "STREAMBENCH_WORKERS", value_parser = clap::value_parser!(u64).range(1..))]
    pub workers: u64,
    /// Processes in the cluster.
    #[arg(long, default_value_t = 1, env = "STREAMBENCH_PROCESSES", value_parser = clap::value_parser!(u64).range(1..))]
    pub processes: u64,
    /// This process's index in the cluster.
    #[arg(long, default_value_t = 0, env = "STREAMBENCH_PROCESS_ID")]
    pub process_id: u64,
    /// One host:port per process, one per line.
    #[arg(long, env = "STREAMBENCH_HOSTFILE")]
    pub hostfile: Option<PathBuf>,
    /// How long the processes of a cluster wait for each other before failing.
    #[arg(long, default_value = "30s", value_parser = parse_duration, env = "STREAMBENCH_CONNECT_TIMEOUT")]
    pub connect_timeout: u64,
    /// The micro-batch engine's batch interval.
    #[arg(long, default_value = "1s", value_parser = parse_duration, env = "STREAMBENCH_BATCH_INTERVAL")]
    pub batch_interval: u64,
    /// How often state is checkpointed (engine default when absent).
    #[arg(long, value_parser = parse_duration, env = "STREAMBENCH_CHECKPOINT_INTERVAL")]
    pub checkpoint_interval: Option<u64>,
    /// Where checkpoints go.
    #[arg(long, env = "STREAMBENCH_CHECKPOINT_DIR")]
    pub checkpoint_dir: Option<PathBuf>,
    /// Micro-batch: a killed executor stays dead and the survivors take its partitions (by
    /// default it is relaunched empty, as a cluster manager relaunches one, and the run goes on
    /// with every executor, as the native engine does with every worker).
    #[arg(long, env = "STREAMBENCH_KEEP_LOST_EXECUTORS_DEAD")]
    pub keep_lost_executors_dead: bool,
    /// Micro-batch: batches back to back, not at their time on the wall clock (Spark's
    /// `ManualClock`; at a fixed rate each batch still reads what is due by its time). For
    /// counted runs, whose work must not depend on timing.
    #[arg(long, env = "STREAMBENCH_MANUAL_CLOCK")]
    pub manual_clock: bool,
    /// Micro-batch, socket source: the receivers' write-ahead log (Spark's
    /// `spark.streaming.receiver.writeAheadLog.enable`): every received block is written to the
    /// checkpoint directory before it counts as stored, so a restarted driver loses no received
    /// line (`kill-process` on a socket source needs it, and a feed started with `--resumable`).
    #[arg(long, env = "STREAMBENCH_RECEIVER_WAL")]
    pub receiver_wal: bool,
    /// Write this process's raw share of the run (as a process of a cluster run does, for
    /// `streambench merge` to verify) instead of verifying it here.
    #[arg(long, hide = true)]
    pub unjudged: bool,
    /// A process of a run that spans restarts (set by `streambench cluster` for `kill-process`):
    /// the journal's directory.
    #[arg(long, hide = true)]
    pub journal: Option<PathBuf>,
    /// The generation of processes (0, then one more per restart), with `--journal`.
    #[arg(long, hide = true, default_value_t = 0, requires = "journal")]
    pub generation: u32,
    /// The run's start (ns since the Unix epoch) for a restarted generation, with `--journal`.
    #[arg(long, hide = true, requires = "journal")]
    pub epoch_unix_ns: Option<u64>,
    /// A fault to inject: kill-worker:W@T, kill-process:P@T, slow-worker:W@T+D*F (repeatable).
    #[arg(long = "fault", env = "STREAMBENCH_FAULT")]
    pub faults: Vec<Fault>,
    /// Faults drawn from this seed instead: kills and stragglers at random times and workers, one
    /// for every 6 s of the run, at least 2.5 s apart (see `streambench chaos`).
    #[arg(long, conflicts_with = "faults", value_parser = parse_seed, env = "STREAMBENCH_CHAOS")]
    pub chaos: Option<u64>,
    /// Event-time disorder bound.
    #[arg(long, default_value = "0", value_parser = parse_duration, env = "STREAMBENCH_DISORDER")]
    pub disorder: u64,
    /// The generator seed.
    #[arg(long, default_value_t = 1, value_parser = parse_seed, allow_hyphen_values = true, env = "STREAMBENCH_SEED")]
    pub seed: u64,
    /// Where events come from: generator, or socket://HOST:PORT (see `feed`).
    #[arg(long, default_value = "generator", value_parser = parse_source, env = "STREAMBENCH_SOURCE")]
    pub source: Source,
    /// Source partitions (default: one per worker of the cluster).
    #[arg(long, env = "STREAMBENCH_PARTITIONS", value_parser = clap::value_parser!(u32).range(1..))]
    pub partitions: Option<u32>,
    /// Replay this text file's lines (wordcount).
    #[arg(long, env = "STREAMBENCH_INPUT")]
    pub input: Option<PathBuf>,
    /// Word count per tumbling window of this length instead of a running count.
    #[arg(long, value_parser = parse_duration, env = "STREAMBENCH_WORDCOUNT_WINDOW")]
    pub wordcount_window: Option<u64>,
    /// Hashtag window length.
    #[arg(long, default_value = "10s", value_parser = parse_duration, env = "STREAMBENCH_WINDOW")]
    pub window: u64,
    /// Hashtag window slide.
    #[arg(long, default_value = "1s", value_parser = parse_duration, env = "STREAMBENCH_SLIDE")]
    pub slide: u64,
    /// What to keep of the outputs for verification.
    #[arg(long, value_enum, default_value = "digest", env = "STREAMBENCH_COLLECT")]
    pub collect: CollectArg,
    /// Write the result JSON here (printed to stdout when absent). A process of a cluster run
    /// writes its share of the outputs here, for `streambench merge`.
    #[arg(long, env = "STREAMBENCH_OUT")]
    pub out: Option<PathBuf>,
}

impl RunArgs {
    /// The spec of the run as one process would see it alone (a cluster's processes get their
    /// hostfile from `streambench cluster`), validated.
    pub fn to_spec_alone(&self) -> Result<RunSpec> {
        let mut alone = self.clone();
        alone.processes = 1;
        alone.hostfile = None;
        alone.process_id = 0;
        alone.to_spec()
    }

    /// The run spec, validated; the error names the fix.
    pub fn to_spec(&self) -> Result<RunSpec> {
        let mut job = self.workload.default_job();
        let options = JobOptions {
            input: self.input.clone(),
            wordcount_window_ns: self.wordcount_window,
            window: Some((self.window, self.slide)),
        };
        job.configure(&options).map_err(anyhow::Error::msg)?;
        let profile = self.rate.profile();
        let processes = self.processes as usize;
        let addresses = match &self.hostfile {
            Some(path) if processes > 1 => ClusterSpec::read_hostfile(path, processes)?,
            None if processes > 1 => bail!("--processes {processes} needs --hostfile FILE with one host:port per process (or use `streambench cluster`)"),
            _ => Vec::new(),
        };
        let mut spec = RunSpec::new(job, profile, self.duration);
        spec.warmup_ns = self.warmup;
        spec.records = self.records;
        spec.seed = self.seed;
        spec.partitions = self.partitions;
        spec.disorder_ns = self.disorder;
        spec.cluster = ClusterSpec {
            workers: self.workers as usize,
            processes,
            process_id: self.process_id as usize,
            hostfile: self.hostfile.clone(),
            addresses,
            connect_timeout_ns: self.connect_timeout,
            journal: self.journal.clone().map(|dir| JournalSpec {
                dir,
                generation: self.generation,
                epoch_unix_ns: self.epoch_unix_ns,
            }),
        };
        spec.microbatch.batch_interval_ns = self.batch_interval;
        spec.microbatch.keep_lost_executors_dead = self.keep_lost_executors_dead;
        spec.microbatch.manual_clock = self.manual_clock;
        spec.microbatch.receiver_wal = self.receiver_wal;
        if self.receiver_wal && self.engine != Engine::Microbatch {
            bail!("--receiver-wal is the micro-batch engine's receivers' write-ahead log: leave it out for the native engine (its socket source keeps no log)");
        }
        if self.receiver_wal && !matches!(self.source, Source::Socket(_)) {
            bail!("--receiver-wal logs what a receiver stores: give --source socket://HOST:PORT (the generator is a direct stream, whose offsets the metadata checkpoint records already)");
        }
        spec.checkpoint = CheckpointSpec { interval_ns: self.checkpoint_interval, dir: self.checkpoint_dir.clone() };
        spec.faults = match self.chaos {
            Some(seed) => {
                let faults = workloads::contract::chaos(seed, self.duration, self.warmup, spec.cluster.total_workers());
                if faults.is_empty() {
                    bail!("--chaos needs a run long enough for two faults 2.5 s apart from 1 s after the warm-up to 2 s before the end: give a longer --duration");
                }
                faults
            }
            None => self.faults.clone(),
        };
        spec.source = self.source.clone();
        spec.collect = match self.collect {
            CollectArg::Full => Collect::Full,
            CollectArg::Digest => Collect::Digest,
        };
        if matches!(spec.source, Source::Socket(_)) {
            // A feed sends one stream in global order: one partition.
            spec.partitions = Some(1);
        }
        if self.warmup >= self.duration && self.records.is_none() {
            bail!(
                "--warmup ({} ms) must be shorter than --duration ({} ms)",
                self.warmup / 1_000_000,
                self.duration / 1_000_000
            );
        }
        if self.engine == Engine::Microbatch {
            spec.microbatch.validate(&spec.job)?;
        }
        if spec.cluster.journal.is_none() && spec.faults.iter().any(|f| matches!(f, Fault::KillProcess { .. })) {
            bail!("kill-process is applied by `streambench cluster`, which restarts the whole cluster: run `streambench cluster --processes N -- <these options>`, or use kill-worker");
        }
        spec.validate()?;
        Ok(spec)
    }
}

/// The run options alone, as a parser (`experiment` lists their names).
#[derive(Debug, clap::Parser)]
#[command(no_binary_name = true)]
pub(crate) struct RunOnly {
    #[command(flatten)]
    run: RunArgs,
}

/// `args` without option `flag` (`--flag VALUE` or `--flag=VALUE`), for a command that sets it
/// itself.
pub fn without(args: &[String], flag: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut skip = false;
    for a in args {
        if std::mem::take(&mut skip) {
            continue;
        }
        if a == flag {
            skip = true;
        } else if !a.strip_prefix(flag).is_some_and(|rest| rest.starts_with('=')) {
            out.push(a.clone());
        }
    }
    out
}

/// Parses run options given after `--` (as `streambench run` takes them), with `extra` appended
/// (later options win).
pub fn parse_run_options(base: &[String], extra: &[String]) -> Result<RunArgs> {
    use clap::Parser as _;
    let all: Vec<String> = base.iter().chain(extra).cloned().collect();
    Ok(RunOnly::try_parse_from(&all).map_err(|e| anyhow::anyhow!("the run options after `--`: {e}"))?.run)
}

#[cfg(test)]
mod tests {
    #[test]
    fn without_drops_the_option_in_both_spellings_and_nothing_else() {
        let args: Vec<String> =
            ["--out", "a", "--rate", "1k", "--out=b", "--outs", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(super::without(&args, "--out"), ["--rate", "1k", "--outs", "c"]);
    }
}
