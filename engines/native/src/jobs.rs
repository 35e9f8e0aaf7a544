//! The three workloads as timely dataflows. Operator names are the spec stages they implement,
//! the same names the micro-batch jobs use: `Source`, `Count`, `WindowCount`, `TopK`, `Detect`,
//! `Sink`.
//!
//! Every stateful operator is hand-written on timely's generic operators, keyed by a hash computed
//! once at tokenisation (routing, state lookup and the verification digest all reuse it). The
//! engine README says why differential-dataflow is not on these paths.
//!
//! Each stateful operator and sink takes part in snapshots ([`crate::snapshot`]): it holds back
//! input at or after the next epoch until its frontier passes the epoch, emits nothing at or after
//! the epoch before, writes its state, and starts from the restored state after a fault.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use compact_str::CompactString;
use rustc_hash::FxHashMap;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::{Operator, OutputBuilderSession};
use timely::dataflow::operators::{Capability, InputCapability, Probe};
use timely::dataflow::{ProbeHandle, Stream};
use workloads::generator::{LineGenerator, SensorGenerator, TweetGenerator};
use workloads::hash::{key_hash, mix64};
use workloads::logic::{SensorWindow, SlidingTopK, StrMap, Threshold};
use workloads::output::{insert_top, Alert, HashtagWindow, WindowedCount};
use workloads::text::{hashtags, words};
use workloads::{HashtagSpec, Recorder, SensorReading, SensorSpec};

use crate::snapshot::Control;
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
    control: &Rc<Control>,
) {
    let control = Rc::clone(control);
    words
        .unary_frontier::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
            Exchange::new(|r: &WordRecord| r.0),
            "Count+Sink",
            move |_cap, _info| {
                let mut counts: StrMap<u64> = control.part("count").unwrap_or_default();
                let mut epochs = control.aligner();
                move |(input, frontier), _output| {
                    let mut r = recorder.borrow_mut();
                    input.for_each(|cap, data| {
                        epochs.admit(time_of(&cap), || (), data, |d| count_words(&mut counts, &mut r, d))
                    });
                    while let Some(epoch) = epochs.passed(frontier.frontier()) {
                        control.put(epoch, "count", &counts);
                        control.put(epoch, "outputs", &r.mark());
                        for (_, mut data) in epochs.advance() {
                            count_words(&mut counts, &mut r, &mut data);
                        }
                    }
                    for (_, mut data) in epochs.release_if_ended(frontier.frontier()) {
                        count_words(&mut counts, &mut r, &mut data);
                    }
                }
            },
        )
        .probe_with(probe);
}

/// The running count's per-record work: each word's total goes up by one and is output.
#[inline]
fn count_words(counts: &mut StrMap<u64>, r: &mut Recorder, data: &mut Vec<WordRecord>) {
    let now = r.now_ns();
    let mut runs = r.latency_runs(now);
    for (hash, word, due) in data.drain(..) {
        let count = counts.get_or_insert_with(hash, &word, || 0);
        *count += 1;
        runs.add(due);
        runs.recorder().word_total(&word, hash, *count);
    }
}

