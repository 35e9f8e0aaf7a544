//! The DAG scheduler (Spark's `DAGScheduler` with its task scheduler): turns a job into stages at shuffle boundaries and runs them one after
//! another (a stage starts only when every task of the stages before it has finished), one task
//! per partition, partition `p` on executor `p % executors` (so a cached partition is always
//! where its next use runs).
//!
//! When an executor is lost, its partitions go to the survivors (`p` to the `p`-th survivor,
//! cyclically) and the lineage is recomputed where it is missing: every shuffle whose blocks or
//! cached outputs may have been on the lost executor runs again, from the sources (which re-read
//! their offset ranges) or the last checkpoint, in parallel on every survivor (D-Streams'
//! parallel recovery).

use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

use rustc_hash::FxHashSet;

use crate::executor::messages::{Action, Completion, Msg, Task, TaskKind};
use crate::executor::registry::Registry;
use crate::rdd::lineage::{walk, Visitor};
use crate::rdd::{Kind, RddId, RddNode, Shuffle, ShuffleId};

/// The driver's side of the fabric.
pub struct DagScheduler {
    registry: Arc<Registry>,
    to_fabric: Sender<Msg>,
    completions: Receiver<Completion>,
    executors: usize,
    next_task: u64,
    next_job: u64,
    done_shuffles: FxHashSet<ShuffleId>,
    materialized: FxHashSet<RddId>,
    alive: Vec<bool>,
    shared_alive: Arc<std::sync::Mutex<Vec<bool>>>,
}

