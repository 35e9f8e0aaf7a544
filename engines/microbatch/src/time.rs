//! Time in the micro-batch engine: batch times, and the rule that every duration a stream is
//! given (a window, a slide, a checkpoint interval) is a multiple of the batch interval.

use crate::StreamingError;

/// A batch time: ns since the start of the stream, a multiple of the batch interval.
pub type Time = u64;

/// A duration in ns (the unit batch times are in).
pub(crate) fn ns(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Refuses a duration `d` (ns) that is not a positive multiple of `batch` (ns), naming the
/// multiple below it (or above it, with `round_up`) as one that works.
pub(crate) fn check_multiple(what: &str, d: u64, batch: u64, round_up: bool) -> Result<(), StreamingError> {
    if d == 0 || !d.is_multiple_of(batch) {
        let suggested = if round_up { d.div_ceil(batch) } else { d / batch }.max(1) * batch;
        return Err(StreamingError::Invalid(format!(
            "the {what} ({} ms) must be a multiple of the batch interval ({} ms): e.g. {} ms",
            d / 1_000_000,
            batch / 1_000_000,
            suggested / 1_000_000
        )));
    }
    Ok(())
}
