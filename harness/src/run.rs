//! `streambench run`: one measured run of one engine on one workload.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use workloads::contract::{CheckpointSpec, ClusterSpec};
use workloads::verify::{self, Running, Verdict};
use workloads::{oracle, Collect, Fault, JobSpec, Observer, Profile, RunReport, RunSpec, Source, WordCountSpec};

use crate::cli::{parse_duration, parse_seed, WorkloadArg};
use crate::result::{summarize, Context, Quality, RunResult};

/// An engine on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// The micro-batch (discretized stream) engine.
    Microbatch,
    /// The native (pipelined timely) engine.
    Native,
}

impl Engine {
    /// Both engines, in report order.
    pub const ALL: [Engine; 2] = [Engine::Microbatch, Engine::Native];

    /// The engine's name.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Microbatch => "microbatch",
            Engine::Native => "native",
        }
    }

    /// How its running counts report.
    pub fn running(self) -> Running {
        match self {
            Engine::Microbatch => Running::Snapshots,
            Engine::Native => Running::EveryUpdate,
        }
    }

    /// Runs `spec` to completion on this process, reporting to `observer`.
    pub fn run(self, spec: &RunSpec, observer: &Observer) -> Result<()> {
        match self {
            Engine::Native => native::run(spec, observer).map_err(Into::into),
            Engine::Microbatch => microbatch::run(spec, observer).map_err(Into::into),
        }
    }
}

/// An offered rate: events per second, or `max`.
#[derive(Clone, Debug, PartialEq)]
pub enum Rate {
    /// Events per second, all partitions together.
    PerSecond(f64),
    /// A piecewise constant rate: `(start ns, events per second)`, the first at 0.
    Steps(Vec<(u64, f64)>),
    /// A base rate with a burst at `peak` for `burst_ns` at the end of every `period_ns`.
    Bursts {
        /// Events per second outside bursts.
        base: f64,
        /// Events per second in a burst.
        peak: f64,
        /// The period, ns.
        period_ns: u64,
        /// The burst's length in each period, ns.
        burst_ns: u64,
    },
    /// As fast as the engine pulls.
    Max,
}

impl Rate {
    /// The schedule profile of this rate.
    pub fn profile(&self) -> Profile {
        match self {
            Rate::PerSecond(rate) => Profile::Constant { rate: *rate },
            Rate::Steps(steps) => Profile::Steps { steps: steps.clone() },
            Rate::Bursts { base, peak, period_ns, burst_ns } => {
                Profile::Bursts { base: *base, peak: *peak, period_ns: *period_ns, burst_ns: *burst_ns }
            }
            Rate::Max => Profile::Max { nominal: workloads::schedule::DEFAULT_NOMINAL_RATE },
        }
    }
}

const RATE_HELP: &str = "give events per second above 0 (100000, 100k, 1.5M), max, \
steps:RATE@START,... (steps:100k@0s,300k@5s) or bursts:BASE,PEAK,PERIOD,BURST (bursts:100k,1M,10s,1s)";

/// Parses `max`, a positive number of events per second (`100000`, `100k`, `1.5M`), steps
/// (`steps:100k@0s,300k@5s`: each rate from its start on) or bursts (`bursts:100k,1M,10s,1s`:
/// 100k/s with 1M/s for the last second of every 10 s).
pub fn parse_rate(s: &str) -> Result<Rate, String> {
    let bad = || format!("`{s}` is not a rate: {RATE_HELP}");
    if s.eq_ignore_ascii_case("max") {
        return Ok(Rate::Max);
    }
    if let Some(steps) = s.strip_prefix("steps:") {
        let steps = steps
            .split(',')
            .map(|step| {
                let (rate, at) = step.split_once('@')?;
                Some((parse_duration(at).ok()?, events_per_second(rate)?))
            })
            .collect::<Option<Vec<(u64, f64)>>>()
            .ok_or_else(bad)?;
        if steps.first().map(|s| s.0) != Some(0) || steps.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(format!("`{s}`: steps start at 0s and their starts increase (e.g. steps:100k@0s,300k@5s)"));
        }
        return Ok(Rate::Steps(steps));
    }
    if let Some(bursts) = s.strip_prefix("bursts:") {
        let parts: Vec<&str> = bursts.split(',').collect();
        let [base, peak, period, burst] = parts[..] else { return Err(bad()) };
        let (base, peak) = (events_per_second(base).ok_or_else(bad)?, events_per_second(peak).ok_or_else(bad)?);
        let (period_ns, burst_ns) = (parse_duration(period)?, parse_duration(burst)?);
        if burst_ns == 0 || burst_ns >= period_ns {
            return Err(format!(
                "`{s}`: a burst lasts more than 0 and less than its period (e.g. bursts:100k,1M,10s,1s)"
            ));
        }
        return Ok(Rate::Bursts { base, peak, period_ns, burst_ns });
    }
    events_per_second(s).map(Rate::PerSecond).ok_or_else(bad)
}

