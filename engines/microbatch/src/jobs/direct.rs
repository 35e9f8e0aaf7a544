//! A generator run: the workload's events as a direct stream. The direct stream reads, for
//! batch `t`, each partition's events due in `[t - interval, t)` (at `max`, as many as the rate
//! estimator allows). A listener on the driver records, for each batch, the offsets it read (at
//! the batch time, keyed by the first batch whose output contains them: the batch itself, or the
//! next window to fire) and, once the batch's outputs are done, which inputs they reflect.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use workloads::schedule::Schedule;
use workloads::{Observer, RunSpec};

use crate::conf::StreamingConf;
use crate::context::StreamingContext;
use crate::dstream::{DStream, Time};
use crate::jobs::{conf_of, Job};
use crate::rdd::Data;
use crate::scheduler::listener::Listener;
use crate::StreamingError;

/// Where each partition's batches end: the planner's view, shared by the direct stream (which
/// plans) and the listener (which records what each batch read).
struct Planner {
    ends: Vec<u64>,
    /// What the direct stream planned and the listener has not recorded yet:
    /// `(batch time, partition, from, to)`. An output whose slide is several batches computes
    /// several batches' ranges at once (a window computes its batches when it fires).
    read: Vec<(Time, usize, u64, u64)>,
    /// The latest batch time each partition's ranges were planned for.
    planned: Vec<Time>,
}

/// How a direct stream's batch ends: `(partition, batch time, from, allowed) -> end`.
type RangeFn = Arc<dyn Fn(usize, Time, u64, Option<u64>) -> u64 + Send + Sync>;

/// The generator's direct stream, for a workload's job to read its events from.
pub(crate) struct DirectSource<'a> {
    ssc: &'a StreamingContext,
    partitions: usize,
    range: RangeFn,
    /// The batch interval, ns.
    pub(crate) interval: u64,
}

impl DirectSource<'_> {
    /// The context the job is built on (for RDDs built once, as `parallelize` makes them).
    pub(crate) fn context(&self) -> &StreamingContext {
        self.ssc
    }

    /// A direct stream whose record `i` of partition `p` is what `read(p, i, out)` pushes.
    pub(crate) fn stream<T: Data>(
        &self,
        read: impl Fn(u32, u64, &mut Vec<T>) + Send + Sync + 'static,
    ) -> Result<DStream<T>, StreamingError> {
        let range = Arc::clone(&self.range);
        self.ssc.direct_stream(
            self.partitions,
            move |p, t, from, allowed| range(p, t, from, allowed),
            move |p, i, out| read(p as u32, i, out),
        )
    }
}

/// Runs `job` over the generator's events.
pub(crate) fn run(spec: &RunSpec, job: &dyn Job, observer: &Observer) -> Result<(), StreamingError> {
    let interval = spec.microbatch.batch_interval_ns;
    let schedule = spec.schedule();
    let partitions = spec.partitions() as usize;
    let max = schedule.profile().is_max();
    // Batches that read data, then enough empty ones to close every window holding data.
    let data_batches = spec.duration_ns.div_ceil(interval);
    // When every partition has reached its end (a record cap), the batches that close the
    // windows still run, then the run stops rather than idling until the duration is over.
    let exhausted_at = Arc::new(AtomicU64::new(u64::MAX));
    let (done, idle) = (Arc::clone(&exhausted_at), Arc::clone(&exhausted_at));
    let flush_batches = crate::jobs::flush_ns(&spec.job).div_ceil(interval);
    let bounded = (0..partitions).all(|p| spec.partition_end(p as u32).is_some());
    let conf = StreamingConf {
        // A record cap at `max` is read to the end, however long that takes (as native does);
        // otherwise the duration bounds the batches that read data.
        batches: (!(max && bounded)).then_some(data_batches + flush_batches),
        stop_before: Some(Arc::new(move |t| {
            let at = done.load(Ordering::Relaxed);
            at != u64::MAX && t > at + flush_batches * interval
        })),
        no_wait: Some(Arc::new(move |t| t > idle.load(Ordering::Relaxed))),
        // At `max`, Spark's backpressure sizes every batch.
        backpressure: spec.microbatch.backpressure.unwrap_or(max),
        initial_rate: max.then_some(workloads::schedule::DEFAULT_NOMINAL_RATE),
        ..conf_of(spec)
    };
    // Without a directory of the user's, checkpoints go to a private one removed afterwards.
    let (mut ssc, scratch) = crate::jobs::context(spec, conf, observer)?;
    let planner =
        Arc::new(Mutex::new(Planner { ends: vec![0; partitions], read: Vec::new(), planned: vec![0; partitions] }));
    let range = range(spec, &planner, &exhausted_at);
    ssc.add_listener(listener(spec, &planner, observer));
    job.direct(spec, &DirectSource { ssc: &ssc, partitions, range, interval })?;
    ssc.start()?;
    let result = ssc.await_termination();
    if let Some(dir) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    result.map(drop)
}

