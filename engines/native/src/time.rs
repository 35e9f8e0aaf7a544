//! Time in the native engine: timely timestamps are event time in ticks, and the constants that
//! bound how much a source does per activation.

/// The granularity of timely timestamps: event time in ns divided by this.
pub const TICK_NS: u64 = 1_000_000;

/// Where a source whose input has ended holds its capability while a fault is still to come:
/// past every window, far from overflow when multiplied by [`TICK_NS`].
pub const END_TICK: u64 = u64::MAX / TICK_NS / 4;

/// The checkpoint interval when the run gives none: ten seconds of event time (the micro-batch
/// engine's default for state, Spark's), which on a schedule is ten seconds of the run.
pub const DEFAULT_INTERVAL_NS: u64 = 10_000_000_000;

/// At most this many events per partition per source activation (keeps operators responsive).
pub const SOURCE_BATCH: u64 = 8 * 1024;

/// Records are handed to an output in chunks of this many, so the staging buffer stays in cache.
pub const CHUNK: usize = 1024;
