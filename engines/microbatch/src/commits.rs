//! The journal's commit sources of the micro-batch engine (see `workloads::contract::journal`):
//! the job scheduler's batch infos, the input listener's, and the output operations, numbered
//! from [`OUTPUT`] in the order they were registered (the same in every generation of a run that
//! spans restarts, as the graph is built the same way).

/// The job scheduler's batch infos.
pub(crate) const SCHEDULER: u32 = 0;
/// The input listener's reads and input latencies.
pub(crate) const LISTENER: u32 = 1;
/// The first output operation.
pub(crate) const OUTPUT: u32 = 2;
