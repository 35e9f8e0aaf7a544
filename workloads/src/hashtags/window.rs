//! The `hashtags` window result and its top-K, written once for the oracle, the COST loop and
//! both engines: a window's result from its per-tag counts, the top-K order and merge, and the
//! sliding windows as panes.

use serde::{Deserialize, Serialize};

use crate::hashtags::spec::HashtagSpec;
use crate::keyed::StrMap;

/// `hashtags`: one sliding window's result.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HashtagWindow {
    /// The window's end, ns (exclusive).
    pub window_end: u64,
    /// Hashtag occurrences in the window (the sum of every tag's count).
    pub total: u64,
    /// Distinct hashtags in the window.
    pub distinct: u64,
    /// The top tags by count descending, then tag ascending.
    pub top: Vec<(String, u64)>,
}

impl HashtagWindow {
    /// Builds a window's result from its per-tag counts (any order).
    pub fn from_counts<'a>(window_end: u64, counts: impl IntoIterator<Item = (&'a str, u64)>, k: usize) -> Self {
        let mut total = 0;
        let mut distinct = 0;
        let mut top: Vec<(&str, u64)> = Vec::with_capacity(k + 1);
        for (tag, count) in counts {
            total += count;
            distinct += 1;
            insert_top(&mut top, (tag, count), k);
        }
        Self { window_end, total, distinct, top: top.into_iter().map(|(t, c)| (t.to_owned(), c)).collect() }
    }
}

impl HashtagWindow {
    /// Folds another partial result of the same window into this one (the partials of
    /// disjoint sets of tags, as each worker or partition holds its own tags).
    pub fn merge(&mut self, other: HashtagWindow, k: usize) {
        self.total += other.total;
        self.distinct += other.distinct;
        for item in other.top {
            insert_top(&mut self.top, item, k);
        }
    }
}

/// The top-K order: count descending, then key ascending.
#[inline]
pub fn top_order<K: Ord>(a: &(K, u64), b: &(K, u64)) -> std::cmp::Ordering {
    b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0))
}

/// Inserts `item` into `top` (kept sorted by [`top_order`], at most `k` long).
#[inline]
pub fn insert_top<K: Ord>(top: &mut Vec<(K, u64)>, item: (K, u64), k: usize) {
    if top.len() == k && top_order(&item, &top[k - 1]).is_ge() {
        return;
    }
    let at = top.partition_point(|x| top_order(x, &item).is_lt());
    top.insert(at, item);
    top.truncate(k);
}

/// Sliding-window counts with top-K, kept as panes (one per slide): each record is added once,
/// whatever the window/slide ratio. A window's counts are the last one's with the panes it gains
/// added and those it loses taken off (counts are invertible), so firing a window costs its
/// distinct tags and two panes, not every pane of the window.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SlidingTopK {
    window_ns: u64,
    slide_ns: u64,
    k: usize,
    panes: std::collections::BTreeMap<u64, StrMap<u64>>,
    /// The smallest window end not yet fired.
    next_end: u64,
    /// The sum of every pane held that ends at or before `.0`. Not in a snapshot: rebuilt from
    /// the panes when the next window fires.
    #[serde(skip)]
    running: Option<(u64, StrMap<u64>)>,
}

impl SlidingTopK {
    /// Windows of `spec`.
    pub fn new(spec: &HashtagSpec) -> Self {
        Self {
            window_ns: spec.window_ns,
            slide_ns: spec.slide_ns,
            k: spec.top_k,
            panes: Default::default(),
            next_end: spec.slide_ns,
            running: None,
        }
    }

    /// Adds `n` occurrences of `key` (hash `hash`) at event time `t`. Event times of windows
    /// already fired must not arrive (the frontier promised they would not).
    #[inline]
    pub fn add(&mut self, hash: u64, key: &str, t: u64, n: u64) {
        let pane = (t / self.slide_ns + 1) * self.slide_ns;
        *self.panes.entry(pane).or_default().get_or_insert_with(hash, key, || 0) += n;
        // Late for a window fired already: the later windows that hold its pane count it.
        if let Some((_, sums)) = self.running.as_mut().filter(|(to, _)| pane <= *to) {
            *sums.get_or_insert_with(hash, key, || 0) += n;
        }
    }

