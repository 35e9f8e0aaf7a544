//! Verification: compares an engine's outputs with the oracle's and says, in words, what differs.
//!
//! Outputs are compared as keyed multisets: an expected key missing from the outputs, a key the
//! oracle does not have (extra), a key emitted more than once (duplicated) and a key with another
//! value (wrong value) are each reported with the first few examples.

use std::collections::BTreeMap;
use std::fmt::Debug;

use serde::{Deserialize, Serialize};

use crate::output::{Alert, HashtagWindow, WindowedCount, WordTotal};

/// How many examples of each kind of mismatch a verdict quotes.
pub const EXAMPLES: usize = 3;

/// The result of checking outputs against the oracle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Whether the outputs equal the oracle's.
    pub correct: bool,
    /// Outputs checked.
    pub checked: u64,
    /// `"ok: ..."` or the mismatches in words.
    pub message: String,
}

impl Verdict {
    fn ok(checked: u64, what: &str) -> Self {
        Self { correct: true, checked, message: format!("ok: {checked} {what} equal the oracle") }
    }

    /// A failed verdict with a message.
    pub fn failed(checked: u64, message: String) -> Self {
        Self { correct: false, checked, message }
    }
}

#[derive(Default)]
struct Mismatches {
    missing: (u64, Vec<String>),
    extra: (u64, Vec<String>),
    duplicated: (u64, Vec<String>),
    wrong: (u64, Vec<String>),
}

impl Mismatches {
    fn note(slot: &mut (u64, Vec<String>), example: impl FnOnce() -> String) {
        slot.0 += 1;
        if slot.1.len() < EXAMPLES {
            slot.1.push(example());
        }
    }

    fn into_verdict(self, checked: u64, what: &str) -> Verdict {
        let mut parts = Vec::new();
        for (name, (n, examples)) in [
            ("missing", self.missing),
            ("extra", self.extra),
            ("duplicated", self.duplicated),
            ("wrong value", self.wrong),
        ] {
            if n > 0 {
                parts.push(format!("{n} {name} (e.g. {})", examples.join("; ")));
            }
        }
        if parts.is_empty() {
            Verdict::ok(checked, what)
        } else {
            Verdict::failed(checked, format!("{what} differ from the oracle: {}", parts.join(", ")))
        }
    }
}

/// Compares keyed outputs with the expected ones. Each key must appear exactly once with the
/// expected value.
pub fn compare_keyed<K: Ord + Debug, V: PartialEq + Debug>(
    actual: impl IntoIterator<Item = (K, V)>,
    expected: impl IntoIterator<Item = (K, V)>,
    what: &str,
) -> Verdict {
    let mut want: BTreeMap<K, (V, bool)> = expected.into_iter().map(|(k, v)| (k, (v, false))).collect();
    let mut m = Mismatches::default();
    let mut checked = 0;
    for (k, v) in actual {
        checked += 1;
        match want.get_mut(&k) {
            None => Mismatches::note(&mut m.extra, || format!("{k:?} = {v:?}")),
            Some((_, true)) => Mismatches::note(&mut m.duplicated, || format!("{k:?}")),
            Some((w, seen)) => {
                *seen = true;
                if *w != v {
                    Mismatches::note(&mut m.wrong, || format!("{k:?}: got {v:?}, expected {w:?}"));
                }
            }
        }
    }
    for (k, (v, seen)) in &want {
        if !seen {
            Mismatches::note(&mut m.missing, || format!("{k:?} = {v:?}"));
        }
    }
    m.into_verdict(checked, what)
}

/// Running counts that emit on every update: the outputs for each word must be exactly
/// `1, 2, ..., total`, each once.
pub fn running_updates(outputs: &[WordTotal], totals: &BTreeMap<String, u64>) -> Verdict {
    let expected = totals.iter().flat_map(|(w, n)| (1..=*n).map(move |c| ((w.as_str(), c), ())));
    compare_keyed(outputs.iter().map(|o| ((o.word.as_str(), o.count), ())), expected, "running-count updates")
}

