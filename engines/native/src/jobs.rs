//! The three workloads as timely dataflows. Operator names are the spec stages they implement,
//! the same names the micro-batch jobs use: `Source`, `Count`, `WindowCount`, `TopK`, `Detect`,
//! `Sink`.
//!
//! Every stateful operator is hand-written on timely's generic operators, keyed by a hash computed
//! once at tokenisation (routing, state lookup and the verification digest all reuse it). The
//! engine README says why differential-dataflow is not on these paths.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use compact_str::CompactString;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Probe;
use timely::dataflow::{ProbeHandle, Stream};
use workloads::generator::{LineGenerator, SensorGenerator, TweetGenerator};
use workloads::hash::{key_hash, mix64};
use workloads::logic::{SensorWindow, SlidingTopK, StrMap, Threshold};
use workloads::output::{insert_top, Alert, HashtagWindow, WindowedCount};
use workloads::text::{hashtags, words};
use workloads::{HashtagSpec, Recorder, SensorReading, SensorSpec};

use crate::source::TICK_NS;

/// A word on its way to be counted: `(hash, word, time_ns)`, where the time is the line's due
/// time (the latency reference of a running count) or its event time (for windows).
pub type WordRecord = (u64, CompactString, u64);

/// The records of a line: every word with its hash and `time`.
#[inline]
pub fn tokenize(text: &str, time: u64, out: &mut Vec<WordRecord>) {
    for w in words(text) {
        out.push((key_hash(w), CompactString::from(w), time));
    }
}

/// Wordcount's `Source`: lines from the generator, tokenised (chained into the source, as Flink
/// chains a source and its flat-map). Words carry the line's due time, or its event time when
/// `event_time` is set (windowed counts).
pub fn line_records(gen: LineGenerator, event_time: bool) -> impl FnMut(u32, u64, u64, &mut Vec<WordRecord>) + 'static {
    move |p, i, due, out| {
        let line = gen.event(p, i);
        tokenize(&line.text, if event_time { line.event_time } else { due }, out);
    }
}

/// Running word count: exchange by word; `Count` updates the word's total and emits every update
/// straight into the sink (chained, as Flink chains a keyed operator and its sink). Its output
/// stream carries no data, only progress, for the probe.
pub fn running_count<'s>(
    words: Stream<'s, u64, Vec<WordRecord>>,
    recorder: Rc<RefCell<Recorder>>,
    probe: &ProbeHandle<u64>,
) {
    words
        .unary::<timely::container::CapacityContainerBuilder<Vec<()>>, _, _, _>(
            Exchange::new(|r: &WordRecord| r.0),
            "Count+Sink",
            |_cap, _info| {
                let mut counts: StrMap<u64> = StrMap::default();
                move |input, _output| {
                    let mut r = recorder.borrow_mut();
                    input.for_each(|_cap, data| {
                        let now = r.now_ns();
                        let mut runs = r.latency_runs(now);
                        for (hash, word, due) in data.drain(..) {
                            let count = counts.get_or_insert_with(hash, &word, || 0);
                            *count += 1;
                            runs.add(due);
                            runs.recorder().word_total(&word, hash, *count);
                        }
                    });
                }
            },
        )
        .probe_with(probe);
}

/// Windowed word count: per tumbling event-time window of `window_ns`, the count of each word,
/// emitted when the frontier passes the window's end.
pub fn windowed_count<'s>(
    words: Stream<'s, u64, Vec<WordRecord>>,
    window_ns: u64,
    recorder: Rc<RefCell<Recorder>>,
    probe: &ProbeHandle<u64>,
) {
    words
        .unary_frontier(Exchange::new(|r: &WordRecord| r.0), "WindowCount", move |cap, _info| {
            // One capability for the earliest open window; windows are emitted in order.
            let mut cap = Some(cap);
            let mut windows: BTreeMap<u64, StrMap<u64>> = BTreeMap::new();
            move |(input, frontier), output| {
                input.for_each(|_cap, data| {
                    for (hash, word, t) in data.drain(..) {
                        let end = (t / window_ns + 1) * window_ns;
                        *windows.entry(end).or_default().get_or_insert_with(hash, &word, || 0) += 1;
                    }
                });
                let complete = |end: u64| !frontier.frontier().iter().any(|f| f * TICK_NS < end);
                while let Some(entry) = windows.first_entry() {
                    let end = *entry.key();
                    if !complete(end) {
                        break;
                    }
                    let counts = entry.remove();
                    let c = cap.as_ref().expect("capability held while windows are open");
                    let mut session = output.session(c);
                    for (word, _, count) in counts.iter() {
                        session.give(WindowedCount { window_end: end, word: word.to_owned(), count: *count });
                    }
                }
                match (frontier.frontier().first(), windows.first_key_value()) {
                    (None, _) => cap = None,
                    (Some(f), first) => {
                        // Hold the capability at the earliest time a window could still close.
                        let t = first.map(|(end, _)| (end / TICK_NS).max(*f)).unwrap_or(*f);
                        if let Some(c) = cap.as_mut() {
                            if *c.time() < t {
                                c.downgrade(&t);
                            }
                        }
                    }
                }
            }
        })
        .probe_with(probe)
        .sink(Pipeline, "Sink", move |(input, _frontier)| {
            let mut r = recorder.borrow_mut();
            input.for_each(|_cap, data: &mut Vec<WindowedCount>| {
                let now = r.now_ns();
                for out in data.drain(..) {
                    r.latency(out.window_end, now);
                    r.windowed(out);
                }
            });
        });
}

/// A hashtag on its way to be counted: `(hash, tag, event_time_ns)`.
pub type TagRecord = (u64, CompactString, u64);

