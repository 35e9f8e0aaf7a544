//! The registry of a process: the lineage, shuffles and job actions every executor can look up
//! by id (tasks name an RDD and a job, never a closure).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rustc_hash::{FxHashMap, FxHashSet};

use crate::executor::messages::Action;
use crate::rdd::lineage::{walk, Kind, Visitor};
use crate::rdd::{RddId, RddNode, Shuffle, ShuffleId};

/// What every executor of a process can look up by id: the lineage, shuffles and actions.
#[derive(Default)]
pub struct Registry {
    rdds: Mutex<FxHashMap<RddId, Arc<RddNode>>>,
    shuffles: Mutex<FxHashMap<ShuffleId, Arc<Shuffle>>>,
    actions: Mutex<FxHashMap<u64, Action>>,
    /// Per executor of this process: set by the driver the moment it kills the executor, so
    /// that the task it is running stops there (lost, as a killed process's tasks are).
    kill_switches: Mutex<FxHashMap<usize, Arc<AtomicBool>>>,
    /// RDDs the registry kept at the last sweep of [`Registry::forget_unreachable`].
    swept: AtomicUsize,
}

impl Registry {
    /// Registers `rdd` and its whole lineage (stopping at what is already known).
    pub fn register(&self, rdd: &Arc<RddNode>) {
        struct Learn<'a> {
            rdds: &'a mut FxHashMap<RddId, Arc<RddNode>>,
            shuffles: &'a mut FxHashMap<ShuffleId, Arc<Shuffle>>,
        }
        impl Visitor for Learn<'_> {
            fn node(&mut self, node: &Arc<RddNode>, _p: Option<usize>) -> bool {
                self.rdds.insert(node.id, Arc::clone(node)).is_none()
            }
            fn shuffle(&mut self, s: &Arc<Shuffle>, _p: Option<usize>) -> bool {
                self.shuffles.insert(s.id, Arc::clone(s));
                true
            }
        }
        let mut rdds = self.rdds.lock().expect("registry");
        let mut shuffles = self.shuffles.lock().expect("registry");
        walk(rdd, None, &mut Learn { rdds: &mut rdds, shuffles: &mut shuffles });
    }

    /// Registers a job's action.
    pub fn register_action(&self, job: u64, action: Action) {
        self.actions.lock().expect("registry").insert(job, action);
    }

    /// Forgets the action of a job that has run. (RDDs and shuffles are forgotten only when
    /// nothing reaches them, [`Registry::forget_unreachable`]: one a batch let go of may still
    /// be in a later batch's lineage, whose registration stops at what is known above it.)
    pub fn forget_action(&self, job: u64) {
        self.actions.lock().expect("registry").remove(&job);
    }

    /// Forgets registered RDDs and shuffles that nothing outside the registry reaches any more
    /// (between batches), once the registry has doubled since it last looked: what a batch
    /// registers is then only what is new in its lineage ([`Registry::register`] stops at what
    /// is known), not a lineage that grows with every batch since the last state checkpoint
    /// (a thousand batches at 10 ms and Spark's 10 s; `results/PERFORMANCE.md` §30).
    pub fn forget_unreachable(&self) {
        let mut rdds = self.rdds.lock().expect("registry");
        let mut shuffles = self.shuffles.lock().expect("registry");
        if rdds.len() < 2 * self.swept.load(Ordering::Relaxed) + 64 {
            return;
        }
        // How often the registry's own nodes and shuffles refer to each node and shuffle: a
        // count beyond those (and the registry's own) is a holder outside, a root.
        let (mut to_node, mut to_shuffle) = (FxHashMap::<RddId, usize>::default(), FxHashMap::default());
        let parents = rdds.values().flat_map(|n| n.parents()).chain(shuffles.values().map(|s| &s.parent));
        parents.for_each(|p| *to_node.entry(p.id).or_insert(0) += 1);
        for node in rdds.values() {
            if let Kind::Shuffled(s, _) = &node.kind {
                *to_shuffle.entry(s.id).or_insert(0) += 1;
            }
        }
        let held = |count: usize, inner: Option<&usize>| count > 1 + inner.copied().unwrap_or(0);
        let root_shuffles: Vec<Arc<Shuffle>> =
            shuffles.values().filter(|s| held(Arc::strong_count(s), to_shuffle.get(&s.id))).cloned().collect();
        let roots: Vec<Arc<RddNode>> = rdds
            .values()
            .filter(|n| held(Arc::strong_count(n), to_node.get(&n.id)))
            .chain(root_shuffles.iter().map(|s| &s.parent))
            .cloned()
            .collect();
        struct Mark {
            rdds: FxHashSet<RddId>,
            shuffles: FxHashSet<ShuffleId>,
        }
        impl Visitor for Mark {
            fn node(&mut self, node: &Arc<RddNode>, _p: Option<usize>) -> bool {
                self.rdds.insert(node.id)
            }
            fn shuffle(&mut self, s: &Arc<Shuffle>, _p: Option<usize>) -> bool {
                self.shuffles.insert(s.id);
                true
            }
        }
        let mut live = Mark { rdds: FxHashSet::default(), shuffles: FxHashSet::default() };
        for root in &roots {
            walk(root, None, &mut live);
        }
        // A root shuffle's own id: its parent was walked, not the shuffle.
        live.shuffles.extend(root_shuffles.iter().map(|s| s.id));
        drop((roots, root_shuffles));
        rdds.retain(|id, _| live.rdds.contains(id));
        shuffles.retain(|id, _| live.shuffles.contains(id));
        self.swept.store(rdds.len(), Ordering::Relaxed);
    }

    /// Forgets every registered RDD and shuffle (a follower between jobs: tasks name only the
    /// RDDs of the job that sent them, and a job registers its whole lineage again).
    pub fn clear_lineage(&self) {
        self.rdds.lock().expect("registry").clear();
        self.shuffles.lock().expect("registry").clear();
    }

    /// Forgets the actions of jobs before `job` (a follower's, whose jobs have all run).
    pub fn forget_jobs_before(&self, job: u64) {
        self.actions.lock().expect("registry").retain(|id, _| *id >= job);
    }

    /// Executor `e`'s kill switch (the same flag for the driver and the executor in one process).
    pub(crate) fn kill_switch(&self, e: usize) -> Arc<AtomicBool> {
        Arc::clone(self.kill_switches.lock().expect("registry").entry(e).or_default())
    }

    pub(crate) fn rdd(&self, id: RddId) -> Option<Arc<RddNode>> {
        self.rdds.lock().expect("registry").get(&id).cloned()
    }

    pub(crate) fn shuffle(&self, id: ShuffleId) -> Option<Arc<Shuffle>> {
        self.shuffles.lock().expect("registry").get(&id).cloned()
    }

    pub(crate) fn action(&self, id: u64) -> Option<Action> {
        self.actions.lock().expect("registry").get(&id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdd::{Ids, Rdd, RddContext};

    #[test]
    fn a_batch_registers_what_is_new_and_what_nothing_reaches_goes() {
        // A state chain as `update_state_by_key` builds it: each batch's state zips the last
        // one with the batch's shuffled records. Only the newest state is held (as a DStream
        // remembers it); the registry keeps its lineage, and what the cut let go goes.
        let sc = RddContext::new(Ids::default(), 2);
        let registry = Registry::default();
        let batch = |k: u64| sc.parallelize(vec![(k, 1u64)], 2).reduce_by_key_n(|a, b| a + b, 2);
        let mut state: Rdd<(u64, u64)> = batch(0);
        registry.register(&state.node);
        let mut first_ids = vec![state.node.id];
        for k in 1..200 {
            let next = state.zip_partitions(&batch(k), |a: &[(u64, u64)], b: &[(u64, u64)]| [a, b].concat());
            if k < 3 {
                first_ids.push(next.node.id);
            }
            state = next;
            let before = registry.rdds.lock().unwrap().len();
            registry.register(&state.node);
            // What is new this batch: the zip, the shuffle's two sides (parallelize, reduce).
            assert_eq!(registry.rdds.lock().unwrap().len() - before, 3, "batch {k} registers only what is new");
            registry.forget_unreachable();
        }
        // The whole chain is reachable from the held state: nothing of it went.
        struct Seen(Vec<RddId>);
        impl Visitor for Seen {
            fn node(&mut self, node: &Arc<RddNode>, _p: Option<usize>) -> bool {
                self.0.push(node.id);
                true
            }
            fn shuffle(&mut self, _s: &Arc<Shuffle>, _p: Option<usize>) -> bool {
                true
            }
        }
        let mut chain = Seen(Vec::new());
        walk(&state.node, None, &mut chain);
        let chain = chain.0;
        assert_eq!(chain.len(), 2 + 199 * 3, "the chain's lineage");
        assert!(chain.iter().all(|id| registry.rdd(*id).is_some()), "the held lineage stays");
        // A checkpoint cuts the chain: the new state reads nothing before it.
        state = sc.parallelize(vec![(0, 200)], 2);
        registry.register(&state.node);
        for _ in 0..2 {
            registry.forget_unreachable();
        }
        // The registry forgets when it has doubled; force the look by filling it.
        for k in 0..2 * chain.len() {
            let r = sc.parallelize(vec![(k as u64, 1u64)], 2);
            registry.register(&r.node);
        }
        registry.forget_unreachable();
        assert!(first_ids.iter().all(|id| registry.rdd(*id).is_none()), "the cut chain went");
        assert!(registry.rdd(state.node.id).is_some(), "the held state stays");
        assert!(registry.shuffles.lock().unwrap().is_empty(), "no shuffle is reachable");
    }
}