/// Running-count snapshots (outputs may repeat, as `update_state_by_key` emits every key each
/// batch): every output must be a prefix count (`1 <= count <= total`), and each word's largest
/// output must be its final total.
pub fn running_snapshots(outputs: &[WordTotal], totals: &BTreeMap<String, u64>) -> Verdict {
    let mut max: BTreeMap<&str, u64> = BTreeMap::new();
    let mut m = Mismatches::default();
    for o in outputs {
        match totals.get(&o.word) {
            None => Mismatches::note(&mut m.extra, || format!("{:?}", o.word)),
            Some(t) if o.count == 0 || o.count > *t => {
                Mismatches::note(&mut m.wrong, || format!("{:?} = {} beyond the total {t}", o.word, o.count))
            }
            Some(_) => {
                let e = max.entry(o.word.as_str()).or_insert(0);
                *e = (*e).max(o.count);
            }
        }
    }
    for (w, t) in totals {
        match max.get(w.as_str()) {
            None => Mismatches::note(&mut m.missing, || format!("{w:?} = {t}")),
            Some(got) if got != t => Mismatches::note(&mut m.wrong, || format!("{w:?}: final {got}, expected {t}")),
            Some(_) => {}
        }
    }
    m.into_verdict(outputs.len() as u64, "running-count snapshots")
}

/// Windowed word counts: each `(window, word)` once with the oracle's count.
pub fn windowed_counts(outputs: &[WindowedCount], expected: &[WindowedCount]) -> Verdict {
    let key = |w: &WindowedCount| ((w.window_end, w.word.clone()), w.count);
    compare_keyed(outputs.iter().map(key), expected.iter().map(key), "windowed counts")
}

/// Hashtag windows: each window once, with the oracle's total, distinct count and top-K.
pub fn hashtag_windows(outputs: &[HashtagWindow], expected: &[HashtagWindow]) -> Verdict {
    let key = |w: &HashtagWindow| (w.window_end, (w.total, w.distinct, w.top.clone()));
    compare_keyed(outputs.iter().map(key), expected.iter().map(key), "hashtag windows")
}

/// Alerts: each `(sensor, seq)` once, with the oracle's value.
pub fn alerts(outputs: &[Alert], expected: &[Alert]) -> Verdict {
    let key = |a: &Alert| ((a.sensor, a.seq), a.milli);
    compare_keyed(outputs.iter().map(key), expected.iter().map(key), "alerts")
}

/// An order-independent digest of running-count updates, for runs too large to keep every
/// output: the number of updates and a wrapping sum of a hash of each `(word hash, count)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateDigest {
    /// Updates seen.
    pub updates: u64,
    /// Wrapping sum of [`UpdateDigest::term`] over the updates.
    pub sum: u64,
}