/// `100000`, `100k`, `1.5M`: events per second above 0.
fn events_per_second(s: &str) -> Option<f64> {
    let (num, scale) = match s.strip_suffix(['k', 'K']) {
        Some(n) => (n, 1e3),
        None => match s.strip_suffix('M') {
            Some(n) => (n, 1e6),
            None => (s, 1.0),
        },
    };
    num.parse::<f64>().ok().map(|r| r * scale).filter(|r| *r > 0.0 && r.is_finite())
}

/// Parses `generator` or `socket://host:port`.
pub fn parse_source(s: &str) -> Result<Source, String> {
    if s == "generator" {
        Ok(Source::Generator)
    } else if let Some(addr) = s.strip_prefix("socket://").filter(|a| a.contains(':')) {
        Ok(Source::Socket(addr.to_owned()))
    } else {
        Err(format!("`{s}` is not a source: give generator or socket://HOST:PORT"))
    }
}

/// What a run keeps of its outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CollectArg {
    /// Every output (memory grows with the run).
    Full,
    /// Running-count updates as an order-independent digest.
    Digest,
}

/// The options of one run (shared by `run`, `compare`, `sustainable`, `sweep` and `cluster`).
#[derive(Clone, Debug, clap::Args)]
pub struct RunArgs {
    /// The engine.
    #[arg(long, value_enum, env = "STREAMBENCH_ENGINE")]
    pub engine: Engine,
    /// The workload.
    #[arg(long, value_enum, env = "STREAMBENCH_WORKLOAD")]
    pub workload: WorkloadArg,
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
    /// A fault to inject: kill-worker:W@T, kill-process:P@T, slow-worker:W@T+D*F (repeatable).
    #[arg(long = "fault", env = "STREAMBENCH_FAULT")]
    pub faults: Vec<Fault>,
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
    /// The run spec, validated; the error names the fix.
    pub fn to_spec(&self) -> Result<RunSpec> {
        let mut job = JobSpec::default_for(self.workload.into());
        match &mut job {
            JobSpec::Wordcount(s) => {
                *s = WordCountSpec { input: self.input.clone(), window_ns: self.wordcount_window, ..s.clone() }
            }
            JobSpec::Hashtags(s) => {
                s.window_ns = self.window;
                s.slide_ns = self.slide;
            }
            JobSpec::Sensors(_) => {}
        }
        if self.input.is_some() && !matches!(job, JobSpec::Wordcount(_)) {
            bail!("--input replays lines and works only with --workload wordcount");
        }
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
        };
        spec.batch_interval_ns = self.batch_interval;
        spec.checkpoint = CheckpointSpec { interval_ns: self.checkpoint_interval, dir: self.checkpoint_dir.clone() };
        spec.faults = self.faults.clone();
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
            check_batch_fit(&spec)?;
        }
        spec.validate()?;
        Ok(spec)
    }
}

/// Refuses windows that are not whole multiples of the batch interval, naming intervals that fit.
pub fn check_batch_fit(spec: &RunSpec) -> Result<()> {
    let b = spec.batch_interval_ns;
    let ms = |ns: u64| ns as f64 / 1e6;
    let windows: Vec<(&str, u64)> = match &spec.job {
        JobSpec::Hashtags(s) => vec![("--window", s.window_ns), ("--slide", s.slide_ns)],
        JobSpec::Wordcount(WordCountSpec { window_ns: Some(w), .. }) => vec![("--wordcount-window", *w)],
        _ => vec![],
    };
    for (flag, len) in windows {
        if !len.is_multiple_of(b) {
            let g = windows_gcd(spec);
            let fits: Vec<String> = [1, 2, 4, 5, 10]
                .iter()
                .filter(|d| g.is_multiple_of(**d))
                .map(|d| format!("{} ms", ms(g / d)))
                .collect();
            bail!(
                "{flag} ({} ms) is not a multiple of --batch-interval ({} ms): use a batch interval that divides it, e.g. {}",
                ms(len),
                ms(b),
                fits.join(", ")
            );
        }
    }
    Ok(())
}

