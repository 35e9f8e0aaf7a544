//! The DAG scheduler (Spark's `DAGScheduler` with its task scheduler): turns a job into stages at shuffle boundaries and runs them one after
//! another (a stage starts only when every task of the stages before it has finished), one task
//! per partition, partition `p` on executor `p % executors` (so a cached partition is always
//! where its next use runs).
//!
//! The run's faults come due here, on the system clock even in the middle of a stage: a killed
//! executor loses its memory and the tasks it was running, and the stage in flight is run again.
//! A lost executor is relaunched empty, as a cluster manager relaunches one (unless the run keeps
//! it dead: then its partitions go to the survivors, `p` to the `p`-th survivor, cyclically). The
//! lineage is recomputed where it is missing: every shuffle whose blocks or cached outputs may
//! have been on the lost executor runs again, from the sources (which re-read their offset
//! ranges) or the last checkpoint, in parallel on every executor (D-Streams' parallel recovery).

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustc_hash::FxHashSet;

use crate::executor::messages::{Action, Completion, Msg, Task, TaskKind};
use crate::executor::registry::Registry;
use crate::rdd::lineage::{walk, Visitor};
use crate::rdd::{Kind, RddId, RddNode, Shuffle, ShuffleId};
use crate::scheduler::faults::{Action as FaultAction, Injector};

/// Which executors are alive, as receivers see it: each live executor's incarnation (a relaunch
/// makes a new one, without the blocks the old one stored).
pub(crate) type Liveness = Arc<Mutex<Vec<Option<u32>>>>;

/// How a stage ended early.
enum StageError {
    /// A fault lost work the stage needs: plan the job again.
    Aborted,
    /// The job failed.
    Failed(String),
}

impl From<String> for StageError {
    fn from(e: String) -> Self {
        StageError::Failed(e)
    }
}