    /// Fires every window that ends at or before `frontier` (no event time below it can still
    /// arrive) and holds data, in order of window end.
    pub fn fire(&mut self, frontier: u64, mut emit: impl FnMut(HashtagWindow)) {
        while self.next_end <= frontier {
            let Some((&first, _)) = self.panes.first_key_value() else {
                // Nothing buffered: later windows can only be filled at or above the frontier.
                self.next_end =
                    self.next_end.max((frontier / self.slide_ns).saturating_add(1).saturating_mul(self.slide_ns));
                return;
            };
            // Skip windows that hold no pane: the first with data ends at the first pane's end.
            if self.next_end < first {
                self.next_end = first;
                continue;
            }
            let end = self.next_end;
            let k = self.k;
            let sums = self.slide_to(end);
            emit(HashtagWindow::from_counts(end, sums.iter().map(|(key, _, c)| (key, *c)), k));
            self.next_end = end + self.slide_ns;
            // Panes ending at or before next_end - window are in no later window.
            let keep_from = self.next_end.saturating_sub(self.window_ns) + 1;
            while let Some(entry) = self.panes.first_entry().filter(|e| *e.key() < keep_from) {
                let (p, pane) = entry.remove_entry();
                if let Some((_, sums)) = self.running.as_mut().filter(|(to, _)| p <= *to) {
                    for (key, hash, c) in pane.iter() {
                        sums.subtract(hash, key, *c);
                    }
                }
            }
        }
    }

    /// The counts of the window ending at `end` (every pane held up to `end`: those before it
    /// are gone), from the last window's by adding the panes since it.
    fn slide_to(&mut self, end: u64) -> &StrMap<u64> {
        // Pane ends are positive: from 0, every pane held is added.
        let (to, sums) = self.running.get_or_insert_with(|| (0, StrMap::default()));
        for (_, pane) in self.panes.range(*to + 1..=end) {
            for (key, hash, c) in pane.iter() {
                *sums.get_or_insert_with(hash, key, || 0) += c;
            }
        }
        *to = end;
        sums
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.panes.is_empty()
    }

