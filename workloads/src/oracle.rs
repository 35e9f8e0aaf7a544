//! Reference oracles: plain sequential implementations of each job spec, the judges of every
//! engine's output.
//!
//! Each takes the events of a run (any order across partitions; within a sensor, `seq` order is
//! restored here) and returns the outputs the spec defines.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::event::{Line, SensorReading, Tweet};
use crate::logic::{SensorWindow, Threshold};
use crate::output::{Alert, HashtagWindow, WindowedCount, WordTotal};
use crate::spec::{HashtagSpec, SensorSpec};
use crate::text::{hashtags, words};

/// Final running totals per word.
pub fn word_totals<'a>(lines: impl IntoIterator<Item = Line<'a>>) -> BTreeMap<String, u64> {
    let mut counts: FxHashMap<String, u64> = FxHashMap::default();
    for line in lines {
        for w in words(&line.text) {
            if let Some(c) = counts.get_mut(w) {
                *c += 1;
            } else {
                counts.insert(w.to_owned(), 1);
            }
        }
    }
    counts.into_iter().collect()
}

/// Every output of the running count when it emits on every update, in input order.
pub fn word_total_updates<'a>(lines: impl IntoIterator<Item = Line<'a>>) -> Vec<WordTotal> {
    let mut counts: FxHashMap<String, u64> = FxHashMap::default();
    let mut out = Vec::new();
    for line in lines {
        for w in words(&line.text) {
            let c = counts.entry(w.to_owned()).or_insert(0);
            *c += 1;
            out.push(WordTotal { word: w.to_owned(), count: *c });
        }
    }
    out
}

/// Counts per word per tumbling event-time window of `window_ns`, sorted.
pub fn windowed_counts<'a>(lines: impl IntoIterator<Item = Line<'a>>, window_ns: u64) -> Vec<WindowedCount> {
    let mut counts: BTreeMap<(u64, String), u64> = BTreeMap::new();
    for line in lines {
        let end = (line.event_time / window_ns + 1) * window_ns;
        for w in words(&line.text) {
            *counts.entry((end, w.to_owned())).or_insert(0) += 1;
        }
    }
    counts.into_iter().map(|((window_end, word), count)| WindowedCount { window_end, word, count }).collect()
}

/// Every sliding window's result, sorted by window end.
pub fn hashtag_windows<'a>(tweets: impl IntoIterator<Item = Tweet<'a>>, spec: &HashtagSpec) -> Vec<HashtagWindow> {
    let mut windows: BTreeMap<u64, FxHashMap<String, u64>> = BTreeMap::new();
    for tweet in tweets {
        for tag in hashtags(&tweet.text) {
            for end in spec.window_ends(tweet.event_time) {
                *windows.entry(end).or_default().entry(tag.to_owned()).or_insert(0) += 1;
            }
        }
    }
    windows
        .into_iter()
        .map(|(end, counts)| HashtagWindow::from_counts(end, counts.iter().map(|(t, c)| (t.as_str(), *c)), spec.top_k))
        .collect()
}

/// Every alert, sorted by sensor and sequence number.
pub fn sensor_alerts(readings: impl IntoIterator<Item = SensorReading>, spec: &SensorSpec) -> Vec<Alert> {
    let mut by_sensor: BTreeMap<u32, Vec<SensorReading>> = BTreeMap::new();
    for r in readings {
        by_sensor.entry(r.sensor).or_default().push(r);
    }
    let k = Threshold::new(spec);
    let mut alerts = Vec::new();
    for (sensor, mut rs) in by_sensor {
        rs.sort_by_key(|r| r.seq);
        let mut window = SensorWindow::new(spec.window);
        for r in rs {
            if window.push(r.milli, k) {
                alerts.push(Alert { sensor, seq: r.seq, milli: r.milli });
            }
        }
    }
    alerts
}

