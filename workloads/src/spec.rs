//! What every workload's spec shares: time units and the command line's job options.

use std::path::PathBuf;

/// Nanoseconds in a second.
pub const SECOND_NS: u64 = 1_000_000_000;

/// The job options of the command line, each applied by the workloads that take it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobOptions {
    /// Replay this text file's lines (`--input`; text workloads only).
    pub input: Option<PathBuf>,
    /// The word-count tumbling window, ns (`--wordcount-window`).
    pub wordcount_window_ns: Option<u64>,
    /// A sliding window's length and slide, ns (`--window`, `--slide`).
    pub window: Option<(u64, u64)>,
}

impl JobOptions {
    /// Refuses `--input` for a workload that does not read text.
    pub fn refuse_input(&self, workload: &str) -> Result<(), String> {
        match self.input {
            Some(_) => Err(format!("--input replays lines and works only with --workload wordcount, not {workload}")),
            None => Ok(()),
        }
    }
}
