//! The driver's scheduler: turns a job into stages at shuffle boundaries and runs them one after
//! another (a stage starts only when every task of the stages before it has finished), one task
//! per partition, partition `p` on executor `p % executors` (so a cached partition is always
//! where its next use runs).

use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

use rustc_hash::FxHashSet;

use crate::executor::{Action, Completion, Msg, Registry, Task, TaskKind};
use crate::rdd::{Kind, RddId, RddNode, Shuffle, ShuffleId};

/// The driver's side of the fabric.
pub struct Scheduler {
    registry: Arc<Registry>,
    to_fabric: Sender<Msg>,
    completions: Receiver<Completion>,
    executors: usize,
    next_task: u64,
    next_job: u64,
    done_shuffles: FxHashSet<ShuffleId>,
    materialized: FxHashSet<RddId>,
}

impl Scheduler {
    /// A scheduler over `executors` executors.
    pub fn new(
        registry: Arc<Registry>,
        to_fabric: Sender<Msg>,
        completions: Receiver<Completion>,
        executors: usize,
    ) -> Self {
        Self {
            registry,
            to_fabric,
            completions,
            executors,
            next_task: 0,
            next_job: 0,
            done_shuffles: FxHashSet::default(),
            materialized: FxHashSet::default(),
        }
    }

    /// Runs a job: computes every partition of `rdd` and applies `action` to each, on the
    /// executors. Returns, when the job has finished, what each partition's action sent back.
    pub fn run_job(&mut self, rdd: &Arc<RddNode>, action: Action) -> Result<Vec<Vec<u8>>, String> {
        let job = self.next_job;
        self.next_job += 1;
        self.registry.register(rdd);
        self.registry.register_action(job, action);
        let mut stages = Vec::new();
        self.missing(rdd, &mut stages, &mut FxHashSet::default());
        for shuffle in &stages {
            let kind = TaskKind::ShuffleMap { shuffle: shuffle.id, reducers: shuffle.reducers };
            self.run_stage(&shuffle.parent, kind)?;
            self.done_shuffles.insert(shuffle.id);
        }
        let result = self.run_stage(rdd, TaskKind::Result { job });
        self.registry.forget(&[], &[], &[job]);
        let results = result?;
        self.mark_materialized(rdd);
        Ok(results)
    }

    /// The shuffles `rdd` needs that have not run, parents first.
    fn missing(&self, rdd: &Arc<RddNode>, out: &mut Vec<Arc<Shuffle>>, seen: &mut FxHashSet<RddId>) {
        if self.materialized.contains(&rdd.id) || !seen.insert(rdd.id) {
            return;
        }
        match &rdd.kind {
            Kind::Source(_) => {}
            Kind::Narrow(p, _) => self.missing(p, out, seen),
            Kind::Union(ps) | Kind::Zip(ps, _) => ps.iter().for_each(|p| self.missing(p, out, seen)),
            Kind::Shuffled(s, _) => {
                if !self.done_shuffles.contains(&s.id) && !out.iter().any(|o| o.id == s.id) {
                    self.missing(&s.parent, out, seen);
                    out.push(Arc::clone(s));
                }
            }
        }
    }

    fn mark_materialized(&mut self, rdd: &Arc<RddNode>) {
        let mut stack = vec![Arc::clone(rdd)];
        while let Some(r) = stack.pop() {
            if r.cached && !self.materialized.insert(r.id) {
                continue;
            }
            match &r.kind {
                Kind::Narrow(p, _) => stack.push(Arc::clone(p)),
                Kind::Union(ps) | Kind::Zip(ps, _) => stack.extend(ps.iter().cloned()),
                Kind::Source(_) | Kind::Shuffled(..) => {}
            }
        }
    }

    /// One stage: a task per partition, then wait for all of them (the stage barrier). Returns
    /// what each partition's task sent back.
    fn run_stage(&mut self, rdd: &Arc<RddNode>, kind: TaskKind) -> Result<Vec<Vec<u8>>, String> {
        let first = self.next_task;
        for p in 0..rdd.partitions {
            let task = Task { id: self.next_task, rdd: rdd.id, partition: p, kind: kind.clone() };
            self.next_task += 1;
            self.to_fabric
                .send(Msg::Task { to: preferred(rdd, p) % self.executors, task })
                .map_err(|_| "the executors are gone".to_owned())?;
        }
        let mut results = vec![Vec::new(); rdd.partitions];
        let mut left = rdd.partitions;
        while left > 0 {
            let c = self.completions.recv().map_err(|_| "the executors are gone".to_owned())?;
            if c.task < first {
                continue;
            }
            if let Some(e) = c.error {
                return Err(format!("task {} failed: {e}", c.task));
            }
            results[(c.task - first) as usize] = c.result;
            left -= 1;
        }
        Ok(results)
    }

    /// Tells every executor to drop cached partitions of `rdds`, and forgets them.
    pub fn forget(&mut self, rdds: Vec<RddId>, shuffles: Vec<ShuffleId>) {
        for to in 0..self.executors {
            let _ = self.to_fabric.send(Msg::Forget { to, rdds: rdds.clone() });
        }
        for id in &rdds {
            self.materialized.remove(id);
        }
        for id in &shuffles {
            self.done_shuffles.remove(id);
        }
        self.registry.forget(&rdds, &shuffles, &[]);
    }

    /// Stops every executor.
    pub fn shutdown(&mut self) {
        for to in 0..self.executors {
            let _ = self.to_fabric.send(Msg::Shutdown { to });
        }
    }
}

/// Where partition `p` of `rdd` should run: where the partition it reads was computed (and may
/// be cached). A union's partition is its parent's; every other partition `p` runs on executor
/// `p % executors`.
fn preferred(rdd: &Arc<RddNode>, p: usize) -> usize {
    match &rdd.kind {
        Kind::Union(parents) => {
            let mut p = p;
            for parent in parents {
                if p < parent.partitions {
                    return preferred(parent, p);
                }
                p -= parent.partitions;
            }
            p
        }
        Kind::Narrow(parent, _) => preferred(parent, p),
        _ => p,
    }
}
