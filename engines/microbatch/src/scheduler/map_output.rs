//! Where the driver knows computed data to be (Spark's `MapOutputTracker` and the block manager
//! master's cached-block locations): the executor holding each map output of a shuffle not yet
//! freed, and each computed partition of a cached RDD not yet forgotten. From it the planner
//! finds the map tasks a job is missing (only those: after a loss, the lost executor's share).

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::rdd::lineage::{walk, Visitor};
use crate::rdd::{RddId, RddNode, Shuffle, ShuffleId};

/// What the driver knows of one shuffle's map outputs.
struct MapStatus {
    /// The executor holding each map partition's output; `None`: not run, or lost with its
    /// executor.
    on: Vec<Option<usize>>,
    /// Reduce partitions.
    reducers: usize,
    /// The batch that first ran it (set when the batch ends).
    batch: Option<u64>,
}

/// Where the map outputs and cached partitions are.
#[derive(Default)]
pub(crate) struct Locations {
    outputs: FxHashMap<ShuffleId, MapStatus>,
    cached: FxHashMap<RddId, Vec<Option<usize>>>,
}

impl Locations {
    /// Starts tracking `shuffle`'s map outputs (none yet), unless it is tracked.
    pub(crate) fn track(&mut self, shuffle: &Shuffle) {
        let (n, reducers) = (shuffle.parent.partitions, shuffle.reducers);
        self.outputs.entry(shuffle.id).or_insert_with(|| MapStatus { on: vec![None; n], reducers, batch: None });
    }

