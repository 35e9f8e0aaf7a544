//! Rate control: Spark's PID rate estimator (backpressure) and the rate limits it and the
//! configuration set on direct streams and receivers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Spark's PID rate estimator (proportional 1.0, integral 0.2, derivative 0), which, with
/// `spark.streaming.backpressure.enabled`, bounds how many records each batch ingests: after
/// every batch it moves towards the rate at which that batch was processed.
#[derive(Clone, Debug)]
pub struct PidRateEstimator {
    rate: f64,
    min_rate: f64,
}

impl PidRateEstimator {
    /// An estimator starting at `initial` records/s.
    pub fn new(initial: f64) -> Self {
        Self { rate: initial, min_rate: 100.0 }
    }

    /// The current bound, records/s.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Updates from a finished batch (an estimator started unbounded takes the first batch's
    /// processing rate) of `records` processed in `processing_ms` after waiting
    /// `scheduling_ms`, with batches every `interval_ms`.
    pub fn update(&mut self, records: u64, processing_ms: f64, scheduling_ms: f64, interval_ms: f64) {
        if records == 0 || processing_ms <= 0.0 {
            return;
        }
        let processing_rate = records as f64 / processing_ms * 1000.0;
        if self.rate == f64::MAX {
            self.rate = processing_rate.max(self.min_rate);
            return;
        }
        let error = self.rate - processing_rate;
        let historical_error = scheduling_ms * processing_rate / interval_ms;
        self.rate = (self.rate - error - 0.2 * historical_error).max(self.min_rate);
    }
}

/// A records-per-second limit shared between the driver, which sets it, and the sources, which
/// read it (0: none).
#[derive(Clone, Debug, Default)]
pub struct RateLimit(Arc<AtomicU64>);

impl RateLimit {
    /// The limit, records/s, if any.
    pub fn get(&self) -> Option<f64> {
        Some(f64::from_bits(self.0.load(Ordering::Relaxed))).filter(|r| *r > 0.0)
    }

    /// Sets the limit (`None`: none).
    pub fn set(&self, rate: Option<f64>) {
        self.0.store(rate.unwrap_or(0.0).to_bits(), Ordering::Relaxed);
    }
}

/// The smaller of two optional limits.
pub fn min_limit(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::PidRateEstimator;

    #[test]
    fn the_estimator_moves_to_the_processing_rate() {
        let mut e = PidRateEstimator::new(1000.0);
        // 10 000 records processed in 500 ms, no scheduling delay: 20 000/s.
        e.update(10_000, 500.0, 0.0, 1000.0);
        assert_eq!(e.rate(), 20_000.0);
        // Then a batch that waited 500 ms: the backlog takes a fifth of its rate off.
        e.update(10_000, 500.0, 500.0, 1000.0);
        assert_eq!(e.rate(), 20_000.0 - 0.2 * 10_000.0);
    }

    /// A window sliding every 10 s over 1 s batches, processed at about 100 M records/s (130 M
    /// for the first, small one, 70 M for the next): each window reads ten batches at the
    /// estimated rate and starts late by as much as the last one overran. The rate found after
    /// each window, with the backlog spread over `period_ms`.
    fn windows(period_ms: f64) -> Vec<f64> {
        let (mut e, mut late_ms) = (PidRateEstimator::new(1e6), 0.0);
        [130e6, 70e6, 100e6, 100e6, 100e6, 100e6, 100e6, 100e6]
            .into_iter()
            .map(|speed| {
                let records = e.rate() * 10.0;
                let processing_ms = records / speed * 1000.0;
                e.update(records as u64, processing_ms, late_ms, period_ms);
                late_ms = (late_ms + processing_ms - 10_000.0).max(0.0);
                e.rate()
            })
            .collect()
    }

    #[test]
    fn a_window_slides_backlog_is_drained_over_the_slide() {
        // Over the slide, the rate settles at what the windows are processed at.
        let over_slide = windows(10_000.0);
        assert!(over_slide[4..].iter().all(|r| (80e6..=100e6).contains(r)), "{over_slide:?}");
        // Over a batch interval (Spark's), one late window is read as ten batches' backlog
        // and the rate falls to its floor.
        assert!(windows(1_000.0).contains(&100.0), "{:?}", windows(1_000.0));
    }
}
