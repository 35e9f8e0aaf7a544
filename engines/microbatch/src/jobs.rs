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
use workloads::{HashtagSpec, JobSpec, Observer, RunSpec, SensorSpec, WordCountSpec};

use crate::context::{Clock, StreamingConf, StreamingContext};
use crate::dstream::DStream;
use crate::rdd::Rdd;
use crate::state::{State, StateSpec};
use crate::StreamingError;

struct Planner {
    ends: Vec<u64>,
    last: Vec<(u64, u64)>,
}

/// Runs `spec` on the micro-batch engine, reporting to `observer`.
pub fn run(spec: &RunSpec, observer: &Observer) -> Result<(), StreamingError> {
    spec.validate().map_err(|e| StreamingError::Invalid(e.to_string()))?;
    if spec.faults.iter().any(|f| matches!(f, workloads::Fault::KillProcess { .. })) {
        return Err(StreamingError::Invalid(
            "kill-process needs several processes, which the micro-batch engine does not run: use kill-worker".into(),
        ));
    }
    if let workloads::Source::Socket(addr) = &spec.source {
        return run_socket(spec, observer, addr);
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
        // A record cap at `max` is read to the end, however long that takes (as native does);
        // otherwise the duration bounds the batches that read data.
        batches: (!(max && bounded)).then_some(data_batches + flush_batches),
        stop_before: Some(Arc::new(move |t| {
            let at = done.load(std::sync::atomic::Ordering::Relaxed);
            at != u64::MAX && t > at + flush_batches * interval
        })),
        no_wait: Some(Arc::new(move |t| t > idle.load(std::sync::atomic::Ordering::Relaxed))),
        // At `max`, Spark's backpressure sizes every batch.
        backpressure: max,
        initial_rate: max.then_some(workloads::schedule::DEFAULT_NOMINAL_RATE),
        ..conf_of(spec)
    };
    let mut ssc = StreamingContext::new(conf, Duration::from_nanos(interval))?;
    ssc.set_observer(observer.clone());
    // Without a directory of the user's, checkpoints go to a private one removed afterwards.
    let scratch = spec.checkpoint.dir.is_none().then(|| workloads::durable::scratch_dir("microbatch"));
    ssc.checkpoint(spec.checkpoint.dir.clone().or_else(|| scratch.clone()).expect("a directory"));
    if let Some(ns) = spec.checkpoint.interval_ns {
        ssc.checkpoint_interval(Duration::from_nanos(ns))?;
    }

    let ends: Vec<Option<u64>> = (0..partitions).map(|p| spec.partition_end(p as u32)).collect();
    let planner = Arc::new(Mutex::new(Planner { ends: vec![0; partitions], last: vec![(0, 0); partitions] }));
    let (plan, duration) = (Arc::clone(&planner), spec.duration_ns);
    let sched = schedule.clone();
    let exhausted = Arc::clone(&exhausted_at);
    let all_ends = ends.clone();
    let range = move |p: usize, t: u64, from: u64, allowed: Option<u64>| -> u64 {
        let mut pl = plan.lock().expect("planner");
        let to = if !bounded && t > duration.div_ceil(interval) * interval {
            from
        } else if max {
            // As much as backpressure allows.
            from + allowed.unwrap_or(1)
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
        for p in 0..partitions {
            let (from, to) = pl.last[p];
            pl.last[p] = (to, to);
            if to > from {
                recorder.arrival(p as u32, to, t);
                recorder.partition_end(p as u32, to);
                if max {
                    // Read as fast as allowed: spread over the batch's interval.
                    let start = t.saturating_sub(interval);
                    let n = to - from;
                    for k in 0..10 {
                        recorder.inputs(n * (k + 1) / 10 - n * k / 10, start + k * interval / 10);
                    }
                    recorder.latencies(start, output_ns, n);
                } else {
                    // Inputs grouped by the millisecond they were due in.
                    let mut i = from;
                    while i < to {
                        let due = sched.due(p as u32, i).unwrap_or(0);
                        let slot_end = (due / 1_000_000 + 1) * 1_000_000;
                        let next = sched.events_before(p as u32, slot_end).clamp(i + 1, to);
                        recorder.inputs(next - i, due);
                        recorder.latencies(due, output_ns, next - i);
                        i = next;
                    }
                }
            }
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
            wordcount(&lines, s, interval)?;
        }
        (JobSpec::Hashtags(s), AnyGenerator::Tweets(g)) => {
            let tweets = ssc.direct_stream(partitions, range, move |p, i, out: &mut Vec<String>| {
                out.push(g.event(p as u32, i).text.into_owned())
            })?;
            hashtags(&tweets, s)?;
        }
        (JobSpec::Sensors(s), AnyGenerator::Sensors(g)) => {
            let readings = ssc.direct_stream(partitions, range, move |p, i, out: &mut Vec<(u32, (u64, i64))>| {
                let r = g.event(p as u32, i);
                out.push((r.sensor, (r.seq, r.milli)));
            })?;
            sensors(&readings, s)?;
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

/// Word count as a Spark user writes it: words, pairs, `reduce_by_key` per batch, then per-batch
/// counts, counts per window, or a running count with `update_state_by_key`.
fn wordcount(lines: &DStream<String>, s: &WordCountSpec, interval: u64) -> Result<(), StreamingError> {
    let pairs = lines
        .flat_map(|l: &String| workloads::text::words(l).map(|w| (CompactString::from(w), 1u64)).collect::<Vec<_>>())?;
    let per_batch = pairs.reduce_by_key(|a, b| a + b)?;
    match s.window_ns {
        Some(w) if w == interval => per_batch.foreach_partition(|t, _p, counts, r| {
            for (word, count) in counts {
                r.windowed(WindowedCount { window_end: t, word: word.to_string(), count: *count });
            }
        })?,
        Some(w) => per_batch.reduce_by_key_and_window(|a, b| a + b, w, w)?.foreach_partition(|t, _p, counts, r| {
            for (word, count) in counts {
                r.windowed(WindowedCount { window_end: t, word: word.to_string(), count: *count });
            }
        })?,
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
    Ok(())
}

/// Trending hashtags: tags, `count_by_value_and_window`, the top k by `transform`.
fn hashtags(tweets: &DStream<String>, s: &HashtagSpec) -> Result<(), StreamingError> {
    let tags =
        tweets.flat_map(|t: &String| workloads::text::hashtags(t).map(CompactString::from).collect::<Vec<_>>())?;
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
    Ok(())
}

/// Sensor anomalies: a detector per sensor with `map_with_state`, an alert as the mapped record.
fn sensors(readings: &DStream<(u32, (u64, i64))>, s: &SensorSpec) -> Result<(), StreamingError> {
    let (size, threshold) = (s.window, Threshold::new(s));
    // Per sensor, in order: a sensor's readings all come from one source partition, and
    // a shuffle keeps the order of each map partition's records.
    let alerts = readings.map_with_state(StateSpec::function(
        move |_t, sensor: &u32, reading: Option<&(u64, i64)>, state: &mut State<SensorWindow>| {
            let &(seq, milli) = reading?;
            if !state.exists() {
                state.update(SensorWindow::new(size));
            }
            let alert = state.get_mut()?.push(milli, threshold);
            alert.then_some(Alert { sensor: *sensor, seq, milli })
        },
    ))?;
    alerts.foreach_partition(|_t, _p, alerts, r| {
        for a in alerts {
            r.alert(*a);
        }
    })?;
    Ok(())
}

/// A socket run: `socket_text_stream`'s receiver reads the lines `streambench feed` sends (text,
/// or JSON events), each tagged with its arrival time, which is its latency reference (socket
/// events carry no schedule). Lines that do not parse are counted and reported as malformed.
/// The run ends once the sender has closed the connection, every block has been processed and
/// the windows holding data have closed.
fn run_socket(spec: &RunSpec, observer: &Observer, addr: &str) -> Result<(), StreamingError> {
    let interval = spec.batch_interval_ns;
    let flush = match &spec.job {
        JobSpec::Hashtags(h) => h.window_ns,
        _ => 0,
    };
    let drained: Arc<std::sync::OnceLock<Arc<dyn Fn() -> bool + Send + Sync>>> = Arc::default();
    let drained_at = Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX));
    let (check, at) = (Arc::clone(&drained), Arc::clone(&drained_at));
    let conf = StreamingConf {
        stop_before: Some(Arc::new(move |t| {
            if check.get().is_some_and(|f| f()) {
                at.fetch_min(t, std::sync::atomic::Ordering::Relaxed);
            }
            let at = at.load(std::sync::atomic::Ordering::Relaxed);
            at != u64::MAX && t > at + flush
        })),
        ..conf_of(spec)
    };
    let mut ssc = StreamingContext::new(conf, Duration::from_nanos(interval))?;
    ssc.set_observer(observer.clone());
    let scratch = workloads::durable::scratch_dir("microbatch");
    ssc.checkpoint(spec.checkpoint.dir.clone().unwrap_or_else(|| scratch.clone()));
    if let Some(ns) = spec.checkpoint.interval_ns {
        ssc.checkpoint_interval(Duration::from_nanos(ns))?;
    }
    let epoch = observer.start();
    let addr = addr.to_owned();
    // (arrival ns, the line's bytes): UTF-8 is checked when the line is parsed.
    let raw = ssc.receiver_stream(move |store: &mut dyn FnMut((u64, Vec<u8>)) -> bool| {
        let stream = workloads::socket::connect(&addr)?;
        workloads::socket::for_each_line(stream, |bytes| store((epoch.elapsed().as_nanos() as u64, bytes)))
            .map_err(|e| format!("reading {addr}: {e}"))
    })?;
    let _ = drained.set(ssc.receivers_drained());
    let parsed = raw
        .map(|(arrival, bytes)| match std::str::from_utf8(bytes) {
            Ok(line) if line.trim().is_empty() => Parsed::Blank,
            Ok(line) => Parsed::Line(*arrival, line.to_owned()),
            Err(_) => Parsed::Malformed(format!("not UTF-8 ({} bytes)", bytes.len())),
        })?
        .persist()?;
    let events = |parse: fn(&str) -> Result<Event, String>| {
        parsed.map_partitions(move |lines| {
            lines
                .iter()
                .map(|p| match p {
                    Parsed::Line(arrival, line) => match parse(line) {
                        Ok(e) => Parsed::Event(*arrival, e),
                        Err(why) => Parsed::Malformed(format!("{why}: {}", line.chars().take(80).collect::<String>())),
                    },
                    other => other.clone(),
                })
                .collect()
        })
    };
    let checked = match &spec.job {
        JobSpec::Wordcount(_) => events(parse_line)?,
        JobSpec::Hashtags(_) => events(parse_tweet)?,
        JobSpec::Sensors(_) => events(parse_reading)?,
    }
    .persist()?;
    match &spec.job {
        JobSpec::Wordcount(s) => wordcount(&checked.flat_map(|p| p.text())?, s, interval)?,
        JobSpec::Hashtags(s) => hashtags(&checked.flat_map(|p| p.text())?, s)?,
        JobSpec::Sensors(s) => sensors(
            &checked.flat_map(|p| match p {
                Parsed::Event(_, Event::Reading(sensor, seq, milli)) => Some((*sensor, (*seq, *milli))),
                _ => None,
            })?,
            s,
        )?,
    }
    // After the workload's outputs: every line's input, latency (running outputs: the batch's
    // output time against the line's arrival) and malformed lines, on the executors.
    let windowed = matches!(&spec.job, JobSpec::Hashtags(_))
        || matches!(&spec.job, JobSpec::Wordcount(s) if s.window_ns.is_some());
    checked.foreach_partition(move |_t, _p, lines, r| {
        let now = r.now_ns();
        r.inputs(lines.len() as u64, now);
        for p in lines {
            match p {
                Parsed::Event(arrival, _) if !windowed => r.latency(*arrival, now),
                Parsed::Malformed(why) => r.malformed(|| why.clone()),
                _ => {}
            }
        }
    })?;
    // Lines read so far, on the driver: the verification's reference.
    let recorder = Arc::new(Mutex::new(observer.recorder()));
    let (total, rec) = (Arc::new(std::sync::atomic::AtomicU64::new(0)), Arc::clone(&recorder));
    checked.count()?.foreach_batch(move |_t, counts| {
        let read =
            total.fetch_add(counts.iter().sum(), std::sync::atomic::Ordering::Relaxed) + counts.iter().sum::<u64>();
        rec.lock().expect("recorder").partition_end(0, read);
    })?;
    ssc.start()?;
    let result = ssc.await_termination();
    recorder.lock().expect("recorder").complete();
    if spec.checkpoint.dir.is_none() {
        let _ = std::fs::remove_dir_all(scratch);
    }
    result.map(drop)
}

/// What every run's context has: an executor per worker of the cluster, two shuffle partitions
/// per executor, the wall clock, the spec's faults.
fn conf_of(spec: &RunSpec) -> StreamingConf {
    StreamingConf {
        executors: spec.cluster.total_workers(),
        partitions: spec.cluster.total_workers() * 2,
        cluster: Some(spec.cluster.clone()),
        clock: Clock::System,
        faults: spec.faults.clone(),
        ..StreamingConf::default()
    }
}

/// A socket line on its way to becoming an event.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
enum Parsed {
    Blank,
    Line(u64, String),
    Event(u64, Event),
    Malformed(String),
}

impl Parsed {
    /// The text of a line or tweet event.
    fn text(&self) -> Option<String> {
        match self {
            Parsed::Event(_, Event::Text(t)) => Some(t.clone()),
            _ => None,
        }
    }
}

/// A parsed socket event.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
enum Event {
    /// A line's or tweet's text.
    Text(String),
    /// A sensor reading: sensor, sequence number, value in thousandths.
    Reading(u32, u64, i64),
}

/// A wordcount line: plain text, or a JSON line event (whose text is used).
fn parse_line(line: &str) -> Result<Event, String> {
    workloads::socket::line_text(line).map(|t| Event::Text(t.into_owned()))
}

/// A JSON tweet.
fn parse_tweet(line: &str) -> Result<Event, String> {
    workloads::socket::tweet_text(line).map(Event::Text)
}

/// A JSON sensor reading.
fn parse_reading(line: &str) -> Result<Event, String> {
    workloads::socket::reading(line).map(|r| Event::Reading(r.sensor, r.seq, r.milli))
}
