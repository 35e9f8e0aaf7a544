//! The run contract: what the harness tells an engine to do ([`spec::RunSpec`], with its
//! [`fault::Fault`]s) and how an engine reports what happened ([`observer::Observer`],
//! [`observer::Recorder`], [`report::RunReport`]).
//!
//! Every worker thread owns a [`observer::Recorder`]: latency goes into its own hdrhistogram and
//! timeline, outputs into its own vectors, with no lock and no shared cache line on the hot path.
//! When a worker finishes it hands its recorder back to the [`observer::Observer`] (one lock per
//! worker per run), and the harness merges the workers' reports, and in cluster mode the
//! processes' reports.

pub mod fault;
pub mod journal;
pub mod observer;
mod reflect;
pub mod report;
pub mod spec;
#[cfg(test)]
mod tests;

pub use fault::{chaos, parse_duration_ns, BadFault, Fault};
pub use observer::{LatencyRuns, Observer, Recorder};
pub use report::{
    BatchInfo, CheckpointStats, MicrobatchReport, NativeReport, OutputMark, Outputs, Resources, Restore, RunReport,
    TimelineBucket,
};
pub use spec::{CheckpointSpec, ClusterSpec, Collect, MicrobatchSettings, NativeSettings, RunSpec, Source, SpecError};
