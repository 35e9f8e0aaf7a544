//! The COST baseline: each job as a single-threaded plain loop over the same generated events,
//! with the same job logic and no engine. Every engine figure is quoted as a ratio to it. Each
//! workload writes its loop in its own `cost.rs`; `registry::cost` times it.

use std::time::Duration;

/// What a COST loop did.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CostResult {
    /// Input records processed.
    pub records: u64,
    /// Outputs produced (updates, window results or alerts).
    pub outputs: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Records per second.
    pub records_per_sec: f64,
}

/// Event `k` of a single global order over the generator's partitions: `(k % n, k / n)`.
#[inline]
pub fn coordinates(k: u64, partitions: u64) -> (u32, u64) {
    ((k % partitions) as u32, k / partitions)
}
