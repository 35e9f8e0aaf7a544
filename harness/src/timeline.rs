//! A run's timeline as results show it: per interval, input records/s, outputs, and both
//! latency families' percentiles.

use serde::{Deserialize, Serialize};
use workloads::RunReport;

/// One interval of the timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// The interval's start, s from the start of the run.
    pub t_s: f64,
    /// Input records per second in the interval.
    pub records_per_sec: f64,
    /// Outputs in the interval.
    pub outputs: u64,
    /// Inputs first reflected in the interval (its input-latency samples).
    pub reflected: u64,
    /// Median input latency of the inputs reflected in the interval, ms; `null` without any.
    pub input_p50_ms: Option<f64>,
    /// 99th percentile input latency of the inputs reflected in the interval, ms.
    pub input_p99_ms: Option<f64>,
    /// 99th percentile output latency of the interval's outputs, ms.
    pub output_p99_ms: Option<f64>,
}

/// The timeline of `report`, one point per interval.
pub fn points(report: &RunReport) -> Vec<TimelinePoint> {
    let tl = report.timeline_ns as f64 / 1e9;
    let q = |h: &hdrhistogram::Histogram<u64>, q: f64| (!h.is_empty()).then(|| h.value_at_quantile(q) as f64 / 1000.0);
    report
        .timeline
        .iter()
        .enumerate()
        .map(|(i, b)| TimelinePoint {
            t_s: i as f64 * tl,
            // The last interval may be cut short by the end of the run.
            records_per_sec: b.inputs as f64 / (report.finished_ns as f64 / 1e9 - i as f64 * tl).clamp(1e-3, tl),
            outputs: b.outputs,
            reflected: b.input_latency_us.len(),
            input_p50_ms: q(&b.input_latency_us, 0.5),
            input_p99_ms: q(&b.input_latency_us, 0.99),
            output_p99_ms: q(&b.output_latency_us, 0.99),
        })
        .collect()
}
