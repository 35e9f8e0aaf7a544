//! The micro-batch engine: Spark Streaming's discretized streams on the timely cluster fabric,
//! laid out along Spark's own seams.
//!
//! **API** ([`context`], [`conf`], [`dstream`], [`input`]): a [`StreamingContext`] cuts streams
//! into batches every batch interval; input streams ([`input`]: queue, direct, receiver, socket,
//! file) feed a graph of DStreams built by transformations, windows and state
//! ([`dstream`], a file per family); output operations make one job per batch.
//! **Lineage** ([`rdd`]): each batch's RDD is a lineage of narrow dependencies and shuffles
//! (with map-side combine), walked by one visitor.
//! **Driver** ([`scheduler`]): a thread running the job generator on a timer, one job at a time
//! in batch order; the DAG scheduler splits each job into stages at shuffle boundaries, and a
//! stage starts only when every task of the stage before it has finished.
//! **Executors** ([`executor`]): every timely worker, with its own block manager; tasks, shuffle
//! blocks and completions travel over one long-lived timely dataflow.
//!
//! **Workloads** ([`jobs`]): the harness workloads as a Spark user writes them, a file each.
//!
//! **Fault tolerance**: received blocks stored on two executors; state checkpointed to files
//! every checkpoint interval, a metadata checkpoint after every batch, lost executors'
//! partitions recomputed from lineage on the survivors, a restarted program resumed with
//! [`StreamingContext::get_or_create`]. **Several processes**: the driver in process 0 tells the
//! others each batch's inputs; they generate the same lineage and run its tasks.

pub mod conf;
pub mod context;
pub mod dstream;
pub mod executor;
pub mod input;
pub mod jobs;
pub mod rdd;
pub mod scheduler;
pub mod text;
pub mod time;

pub use conf::{Clock, StreamingConf};
pub use context::{State, StreamingContext};
pub use dstream::state::{MapWithStateDStream, StateSpec};
pub use dstream::DStream;
pub use input::receiver::Receive;
pub use text::SparkText;

use workloads::{Observer, RunSpec};

/// Why a streaming program or a micro-batch run failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamingError {
    /// A lifecycle rule was broken (returned by the call that broke it).
    #[error("{0}")]
    Lifecycle(String),
    /// An invalid parameter (the message names a value that works).
    #[error("{0}")]
    Invalid(String),
    /// A batch failed while running.
    #[error("a batch failed: {0}")]
    Failed(String),
}

/// Runs `spec` (one of the harness's workloads) on this process's executors, reporting to
/// `observer`.
pub fn run(spec: &RunSpec, observer: &Observer) -> Result<(), StreamingError> {
    jobs::run(spec, observer)
}
