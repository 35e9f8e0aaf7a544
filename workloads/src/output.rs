//! What jobs emit: the outputs every engine produces and the oracles compute.

use serde::{Deserialize, Serialize};

/// `wordcount` (running): a word and how often it has occurred so far.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WordTotal {
    /// The word.
    pub word: String,
    /// Its occurrences up to this output.
    pub count: u64,
}

/// `wordcount` (windowed): a word's count in one tumbling window.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WindowedCount {
    /// The window's end, ns (exclusive).
    pub window_end: u64,
    /// The word.
    pub word: String,
    /// Its occurrences in the window.
    pub count: u64,
}

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

/// `sensors`: a reading the detector flagged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Alert {
    /// The sensor.
    pub sensor: u32,
    /// The reading's position in its sensor's sequence.
    pub seq: u64,
    /// The reading's value, milli-units.
    pub milli: i64,
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
}