    /// The windows of several instances (one per worker, each with its own tags) as one, with
    /// only the tags whose hash `keep` says: a snapshot restored at another parallelism. Every
    /// instance of one consistent cut has fired the same windows; the latest is taken. `None`
    /// without an instance.
    pub fn merge(parts: Vec<SlidingTopK>, keep: impl Fn(u64) -> bool) -> Option<SlidingTopK> {
        let first = parts.first()?;
        let next_end = parts.iter().map(|p| p.next_end).max().unwrap_or(first.next_end);
        let mut merged = SlidingTopK { next_end, panes: Default::default(), running: None, ..*first };
        for (end, pane) in parts.iter().flat_map(|p| &p.panes) {
            for (key, hash, n) in pane.iter().filter(|e| keep(e.1)) {
                *merged.panes.entry(*end).or_default().get_or_insert_with(hash, key, || 0) += n;
            }
        }
        Some(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_orders_by_count_then_tag() {
        let w = HashtagWindow::from_counts(5, [("#b", 2), ("#a", 2), ("#c", 9), ("#d", 1)], 3);
        assert_eq!(w.total, 14);
        assert_eq!(w.distinct, 4);
        assert_eq!(w.top, vec![("#c".to_owned(), 9), ("#a".to_owned(), 2), ("#b".to_owned(), 2)]);
    }

    /// Every window fired, from its events counted from scratch.
    fn brute_force(
        events: &[(u64, String)],
        spec: &HashtagSpec,
        ends: impl Iterator<Item = u64>,
    ) -> Vec<HashtagWindow> {
        ends.filter_map(|end| {
            let mut counts: std::collections::BTreeMap<&str, u64> = Default::default();
            let inside = |t: u64| t < end && t + spec.window_ns >= end;
            for (_, tag) in events.iter().filter(|(t, _)| inside(*t)) {
                *counts.entry(tag).or_default() += 1;
            }
            (!counts.is_empty()).then(|| HashtagWindow::from_counts(end, counts, spec.top_k))
        })
        .collect()
    }

    #[test]
    fn windows_slid_incrementally_equal_windows_counted_from_scratch() {
        let spec = HashtagSpec { window_ns: 4_000, slide_ns: 1_000, top_k: 3, ..Default::default() };
        let mut rng = crate::hash::SplitMix::new(7);
        // Bursts with gaps longer than a window (a tag leaves every window and comes back).
        let mut events: Vec<(u64, String)> = Vec::new();
        for t in (0..40_000u64).step_by(37).filter(|t| !(12_000..19_000).contains(t)) {
            events.push((t, format!("#t{}", rng.next() % (1 + t / 5_000))));
        }
        let mut live = SlidingTopK::new(&spec);
        let (mut fired, mut frontier) = (Vec::new(), 0);
        for (i, (t, tag)) in events.iter().enumerate() {
            live.add(crate::hash::key_hash(tag), tag, *t, 1);
            if *t >= frontier + 1_500 {
                frontier = *t;
                live.fire(frontier, |w| fired.push(w));
            }
            // Half-way through, the state goes through a snapshot (its running counts are not
            // kept) and goes on from the copy.
            if i == events.len() / 2 {
                live = serde_json::from_str(&serde_json::to_string(&live).unwrap()).unwrap();
            }
        }
        live.fire(u64::MAX, |w| fired.push(w));
        let expected = brute_force(&events, &spec, (1..=44).map(|s| s * spec.slide_ns));
        assert_eq!(fired, expected);
        assert!(fired.iter().any(|w| w.distinct > 3), "a window with more tags than its top");
    }

    #[test]
    fn a_late_record_counts_in_the_later_windows_that_hold_its_pane() {
        let spec = HashtagSpec { window_ns: 3_000, slide_ns: 1_000, top_k: 2, ..Default::default() };
        let mut live = SlidingTopK::new(&spec);
        live.add(crate::hash::key_hash("#a"), "#a", 500, 1);
        live.add(crate::hash::key_hash("#a"), "#a", 2_500, 1);
        let mut fired = Vec::new();
        live.fire(2_000, |w| fired.push(w));
        // Pane (1000, 2000] was fired as part of the windows ending at 1000 and 2000: too late
        // for them, counted in the windows ending at 3000 and 4000.
        live.add(crate::hash::key_hash("#b"), "#b", 1_500, 1);
        live.fire(u64::MAX, |w| fired.push(w));
        let totals: Vec<(u64, u64)> = fired.iter().map(|w| (w.window_end, w.total)).collect();
        assert_eq!(totals, vec![(1_000, 1), (2_000, 1), (3_000, 3), (4_000, 2), (5_000, 1)]);
    }

    #[test]
    fn maps_and_windows_survive_serialisation() {
        let mut m: StrMap<u64> = StrMap::default();
        for (w, n) in [("spark", 3), ("flink", 5), ("a-rather-long-word-beyond-inline", 1)] {
            *m.get_or_insert_with(crate::hash::key_hash(w), w, || 0) += n;
        }
        let back: StrMap<u64> = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back.get(crate::hash::key_hash("flink"), "flink"), Some(&5));
        let spec = HashtagSpec { window_ns: 2_000, slide_ns: 1_000, top_k: 2, ..Default::default() };
        let mut live = SlidingTopK::new(&spec);
        live.add(crate::hash::key_hash("#a"), "#a", 500, 2);
        live.add(crate::hash::key_hash("#b"), "#b", 1_500, 1);
        let mut copy: SlidingTopK = serde_json::from_str(&serde_json::to_string(&live).unwrap()).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        live.fire(3_000, |w| a.push(w));
        copy.fire(3_000, |w| b.push(w));
        assert_eq!(a, b);
        assert_eq!(a.len(), 3);
    }
}
