//! The workloads as a Spark Streaming user writes them, a file per workload, each on two
//! sources: the direct generator stream ([`direct`]) and a socket receiver ([`socket`]).
//!
//! - [`wordcount`]: `flat_map` to words, `map` to pairs, `reduce_by_key` per batch, and a running
//!   count with `update_state_by_key` (every key's total, every batch); the windowed variant is
//!   the per-batch `reduce_by_key` itself;
//! - [`hashtags`]: `flat_map` to tags, `count_by_value_and_window`, the top 10 by `transform`;
//! - [`sensors`]: per-sensor detector state with `map_with_state`, an alert as the mapped record.

pub mod direct;
pub mod hashtags;
pub mod sensors;
pub mod socket;
pub mod wordcount;
pub mod ysb;

use std::time::Duration;

use workloads::{Fault, JobSpec, Observer, RunSpec, Source};

use crate::conf::{Clock, StreamingConf};
use crate::context::StreamingContext;
use crate::jobs::direct::DirectSource;
use crate::jobs::socket::SocketSource;
use crate::StreamingError;

/// A workload's job, as the engine builds it on either source.
pub(crate) trait Job: Sync {
    /// Builds the job over the generator's direct stream.
    fn direct(&self, spec: &RunSpec, source: &DirectSource<'_>) -> Result<(), StreamingError>;

    /// Builds the job over the lines a socket receiver reads.
    fn socket(&self, spec: &RunSpec, source: &SocketSource<'_>) -> Result<(), StreamingError>;
}

/// How long after the input ends windows still need batches to close, ns: the longest window.
pub(crate) fn flush_ns(spec: &JobSpec) -> u64 {
    spec.windows().iter().map(|w| w.1).max().unwrap_or(0)
}

/// The job of `spec`'s workload: the engine's one line per workload.
fn job(spec: &JobSpec) -> &dyn Job {
    match spec {
        JobSpec::Wordcount(s) => s,
        JobSpec::Hashtags(s) => s,
        JobSpec::Sensors(s) => s,
        JobSpec::Ysb(s) => s,
    }
}

/// Runs `spec` on the micro-batch engine, reporting to `observer`.
pub fn run(spec: &RunSpec, observer: &Observer) -> Result<(), StreamingError> {
    spec.validate().map_err(|e| StreamingError::Invalid(e.to_string()))?;
    spec.microbatch.validate(&spec.job).map_err(|e| StreamingError::Invalid(e.to_string()))?;
    // `streambench cluster` applies a kill-process and restarts the cluster (the run has a
    // journal then); a process alone cannot.
    if spec.faults.iter().any(|f| matches!(f, Fault::KillProcess { .. })) && spec.cluster.journal.is_none() {
        return Err(StreamingError::Invalid(
            "kill-process is applied by `streambench cluster`, which restarts the cluster: run it there, or use kill-worker".into(),
        ));
    }
    match &spec.source {
        Source::Socket(addr) => socket::run(spec, job(&spec.job), observer, addr),
        Source::Generator => direct::run(spec, job(&spec.job), observer),
    }
}

/// The context of a run of `spec` on `conf`, reporting to `observer`, checkpointing into the
/// spec's directory or, without one, a private one (returned, for the caller to remove after
/// the run). A restarted generation of a run that spans restarts resumes from the metadata
/// checkpoint (and the receivers' write-ahead log), as a Spark driver restarted with
/// `getOrCreate` does.
fn context(
    spec: &RunSpec,
    conf: StreamingConf,
    observer: &Observer,
) -> Result<(StreamingContext, Option<std::path::PathBuf>), StreamingError> {
    let scratch = spec.checkpoint.dir.is_none().then(|| workloads::durable::scratch_dir("microbatch"));
    let dir = spec.checkpoint.dir.clone().or_else(|| scratch.clone()).expect("a directory");
    let batch = Duration::from_nanos(spec.microbatch.batch_interval_ns);
    let restarted = spec.cluster.journal.as_ref().is_some_and(|j| j.generation > 0);
    let mut ssc = if restarted {
        StreamingContext::get_or_create(&dir, || StreamingContext::new(conf, batch))?
    } else {
        let mut ssc = StreamingContext::new(conf, batch)?;
        ssc.checkpoint(dir)?;
        ssc
    };
    ssc.set_observer(observer.clone());
    if let Some(ns) = spec.checkpoint.interval_ns {
        ssc.checkpoint_interval(Duration::from_nanos(ns))?;
    }
    Ok((ssc, scratch))
}

/// What every run's context has: an executor per worker of the cluster, two shuffle partitions
/// per executor, the wall clock, the spec's faults and the engine's settings.
fn conf_of(spec: &RunSpec) -> StreamingConf {
    let settings = &spec.microbatch;
    StreamingConf {
        executors: spec.cluster.total_workers(),
        partitions: spec.cluster.total_workers() * 2,
        cluster: Some(spec.cluster.clone()),
        clock: if settings.manual_clock { Clock::Manual } else { Clock::System },
        // A counted run (batches back to back) must not count the relay's idle looks: look
        // seldom, at the cost of up to that much per stage in wall time.
        relay_poll: if settings.manual_clock { Duration::from_millis(5) } else { Duration::from_micros(200) },
        faults: spec.faults.clone(),
        relaunch_lost_executors: !settings.keep_lost_executors_dead,
        block_interval: Duration::from_nanos(settings.block_interval_ns),
        backpressure: settings.backpressure.unwrap_or(false),
        receiver_wal: settings.receiver_wal,
        ..StreamingConf::default()
    }
}
