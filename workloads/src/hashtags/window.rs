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

/// Sliding-window counts with top-K, kept as panes (one per slide) and summed when a window
/// fires: each record is added once, whatever the window/slide ratio.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SlidingTopK {
    window_ns: u64,
    slide_ns: u64,
    k: usize,
    panes: std::collections::BTreeMap<u64, StrMap<u64>>,
    /// The smallest window end not yet fired.
    next_end: u64,
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
        }
    }

    /// Adds `n` occurrences of `key` (hash `hash`) at event time `t`. Event times of windows
    /// already fired must not arrive (the frontier promised they would not).
    #[inline]
    pub fn add(&mut self, hash: u64, key: &str, t: u64, n: u64) {
        let pane = (t / self.slide_ns + 1) * self.slide_ns;
        *self.panes.entry(pane).or_default().get_or_insert_with(hash, key, || 0) += n;
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
            let lo = end.saturating_sub(self.window_ns);
            {
                let mut sums: hashbrown::HashTable<(&str, u64, u64)> = hashbrown::HashTable::new();
                for (_, pane) in self.panes.range(lo + 1..=end) {
                    for (key, hash, c) in pane.iter() {
                        sums.entry(hash, |e| e.0 == key, |e| e.1).or_insert((key, hash, 0)).into_mut().2 += c;
                    }
                }
                emit(HashtagWindow::from_counts(end, sums.iter().map(|e| (e.0, e.2)), self.k));
            }
            self.next_end = end + self.slide_ns;
            // Panes ending at or before next_end - window are in no later window.
            let keep_from = self.next_end.saturating_sub(self.window_ns) + 1;
            while self.panes.first_key_value().is_some_and(|(&p, _)| p < keep_from) {
                self.panes.pop_first();
            }
        }
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
        let mut merged = SlidingTopK { next_end, panes: Default::default(), ..*first };
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