/// Precision and recall of `alerts` against the generator's labelled anomalies in `readings`.
pub fn precision_recall(alerts: &[Alert], readings: impl IntoIterator<Item = SensorReading>) -> (f64, f64) {
    let labelled: rustc_hash::FxHashSet<(u32, u64)> =
        readings.into_iter().filter(|r| r.anomaly.is_some()).map(|r| (r.sensor, r.seq)).collect();
    let hits = alerts.iter().filter(|a| labelled.contains(&(a.sensor, a.seq))).count() as f64;
    let precision = if alerts.is_empty() { 1.0 } else { hits / alerts.len() as f64 };
    let recall = if labelled.is_empty() { 1.0 } else { hits / labelled.len() as f64 };
    (precision, recall)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::spec::SECOND_NS;

    fn line(t: u64, text: &str) -> Line<'_> {
        Line { event_time: t, text: Cow::Borrowed(text) }
    }

    #[test]
    fn word_count_by_hand() {
        let lines = [line(0, "a b a"), line(1, "b c"), line(2, "a")];
        let totals = word_totals(lines.clone());
        assert_eq!(totals, BTreeMap::from([("a".into(), 3), ("b".into(), 2), ("c".into(), 1)]));
        let updates: Vec<(String, u64)> = word_total_updates(lines).into_iter().map(|w| (w.word, w.count)).collect();
        let expected = [("a", 1), ("b", 1), ("a", 2), ("b", 2), ("c", 1), ("a", 3)];
        assert_eq!(updates, expected.map(|(w, c)| (w.to_owned(), c)));
    }

    #[test]
    fn windowed_word_count_by_hand() {
        let lines = [line(0, "a b"), line(999, "a"), line(1000, "a"), line(2500, "b")];
        let got: Vec<(u64, String, u64)> =
            windowed_counts(lines, 1000).into_iter().map(|w| (w.window_end, w.word, w.count)).collect();
        let expected = [(1000, "a", 2), (1000, "b", 1), (2000, "a", 1), (3000, "b", 1)];
        assert_eq!(got, expected.map(|(e, w, c)| (e, w.to_owned(), c)));
    }

    #[test]
    fn hashtag_windows_by_hand() {
        let spec = HashtagSpec { window_ns: 2 * SECOND_NS, slide_ns: SECOND_NS, top_k: 2, ..HashtagSpec::default() };
        let t = |s: f64, text: &'static str| Tweet { event_time: (s * 1e9) as u64, user: 0, text: Cow::Borrowed(text) };
        // 0.5 s: windows ending 1 s and 2 s; 1.5 s: 2 s and 3 s.
        let tweets = [t(0.5, "hi #a #b"), t(1.5, "#b yo #c"), t(1.7, "#c"), t(1.9, "no tags")];
        let w = hashtag_windows(tweets, &spec);
        let s = |tag: &str, c| (tag.to_owned(), c);
        assert_eq!(
            w,
            vec![
                HashtagWindow { window_end: SECOND_NS, total: 2, distinct: 2, top: vec![s("#a", 1), s("#b", 1)] },
                HashtagWindow { window_end: 2 * SECOND_NS, total: 5, distinct: 3, top: vec![s("#b", 2), s("#c", 2)] },
                HashtagWindow { window_end: 3 * SECOND_NS, total: 3, distinct: 2, top: vec![s("#c", 2), s("#b", 1)] },
            ]
        );
    }

    #[test]
    fn sensor_alerts_by_hand() {
        let spec = SensorSpec { window: 3, k: 1.0, ..SensorSpec::default() };
        let r = |sensor, seq, milli| SensorReading { event_time: 0, sensor, seq, milli, anomaly: None };
        // Sensor 1 (given out of order): 0, 10, 20, then 100 (mean 10, sd 8.2: alert), then
        // 15 (window 10,20,100: mean 43.3, sd 40.3: no alert). Sensor 2: flat then equal: none.
        let readings = [
            r(1, 3, 100),
            r(1, 0, 0),
            r(2, 0, 5),
            r(1, 1, 10),
            r(2, 1, 5),
            r(1, 2, 20),
            r(2, 2, 5),
            r(2, 3, 5),
            r(1, 4, 15),
        ];
        assert_eq!(sensor_alerts(readings, &spec), vec![Alert { sensor: 1, seq: 3, milli: 100 }]);
    }
}