fn windows_gcd(spec: &RunSpec) -> u64 {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    match &spec.job {
        JobSpec::Hashtags(s) => gcd(s.window_ns, s.slide_ns),
        JobSpec::Wordcount(WordCountSpec { window_ns: Some(w), .. }) => *w,
        _ => spec.batch_interval_ns,
    }
}

#[derive(Debug, clap::Parser)]
#[command(no_binary_name = true)]
struct RunOnly {
    #[command(flatten)]
    run: RunArgs,
}

/// Parses run options given after `--` (as `streambench run` takes them), with `extra` appended
/// (later options win).
pub fn parse_run_options(base: &[String], extra: &[String]) -> Result<RunArgs> {
    use clap::Parser as _;
    let all: Vec<String> = base.iter().chain(extra).cloned().collect();
    Ok(RunOnly::try_parse_from(&all).map_err(|e| anyhow::anyhow!("the run options after `--`: {e}"))?.run)
}

/// One process's raw report, for `cluster` to merge.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Partial {
    /// The engine.
    pub engine: Engine,
    /// The process's spec.
    pub spec: RunSpec,
    /// What its workers observed.
    pub report: RunReport,
}

/// Runs `args` on this process: the whole run in one process (returning its result), or this
/// process's share of a cluster run (writing it to `--out` for `merge`, returning `None`).
pub fn run(args: &RunArgs) -> Result<Option<RunResult>> {
    let spec = args.to_spec()?;
    let partial = spec.cluster.processes > 1;
    if partial && args.out.is_none() {
        bail!("a process of a cluster run needs --out FILE for its share of the outputs (merge the shares with `streambench merge`)");
    }
    if partial {
        let observer = Observer::new(&spec);
        args.engine.run(&spec, &observer)?;
        write_json(args.out.as_deref(), &Partial { engine: args.engine, spec, report: observer.report() })?;
        return Ok(None);
    }
    let result = execute(args.engine, &spec)?;
    write_json(args.out.as_deref(), &result)?;
    Ok(Some(result))
}

/// Runs `spec` on `engine` in this process, verifies the outputs and builds the result.
pub fn execute(engine: Engine, spec: &RunSpec) -> Result<RunResult> {
    let (report, context) = measure(engine, spec)?;
    judge(engine, spec, &report, context)
}

/// Runs `spec` on `engine` without judging its outputs: the report and where it ran.
pub fn measure(engine: Engine, spec: &RunSpec) -> Result<(RunReport, Context)> {
    let context = Context::now(spec);
    let observer = Observer::new(spec);
    let status = live_status(&observer);
    let ran = engine.run(spec, &observer);
    if let Some((stop, thread)) = status {
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = thread.join();
    }
    ran?;
    Ok((observer.report(), context))
}

type StatusThread = (std::sync::Arc<std::sync::atomic::AtomicBool>, std::thread::JoinHandle<()>);

/// On a terminal, a status line (elapsed, records/s, current p99) refreshed every second;
/// nothing otherwise.
fn live_status(observer: &Observer) -> Option<StatusThread> {
    use std::io::{IsTerminal, Write};
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (flag, observer) = (std::sync::Arc::clone(&stop), observer.clone());
    let thread = std::thread::spawn(move || {
        let started = std::time::Instant::now();
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(std::time::Duration::from_millis(250));
            if let Some((_, rps, p99)) = observer.live() {
                let mut e = std::io::stderr();
                let _ = write!(
                    e,
                    "\r{:>6.1} s  {:>12.0} records/s  p99 {:>9.2} ms ",
                    started.elapsed().as_secs_f64(),
                    rps,
                    p99
                );
                let _ = e.flush();
            }
        }
        let _ = write!(std::io::stderr(), "\r{:60}\r", "");
    });
    Some((stop, thread))
}