impl DagScheduler {
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
            alive: vec![true; executors],
            shared_alive: Arc::new(std::sync::Mutex::new(vec![true; executors])),
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
        self.missing(rdd, &mut stages);
        for shuffle in &stages {
            let placement = (0..shuffle.reducers).map(|p| self.place(p)).collect();
            let kind = TaskKind::ShuffleMap { shuffle: shuffle.id, placement };
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
    fn missing(&self, rdd: &Arc<RddNode>, out: &mut Vec<Arc<Shuffle>>) {
        struct Missing<'a> {
            dag: &'a DagScheduler,
            out: &'a mut Vec<Arc<Shuffle>>,
            seen: FxHashSet<RddId>,
        }
        impl Visitor for Missing<'_> {
            fn node(&mut self, node: &Arc<RddNode>, _p: Option<usize>) -> bool {
                !self.dag.materialized.contains(&node.id) && self.seen.insert(node.id)
            }
            fn shuffle(&mut self, s: &Arc<Shuffle>, _p: Option<usize>) -> bool {
                !self.dag.done_shuffles.contains(&s.id) && !self.out.iter().any(|o| o.id == s.id)
            }
            fn after_shuffle(&mut self, s: &Arc<Shuffle>) {
                self.out.push(Arc::clone(s));
            }
        }
        walk(rdd, None, &mut Missing { dag: self, out, seen: FxHashSet::default() });
    }

    /// Marks the cached RDDs of `rdd`'s last stage as materialized (their partitions are in the
    /// block managers).
    fn mark_materialized(&mut self, rdd: &Arc<RddNode>) {
        struct Mark<'a>(&'a mut FxHashSet<RddId>);
        impl Visitor for Mark<'_> {
            fn node(&mut self, node: &Arc<RddNode>, _p: Option<usize>) -> bool {
                !node.cached || self.0.insert(node.id)
            }
        }
        walk(rdd, None, &mut Mark(&mut self.materialized));
    }

    /// The id the next job will have.
    pub fn next_job(&self) -> u64 {
        self.next_job
    }

    /// A sender into the fabric (receivers store their blocks through it).
    pub(crate) fn sender(&self) -> Sender<Msg> {
        self.to_fabric.clone()
    }

    /// Puts a message on the fabric.
    pub fn send(&self, m: Msg) -> Result<(), String> {
        self.to_fabric.send(m).map_err(|_| "the executors are gone".to_owned())
    }

    /// Which executors are alive, as receivers see it (they store blocks on live ones).
    pub fn alive(&self) -> Arc<std::sync::Mutex<Vec<bool>>> {
        Arc::clone(&self.shared_alive)
    }

    /// One stage: a task per partition, then wait for all of them (the stage barrier). Returns
    /// what each partition's task sent back.
    fn run_stage(&mut self, rdd: &Arc<RddNode>, kind: TaskKind) -> Result<Vec<Vec<u8>>, String> {
        let mut placed = Vec::with_capacity(rdd.partitions);
        for p in 0..rdd.partitions {
            placed.push(match location(rdd, p) {
                Location::Home(home) => self.place(home),
                Location::Hosts(block, hosts) => {
                    hosts.iter().copied().find(|h| self.alive[*h]).ok_or_else(|| {
                        format!("received block {block} was lost with every copy (executors {hosts:?})")
                    })?
                }
            });
        }
        let first = self.next_task;
        for (p, to) in placed.into_iter().enumerate() {
            let task = Task { id: self.next_task, rdd: rdd.id, partition: p, kind: kind.clone() };
            self.next_task += 1;
            self.to_fabric.send(Msg::Task { to, task }).map_err(|_| "the executors are gone".to_owned())?;
        }
        let mut results = vec![Vec::new(); rdd.partitions];
        let mut left = rdd.partitions;
        while left > 0 {
            let completion = self.completions.recv().map_err(|_| "the executors are gone".to_owned())?;
            let Completion::Task { task, result, error } = completion else { continue };
            if task < first {
                continue;
            }
            if let Some(e) = error {
                return Err(format!("task {task} failed: {e}"));
            }
            results[(task - first) as usize] = result;
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

    /// The executor of partition `p`: `p % executors` while it is alive, else a survivor.
    fn place(&self, p: usize) -> usize {
        let home = p % self.executors;
        if self.alive[home] {
            return home;
        }
        let survivors: Vec<usize> = (0..self.executors).filter(|e| self.alive[*e]).collect();
        survivors[p % survivors.len()]
    }

    /// Fault injection: executor `e` loses its memory (cached partitions, shuffle blocks) and
    /// leaves; its partitions are recomputed from lineage on the survivors from the next job.
    /// Returns when the executor has acknowledged. The last executor cannot be killed.
    pub fn kill(&mut self, e: usize) -> Result<(), String> {
        if e >= self.executors || !self.alive[e] {
            return Err(format!("executor {e} is not alive"));
        }
        if self.alive.iter().filter(|a| **a).count() == 1 {
            return Err(format!("executor {e} is the last one alive: nothing could recover its work"));
        }
        self.alive[e] = false;
        self.shared_alive.lock().expect("alive")[e] = false;
        let survivors: Vec<usize> = (0..self.executors).filter(|s| self.alive[*s]).collect();
        self.to_fabric.send(Msg::Kill { to: e }).map_err(|_| "the executors are gone".to_owned())?;
        for &s in &survivors {
            self.to_fabric.send(Msg::Purge { to: s }).map_err(|_| "the executors are gone".to_owned())?;
        }
        let mut waiting: FxHashSet<usize> = survivors.into_iter().chain([e]).collect();
        while !waiting.is_empty() {
            let completion = self.completions.recv().map_err(|_| "the executors are gone".to_owned())?;
            if let Completion::Acknowledged { executor } = completion {
                waiting.remove(&executor);
            }
        }
        // Anything computed before may have lived on the lost executor: recompute from lineage
        // what the next jobs need and no survivor holds.
        self.materialized.clear();
        self.done_shuffles.clear();
        Ok(())
    }

    /// Fault injection: executor `e`'s tasks take `factor` times as long (1 ends it).
    pub fn slow(&mut self, e: usize, factor: f64) -> Result<(), String> {
        self.to_fabric.send(Msg::Slow { to: e, factor }).map_err(|_| "the executors are gone".to_owned())
    }

    /// Stops every executor.
    pub fn shutdown(&mut self) {
        for to in 0..self.executors {
            let _ = self.to_fabric.send(Msg::Shutdown { to });
        }
    }
}

/// Where a task should run.
enum Location {
    /// With partition `home` (executor `home % executors`, or a survivor).
    Home(usize),
    /// Where a copy of the received block is.
    Hosts(u64, Vec<usize>),
}

/// Where partition `p` of `rdd` should run: where the partition it reads was computed (and may
/// be cached), or where a received block is. A union's partition is its parent's; every other
/// partition is its own.
fn location(rdd: &Arc<RddNode>, p: usize) -> Location {
    struct Locate(Location);
    impl Visitor for Locate {
        fn node(&mut self, node: &Arc<RddNode>, p: Option<usize>) -> bool {
            let p = p.expect("a placement follows one partition");
            match &node.kind {
                Kind::Union(_) | Kind::Narrow(..) => true,
                Kind::Blocks(blocks, _) => {
                    self.0 = Location::Hosts(blocks[p].id, blocks[p].hosts.clone());
                    false
                }
                _ => {
                    self.0 = Location::Home(p);
                    false
                }
            }
        }
    }
    let mut locate = Locate(Location::Home(p));
    walk(rdd, Some(p), &mut locate);
    locate.0
}
