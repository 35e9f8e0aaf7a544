//! The kinds of run a comparison makes, shared by `compare`, the summary, the plots and the
//! report.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A kind of run of one engine on one workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunKind {
    /// At `--rate max`: the engine's capacity.
    Max,
    /// At a fixed rate common to both engines (half the smaller max): latency side by side.
    CommonRate,
    /// At half of the engine's own max, when that differs from the common rate.
    HalfMax,
    /// At the common rate with a worker killed half-way: recovery.
    Fault,
    /// The micro-batch engine at the common rate with another batch interval.
    BatchInterval,
    /// At the common rate with event-time disorder: accuracy.
    Disorder,
    /// At max on another number of workers or processes.
    Scaling,
}

impl RunKind {
    /// The kind's name in file names and tables.
    pub fn name(self) -> &'static str {
        match self {
            RunKind::Max => "max",
            RunKind::CommonRate => "common-rate",
            RunKind::HalfMax => "half-max",
            RunKind::Fault => "fault",
            RunKind::BatchInterval => "batch-interval",
            RunKind::Disorder => "disorder",
            RunKind::Scaling => "scaling",
        }
    }
}

impl fmt::Display for RunKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}
