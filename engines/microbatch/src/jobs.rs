//! The three workloads as a Spark Streaming user writes them, on the direct generator stream.
//!
//! - wordcount: `flat_map` to words, `map` to pairs, `reduce_by_key` per batch, and a running
//!   count with `update_state_by_key` (every key's total, every batch); the windowed variant is
//!   the per-batch `reduce_by_key` itself;
//! - hashtags: `flat_map` to tags, `count_by_value_and_window`, the top 10 by `transform`;
//! - sensors: per-sensor detector state with `map_with_state`, an alert as the mapped record.
//!
//! The direct stream reads, for batch `t`, each partition's events due in `[t - interval, t)`
//! (at `max`, as many as the rate estimator allows). A listener on the driver records, for each
//! batch, every input's latency (the batch's end minus the input's scheduled time) and the
//! offsets each batch read.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use compact_str::CompactString;
use workloads::contract::AnyGenerator;
use workloads::logic::{SensorWindow, Threshold};
use workloads::output::{insert_top, Alert, HashtagWindow, WindowedCount};
use workloads::{JobSpec, Observer, RunSpec};

use crate::context::{Clock, StreamingConf, StreamingContext};
use crate::rdd::Rdd;
use crate::state::{State, StateSpec};
use crate::StreamingError;

/// Spark's PID rate estimator (proportional 1.0, integral 0.2, derivative 0), bounding how many
/// records a batch reads at `max` (`spark.streaming.backpressure.enabled`).
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

    /// Updates from a finished batch of `records` processed in `processing_ms` after waiting
    /// `scheduling_ms`, with batches every `interval_ms`.
    pub fn update(&mut self, records: u64, processing_ms: f64, scheduling_ms: f64, interval_ms: f64) {
        if records == 0 || processing_ms <= 0.0 {
            return;
        }
        let processing_rate = records as f64 / processing_ms * 1000.0;
        let error = self.rate - processing_rate;
        let historical_error = scheduling_ms * processing_rate / interval_ms;
        self.rate = (self.rate - error - 0.2 * historical_error).max(self.min_rate);
    }
}

struct Planner {
    ends: Vec<u64>,
    estimator: PidRateEstimator,
    last: Vec<(u64, u64)>,
}