/// A job is planned again at most this many times after faults abort its stages.
const ATTEMPTS: usize = 8;

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
    shared_alive: Liveness,
    faults: Injector,
    /// The system clock's start, on which faults come due mid-stage; `None` on a manual clock
    /// (faults come due at batch boundaries).
    epoch: Option<Instant>,
    /// A lost executor is relaunched empty (false: it stays dead).
    relaunch: bool,
    /// Faults applied and not yet reported: `(index, ns from the start)`.
    applied: Vec<(usize, u64)>,
    /// The shuffle attempt: one more after each executor loss.
    shuffle_attempt: u32,
    /// Task completions that came in while a loss was acknowledged.
    drained: Vec<Completion>,
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
            shared_alive: Arc::new(Mutex::new(vec![Some(0); executors])),
            faults: Injector::new(Vec::new()),
            epoch: None,
            relaunch: true,
            applied: Vec::new(),
            shuffle_attempt: 0,
            drained: Vec::new(),
        }
    }

    /// The run's faults: due on the system clock started at `epoch` (`None`: at the batch
    /// boundaries the job generator reports through [`DagScheduler::apply_faults`]); `relaunch`
    /// replaces a lost executor with an empty one.
    pub(crate) fn set_faults(&mut self, faults: Vec<workloads::Fault>, epoch: Option<Instant>, relaunch: bool) {
        self.faults = Injector::new(faults);
        self.epoch = epoch;
        self.relaunch = relaunch;
    }

    /// When the next fault comes due on the system clock, ns from the start.
    pub(crate) fn next_fault_ns(&self) -> Option<u64> {
        self.epoch.and(self.faults.next_due())
    }

    /// Applies the faults due by `elapsed` ns; returns whether an executor was lost.
    pub(crate) fn apply_faults(&mut self, elapsed: u64) -> Result<bool, String> {
        let mut lost = false;
        for (index, action) in self.faults.due(elapsed)? {
            // A kill takes effect now: the executor's running task stops and is lost, whatever
            // the acknowledgements below take.
            let at = self.epoch.map_or(elapsed, |e| e.elapsed().as_nanos() as u64);
            match action {
                FaultAction::Kill(e) => {
                    self.kill(e)?;
                    lost = true;
                }
                FaultAction::Slow(e, factor) => self.slow(e, factor)?,
            }
            self.applied.push((index, at));
        }
        Ok(lost)
    }

    /// The faults applied since the last call: `(index, ns from the start)`.
    pub(crate) fn take_applied(&mut self) -> Vec<(usize, u64)> {
        std::mem::take(&mut self.applied)
    }

    /// Applies the faults due now on the system clock; returns whether an executor was lost.
    fn faults_now(&mut self) -> Result<bool, String> {
        match self.epoch {
            Some(epoch) => self.apply_faults(epoch.elapsed().as_nanos() as u64),
            None => Ok(false),
        }
    }

    /// Runs a job: computes every partition of `rdd` and applies `action` to each, on the
    /// executors. Returns, when the job has finished, what each partition's action sent back.
    pub fn run_job(&mut self, rdd: &Arc<RddNode>, action: Action) -> Result<Vec<Vec<u8>>, String> {
        let job = self.next_job;
        self.next_job += 1;
        self.registry.register(rdd);
        self.registry.register_action(job, action);
        // A result task that finished has applied its action: a job planned again after a fault
        // runs only the partitions still missing (as Spark resubmits a stage's missing tasks).
        let mut results = vec![None; rdd.partitions];
        let mut outcome = Err(format!("job {job} was aborted by faults {ATTEMPTS} times"));
        for _ in 0..ATTEMPTS {
            match self.attempt(rdd, job, &mut results) {
                Ok(()) => {
                    outcome = Ok(());
                    break;
                }
                Err(StageError::Aborted) => continue,
                Err(StageError::Failed(e)) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        self.registry.forget(&[], &[], &[job]);
        outcome?;
        self.mark_materialized(rdd);
        Ok(results.into_iter().map(Option::unwrap_or_default).collect())
    }

    /// One attempt at job `job`: the stages it is missing, then its result stage's missing
    /// partitions.
    fn attempt(&mut self, rdd: &Arc<RddNode>, job: u64, results: &mut [Option<Vec<u8>>]) -> Result<(), StageError> {
        if self.faults_now()? {
            return Err(StageError::Aborted);
        }
        let mut stages = Vec::new();
        self.missing(rdd, &mut stages);
        for shuffle in &stages {
            let placement = (0..shuffle.reducers).map(|p| self.place(p)).collect();
            let kind = TaskKind::ShuffleMap { shuffle: shuffle.id, placement, attempt: self.shuffle_attempt };
            self.run_stage(&shuffle.parent, kind, &mut vec![None; shuffle.parent.partitions])?;
            self.done_shuffles.insert(shuffle.id);
            // The stage's cached RDDs (a window's state, a persisted batch) are in the block
            // managers now: later jobs read them rather than plan the stages below again.
            self.mark_materialized(&shuffle.parent);
        }
        self.run_stage(rdd, TaskKind::Result { job }, results)
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
    pub(crate) fn alive(&self) -> Liveness {
        Arc::clone(&self.shared_alive)
    }

    /// The next completion, or `None` when a fault came due first and cost an executor.
    fn next_completion(&mut self) -> Result<Option<Completion>, String> {
        let gone = || "the executors are gone".to_owned();
        loop {
            let Some(due) = self.next_fault_ns() else { return self.completions.recv().map(Some).map_err(|_| gone()) };
            let now = self.epoch.map_or(0, |e| e.elapsed().as_nanos() as u64);
            match self.completions.recv_timeout(Duration::from_nanos(due.saturating_sub(now))) {
                Ok(c) => return Ok(Some(c)),
                Err(RecvTimeoutError::Disconnected) => return Err(gone()),
                Err(RecvTimeoutError::Timeout) => {
                    if self.faults_now()? {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// One stage: a task per partition not done in `results`, then wait for all of them (the
    /// stage barrier), putting what each task sent back in `results`.
    fn run_stage(
        &mut self,
        rdd: &Arc<RddNode>,
        kind: TaskKind,
        results: &mut [Option<Vec<u8>>],
    ) -> Result<(), StageError> {
        let todo: Vec<usize> = (0..rdd.partitions).filter(|p| results[*p].is_none()).collect();
        let mut placed = Vec::with_capacity(todo.len());
        let live = self.shared_alive.lock().expect("alive").clone();
        for &p in &todo {
            placed.push(match location(rdd, p) {
                Location::Home(home) => self.place(home),
                Location::Hosts(block) => {
                    let mut copies = block.hosts.iter().zip(block.incarnations());
                    copies.find(|(h, i)| live[**h] == Some(*i)).map(|(h, _)| *h).ok_or_else(|| {
                        format!("received block {} was lost with every copy (executors {:?})", block.id, block.hosts)
                    })?
                }
            });
        }
        let first = self.next_task;
        for (&p, to) in todo.iter().zip(placed) {
            let task = Task { id: self.next_task, rdd: rdd.id, partition: p, kind: kind.clone() };
            self.next_task += 1;
            self.to_fabric.send(Msg::Task { to, task }).map_err(|_| "the executors are gone".to_owned())?;
        }
        let mut left = todo.len();
        let mut take = |c: Completion, left: &mut usize| -> Result<(), StageError> {
            let Completion::Task { task, result, error } = c else { return Ok(()) };
            let Some(&p) = task.checked_sub(first).and_then(|i| todo.get(i as usize)) else { return Ok(()) };
            if let Some(e) = error {
                return Err(StageError::Failed(format!("task {task} failed: {e}")));
            }
            results[p] = Some(result);
            *left -= 1;
            Ok(())
        };
        while left > 0 {
            // A fault cost an executor: what finished before it stays done, the rest is lost.
            let Some(completion) = self.next_completion()? else {
                for c in std::mem::take(&mut self.drained) {
                    take(c, &mut left)?;
                }
                return Err(StageError::Aborted);
            };
            take(completion, &mut left)?;
        }
        Ok(())
    }

    /// Tells every executor to drop cached partitions of `rdds` and the blocks of `shuffles`,
    /// and forgets them.
    pub fn forget(&mut self, rdds: Vec<RddId>, shuffles: Vec<ShuffleId>) {
        for to in 0..self.executors {
            let _ = self.to_fabric.send(Msg::Forget { to, rdds: rdds.clone(), shuffles: shuffles.clone() });
        }
        for id in &rdds {
            self.materialized.remove(id);
        }
        for id in &shuffles {
            self.done_shuffles.remove(id);
        }
        self.registry.forget(&rdds, &shuffles, &[]);
    }

    /// After the last job of a batch: every shuffle the batch ran is freed on the executors (a
    /// later batch reading the same lineage reads its cached partitions, or runs the map stage
    /// again), as are `rdds`.
    pub fn end_batch(&mut self, rdds: Vec<RddId>) {
        let shuffles: Vec<ShuffleId> = self.done_shuffles.iter().copied().collect();
        if !rdds.is_empty() || !shuffles.is_empty() {
            self.forget(rdds, shuffles);
        }
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

    /// Fault injection: executor `e` loses its memory (cached partitions, shuffle blocks, the
    /// tasks it was running) and is relaunched empty, or, if the run keeps it dead, leaves (its
    /// partitions then go to the survivors). Returns when every executor has acknowledged. The
    /// last executor cannot be kept dead.
    pub fn kill(&mut self, e: usize) -> Result<(), String> {
        if e >= self.executors || !self.alive[e] {
            return Err(format!("executor {e} is not alive"));
        }
        if !self.relaunch && self.alive.iter().filter(|a| **a).count() == 1 {
            return Err(format!("executor {e} is the last one alive: nothing could recover its work"));
        }
        let gone = |_| "the executors are gone".to_owned();
        let lost = |_| "the executors are gone".to_owned();
        {
            // Under the lock, so that a block stored after the loss is stored on the new one.
            let mut live = self.shared_alive.lock().expect("alive");
            // In the driver's process the task running on `e` stops at once (the switch); in
            // another process at the `Kill` message.
            self.registry.kill_switch(e).store(true, std::sync::atomic::Ordering::Release);
            live[e] = if self.relaunch { live[e].map(|i| i + 1) } else { None };
            self.shuffle_attempt += 1;
            let (relaunch, attempt) = (self.relaunch, self.shuffle_attempt);
            self.to_fabric.send(Msg::Kill { to: e, relaunch, attempt }).map_err(gone)?;
        }
        self.alive[e] = self.relaunch;
        let others: Vec<usize> = (0..self.executors).filter(|s| *s != e && self.alive[*s]).collect();
        for &s in &others {
            self.to_fabric.send(Msg::Purge { to: s, attempt: self.shuffle_attempt }).map_err(gone)?;
        }
        // Tasks that finished before their executor saw the loss come in first: they are done.
        let mut waiting: FxHashSet<usize> = others.into_iter().chain([e]).collect();
        while !waiting.is_empty() {
            match self.completions.recv().map_err(lost)? {
                Completion::Acknowledged { executor } => {
                    waiting.remove(&executor);
                }
                task => self.drained.push(task),
            }
        }
        // Anything computed before may have lived on the lost executor: recompute from lineage
        // what the next jobs need and no executor holds.
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
    Hosts(crate::rdd::lineage::BlockRef),
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
                    self.0 = Location::Hosts(blocks[p].clone());
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
