//! Human-readable summaries of results.

use crate::result::RunResult;

/// One line: engine, workload, throughput, latency and correctness.
pub fn one_line(r: &RunResult) -> String {
    format!(
        "{} {}: {:.0} records/s ({:.0}/node), latency p50 {:.1} ms p99 {:.1} ms max {:.1} ms, {}",
        r.engine,
        r.workload,
        r.throughput.records_per_sec,
        r.throughput.records_per_sec_per_node,
        r.latency_ms.p50,
        r.latency_ms.p99,
        r.latency_ms.max,
        if r.correct { "correct".to_owned() } else { format!("INCORRECT: {}", r.verification) }
    )
}
