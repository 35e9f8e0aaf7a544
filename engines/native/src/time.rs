//! Time in the native engine: timely timestamps are event time in ticks, and the constants that
//! bound how much a source does per activation.

/// The granularity of timely timestamps: event time in ns divided by this (100 µs). An input is
/// known to be reflected once the output frontier passes its tick, so the tick is a floor under
/// a running count's input latency (1 ms ticks made it about 1 ms); finer ticks cost progress
/// traffic only when a source moves its capability, at most once per activation.
pub const TICK_NS: u64 = 100_000;

/// Where a source whose input has ended holds its capability while a fault is still to come:
/// past every window, far from overflow when multiplied by [`TICK_NS`].
pub const END_TICK: u64 = u64::MAX / TICK_NS / 4;

/// The checkpoint interval when the run gives none: ten seconds of event time (the micro-batch
/// engine's default for state, Spark's), which on a schedule is ten seconds of the run.
pub const DEFAULT_INTERVAL_NS: u64 = 10_000_000_000;

/// At most this many events per partition per source activation (keeps operators responsive).
pub const SOURCE_BATCH: u64 = 8 * 1024;

/// An open-loop source with nothing more due looks again after at least this long, so that
/// at a rate below its capacity a worker parks between reads instead of waking for every event.
pub const SOURCE_PAUSE_NS: u64 = 50_000;

/// Records are handed to an output in chunks of this many, so the staging buffer stays in cache.
pub const CHUNK: usize = 1024;
