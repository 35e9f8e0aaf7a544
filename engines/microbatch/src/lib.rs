//! The micro-batch engine: Spark Streaming's discretized streams on the timely cluster fabric.
//!
//! Not built yet: [`run`] refuses every run with [`MicrobatchError::NotBuilt`] so that nothing
//! mistakes its absence for a result.

use workloads::{Observer, RunSpec};

/// Why a micro-batch run failed.
#[derive(Debug, thiserror::Error)]
pub enum MicrobatchError {
    /// The engine is not implemented yet.
    #[error("the micro-batch engine is not built yet: use --engine native")]
    NotBuilt,
}

/// Runs `spec` on this process's executors, reporting to `observer`.
pub fn run(_spec: &RunSpec, _observer: &Observer) -> Result<(), MicrobatchError> {
    Err(MicrobatchError::NotBuilt)
}