/// Merges the shares of a cluster run written by its processes, verifies the whole and builds its
/// result. The shares must come from one run (same engine and spec, each process once).
pub fn merge(parts: &[PathBuf]) -> Result<RunResult> {
    let mut merged: Option<Partial> = None;
    let mut seen = std::collections::BTreeSet::new();
    for path in parts {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let p: Partial = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a process's share of a cluster run", path.display()))?;
        if !seen.insert(p.spec.cluster.process_id) {
            bail!("{} is a second share of process {}", path.display(), p.spec.cluster.process_id);
        }
        match merged.as_mut() {
            None => merged = Some(p),
            Some(m) => {
                let mut a = m.spec.clone();
                let mut b = p.spec.clone();
                a.cluster.process_id = 0;
                b.cluster.process_id = 0;
                if m.engine != p.engine || a != b {
                    bail!("{} comes from another run (engine or configuration differ)", path.display());
                }
                m.report.merge(p.report);
            }
        }
    }
    let Some(m) = merged else { bail!("no share to merge: give the files the cluster's processes wrote") };
    let processes = m.spec.cluster.processes;
    if seen.len() != processes {
        bail!("got the shares of {} of {processes} processes: give one file per process", seen.len());
    }
    let mut spec = m.spec;
    spec.cluster.process_id = 0;
    judge(m.engine, &spec, &m.report, Context::now(&spec))
}

/// Verifies a (merged) report and builds its result.
pub fn judge(engine: Engine, spec: &RunSpec, report: &RunReport, context: Context) -> Result<RunResult> {
    let verdict = match &spec.source {
        Source::Generator => verify::run(spec, report, engine.running())?,
        Source::Socket(_) => verify_socket(spec, report, engine.running())?,
    };
    let quality = match (&spec.job, spec.generator()?) {
        (JobSpec::Sensors(_), workloads::contract::AnyGenerator::Sensors(g)) if spec.source == Source::Generator => {
            let readings = report.partition_ends.iter().flat_map(|(&p, &end)| (0..end).map(move |i| (p, i)));
            let (precision, recall) =
                oracle::precision_recall(&report.outputs.alerts, readings.map(|(p, i)| g.event(p, i)));
            Some(Quality { precision, recall })
        }
        _ => None,
    };
    Ok(summarize(engine.name(), spec, report, &verdict, quality, context))
}

/// Socket runs: the feed sent the generator's stream of the same seed in global order, so running
/// counts and alerts (which do not depend on time) are checked against the oracle over the lines
/// read; hashtag windows are by arrival time there, so only conservation is checked: every tag
/// read is counted in `window / slide` windows, none lost or duplicated.
fn verify_socket(spec: &RunSpec, report: &RunReport, running: Running) -> Result<Verdict> {
    match &spec.job {
        JobSpec::Hashtags(s) => {
            let workloads::contract::AnyGenerator::Tweets(g) = spec.generator()? else {
                bail!("a hashtags run has a tweet generator")
            };
            let read = report.partition_ends.get(&0).copied().unwrap_or(0);
            let tags: u64 = (0..read).map(|i| workloads::text::hashtags(&g.event(0, i).text).count() as u64).sum();
            let expected = tags * (s.window_ns / s.slide_ns);
            let got: u64 = report.outputs.hashtags.iter().map(|w| w.total).sum();
            Ok(if got == expected {
                Verdict {
                    correct: true,
                    checked: report.outputs.hashtags.len() as u64,
                    message: format!(
                        "ok: {got} tag counts over all windows, as {tags} tags read imply (windows by arrival time)"
                    ),
                }
            } else {
                Verdict::failed(
                    report.outputs.hashtags.len() as u64,
                    format!("windows count {got} tags, but {tags} tags read imply {expected}: tags lost or duplicated"),
                )
            })
        }
        _ => Ok(verify::run(spec, report, running)?),
    }
}

/// Writes pretty JSON to a file, or to stdout.
pub fn write_json<T: Serialize>(path: Option<&Path>, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    match path {
        Some(p) => {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(p, text + "\n").with_context(|| format!("writing {}", p.display()))
        }
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_rate, Rate};

    #[test]
    fn rates_constant_steps_bursts_and_max() {
        assert_eq!(parse_rate("1.5M"), Ok(Rate::PerSecond(1.5e6)));
        assert_eq!(parse_rate("max"), Ok(Rate::Max));
        assert_eq!(parse_rate("steps:100k@0s,300k@5s"), Ok(Rate::Steps(vec![(0, 1e5), (5_000_000_000, 3e5)])));
        assert_eq!(
            parse_rate("bursts:100k,1M,10s,1s"),
            Ok(Rate::Bursts { base: 1e5, peak: 1e6, period_ns: 10_000_000_000, burst_ns: 1_000_000_000 })
        );
        for bad in
            ["0", "-5", "fast", "steps:100k@1s", "steps:1k@0s,2k@0s", "steps:1k", "bursts:1k,2k,1s,1s", "bursts:1k"]
        {
            let err = parse_rate(bad).unwrap_err();
            assert!(err.contains("e.g.") || err.contains("steps:RATE@START"), "{bad}: {err}");
        }
    }
}
