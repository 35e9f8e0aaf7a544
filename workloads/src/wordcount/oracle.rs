//! The `wordcount` oracles: plain sequential running and windowed counts.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::drawn::Drawn;
use crate::output::{WindowedCount, WordTotal};
use crate::text::words;
use crate::wordcount::event::Line;
use crate::wordcount::generator::LineGenerator;

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

/// The pool lines that events `offsets` of partition `p` drew.
pub fn draws(g: &LineGenerator, p: u32, offsets: std::ops::Range<u64>) -> Drawn {
    let mut drawn = Drawn::new(1, g.pool().len());
    for i in offsets {
        drawn.add(0, g.draw(p, i));
    }
    drawn
}

/// The pool lines drawn per tumbling window of `window_ns`, by window end, each event filed at
/// `time(i, event_time)`.
pub fn windowed_draws(
    g: &LineGenerator,
    p: u32,
    offsets: std::ops::Range<u64>,
    window_ns: u64,
    monotone: bool,
    time: impl Fn(u64, u64) -> u64,
) -> BTreeMap<u64, Drawn> {
    let at = |i| time(i, g.schedule().event_time(p, i));
    crate::drawn::by_window(offsets, (1, g.pool().len()), window_ns, monotone, at, &|i| Some((0, g.draw(p, i))))
}

/// Occurrences per word of the lines `drawn` holds, each distinct line tokenised once.
pub fn drawn_words<'g>(g: &'g LineGenerator, drawn: &Drawn) -> FxHashMap<&'g str, u64> {
    let mut counts: FxHashMap<&str, u64> = FxHashMap::default();
    for (_, line, times) in drawn.each() {
        for w in words(&g.pool()[line]) {
            *counts.entry(w).or_insert(0) += times;
        }
    }
    counts
}

/// The window counts of per-window draws, sorted.
pub fn drawn_windows(g: &LineGenerator, windows: &BTreeMap<u64, Drawn>) -> Vec<WindowedCount> {
    let mut out = Vec::new();
    for (&window_end, drawn) in windows {
        let mut counts: Vec<(&str, u64)> = drawn_words(g, drawn).into_iter().collect();
        counts.sort_unstable();
        out.extend(counts.into_iter().map(|(w, count)| WindowedCount { window_end, word: w.to_owned(), count }));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

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
}
