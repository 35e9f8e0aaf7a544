//! Per-record job logic that every implementation shares: the sensor detector's window and the
//! pre-hashed keys that let a word be hashed once and then routed, looked up and digested.

use std::hash::{BuildHasherDefault, Hash, Hasher};

use crate::spec::SensorSpec;

/// A key that carries its hash, computed once by [`crate::hash::key_hash`]. Use it with
/// [`PreHashed`] maps so a lookup does not hash the key again.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hashed<K> {
    /// The key's hash.
    pub hash: u64,
    /// The key.
    pub key: K,
}

impl<K> Hash for Hashed<K> {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// A hasher that passes a pre-computed `u64` through.
#[derive(Default, Clone, Copy, Debug)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Only reached for keys that are not pre-hashed: fold them in.
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = crate::hash::mix64(self.0 ^ u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The `BuildHasher` for maps keyed by [`Hashed`].
pub type PreHashed = BuildHasherDefault<PassThrough>;

/// One sensor's detector: its last `window` readings, their sum and sum of squares, exactly.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SensorWindow {
    ring: Box<[i64]>,
    next: usize,
    len: usize,
    sum: i128,
    sum_sq: i128,
}

/// The detector's threshold as an exact ratio `num / den` (k to three decimals).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threshold {
    num: i128,
    den: i128,
}

impl Threshold {
    /// The threshold of `spec`.
    pub fn new(spec: &SensorSpec) -> Self {
        Self { num: (spec.k * 1000.0).round() as i128, den: 1000 }
    }
}

impl SensorWindow {
    /// An empty window of `size` readings.
    pub fn new(size: usize) -> Self {
        Self { ring: vec![0; size].into_boxed_slice(), next: 0, len: 0, sum: 0, sum_sq: 0 }
    }

    /// Tests `x` against the readings before it, then adds it. Returns whether it is an alert.
    #[inline]
    pub fn push(&mut self, x: i64, k: Threshold) -> bool {
        let size = self.ring.len();
        let alert = if self.len == size {
            let w = size as i128;
            let dev = w * x as i128 - self.sum;
            let var = w * self.sum_sq - self.sum * self.sum;
            dev * dev * k.den * k.den > k.num * k.num * var
        } else {
            false
        };
        if self.len == size {
            let old = self.ring[self.next] as i128;
            self.sum -= old;
            self.sum_sq -= old * old;
        } else {
            self.len += 1;
        }
        self.ring[self.next] = x;
        self.next = (self.next + 1) % size;
        self.sum += x as i128;
        self.sum_sq += x as i128 * x as i128;
        alert
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detector_alerts_only_past_k_sigma_with_a_full_window() {
        let spec = SensorSpec { window: 4, k: 2.0, ..SensorSpec::default() };
        let k = Threshold::new(&spec);
        let mut w = SensorWindow::new(4);
        // Window not yet full: no alert however far off.
        assert!(!w.push(10, k));
        assert!(!w.push(12, k));
        assert!(!w.push(10, k));
        assert!(!w.push(1000, k));
        // Window [10,12,10,1000]: mean 258, sd ~428.5; 1000 is 1.73 sd away: no alert.
        assert!(!w.push(1000, k));
        // Window [12,10,1000,1000]: mean 505.5, sd 494.5; -600 is 2.24 sd away: alert.
        assert!(w.push(-600, k));
        // Exactly k sd away is not beyond k: window [2,2,2,6] has mean 3, sd sqrt(3); ...
        let mut e = SensorWindow::new(4);
        for x in [0, 0, 4, 4] {
            e.push(x, k);
        }
        // mean 2, sd 2: 6 is exactly 2 sd away (no alert), 7 is beyond (alert).
        assert!(!e.clone().push(6, k));
        assert!(e.push(7, k));
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
        let spec = crate::spec::HashtagSpec { window_ns: 2_000, slide_ns: 1_000, top_k: 2, ..Default::default() };
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

/// A map from string keys to `V` that is looked up by a pre-computed [`crate::hash::key_hash`]:
/// a key is hashed once per record however many maps it passes through, and a lookup of an
/// existing key allocates nothing.
#[derive(Clone, Debug)]
pub struct StrMap<V> {
    // Keys up to 24 bytes are stored inline: a lookup touches one cache line, not two.
    table: hashbrown::HashTable<(compact_str::CompactString, u64, V)>,
}

impl<V> Default for StrMap<V> {
    fn default() -> Self {
        Self { table: hashbrown::HashTable::new() }
    }
}

impl<V> StrMap<V> {
    /// The value of `key` (whose hash is `hash`), inserted by `init` if absent.
    #[inline]
    pub fn get_or_insert_with(&mut self, hash: u64, key: &str, init: impl FnOnce() -> V) -> &mut V {
        let entry = self.table.entry(hash, |e| e.1 == hash && e.0 == key, |e| e.1);
        &mut entry.or_insert_with(|| (key.into(), hash, init())).into_mut().2
    }

    /// The value of `key`, if present.
    #[inline]
    pub fn get(&self, hash: u64, key: &str) -> Option<&V> {
        self.table.find(hash, |e| e.1 == hash && e.0 == key).map(|e| &e.2)
    }

    /// Every `(key, hash, value)`.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64, &V)> {
        self.table.iter().map(|e| (e.0.as_str(), e.1, &e.2))
    }

    /// Removes and returns every entry.
    pub fn drain(&mut self) -> impl Iterator<Item = (compact_str::CompactString, u64, V)> + '_ {
        self.table.drain()
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether there is no key.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

/// A map serialises as its `(key, value)` pairs; reading rehashes each key.
impl<V: serde::Serialize> serde::Serialize for StrMap<V> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.table.iter().map(|e| (e.0.as_str(), &e.2)))
    }
}

impl<'de, V: serde::Deserialize<'de>> serde::Deserialize<'de> for StrMap<V> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pairs: Vec<(compact_str::CompactString, V)> = serde::Deserialize::deserialize(deserializer)?;
        let mut map = Self { table: hashbrown::HashTable::with_capacity(pairs.len()) };
        for (key, value) in pairs {
            let hash = crate::hash::key_hash(&key);
            map.table.insert_unique(hash, (key, hash, value), |e| e.1);
        }
        Ok(map)
    }
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
    pub fn new(spec: &crate::spec::HashtagSpec) -> Self {
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
    pub fn fire(&mut self, frontier: u64, mut emit: impl FnMut(crate::output::HashtagWindow)) {
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
                emit(crate::output::HashtagWindow::from_counts(end, sums.iter().map(|e| (e.0, e.2)), self.k));
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
}
