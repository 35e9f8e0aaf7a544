//! What jobs emit: the outputs every engine produces and the oracles compute. Each workload
//! emits one of these kinds; the run report keeps them (see `contract::report`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::verdict::{accuracy, compare_keyed, Verdict};

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

impl WindowedCount {
    fn keyed(&self) -> ((u64, &str), u64) {
        ((self.window_end, self.word.as_str()), self.count)
    }

    /// The window counts of parts of the input (counted apart), summed, sorted.
    pub fn merge_parts(parts: Vec<Vec<WindowedCount>>) -> Vec<WindowedCount> {
        let mut all: BTreeMap<(u64, String), u64> = BTreeMap::new();
        for w in parts.into_iter().flatten() {
            *all.entry((w.window_end, w.word)).or_insert(0) += w.count;
        }
        all.into_iter().map(|((window_end, word), count)| WindowedCount { window_end, word, count }).collect()
    }

    /// Compares window counts with the expected ones: each `(window, key)` once with the
    /// expected count; the verdict carries the accuracy of the comparison.
    pub fn compare(outputs: &[WindowedCount], expected: &[WindowedCount], what: &str) -> Verdict {
        let accuracy = accuracy(outputs.iter().map(Self::keyed), expected.iter().map(Self::keyed), |c| *c as f64);
        Verdict {
            event_time_accuracy: Some(accuracy),
            ..compare_keyed(outputs.iter().map(Self::keyed), expected.iter().map(Self::keyed), what)
        }
    }
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

    /// Takes back one update added before (a running total that has moved on).
    #[inline]
    pub fn remove(&mut self, word_hash: u64, count: u64) {
        self.updates -= 1;
        self.sum = self.sum.wrapping_sub(Self::term(word_hash, count));
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
            let failed = Verdict::failed(
                self.updates,
                format!(
                    "running-count updates differ from the oracle: {} updates, expected {}{}",
                    self.updates,
                    expected.updates,
                    if self.updates == expected.updates { " (same number, different values)" } else { "" }
                ),
            );
            Verdict {
                lost: expected.updates.saturating_sub(self.updates),
                duplicated: self.updates.saturating_sub(expected.updates),
                ..failed
            }
        }
    }
}