impl UpdateDigest {
    /// The digest term of one update.
    #[inline]
    pub fn term(word_hash: u64, count: u64) -> u64 {
        crate::hash::mix64(word_hash ^ count.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    /// Adds one update.
    #[inline]
    pub fn add(&mut self, word_hash: u64, count: u64) {
        self.updates += 1;
        self.sum = self.sum.wrapping_add(Self::term(word_hash, count));
    }

    /// Adds another digest.
    pub fn merge(&mut self, other: &Self) {
        self.updates += other.updates;
        self.sum = self.sum.wrapping_add(other.sum);
    }

    /// The digest of the updates `1..=total` of every word.
    pub fn expected(totals: &BTreeMap<String, u64>) -> Self {
        let mut d = Self::default();
        for (w, n) in totals {
            let h = crate::hash::key_hash(w);
            for c in 1..=*n {
                d.add(h, c);
            }
        }
        d
    }

    /// Compares with the expected digest.
    pub fn verify(&self, expected: &Self) -> Verdict {
        if self == expected {
            Verdict::ok(self.updates, "running-count updates (by digest)")
        } else {
            Verdict::failed(
                self.updates,
                format!(
                    "running-count updates differ from the oracle: {} updates, expected {}{}",
                    self.updates,
                    expected.updates,
                    if self.updates == expected.updates { " (same number, different values)" } else { "" }
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wt(w: &str, c: u64) -> WordTotal {
        WordTotal { word: w.into(), count: c }
    }

    #[test]
    fn catches_missing_extra_duplicated_and_wrong() {
        let expected = [(1, 10), (2, 20), (3, 30), (4, 40)];
        assert!(compare_keyed(expected, expected, "x").correct);
        let v = compare_keyed([(1, 10), (2, 20), (3, 30)], expected, "x");
        assert!(!v.correct && v.message.contains("1 missing") && v.message.contains("4 = 40"), "{}", v.message);
        let v = compare_keyed([(1, 10), (2, 20), (3, 30), (4, 40), (5, 50)], expected, "x");
        assert!(!v.correct && v.message.contains("1 extra") && v.message.contains("5 = 50"), "{}", v.message);
        let v = compare_keyed([(1, 10), (2, 20), (2, 20), (3, 30), (4, 40)], expected, "x");
        assert!(!v.correct && v.message.contains("1 duplicated") && v.message.contains('2'), "{}", v.message);
        let v = compare_keyed([(1, 10), (2, 21), (3, 30), (4, 40)], expected, "x");
        assert!(
            !v.correct && v.message.contains("1 wrong value") && v.message.contains("got 21, expected 20"),
            "{}",
            v.message
        );
    }

    #[test]
    fn running_updates_and_snapshots() {
        let totals = BTreeMap::from([("a".to_owned(), 2), ("b".to_owned(), 1)]);
        assert!(running_updates(&[wt("a", 1), wt("b", 1), wt("a", 2)], &totals).correct);
        let dup = running_updates(&[wt("a", 1), wt("a", 1), wt("b", 1), wt("a", 2)], &totals);
        assert!(!dup.correct && dup.message.contains("duplicated"));
        assert!(!running_updates(&[wt("a", 1), wt("b", 1)], &totals).correct);
        assert!(running_snapshots(&[wt("a", 1), wt("b", 1), wt("a", 2), wt("b", 1), wt("a", 2)], &totals).correct);
        let short = running_snapshots(&[wt("a", 1), wt("b", 1)], &totals);
        assert!(!short.correct && short.message.contains("final 1, expected 2"), "{}", short.message);
        assert!(!running_snapshots(&[wt("a", 3), wt("b", 1)], &totals).correct);
    }

    #[test]
    fn digest_detects_loss_duplication_and_change() {
        let totals = BTreeMap::from([("a".to_owned(), 3), ("b".to_owned(), 2)]);
        let expected = UpdateDigest::expected(&totals);
        let (ha, hb) = (crate::hash::key_hash("a"), crate::hash::key_hash("b"));
        let mut d = UpdateDigest::default();
        for (h, c) in [(hb, 1), (ha, 1), (ha, 2), (hb, 2), (ha, 3)] {
            d.add(h, c);
        }
        assert!(d.verify(&expected).correct);
        let mut dup = d;
        dup.add(ha, 3);
        assert!(!dup.verify(&expected).correct);
        let mut changed = UpdateDigest::default();
        for (h, c) in [(hb, 1), (ha, 1), (ha, 2), (hb, 1), (ha, 3)] {
            changed.add(h, c);
        }
        let v = changed.verify(&expected);
        assert!(!v.correct && v.message.contains("same number"));
    }
}

/// How a running count reports: every update once (a native keyed count), or snapshots of the
/// totals that may repeat (`update_state_by_key`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Running {
    /// Every update `(word, 1..=total)` exactly once.
    EveryUpdate,
    /// Prefix counts, possibly repeated; each word's largest equals its total.
    Snapshots,
}

/// Verifies a whole run: checks that each partition was read to where the spec says it ends
/// (when that is known in advance), regenerates exactly the offset ranges the run read, computes
/// the oracle over them and compares the outputs.
pub fn run(
    spec: &crate::RunSpec,
    report: &crate::RunReport,
    running: Running,
) -> Result<Verdict, crate::generator::GeneratorError> {
    use crate::contract::{AnyGenerator, Source};
    use crate::oracle;
    if report.malformed > 0 && spec.source == Source::Generator {
        return Ok(Verdict::failed(0, format!("{} generated records were reported malformed", report.malformed)));
    }
    let partitions = spec.partitions();
    let mut ends = Vec::with_capacity(partitions as usize);
    for p in 0..partitions {
        let read = report.partition_ends.get(&p).copied().unwrap_or(0);
        // A socket run reads whatever the sender sent; a generator run must read what it offers.
        if let Some(expected) = spec.partition_end(p).filter(|_| spec.source == Source::Generator) {
            if read != expected {
                return Ok(Verdict::failed(
                    0,
                    format!("partition {p} was read to offset {read}, but the run offers {expected} events: input lost or invented"),
                ));
            }
        }
        ends.push(read);
    }
    let coords = || ends.iter().enumerate().flat_map(|(p, &end)| (0..end).map(move |i| (p as u32, i)));
    let outputs = &report.outputs;
    // Micro-batch windows hold what arrived in their batches: judge them by arrival time (an
    // event read by the batch at `t` counts as of `t - interval`), and report how far that is
    // from the event-time oracle.
    let arrival = |p: u32, i: u64, event_time: u64| -> u64 {
        match report.arrivals.get(&p) {
            None => event_time,
            Some(a) => {
                let at = a.partition_point(|(end, _)| *end <= i);
                a.get(at).map(|(_, t)| t.saturating_sub(spec.batch_interval_ns)).unwrap_or(event_time)
            }
        }
    };
    let windowed_by_arrival = !report.arrivals.is_empty();
    Ok(match spec.generator()? {
        AnyGenerator::Lines(g) => match &spec.job {
            crate::JobSpec::Wordcount(s) => match s.window_ns {
                Some(w) => {
                    let timed = |p, i| {
                        let mut e = g.event(p, i);
                        e.event_time = arrival(p, i, e.event_time);
                        e
                    };
                    let v = windowed_counts(
                        &outputs.windowed,
                        &oracle::windowed_counts(coords().map(|(p, i)| timed(p, i)), w),
                    );
                    if windowed_by_arrival {
                        let by_event = windowed_counts(
                            &outputs.windowed,
                            &oracle::windowed_counts(coords().map(|(p, i)| g.event(p, i)), w),
                        );
                        note_event_time(v, &by_event)
                    } else {
                        v
                    }
                }
                None => {
                    let totals = oracle::word_totals(coords().map(|(p, i)| g.event(p, i)));
                    match running {
                        Running::Snapshots => running_snapshots(&outputs.word_totals, &totals),
                        Running::EveryUpdate
                            if !outputs.word_totals.is_empty() || spec.collect == crate::Collect::Full =>
                        {
                            running_updates(&outputs.word_totals, &totals)
                        }
                        Running::EveryUpdate => outputs.digest.verify(&UpdateDigest::expected(&totals)),
                    }
                }
            },
            _ => unreachable!("generator matches the job"),
        },
        AnyGenerator::Tweets(g) => match &spec.job {
            crate::JobSpec::Hashtags(s) => {
                let timed = |p, i| {
                    let mut e = g.event(p, i);
                    e.event_time = arrival(p, i, e.event_time);
                    e
                };
                let v =
                    hashtag_windows(&outputs.hashtags, &oracle::hashtag_windows(coords().map(|(p, i)| timed(p, i)), s));
                if windowed_by_arrival {
                    let by_event = hashtag_windows(
                        &outputs.hashtags,
                        &oracle::hashtag_windows(coords().map(|(p, i)| g.event(p, i)), s),
                    );
                    note_event_time(v, &by_event)
                } else {
                    v
                }
            }
            _ => unreachable!("generator matches the job"),
        },
        AnyGenerator::Sensors(g) => match &spec.job {
            crate::JobSpec::Sensors(s) => {
                alerts(&outputs.alerts, &oracle::sensor_alerts(coords().map(|(p, i)| g.event(p, i)), s))
            }
            _ => unreachable!("generator matches the job"),
        },
    })
}

/// Appends to an arrival-time verdict how the outputs compare with the event-time oracle.
fn note_event_time(by_arrival: Verdict, by_event: &Verdict) -> Verdict {
    let note = if by_event.correct {
        "; they also equal the event-time oracle".to_owned()
    } else {
        format!("; against the event-time oracle: {}", by_event.message)
    };
    Verdict { message: format!("{} (windows by arrival time){note}", by_arrival.message), ..by_arrival }
}