/// Runs `spec` on the micro-batch engine, reporting to `observer`.
pub fn run(spec: &RunSpec, observer: &Observer) -> Result<(), StreamingError> {
    spec.validate().map_err(|e| StreamingError::Invalid(e.to_string()))?;
    if spec.cluster.processes > 1 {
        return Err(StreamingError::Invalid(
            "the micro-batch engine runs in one process so far: use --processes 1".into(),
        ));
    }
    if spec.faults.iter().any(|f| matches!(f, workloads::Fault::KillProcess { .. })) {
        return Err(StreamingError::Invalid(
            "kill-process needs several processes, which the micro-batch engine does not run: use kill-worker".into(),
        ));
    }
    if spec.source != workloads::Source::Generator {
        return Err(StreamingError::Invalid(
            "the micro-batch engine reads the generator only so far: use --source generator".into(),
        ));
    }
    let interval = spec.batch_interval_ns;
    let schedule = spec.schedule();
    let partitions = spec.partitions() as usize;
    let max = schedule.profile().is_max();
    // Batches that read data, then enough empty ones to close every window holding data.
    let flush = match &spec.job {
        JobSpec::Hashtags(h) => h.window_ns,
        _ => 0,
    };
    let data_batches = spec.duration_ns.div_ceil(interval);
    // When every partition has reached its end (a record cap), the batches that close the
    // windows still run, then the run stops rather than idling until the duration is over.
    let exhausted_at = Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX));
    let done = Arc::clone(&exhausted_at);
    let idle = Arc::clone(&exhausted_at);
    let flush_batches = flush.div_ceil(interval);
    let bounded = (0..partitions).all(|p| spec.partition_end(p as u32).is_some());
    let conf = StreamingConf {
        executors: spec.cluster.workers,
        partitions: spec.cluster.workers.max(1) * 2,
        clock: Clock::System,
        // A record cap at `max` is read to the end, however long that takes (as native does);
        // otherwise the duration bounds the batches that read data.
        batches: (!(max && bounded)).then_some(data_batches + flush_batches),
        stop_before: Some(Arc::new(move |t| {
            let at = done.load(std::sync::atomic::Ordering::Relaxed);
            at != u64::MAX && t > at + flush_batches * interval
        })),
        no_wait: Some(Arc::new(move |t| t > idle.load(std::sync::atomic::Ordering::Relaxed))),
        faults: spec.faults.clone(),
        ..StreamingConf::default()
    };
    let mut ssc = StreamingContext::new(conf, Duration::from_nanos(interval))?;
    ssc.set_observer(observer.clone());
    // Without a directory of the user's, checkpoints go to a private one removed afterwards.
    let scratch = spec.checkpoint.dir.is_none().then(|| {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        std::env::temp_dir().join(format!("streambench-microbatch-{}-{nanos}", std::process::id()))
    });
    ssc.checkpoint(spec.checkpoint.dir.clone().or_else(|| scratch.clone()).expect("a directory"));
    if let Some(ns) = spec.checkpoint.interval_ns {
        ssc.checkpoint_interval(Duration::from_nanos(ns))?;
    }

    let ends: Vec<Option<u64>> = (0..partitions).map(|p| spec.partition_end(p as u32)).collect();
    let planner = Arc::new(Mutex::new(Planner {
        ends: vec![0; partitions],
        estimator: PidRateEstimator::new(workloads::schedule::DEFAULT_NOMINAL_RATE),
        last: vec![(0, 0); partitions],
    }));
    let (plan, duration) = (Arc::clone(&planner), spec.duration_ns);
    let sched = schedule.clone();
    let exhausted = Arc::clone(&exhausted_at);
    let all_ends = ends.clone();
    let range = move |p: usize, t: u64, from: u64| -> u64 {
        let mut pl = plan.lock().expect("planner");
        let to = if !bounded && t > duration.div_ceil(interval) * interval {
            from
        } else if max {
            let per_partition = (pl.estimator.rate() * interval as f64 / 1e9 / partitions as f64).ceil() as u64;
            from + per_partition.max(1)
        } else {
            sched.events_before(p as u32, t.min(duration))
        };
        let to = ends[p].map_or(to, |e| to.min(e)).max(from);
        pl.ends[p] = to;
        pl.last[p] = (from, to);
        if p + 1 == partitions && all_ends.iter().zip(&pl.ends).all(|(e, at)| e.is_some_and(|e| *at >= e)) {
            exhausted.fetch_min(t, std::sync::atomic::Ordering::Relaxed);
        }
        to
    };

    let all_ends_l: Vec<Option<u64>> = (0..partitions).map(|p| spec.partition_end(p as u32)).collect();
    // Per batch: inputs, arrivals and latency of every input, on the driver.
    let mut recorder = observer.recorder();
    let (plan, sched) = (Arc::clone(&planner), schedule.clone());
    ssc.add_listener(Box::new(move |info| {
        let t = info.batch_time_ms * 1_000_000;
        let output_ns = t + (info.total_delay_ms * 1e6) as u64;
        let mut pl = plan.lock().expect("planner");
        let mut records = 0;
        for p in 0..partitions {
            let (from, to) = pl.last[p];
            pl.last[p] = (to, to);
            if to > from {
                records += to - from;
                recorder.arrival(p as u32, to, t);
                recorder.partition_end(p as u32, to);
                recorder.inputs(to - from, t.saturating_sub(interval));
                if max {
                    recorder.latencies(t.saturating_sub(interval), output_ns, to - from);
                } else {
                    // Inputs grouped by the millisecond they were due in.
                    let mut i = from;
                    while i < to {
                        let due = sched.due(p as u32, i).unwrap_or(0);
                        let slot_end = (due / 1_000_000 + 1) * 1_000_000;
                        let next = sched.events_before(p as u32, slot_end).clamp(i + 1, to);
                        recorder.latencies(due, output_ns, next - i);
                        i = next;
                    }
                }
            }
        }
        if max {
            pl.estimator.update(records, info.processing_delay_ms, info.scheduling_delay_ms, interval as f64 / 1e6);
        }
        if (!bounded && t >= duration.div_ceil(interval) * interval)
            || pl.ends.iter().zip(&all_ends_l).all(|(at, e)| e.is_some_and(|e| *at >= e))
        {
            recorder.complete();
        }
    }));

    match (&spec.job, spec.generator().map_err(|e| StreamingError::Invalid(e.to_string()))?) {
        (JobSpec::Wordcount(s), AnyGenerator::Lines(g)) => {
            let lines = ssc.direct_stream(partitions, range, move |p, i, out: &mut Vec<String>| {
                out.push(g.event(p as u32, i).text.into_owned())
            })?;
            let pairs = lines.flat_map(|l: &String| {
                workloads::text::words(l).map(|w| (CompactString::from(w), 1u64)).collect::<Vec<_>>()
            })?;
            let per_batch = pairs.reduce_by_key(|a, b| a + b)?;
            match s.window_ns {
                Some(w) if w == interval => per_batch.foreach_partition(|t, _p, counts, r| {
                    for (word, count) in counts {
                        r.windowed(WindowedCount { window_end: t, word: word.to_string(), count: *count });
                    }
                })?,
                Some(w) => {
                    per_batch.reduce_by_key_and_window(|a, b| a + b, w, w)?.foreach_partition(|t, _p, counts, r| {
                        for (word, count) in counts {
                            r.windowed(WindowedCount { window_end: t, word: word.to_string(), count: *count });
                        }
                    })?
                }
                None => per_batch
                    .update_state_by_key(|new: &[u64], old: Option<&u64>| {
                        Some(new.iter().sum::<u64>() + old.copied().unwrap_or(0))
                    })?
                    .foreach_partition(|_t, _p, totals, r| {
                        for (word, total) in totals {
                            r.word_snapshot(word, *total);
                        }
                    })?,
            }
        }
        (JobSpec::Hashtags(s), AnyGenerator::Tweets(g)) => {
            let tweets = ssc.direct_stream(partitions, range, move |p, i, out: &mut Vec<String>| {
                out.push(g.event(p as u32, i).text.into_owned())
            })?;
            let tags = tweets
                .flat_map(|t: &String| workloads::text::hashtags(t).map(CompactString::from).collect::<Vec<_>>())?;
            let k = s.top_k;
            let top = tags
                .count_by_value_and_window(s.window_ns, s.slide_ns)?
                .transform(move |ids, counts, t| top_k(ids, counts, t, k))?;
            top.foreach_partition(|_t, _p, windows, r| {
                let now = r.now_ns();
                for w in windows.iter().filter(|w| w.total > 0) {
                    r.latency(w.window_end, now);
                    r.hashtag_window(w.clone());
                }
            })?;
        }
        (JobSpec::Sensors(s), AnyGenerator::Sensors(g)) => {
            let readings = ssc.direct_stream(partitions, range, move |p, i, out: &mut Vec<(u32, (u64, i64))>| {
                let r = g.event(p as u32, i);
                out.push((r.sensor, (r.seq, r.milli)));
            })?;
            let (size, threshold) = (s.window, Threshold::new(s));
            // Per sensor, in order: a sensor's readings all come from one source partition, and
            // a shuffle keeps the order of each map partition's records.
            let alerts = readings.map_with_state(StateSpec::function(
                move |_t, sensor: &u32, reading: Option<&(u64, i64)>, state: &mut State<SensorWindow>| {
                    let &(seq, milli) = reading?;
                    let mut window = state.get().cloned().unwrap_or_else(|| SensorWindow::new(size));
                    let alert = window.push(milli, threshold);
                    state.update(window);
                    alert.then_some(Alert { sensor: *sensor, seq, milli })
                },
            ))?;
            alerts.foreach_partition(|_t, _p, alerts, r| {
                for a in alerts {
                    r.alert(*a);
                }
            })?;
        }
        _ => unreachable!("RunSpec::generator matches the job"),
    }
    ssc.start()?;
    let result = ssc.await_termination();
    if let Some(dir) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    result.map(drop)
}

/// The top `k` of a window's `(tag, count)` pairs: each partition's partial result (total,
/// distinct, local top k) is combined into one, as the tags are partitioned by key.
fn top_k(ids: &crate::rdd::Ids, counts: Rdd<(CompactString, u64)>, t: u64, k: usize) -> Rdd<HashtagWindow> {
    let partials = counts.map_partitions(ids, move |pairs| {
        vec![((), HashtagWindow::from_counts(t, pairs.iter().map(|(tag, c)| (tag.as_str(), *c)), k))]
    });
    partials
        .combine_by_key(
            ids,
            1,
            |w: &HashtagWindow| w.clone(),
            move |acc, w| merge_partial(acc, w.clone(), k),
            move |acc, w| merge_partial(acc, w, k),
        )
        .map_partitions(ids, |merged| merged.iter().map(|(_, w)| w.clone()).collect())
}

fn merge_partial(acc: &mut HashtagWindow, w: HashtagWindow, k: usize) {
    acc.total += w.total;
    acc.distinct += w.distinct;
    for item in w.top {
        insert_top(&mut acc.top, item, k);
    }
}
