//! The DAG scheduler (Spark's `DAGScheduler` with its task scheduler): turns a job into stages at shuffle boundaries and runs them one after
//! another (a stage starts only when every task of the stages before it has finished), one task
//! per partition, partition `p` on executor `p % executors` (so a cached partition is always
//! where its next use runs).
//!
//! The driver knows where every map output and cached partition is (Spark's
//! `MapOutputTracker` and block manager master), so a stage runs only the tasks whose output is
//! missing. A map task keeps its output on its executor (as Spark keeps shuffle files) while the
//! shuffle may be read again: to the end of its batch, or, when state is checkpointed, as long as
//! the batches since the last cut are remembered (a lost state partition is rebuilt from them).
//!
//! The run's faults come due here, on the system clock even in the middle of a stage: a killed
//! executor loses its memory and the tasks it was running, and the stage in flight is planned
//! again. A lost executor is relaunched empty, as a cluster manager relaunches one (unless the run
//! keeps it dead: then its partitions go to the survivors, `p` to the `p`-th survivor,
//! cyclically). Only what was lost is recomputed: the survivors push their kept map outputs again
//! to the reduce partitions that were on the lost executor, and the planner reruns the map tasks
//! whose outputs lived on it and the partitions cached there, from the sources (which re-read
//! their offset ranges) or the last checkpoint (D-Streams' parallel recovery).

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustc_hash::FxHashSet;

use crate::executor::messages::{Action, Completion, Msg, Task, TaskKind};
use crate::executor::registry::Registry;
use crate::rdd::{RddId, RddNode, ShuffleId};
use crate::scheduler::faults::{Action as FaultAction, Injector};
use crate::scheduler::map_output::Locations;
use crate::scheduler::placement;

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
    /// Where the map outputs and cached partitions are.
    locations: Locations,
    /// Each executor's incarnation, `None` once it is dead (the driver's copy of `shared_alive`).
    incarnations: Vec<Option<u32>>,
    shared_alive: Liveness,
    faults: Injector,
    /// The system clock's start, on which faults come due mid-stage; `None` on a manual clock
    /// (faults come due at batch boundaries).
    epoch: Option<Instant>,
    /// A lost executor is relaunched empty (false: it stays dead).
    relaunch: bool,
    /// Faults applied and not yet reported: `(index, ns from the start)`.
    applied: Vec<(usize, u64)>,
    /// Task completions that came in while a loss was acknowledged.
    drained: Vec<Completion>,
    /// Tasks launched, per kind.
    launched: TaskCounts,
}