/// What the planner and the listener both read of a spec.
struct Layout {
    interval: u64,
    duration: u64,
    partitions: usize,
    schedule: Schedule,
    max: bool,
    /// Where each partition ends, if known in advance.
    ends: Vec<Option<u64>>,
    /// Whether every partition's end is known.
    bounded: bool,
}

impl Layout {
    fn of(spec: &RunSpec) -> Self {
        let partitions = spec.partitions() as usize;
        let schedule = spec.schedule();
        let ends: Vec<Option<u64>> = (0..partitions).map(|p| spec.partition_end(p as u32)).collect();
        Self {
            interval: spec.microbatch.batch_interval_ns,
            duration: spec.duration_ns,
            partitions,
            max: schedule.profile().is_max(),
            schedule,
            bounded: ends.iter().all(Option::is_some),
            ends,
        }
    }
}

/// Where each batch of each partition ends: what was due by the batch's time (or, at `max`,
/// what backpressure allows), never beyond the partition's end; notes when every partition is
/// exhausted.
fn range(spec: &RunSpec, planner: &Arc<Mutex<Planner>>, exhausted: &Arc<AtomicU64>) -> RangeFn {
    let Layout { interval, duration, partitions, schedule, max, ends, bounded } = Layout::of(spec);
    let (plan, exhausted) = (Arc::clone(planner), Arc::clone(exhausted));
    Arc::new(move |p: usize, t: u64, from: u64, allowed: Option<u64>| -> u64 {
        let mut pl = plan.lock().expect("planner");
        let to = if !bounded && t > duration.div_ceil(interval) * interval {
            from
        } else if max {
            // As much as backpressure allows.
            from + allowed.unwrap_or(1)
        } else {
            schedule.events_before(p as u32, t.min(duration))
        };
        let to = ends[p].map_or(to, |e| to.min(e)).max(from);
        pl.ends[p] = to;
        pl.read.push((t, p, from, to));
        pl.planned[p] = pl.planned[p].max(t);
        if p + 1 == partitions && ends.iter().zip(&pl.ends).all(|(e, at)| e.is_some_and(|e| *at >= e)) {
            exhausted.fetch_min(t, Ordering::Relaxed);
        }
        to
    })
}

/// Per batch, on the driver: the inputs each partition's batch read, their arrivals, and which
/// inputs the batch's outputs reflect.
fn listener(spec: &RunSpec, planner: &Arc<Mutex<Planner>>, observer: &Observer) -> Listener {
    let Layout { interval, duration, schedule, max, ends, bounded, .. } = Layout::of(spec);
    // Windows fire every slide; other outputs every batch.
    let slide = spec.job.slide_ns().unwrap_or(interval).max(interval);
    let mut recorder = observer.recorder();
    let plan = Arc::clone(planner);
    Box::new(move |info| {
        let t = info.batch_time_ms * 1_000_000;
        let output_ns = t + (info.total_delay_ms * 1e6) as u64;
        let mut pl = plan.lock().expect("planner");
        // Every batch's ranges planned since the last batch, each under its own batch time.
        let mut read = std::mem::take(&mut pl.read);
        read.sort_unstable();
        for (s, p, from, to) in read.into_iter().filter(|r| r.3 > r.2) {
            recorder.arrival(p as u32, to, s);
            recorder.partition_end(p as u32, to);
            recorder.read(p as u32, from, to, s, s.div_ceil(slide) * slide);
            if max {
                // Read as fast as allowed: spread over the batch's interval.
                let start = s.saturating_sub(interval);
                let n = to - from;
                for k in 0..10 {
                    recorder.inputs(n * (k + 1) / 10 - n * k / 10, start + k * interval / 10);
                }
            } else {
                count_due(&mut recorder, &schedule, p as u32, (from, to));
            }
        }
        // The batch's outputs are out: what they reflect is reflected now.
        recorder.reflect(t + 1, output_ns);
        recorder.commit(workloads::contract::journal::Commit::Batch {
            source: crate::commits::LISTENER,
            time_ns: t,
            part: 0,
            parts: 1,
        });
        // Done once no read can come any more: every partition planned up to the end of the
        // data (a window plans its batches only when it fires), or read to its end.
        let data_end = duration.div_ceil(interval) * interval;
        if (!bounded && pl.planned.iter().all(|s| *s >= data_end))
            || pl.ends.iter().zip(&ends).all(|(at, e)| e.is_some_and(|e| *at >= e))
        {
            recorder.complete();
        }
    })
}

/// Counts the inputs `[from, to)` of partition `p` in the timeline, each in the interval it was
/// due in (grouped by millisecond).
fn count_due(recorder: &mut workloads::Recorder, schedule: &Schedule, p: u32, (from, to): (u64, u64)) {
    let mut i = from;
    while i < to {
        let due = schedule.due(p, i).unwrap_or(0);
        let slot_end = (due / 1_000_000 + 1) * 1_000_000;
        let next = schedule.events_before(p, slot_end).clamp(i + 1, to);
        recorder.inputs(next - i, due);
        i = next;
    }
}
