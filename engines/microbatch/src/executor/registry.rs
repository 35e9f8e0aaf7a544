//! The registry of a process: the lineage, shuffles and job actions every executor can look up
//! by id (tasks name an RDD and a job, never a closure).

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;

use crate::executor::messages::Action;
use crate::rdd::lineage::{walk, Visitor};
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

    /// Forgets RDDs, shuffles and actions that no batch will use again.
    pub fn forget(&self, rdds: &[RddId], shuffles: &[ShuffleId], jobs: &[u64]) {
        let mut r = self.rdds.lock().expect("registry");
        rdds.iter().for_each(|id| {
            r.remove(id);
        });
        let mut s = self.shuffles.lock().expect("registry");
        shuffles.iter().for_each(|id| {
            s.remove(id);
        });
        let mut a = self.actions.lock().expect("registry");
        jobs.iter().for_each(|id| {
            a.remove(id);
        });
    }

    /// Forgets every registered RDD and shuffle (between batches: tasks name only the RDDs of
    /// the job that sent them, and a job registers its whole lineage again).
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