/// How many tasks of each kind the driver launched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskCounts {
    /// Map tasks (one per map partition of a shuffle's map stage).
    pub map: u64,
    /// Result tasks.
    pub result: u64,
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
            locations: Locations::default(),
            incarnations: vec![Some(0); executors],
            shared_alive: Arc::new(Mutex::new(vec![Some(0); executors])),
            faults: Injector::new(Vec::new()),
            epoch: None,
            relaunch: true,
            applied: Vec::new(),
            drained: Vec::new(),
            launched: TaskCounts::default(),
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
        for (index, action) in self.faults.due(elapsed) {
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
        self.registry.forget_action(job);
        outcome?;
        Ok(results.into_iter().map(Option::unwrap_or_default).collect())
    }

    /// One attempt at job `job`: the map tasks it is missing, stage by stage, then its result
    /// stage's missing partitions.
    fn attempt(&mut self, rdd: &Arc<RddNode>, job: u64, results: &mut [Option<Vec<u8>>]) -> Result<(), StageError> {
        if self.faults_now()? {
            return Err(StageError::Aborted);
        }
        let needed: Vec<usize> = (0..rdd.partitions).filter(|p| results[*p].is_none()).collect();
        for wave in self.locations.missing(rdd, &needed) {
            let mut done: Vec<Vec<Option<Vec<u8>>>> = Vec::with_capacity(wave.len());
            let mut kinds = Vec::with_capacity(wave.len());
            for (shuffle, maps) in &wave {
                self.locations.track(shuffle);
                let placement = (0..shuffle.reducers).map(|r| self.place(r)).collect();
                kinds.push(TaskKind::ShuffleMap { shuffle: shuffle.id, placement });
                let mut todo = vec![Some(Vec::new()); shuffle.parent.partitions];
                maps.iter().for_each(|m| todo[*m] = None);
                done.push(todo);
            }
            let mut stages: Vec<Stage<'_>> = wave
                .iter()
                .zip(kinds)
                .zip(&mut done)
                .map(|(((shuffle, _), kind), results)| Stage { rdd: &shuffle.parent, kind, results })
                .collect();
            self.run_wave(&mut stages)?;
        }
        self.run_stage(rdd, TaskKind::Result { job }, results)
    }

    /// A task of `kind` over partition `p` of `rdd` finished on executor `at` (in its
    /// `incarnation`): its map output and the cached partitions it computed are there, unless
    /// the executor has been lost since.
    fn finished(&mut self, rdd: &Arc<RddNode>, kind: &TaskKind, p: usize, at: usize, incarnation: Option<u32>) {
        if self.incarnations[at] == incarnation {
            let shuffle = match kind {
                TaskKind::ShuffleMap { shuffle, .. } => Some(*shuffle),
                TaskKind::Result { .. } => None,
            };
            self.locations.finished(rdd, shuffle, p, at);
        }
    }

    /// Tasks launched so far, per kind.
    pub fn launched(&self) -> TaskCounts {
        self.launched
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

    /// One stage: [`DagScheduler::run_wave`] of one.
    fn run_stage(
        &mut self,
        rdd: &Arc<RddNode>,
        kind: TaskKind,
        results: &mut [Option<Vec<u8>>],
    ) -> Result<(), StageError> {
        self.run_wave(&mut [Stage { rdd, kind, results }])
    }

    /// Stages that depend on none of each other, run together: a task per partition not done
    /// in a stage's `results`, then wait for all of them (the barrier), putting what each task
    /// sent back in its stage's `results`.
    fn run_wave(&mut self, stages: &mut [Stage<'_>]) -> Result<(), StageError> {
        let todo: Vec<(usize, usize)> = stages
            .iter()
            .enumerate()
            .flat_map(|(s, st)| (0..st.rdd.partitions).filter(|p| st.results[*p].is_none()).map(move |p| (s, p)))
            .collect();
        let tasks =
            todo.iter().map(|&(s, p)| (stages[s].rdd, matches!(stages[s].kind, TaskKind::ShuffleMap { .. }), p));
        let placed = placement::place_tasks(&self.incarnations, tasks)?;
        // The fields are evaluated only when the span is enabled.
        let _stage = tracing::debug_span!("stage", rdds = ?stages.iter().map(|s| s.rdd.id).collect::<Vec<_>>(), tasks = todo.len())
            .entered();
        tracing::trace!(executors = ?placed, "tasks launched");
        let first = self.next_task;
        for (&(s, p), &to) in todo.iter().zip(&placed) {
            let Stage { rdd, kind, .. } = &stages[s];
            let counted = match kind {
                TaskKind::ShuffleMap { .. } => &mut self.launched.map,
                TaskKind::Result { .. } => &mut self.launched.result,
            };
            *counted += 1;
            let task = Task { id: self.next_task, rdd: rdd.id, partition: p, kind: kind.clone() };
            self.next_task += 1;
            self.to_fabric.send(Msg::Task { to, task }).map_err(|_| "the executors are gone".to_owned())?;
        }
        // Each task's executor and its incarnation at the launch.
        let launched: Vec<(usize, Option<u32>)> = placed.iter().map(|&e| (e, self.incarnations[e])).collect();
        let mut left = todo.len();
        let take = |c: Completion, stages: &mut [Stage<'_>], left: &mut usize| -> Result<Option<usize>, StageError> {
            let Completion::Task { task, result, error } = c else { return Ok(None) };
            let Some(i) = task.checked_sub(first).map(|i| i as usize).filter(|i| *i < todo.len()) else {
                return Ok(None);
            };
            if let Some(e) = error {
                return Err(StageError::Failed(format!("task {task} failed: {e}")));
            }
            let (s, p) = todo[i];
            stages[s].results[p] = Some(result);
            *left -= 1;
            Ok(Some(i))
        };
        while left > 0 {
            // A fault cost an executor: what finished before it stays done, the rest is lost.
            let (completions, aborted) = match self.next_completion()? {
                Some(completion) => (vec![completion], false),
                None => (std::mem::take(&mut self.drained), true),
            };
            for c in completions {
                if let Some(i) = take(c, stages, &mut left)? {
                    let (s, p) = todo[i];
                    self.finished(stages[s].rdd, &stages[s].kind, p, launched[i].0, launched[i].1);
                }
            }
            if aborted {
                return Err(StageError::Aborted);
            }
        }
        Ok(())
    }

    /// Tells every executor to drop cached partitions of `rdds` and the blocks of `shuffles`,
    /// and forgets where they were (the registry keeps them while a lineage reaches them).
    pub fn forget(&mut self, rdds: Vec<RddId>, shuffles: Vec<ShuffleId>) {
        for to in 0..self.executors {
            let _ = self.to_fabric.send(Msg::Forget { to, rdds: rdds.clone(), shuffles: shuffles.clone() });
        }
        self.locations.forget(&rdds, &shuffles);
    }

    /// After the last job of batch `t`: `rdds` are freed on the executors, and so is every
    /// shuffle first run in a batch before `keep_from` (`None`: every shuffle; a later batch
    /// reading the same lineage reads its cached partitions, or runs the map stage again).
    pub fn end_batch(&mut self, t: u64, rdds: Vec<RddId>, keep_from: Option<u64>) {
        let shuffles = self.locations.expired(t, keep_from);
        if !rdds.is_empty() || !shuffles.is_empty() {
            self.forget(rdds, shuffles);
        }
    }

    /// The executor of partition `p` (see [`placement::place`]).
    fn place(&self, p: usize) -> usize {
        placement::place(&self.incarnations, p)
    }

    /// Fault injection: executor `e` loses its memory (cached partitions, shuffle blocks and map
    /// outputs, the tasks it was running) and is relaunched empty, or, if the run keeps it dead,
    /// leaves (its partitions then go to the survivors). Returns when every executor has
    /// acknowledged and the survivors have been asked to push their map outputs again to the
    /// reduce partitions that were on `e`. The last executor cannot be kept dead.
    pub fn kill(&mut self, e: usize) -> Result<(), String> {
        if self.incarnations.get(e).is_none_or(Option::is_none) {
            return Err(format!("executor {e} is not alive"));
        }
        if !self.relaunch && self.incarnations.iter().filter(|a| a.is_some()).count() == 1 {
            return Err(format!("executor {e} is the last one alive: nothing could recover its work"));
        }
        tracing::info!(executor = e, relaunch = self.relaunch, "executor lost");
        let gone = |_| "the executors are gone".to_owned();
        {
            // Under the lock, so that a block stored after the loss is stored on the new one.
            let mut live = self.shared_alive.lock().expect("alive");
            // In the driver's process the task running on `e` stops at once (the switch); in
            // another process at the `Kill` message.
            self.registry.kill_switch(e).store(true, std::sync::atomic::Ordering::Release);
            live[e] = if self.relaunch { live[e].map(|i| i + 1) } else { None };
            self.incarnations.clone_from(&live);
            self.to_fabric.send(Msg::Kill { to: e, relaunch: self.relaunch }).map_err(gone)?;
        }
        let others: Vec<usize> = (0..self.executors).filter(|s| *s != e && self.incarnations[*s].is_some()).collect();
        for &to in &others {
            self.to_fabric.send(Msg::Purge { to }).map_err(gone)?;
        }
        // Tasks that finished before their executor saw the loss come in first: they are done
        // (their outputs too, unless they ran on `e`).
        let mut waiting: FxHashSet<usize> = others.iter().copied().chain([e]).collect();
        while !waiting.is_empty() {
            match self.completions.recv().map_err(|_| "the executors are gone".to_owned())? {
                Completion::Acknowledged { executor } => {
                    waiting.remove(&executor);
                }
                task => self.drained.push(task),
            }
        }
        // What lived on `e` is gone: the planner recomputes it where the next jobs need it.
        self.locations.lose(e);
        // The survivors' map outputs reach the reduce partitions that were on `e` again.
        let reducers = self.locations.max_reducers();
        if reducers > 0 {
            let placement: Vec<usize> = (0..reducers).map(|r| self.place(r)).collect();
            for &to in &others {
                self.to_fabric.send(Msg::Resend { to, lost: e, placement: placement.clone() }).map_err(gone)?;
            }
        }
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

/// One stage of a wave: its RDD, what its tasks do, and each partition's result (`Some`: done).
struct Stage<'a> {
    rdd: &'a Arc<RddNode>,
    kind: TaskKind,
    results: &'a mut [Option<Vec<u8>>],
}