/// Windowed word count: per tumbling event-time window of `window_ns`, the count of each word,
/// emitted when the frontier passes the window's end.
pub fn windowed_count<'s>(
    words: Stream<'s, u64, Vec<WordRecord>>,
    window_ns: u64,
    recorder: Rc<RefCell<Recorder>>,
    probe: &ProbeHandle<u64>,
    control: &Rc<Control>,
) {
    let state = Rc::clone(control);
    let add = move |windows: &mut BTreeMap<u64, StrMap<u64>>, data: &mut Vec<WordRecord>| {
        for (hash, word, t) in data.drain(..) {
            let end = (t / window_ns + 1) * window_ns;
            *windows.entry(end).or_default().get_or_insert_with(hash, &word, || 0) += 1;
        }
    };
    let windowed = words.unary_frontier(Exchange::new(|r: &WordRecord| r.0), "WindowCount", move |cap, _info| {
        // One capability for the earliest open window; windows are emitted in order.
        let mut cap = Some(cap);
        let mut windows: BTreeMap<u64, StrMap<u64>> = state.part("window").unwrap_or_default();
        let mut epochs = state.aligner();
        move |(input, frontier), output| {
            input.for_each(|c, data| epochs.admit(time_of(&c), || (), data, |d| add(&mut windows, d)));
            let Some(c) = cap.as_ref() else { return };
            while let Some(epoch) = epochs.passed(frontier.frontier()) {
                // Only windows complete without the held input and emitted before the epoch (the
                // capability may stand at a window's end): those that end before it.
                fire_windows(&mut windows, epoch * TICK_NS - 1, c, output);
                state.put(epoch, "window", &windows);
                for (_, mut data) in epochs.advance() {
                    add(&mut windows, &mut data);
                }
            }
            for (_, mut data) in epochs.release_if_ended(frontier.frontier()) {
                add(&mut windows, &mut data);
            }
            let done_ns = frontier.frontier().iter().map(|f| f * TICK_NS).min().unwrap_or(u64::MAX);
            fire_windows(&mut windows, done_ns, c, output);
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
    });
    sink(windowed.probe_with(probe), control, recorder, |r, now, out: WindowedCount| {
        r.latency(out.window_end, now);
        r.windowed(out);
    });
}

/// The time of a batch of input.
#[inline]
fn time_of(cap: &InputCapability<u64>) -> u64 {
    *cap.least().expect("input at a time")
}

/// Emits, at `cap`, every window that ends at or before `done_ns`.
fn fire_windows(
    windows: &mut BTreeMap<u64, StrMap<u64>>,
    done_ns: u64,
    cap: &Capability<u64>,
    output: &mut OutputBuilderSession<'_, u64, CapacityContainerBuilder<Vec<WindowedCount>>>,
) {
    while let Some(entry) = windows.first_entry().filter(|e| *e.key() <= done_ns) {
        let end = *entry.key();
        let counts = entry.remove();
        let mut session = output.session(cap);
        for (word, _, count) in counts.iter() {
            session.give(WindowedCount { window_end: end, word: word.to_owned(), count: *count });
        }
    }
}

/// Records a job's outputs on this worker, taking part in snapshots with its position in the
/// outputs (so a restore can rewind them).
fn sink<'s, D: 'static>(
    stream: Stream<'s, u64, Vec<D>>,
    control: &Rc<Control>,
    recorder: Rc<RefCell<Recorder>>,
    mut write: impl FnMut(&mut Recorder, u64, D) + 'static,
) {
    let control = Rc::clone(control);
    let mut epochs = control.aligner();
    let mut record = move |r: &mut Recorder, data: &mut Vec<D>| {
        let now = r.now_ns();
        for out in data.drain(..) {
            write(r, now, out);
        }
    };
    stream.sink(Pipeline, "Sink", move |(input, frontier)| {
        let mut r = recorder.borrow_mut();
        input.for_each(|cap, data| epochs.admit(time_of(&cap), || (), data, |d| record(&mut r, d)));
        while let Some(epoch) = epochs.passed(frontier.frontier()) {
            control.put(epoch, "outputs", &r.mark());
            for (_, mut data) in epochs.advance() {
                record(&mut r, &mut data);
            }
        }
        for (_, mut data) in epochs.release_if_ended(frontier.frontier()) {
            record(&mut r, &mut data);
        }
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
    control: &Rc<Control>,
) {
    let k = spec.top_k;
    let spec = spec.clone();
    let state = Rc::clone(control);
    let add = |windows: &mut SlidingTopK, data: &mut Vec<TagRecord>| {
        for (hash, tag, t) in data.drain(..) {
            windows.add(hash, &tag, t, 1);
        }
    };
    let windows = tags.unary_frontier(Exchange::new(|r: &TagRecord| r.0), "WindowCount", move |cap, _info| {
        let mut cap = Some(cap);
        let mut windows = state.part("window").unwrap_or_else(|| SlidingTopK::new(&spec));
        let mut epochs = state.aligner();
        move |(input, frontier), output| {
            input.for_each(|c, data| epochs.admit(time_of(&c), || (), data, |d| add(&mut windows, d)));
            let Some(c) = cap.as_mut() else { return };
            // A window is emitted at its end (or the capability, if later).
            let mut fire = |windows: &mut SlidingTopK, done_ns: u64| {
                windows.fire(done_ns, |w| {
                    let at = (w.window_end / TICK_NS).max(*c.time());
                    output.session(&c.delayed(&at)).give(w);
                })
            };
            while let Some(epoch) = epochs.passed(frontier.frontier()) {
                // Only windows emitted before the epoch: those that end before it.
                fire(&mut windows, epoch * TICK_NS - 1);
                state.put(epoch, "window", &windows);
                for (_, mut data) in epochs.advance() {
                    add(&mut windows, &mut data);
                }
            }
            for (_, mut data) in epochs.release_if_ended(frontier.frontier()) {
                add(&mut windows, &mut data);
            }
            let f = frontier.frontier().first().copied();
            fire(&mut windows, f.map(|f| f * TICK_NS).unwrap_or(u64::MAX));
            match f {
                None => cap = None,
                Some(f) => {
                    if *c.time() < f {
                        c.downgrade(&f);
                    }
                }
            }
        }
    });
    // `TopK` keeps no state across an epoch: by the time its frontier passes one, it has emitted
    // every window before it, and the partials after it are sent again by a restored `WindowCount`.
    let top =
        windows.unary_frontier(Exchange::new(|w: &HashtagWindow| mix64(w.window_end)), "TopK", move |_cap, _info| {
            let mut pending: BTreeMap<u64, (Capability<u64>, HashtagWindow)> = BTreeMap::new();
            move |(input, frontier), output| {
                input.for_each(|cap, data| {
                    for partial in data.drain(..) {
                        let entry = pending.entry(partial.window_end).or_insert_with(|| {
                            let c = cap.retain_least(0).expect("input capability for output 0");
                            (
                                c,
                                HashtagWindow {
                                    window_end: partial.window_end,
                                    total: 0,
                                    distinct: 0,
                                    top: Vec::new(),
                                },
                            )
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
        });
    sink(top.probe_with(probe), control, recorder, |r, now, w: HashtagWindow| {
        r.latency(w.window_end, now);
        r.hashtag_window(w);
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
    control: &Rc<Control>,
) {
    let threshold = Threshold::new(spec);
    let size = spec.window;
    let state = Rc::clone(control);
    let check =
        move |windows: &mut FxHashMap<u32, SensorWindow>, data: &mut Vec<ReadingRecord>, alerts: &mut Vec<_>| {
            for (r, due) in data.drain(..) {
                let w = windows.entry(r.sensor).or_insert_with(|| SensorWindow::new(size));
                if w.push(r.milli, threshold) {
                    alerts.push((Alert { sensor: r.sensor, seq: r.seq, milli: r.milli }, due));
                }
            }
        };
    let alerts = readings.unary_frontier(
        Exchange::new(|r: &ReadingRecord| mix64(r.0.sensor as u64)),
        "Detect",
        move |_cap, _info| {
            let mut windows: FxHashMap<u32, SensorWindow> = state.part("detect").unwrap_or_default();
            let mut epochs = state.aligner();
            let mut alerts = Vec::new();
            move |(input, frontier), output| {
                input.for_each(|cap, data| {
                    let held = || cap.retain_least(0).expect("output 0");
                    epochs.admit(time_of(&cap), held, data, |data| {
                        check(&mut windows, data, &mut alerts);
                        if !alerts.is_empty() {
                            output.session(&cap).give_iterator(alerts.drain(..));
                        }
                    });
                });
                while let Some(epoch) = epochs.passed(frontier.frontier()) {
                    state.put(epoch, "detect", &windows);
                    for (cap, mut data) in epochs.advance() {
                        check(&mut windows, &mut data, &mut alerts);
                        if !alerts.is_empty() {
                            output.session(&cap).give_iterator(alerts.drain(..));
                        }
                    }
                }
                for (cap, mut data) in epochs.release_if_ended(frontier.frontier()) {
                    check(&mut windows, &mut data, &mut alerts);
                    if !alerts.is_empty() {
                        output.session(&cap).give_iterator(alerts.drain(..));
                    }
                }
            }
        },
    );
    sink(alerts.probe_with(probe), control, recorder, |r, now, (alert, due): (Alert, u64)| {
        r.latency(due, now);
        r.alert(alert);
    });
}