/// Hashtags' `Source`: tweets from the generator, their hashtags extracted.
pub fn tag_records(gen: TweetGenerator) -> impl FnMut(u32, u64, u64, &mut Vec<TagRecord>) + 'static {
    move |p, i, _due, out| {
        let tweet = gen.event(p, i);
        extract_tags(&tweet.text, tweet.event_time, out);
    }
}

/// The records of a tweet: every hashtag with its hash and the tweet's event time.
#[inline]
pub fn extract_tags(text: &str, event_time: u64, out: &mut Vec<TagRecord>) {
    for tag in hashtags(text) {
        out.push((key_hash(tag), CompactString::from(tag), event_time));
    }
}

/// Sliding-window hashtag counts and top-K: `WindowCount` per tag (exchanged by tag) gives each
/// worker's partial result per window; `TopK` (exchanged by window) merges the partials. A tag
/// lives on one worker, so the global top K is within the union of the workers' top K.
pub fn hashtag_windows<'s>(
    tags: Stream<'s, u64, Vec<TagRecord>>,
    spec: &HashtagSpec,
    recorder: Rc<RefCell<Recorder>>,
    probe: &ProbeHandle<u64>,
) {
    let k = spec.top_k;
    let spec = spec.clone();
    tags.unary_frontier(Exchange::new(|r: &TagRecord| r.0), "WindowCount", move |cap, _info| {
        let mut cap = Some(cap);
        let mut windows = SlidingTopK::new(&spec);
        move |(input, frontier), output| {
            input.for_each(|_cap, data| {
                for (hash, tag, t) in data.drain(..) {
                    windows.add(hash, &tag, t, 1);
                }
            });
            let f = frontier.frontier().first().copied();
            if let Some(c) = cap.as_mut() {
                let done_ns = f.map(|f| f * TICK_NS).unwrap_or(u64::MAX);
                windows.fire(done_ns, |w| {
                    let at = (w.window_end / TICK_NS).max(*c.time());
                    output.session(&c.delayed(&at)).give(w);
                });
                match f {
                    None => cap = None,
                    Some(f) => {
                        if *c.time() < f {
                            c.downgrade(&f);
                        }
                    }
                }
            }
        }
    })
    .unary_frontier(Exchange::new(|w: &HashtagWindow| mix64(w.window_end)), "TopK", move |_cap, _info| {
        let mut pending: BTreeMap<u64, (timely::dataflow::operators::Capability<u64>, HashtagWindow)> = BTreeMap::new();
        move |(input, frontier), output| {
            input.for_each(|cap, data| {
                for partial in data.drain(..) {
                    let entry = pending.entry(partial.window_end).or_insert_with(|| {
                        let c = cap.retain_least(0).expect("input capability for output 0");
                        (c, HashtagWindow { window_end: partial.window_end, total: 0, distinct: 0, top: Vec::new() })
                    });
                    let merged = &mut entry.1;
                    merged.total += partial.total;
                    merged.distinct += partial.distinct;
                    for item in partial.top {
                        insert_top(&mut merged.top, item, k);
                    }
                }
            });
            while let Some(entry) = pending.first_entry() {
                if frontier.less_equal(entry.get().0.time()) {
                    break;
                }
                let (cap, window) = entry.remove();
                output.session(&cap).give(window);
            }
        }
    })
    .probe_with(probe)
    .sink(Pipeline, "Sink", move |(input, _frontier)| {
        let mut r = recorder.borrow_mut();
        input.for_each(|_cap, data: &mut Vec<HashtagWindow>| {
            let now = r.now_ns();
            for w in data.drain(..) {
                r.latency(w.window_end, now);
                r.hashtag_window(w);
            }
        });
    });
}

/// A reading on its way to its detector, with its due time.
pub type ReadingRecord = (SensorReading, u64);

/// Sensors' `Source`: readings from the generator.
pub fn reading_records(gen: SensorGenerator) -> impl FnMut(u32, u64, u64, &mut Vec<ReadingRecord>) + 'static {
    move |p, i, due, out| out.push((gen.event(p, i), due))
}

/// Per-sensor detection: exchange by sensor, `Detect` keeps each sensor's window and emits
/// alerts, `Sink` records them.
pub fn detect<'s>(
    readings: Stream<'s, u64, Vec<ReadingRecord>>,
    spec: &SensorSpec,
    recorder: Rc<RefCell<Recorder>>,
    probe: &ProbeHandle<u64>,
) {
    let threshold = Threshold::new(spec);
    let size = spec.window;
    readings
        .unary(Exchange::new(|r: &ReadingRecord| mix64(r.0.sensor as u64)), "Detect", move |_cap, _info| {
            let mut windows: rustc_hash::FxHashMap<u32, SensorWindow> = Default::default();
            move |input, output| {
                input.for_each(|cap, data| {
                    let mut session = output.session(&cap);
                    for (r, due) in data.drain(..) {
                        let w = windows.entry(r.sensor).or_insert_with(|| SensorWindow::new(size));
                        if w.push(r.milli, threshold) {
                            session.give((Alert { sensor: r.sensor, seq: r.seq, milli: r.milli }, due));
                        }
                    }
                });
            }
        })
        .probe_with(probe)
        .sink(Pipeline, "Sink", move |(input, _frontier)| {
            let mut r = recorder.borrow_mut();
            input.for_each(|_cap, data: &mut Vec<(Alert, u64)>| {
                let now = r.now_ns();
                for (alert, due) in data.drain(..) {
                    r.latency(due, now);
                    r.alert(alert);
                }
            });
        });
}