    /// The map tasks partitions `parts` of `rdd` need, in waves: per shuffle, the map
    /// partitions whose output is on no executor (Spark's missing parent stages, each with its
    /// missing partitions); a wave's shuffles depend only on earlier waves', so they can run
    /// together (the batches a lost state partition is rebuilt from, in parallel). The walk stops
    /// at partitions cached on an executor.
    pub(crate) fn missing(&self, rdd: &Arc<RddNode>, parts: &[usize]) -> Vec<Vec<(Arc<Shuffle>, Vec<usize>)>> {
        struct Missing<'a> {
            at: &'a Locations,
            /// Each planned shuffle with its missing map partitions and its wave (from 1).
            out: Vec<(Arc<Shuffle>, Vec<usize>, usize)>,
            seen: FxHashSet<(RddId, usize)>,
            /// The wave of every shuffle examined (0: nothing missing).
            waves: FxHashMap<ShuffleId, usize>,
            /// Per shuffle being examined, the latest wave its map side depends on.
            deps: Vec<usize>,
        }
        impl Visitor for Missing<'_> {
            fn node(&mut self, node: &Arc<RddNode>, p: Option<usize>) -> bool {
                let p = p.expect("the planner follows partitions");
                let here = |c: &Vec<Option<usize>>| c.get(p).is_some_and(Option::is_some);
                let cached = node.cached && self.at.cached.get(&node.id).is_some_and(here);
                !cached && self.seen.insert((node.id, p))
            }
            fn shuffle(&mut self, s: &Arc<Shuffle>, _p: Option<usize>) -> bool {
                let wave = match self.waves.get(&s.id) {
                    Some(wave) => *wave,
                    None => {
                        let on = self.at.outputs.get(&s.id).map(|st| st.on.as_slice());
                        let lost: Vec<usize> =
                            (0..s.parent.partitions).filter(|m| on.is_none_or(|on| on[*m].is_none())).collect();
                        self.deps.push(0);
                        for &m in &lost {
                            walk(&s.parent, Some(m), self);
                        }
                        let after = self.deps.pop().unwrap_or(0);
                        let wave = if lost.is_empty() { 0 } else { after + 1 };
                        if !lost.is_empty() {
                            self.out.push((Arc::clone(s), lost, wave));
                        }
                        self.waves.insert(s.id, wave);
                        wave
                    }
                };
                if let Some(dep) = self.deps.last_mut() {
                    *dep = (*dep).max(wave);
                }
                false
            }
        }
        let mut missing = Missing {
            at: self,
            out: Vec::new(),
            seen: FxHashSet::default(),
            waves: FxHashMap::default(),
            deps: Vec::new(),
        };
        for &p in parts {
            walk(rdd, Some(p), &mut missing);
        }
        let last = missing.out.iter().map(|(_, _, wave)| *wave).max().unwrap_or(0);
        let mut waves: Vec<Vec<(Arc<Shuffle>, Vec<usize>)>> = (0..last).map(|_| Vec::new()).collect();
        for (s, maps, wave) in missing.out {
            waves[wave - 1].push((s, maps));
        }
        waves
    }

    /// A task over partition `p` of `rdd` (a map task of `shuffle`, if it is one) finished on
    /// executor `at`: its map output is there, and so is every cached partition it computed or
    /// read.
    pub(crate) fn finished(&mut self, rdd: &Arc<RddNode>, shuffle: Option<ShuffleId>, p: usize, at: usize) {
        if let Some(status) = shuffle.and_then(|s| self.outputs.get_mut(&s)) {
            status.on[p] = Some(at);
        }
        struct Mark<'a> {
            cached: &'a mut FxHashMap<RddId, Vec<Option<usize>>>,
            at: usize,
        }
        impl Visitor for Mark<'_> {
            fn node(&mut self, node: &Arc<RddNode>, p: Option<usize>) -> bool {
                if !node.cached {
                    return true;
                }
                let p = p.expect("a task follows its partition");
                let slots = self.cached.entry(node.id).or_insert_with(|| vec![None; node.partitions]);
                // Already marked here: so is what it was computed from.
                slots.get_mut(p).is_some_and(|s| s.replace(self.at) != Some(self.at))
            }
        }
        walk(rdd, Some(p), &mut Mark { cached: &mut self.cached, at });
    }

    /// Executor `e` was lost, and everything on it.
    pub(crate) fn lose(&mut self, e: usize) {
        let lost = |slot: &mut Option<usize>| {
            if *slot == Some(e) {
                *slot = None;
            }
        };
        self.outputs.values_mut().for_each(|status| status.on.iter_mut().for_each(lost));
        self.cached.values_mut().for_each(|slots| slots.iter_mut().for_each(lost));
    }

    /// The most reduce partitions of a tracked shuffle.
    pub(crate) fn max_reducers(&self) -> usize {
        self.outputs.values().map(|status| status.reducers).max().unwrap_or(0)
    }

    /// At the end of batch `t`: the shuffles first run in a batch before `keep_from` (`None`:
    /// every shuffle), which can be freed.
    pub(crate) fn expired(&mut self, t: u64, keep_from: Option<u64>) -> Vec<ShuffleId> {
        let mut expired = Vec::new();
        for (id, status) in &mut self.outputs {
            let batch = *status.batch.get_or_insert(t);
            if keep_from.is_none_or(|k| batch < k) {
                expired.push(*id);
            }
        }
        expired
    }

    /// Stops tracking these RDDs and shuffles.
    pub(crate) fn forget(&mut self, rdds: &[RddId], shuffles: &[ShuffleId]) {
        rdds.iter().for_each(|id| {
            self.cached.remove(id);
        });
        shuffles.iter().for_each(|id| {
            self.outputs.remove(id);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdd::{Ids, Kind, RddContext};

    #[test]
    fn after_a_loss_only_the_lost_executors_map_outputs_and_cached_partitions_are_missing() {
        let sc = RddContext::new(Ids::default(), 2);
        let reduced = sc.parallelize((0..8u64).map(|k| (k, 1u64)).collect(), 4).reduce_by_key_n(|a, b| a + b, 2);
        let state = reduced.map(|kv| *kv).cache();
        let Kind::Shuffled(shuffle, _) = &reduced.node.kind else { panic!("a shuffled RDD") };
        let mut at = Locations::default();
        let maps = |v: Vec<Vec<(Arc<Shuffle>, Vec<usize>)>>| {
            v.into_iter().map(|w| w.into_iter().map(|(s, m)| (s.id, m)).collect()).collect::<Vec<Vec<_>>>()
        };
        // Nothing computed: every map task.
        assert_eq!(maps(at.missing(&state.node, &[0, 1])), vec![vec![(shuffle.id, vec![0, 1, 2, 3])]]);
        at.track(shuffle);
        for m in 0..4 {
            at.finished(&shuffle.parent, Some(shuffle.id), m, m % 2);
        }
        assert!(at.missing(&state.node, &[0, 1]).is_empty());
        // The cached partitions are computed on executors 0 and 1; then executor 1 is lost.
        for p in 0..2 {
            at.finished(&state.node, None, p, p);
        }
        at.lose(1);
        // Partition 0 is still cached: it needs nothing. Partition 1 needs the map outputs
        // that were on executor 1, and only those.
        assert!(at.missing(&state.node, &[0]).is_empty());
        assert_eq!(maps(at.missing(&state.node, &[1])), vec![vec![(shuffle.id, vec![1, 3])]]);
        // Freed at the end of its batch unless kept; forgotten, it is missing in full again.
        assert!(at.expired(100, Some(100)).is_empty());
        assert_eq!(at.expired(200, Some(150)), vec![shuffle.id]);
        at.forget(&[state.node.id], &[shuffle.id]);
        assert_eq!(maps(at.missing(&state.node, &[0])), vec![vec![(shuffle.id, vec![0, 1, 2, 3])]]);
    }

    #[test]
    fn independent_shuffles_share_a_wave_and_a_chained_one_comes_after() {
        let sc = RddContext::new(Ids::default(), 2);
        let pairs = |n: u64| sc.parallelize((0..n).map(|k| (k, 1u64)).collect(), 2);
        let (a, b) = (pairs(4).reduce_by_key_n(|x, y| x + y, 2), pairs(6).reduce_by_key_n(|x, y| x + y, 2));
        let joined = a.zip_partitions(&b, |x: &[(u64, u64)], _y: &[(u64, u64)]| x.to_vec());
        let again = joined.reduce_by_key_n(|x, y| x + y, 2);
        let id = |r: &crate::rdd::Rdd<(u64, u64)>| match &r.node.kind {
            Kind::Shuffled(s, _) => s.id,
            _ => panic!("a shuffled RDD"),
        };
        let waves: Vec<Vec<ShuffleId>> = Locations::default()
            .missing(&again.node, &[0, 1])
            .into_iter()
            .map(|w| w.into_iter().map(|(s, _)| s.id).collect())
            .collect();
        assert_eq!(waves, vec![vec![id(&a), id(&b)], vec![id(&again)]]);
    }
}
