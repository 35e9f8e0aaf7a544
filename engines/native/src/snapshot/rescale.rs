//! Restoring a snapshot at another parallelism (Flink's rescaling from a savepoint): a snapshot
//! taken by `W` workers restored by `W'`. Every worker reads every old worker's part of each
//! operator and keeps the keys it now owns: a keyed operator's state is split by the same route
//! its exchange uses (`route % workers`, timely's `Exchange`), a source's offsets are merged (each
//! worker reads its partitions' offsets from them). Each part's type says how ([`Part`]).

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use serde::de::DeserializeOwned;
use workloads::hashtags::window::SlidingTopK;
use workloads::keyed::StrMap;
use workloads::sensors::SensorWindow;
use workloads::OutputMark;

/// A snapshot part: what it decodes to, and how the parts of a snapshot taken at another
/// parallelism make worker `worker`'s of `workers`.
pub trait Part: DeserializeOwned {
    /// Worker `worker`'s share of the parts every old worker wrote.
    fn rescale(parts: Vec<Self>, worker: usize, workers: usize) -> Self;
}

/// Whether worker `worker` of `workers` owns a key that its exchange routes by `route`.
#[inline]
pub fn owns(route: u64, worker: usize, workers: usize) -> bool {
    (route % workers as u64) as usize == worker
}

/// A source's offsets, `(partition, next offset)`: every old worker's (each worker finds its
/// own partitions among them).
impl Part for Vec<(u32, u64)> {
    fn rescale(parts: Vec<Self>, _worker: usize, _workers: usize) -> Self {
        let mut all: Vec<(u32, u64)> = parts.into_iter().flatten().collect();
        all.sort_unstable();
        all
    }
}

/// Counts keyed by a string routed by its hash (`Count+Sink`).
impl Part for StrMap<u64> {
    fn rescale(parts: Vec<Self>, worker: usize, workers: usize) -> Self {
        let mut mine = StrMap::default();
        for part in parts {
            for (key, hash, n) in part.iter().filter(|e| owns(e.1, worker, workers)) {
                *mine.get_or_insert_with(hash, key, || 0) += n;
            }
        }
        mine
    }
}

/// Counts per window end, keyed by a string routed by its hash (`WindowCount`).
impl Part for BTreeMap<u64, StrMap<u64>> {
    fn rescale(parts: Vec<Self>, worker: usize, workers: usize) -> Self {
        let mut mine: BTreeMap<u64, Vec<StrMap<u64>>> = BTreeMap::new();
        for part in parts {
            for (end, counts) in part {
                mine.entry(end).or_default().push(counts);
            }
        }
        mine.into_iter()
            .map(|(end, counts)| (end, StrMap::rescale(counts, worker, workers)))
            .filter(|(_, counts)| !counts.is_empty())
            .collect()
    }
}

/// A sliding window's panes, keyed by a tag routed by its hash.
impl Part for SlidingTopK {
    fn rescale(parts: Vec<Self>, worker: usize, workers: usize) -> Self {
        SlidingTopK::merge(parts, |hash| owns(hash, worker, workers)).expect("a snapshot has at least one worker")
    }
}

/// Each sensor's detector window, routed by [`sensor_route`].
impl Part for FxHashMap<u32, SensorWindow> {
    fn rescale(parts: Vec<Self>, worker: usize, workers: usize) -> Self {
        parts.into_iter().flatten().filter(|(sensor, _)| owns(sensor_route(*sensor), worker, workers)).collect()
    }
}

/// Where a sink's outputs stood: only an in-process restore rewinds to it, at its own
/// parallelism; a restarted cluster (the only one that rescales) starts with no outputs.
impl Part for OutputMark {
    fn rescale(_parts: Vec<Self>, _worker: usize, _workers: usize) -> Self {
        OutputMark::default()
    }
}

/// How `Detect`'s exchange routes a sensor's readings.
#[inline]
pub fn sensor_route(sensor: u32) -> u64 {
    workloads::hash::mix64(sensor as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_parts_are_split_by_their_route_and_offsets_merged() {
        let counts = |keys: &[(&str, u64, u64)]| {
            let mut m = StrMap::default();
            for &(key, hash, n) in keys {
                *m.get_or_insert_with(hash, key, || 0) += n;
            }
            m
        };
        let (a, b) = (counts(&[("x", 4, 1), ("y", 7, 2)]), counts(&[("z", 9, 3)]));
        // Two workers' counts onto one, and onto three.
        let one = StrMap::rescale(vec![a.clone(), b.clone()], 0, 1);
        let mut all: Vec<(String, u64)> = one.iter().map(|(k, _, n)| (k.to_owned(), *n)).collect();
        all.sort();
        assert_eq!(all, vec![("x".into(), 1), ("y".into(), 2), ("z".into(), 3)]);
        let of_three: Vec<usize> = (0..3).map(|w| StrMap::rescale(vec![a.clone(), b.clone()], w, 3).len()).collect();
        assert_eq!(of_three, vec![1, 2, 0], "hashes 4 -> 1, 7 -> 1, 9 -> 0");
        let offsets = Vec::rescale(vec![vec![(1u32, 50u64)], vec![(0, 40), (2, 60)]], 0, 1);
        assert_eq!(offsets, vec![(0, 40), (1, 50), (2, 60)]);
        let windows = |w: &StrMap<u64>| BTreeMap::from([(10u64, w.clone())]);
        let split = BTreeMap::rescale(vec![windows(&a), windows(&b)], 1, 3);
        assert_eq!(split[&10].len(), 2);
        assert!(BTreeMap::rescale(vec![windows(&a), windows(&b)], 2, 3).is_empty(), "an empty window is dropped");
    }
}
