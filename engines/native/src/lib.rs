//! The native engine: each workload as a timely dataflow of long-running, pipelined operators,
//! as Flink and Naiad run streams.
//!
//! Laid out as timely's own examples are: **operators** ([`operators`], one per file) are the
//! spec's stages: sources emit each event as it comes due, at the source's watermark time, so
//! the frontier is the watermark and windows close when it passes their end; stateful operators
//! exchange records by key and update and emit immediately (running counts, detectors) or when
//! the frontier completes a window; sinks report every output with its reference time to the
//! worker's [`workloads::Recorder`]. **Jobs** ([`jobs`], a file per workload) wire them.
//! **Snapshots** ([`snapshot`]): Flink-style consistent cuts on epochs of the frontier, restored
//! after a fault; each stateful operator registers its part. **Time** ([`time`]): ticks and the
//! constants that bound a source. **Cluster** ([`cluster`]) builds timely's configuration from
//! the run spec: one process with N worker threads, or several processes on a hostfile.
//!
//! ```
//! use workloads::{JobSpec, Observer, Profile, RunSpec, Workload};
//!
//! let mut spec = RunSpec::new(JobSpec::default_for(Workload::Wordcount), Profile::Max { nominal: 1e6 }, 10_000_000_000);
//! spec.records = Some(1000);
//! let observer = Observer::new(&spec);
//! native::run(&spec, &observer).unwrap();
//! let report = observer.report();
//! assert_eq!(report.inputs, 1000);
//! assert_eq!(report.outputs.digest.updates, 10 * 1000);
//! ```

use workloads::{Fault, Observer, RunSpec, Source};

pub mod cluster;
pub mod jobs;
pub mod operators;
pub mod snapshot;
pub mod time;
mod worker;

/// Why a native run failed.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    /// The run spec is refused (returned by [`run`] before anything starts).
    #[error("invalid run: {0}")]
    Spec(#[from] workloads::contract::SpecError),
    /// The generator could not be built.
    #[error(transparent)]
    Generator(#[from] workloads::generator::GeneratorError),
    /// The cluster could not form (bad hostfile, port in use, a peer missing).
    #[error("cluster: {0}")]
    Cluster(String),
    /// A worker panicked or failed.
    #[error("worker failed: {0}")]
    Worker(String),
    /// The run asks for something the native engine does not do.
    #[error("the native engine does not support {0}")]
    Unsupported(String),
    /// The socket source failed.
    #[error("socket source: {0}")]
    Socket(String),
}

/// Runs `spec` to completion on this process's workers, reporting to `observer`.
pub fn run(spec: &RunSpec, observer: &Observer) -> Result<(), NativeError> {
    spec.validate()?;
    // `streambench cluster` applies a kill-process and restarts the cluster (the run has a
    // journal then); a process alone cannot.
    if spec.faults.iter().any(|f| matches!(f, Fault::KillProcess { .. })) && spec.cluster.journal.is_none() {
        return Err(NativeError::Unsupported(
            "kill-process outside `streambench cluster` (which applies it and restarts the cluster): run it there, or use kill-worker".into(),
        ));
    }
    let from_socket = matches!(spec.source, Source::Socket(_));
    if from_socket && spec.faults.iter().any(|f| !matches!(f, workloads::Fault::SlowWorker { .. })) {
        return Err(NativeError::Unsupported(
            "kill faults with a socket source (a socket has no offsets to replay from): use the generator".into(),
        ));
    }
    let job: std::sync::Arc<dyn jobs::Job> = jobs::job(spec)?.into();
    // One receiver per run, in process 0, drained by worker 0.
    let socket = match &spec.source {
        Source::Socket(addr) if spec.cluster.process_id == 0 => {
            Some(operators::socket::Receiver::connect(addr, observer)?)
        }
        _ => None,
    };
    // Snapshots go to the run's checkpoint directory, else to a private one (shared by the
    // processes of a cluster on one host); none for a socket source.
    let scratch = spec.checkpoint.dir.is_none().then(|| match spec.cluster.processes {
        1 => workloads::durable::scratch_dir("native"),
        _ => std::env::temp_dir().join(format!("streambench-native-{}", spec.cluster.addresses[0].replace(':', "_"))),
    });
    let dir = (!from_socket).then(|| spec.checkpoint.dir.clone().or_else(|| scratch.clone())).flatten();
    let processes = spec.cluster.processes;
    let (spec, observer) = (spec.clone(), observer.clone());
    let result = cluster::execute(&spec.cluster.clone(), move |worker| {
        let shared =
            worker::Shared { spec: &spec, job: &*job, observer: &observer, socket: socket.as_ref(), dir: dir.clone() };
        worker::run(worker, &shared);
        Ok(())
    });
    // A private directory goes; one shared by a cluster's processes goes with the last of them
    // (each worker removed its own files).
    if let Some(scratch) = scratch {
        let _ = if processes == 1 { std::fs::remove_dir_all(scratch) } else { std::fs::remove_dir(scratch) };
    }
    result
}
