//! Executors and the cluster fabric.
//!
//! Every timely worker is an executor with its own block manager. One long-lived timely
//! dataflow, a loop exchanged by destination worker, carries every message: tasks from the
//! driver, shuffle blocks between executors, task completions back to the driver. Worker 0 also
//! relays between the loop and the driver's thread.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{ConnectLoop, Feedback};
use timely::worker::Worker;
use workloads::Recorder;

use crate::rdd::{Kind, Partition, RddId, RddNode, Shuffle, ShuffleId, TaskContext};

/// A job's action on one computed partition of its final RDD, run on the executor (the outputs
/// go to the executor's recorder). It returns the bytes to send back to the driver (empty for
/// none: `collect` sends records, `foreach_partition` nothing), or why it failed.
pub type Action = Arc<dyn Fn(usize, &Partition, &mut Recorder) -> Result<Vec<u8>, String> + Send + Sync>;

/// What every executor of a process can look up by id: the lineage, shuffles and actions.
#[derive(Default)]
pub struct Registry {
    rdds: Mutex<FxHashMap<RddId, Arc<RddNode>>>,
    shuffles: Mutex<FxHashMap<ShuffleId, Arc<Shuffle>>>,
    actions: Mutex<FxHashMap<u64, Action>>,
}

impl Registry {
    /// Registers `rdd` and its whole lineage (stopping at what is already known).
    pub fn register(&self, rdd: &Arc<RddNode>) {
        let mut stack = vec![Arc::clone(rdd)];
        let mut rdds = self.rdds.lock().expect("registry");
        while let Some(r) = stack.pop() {
            if rdds.insert(r.id, Arc::clone(&r)).is_some() {
                continue;
            }
            match &r.kind {
                Kind::Source(_) | Kind::Blocks(..) => {}
                Kind::Narrow(p, _) => stack.push(Arc::clone(p)),
                Kind::Union(ps) | Kind::Zip(ps, _) => stack.extend(ps.iter().cloned()),
                Kind::Shuffled(s, _) => {
                    self.shuffles.lock().expect("registry").insert(s.id, Arc::clone(s));
                    stack.push(Arc::clone(&s.parent));
                }
            }
        }
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

    fn rdd(&self, id: RddId) -> Option<Arc<RddNode>> {
        self.rdds.lock().expect("registry").get(&id).cloned()
    }

    fn shuffle(&self, id: ShuffleId) -> Option<Arc<Shuffle>> {
        self.shuffles.lock().expect("registry").get(&id).cloned()
    }

    fn action(&self, id: u64) -> Option<Action> {
        self.actions.lock().expect("registry").get(&id).cloned()
    }
}

/// What a task does with its partition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TaskKind {
    /// Compute the shuffle's parent partition and write one block per reduce partition.
    ShuffleMap {
        /// The shuffle.
        shuffle: ShuffleId,
        /// The executor of each reduce partition (where its blocks go).
        placement: Vec<usize>,
    },
    /// Compute the partition and run the job's action on it.
    Result {
        /// The job.
        job: u64,
    },
}

/// A task: one partition of one RDD.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Unique per run.
    pub id: u64,
    /// The RDD to compute.
    pub rdd: RddId,
    /// The partition.
    pub partition: usize,
    /// What to do with it.
    pub kind: TaskKind,
}

/// Everything that travels over the fabric. `to` is the destination worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Msg {
    /// Driver to executor.
    Task {
        /// Destination.
        to: usize,
        /// The task.
        task: Task,
    },
    /// Map task to the reducer's executor.
    Block {
        /// Destination.
        to: usize,
        /// The shuffle.
        shuffle: ShuffleId,
        /// The reduce partition.
        reduce: usize,
        /// Serialised records.
        data: Vec<u8>,
    },
    /// Executor to driver.
    Done {
        /// Destination (worker 0, the driver's relay).
        to: usize,
        /// The task.
        task: u64,
        /// Records in the computed partition.
        records: u64,
        /// What the action sent back to the driver.
        result: Vec<u8>,
        /// Why it failed, if it did.
        error: Option<String>,
    },
    /// Driver to executor: drop cached partitions of these RDDs, and received blocks of
    /// these ids.
    Forget {
        /// Destination.
        to: usize,
        /// RDDs whose cached partitions go, and blocks that go.
        rdds: Vec<RddId>,
    },
    /// Receiver to executor: keep this received block.
    Store {
        /// Destination.
        to: usize,
        /// The block's id.
        id: u64,
        /// Its serialised records.
        data: Arc<Vec<u8>>,
    },
    /// Driver to executor: the run is over.
    Shutdown {
        /// Destination.
        to: usize,
    },
    /// Driver to executor (fault injection): lose every cached partition and shuffle block,
    /// and take no more tasks.
    Kill {
        /// Destination.
        to: usize,
    },
    /// Driver to a surviving executor after a loss: drop every shuffle block (between jobs
    /// none is needed; blocks of a shuffle run again must not meet stale copies).
    Purge {
        /// Destination.
        to: usize,
    },
    /// Executor to driver: executor `executor` has done a `Kill` or a `Purge`.
    Ack {
        /// Destination (worker 0, the driver's relay).
        to: usize,
        /// The executor.
        executor: usize,
    },
    /// Driver to the first executor of another process, for its follower: generate batch
    /// `time` from these inputs, numbering its jobs from `first_job`.
    Generate {
        /// Destination.
        to: usize,
        /// The batch.
        time: u64,
        /// `(direct stream, offset ranges)` of the batch.
        inputs: Vec<(usize, Vec<(u64, u64)>)>,
        /// `(receiver, blocks)` of the batch.
        blocks: Vec<(usize, Vec<crate::rdd::BlockRef>)>,
        /// The driver's first job id of the batch.
        first_job: u64,
    },
    /// Driver to executor (fault injection): every task takes `factor` times as long.
    Slow {
        /// Destination.
        to: usize,
        /// The slow-down, 1 for none.
        factor: f64,
    },
}

impl Msg {
    fn to(&self) -> usize {
        match self {
            Msg::Task { to, .. }
            | Msg::Block { to, .. }
            | Msg::Done { to, .. }
            | Msg::Forget { to, .. }
            | Msg::Store { to, .. }
            | Msg::Shutdown { to }
            | Msg::Kill { to }
            | Msg::Purge { to }
            | Msg::Ack { to, .. }
            | Msg::Slow { to, .. }
            | Msg::Generate { to, .. } => *to,
        }
    }
}

/// A completion as the driver hears it.
#[derive(Clone, Debug)]
pub struct Completion {
    /// The task.
    pub task: u64,
    /// Records in its partition.
    pub records: u64,
    /// What the action sent back.
    pub result: Vec<u8>,
    /// Why it failed.
    pub error: Option<String>,
    /// Not a task's completion: this executor acknowledges a `Kill` or `Purge`.
    pub lost: Option<usize>,
}

/// An executor's block manager: cached partitions and received shuffle blocks.
#[derive(Default)]
pub struct BlockManager {
    cached: FxHashMap<(RddId, usize), Partition>,
    blocks: FxHashMap<(ShuffleId, usize), Vec<Vec<u8>>>,
    stored: FxHashMap<u64, Arc<Vec<u8>>>,
}

struct Cx<'a> {
    bm: &'a mut BlockManager,
}

impl TaskContext for Cx<'_> {
    fn partition(&mut self, rdd: &Arc<RddNode>, p: usize) -> Partition {
        if rdd.cached {
            if let Some(hit) = self.bm.cached.get(&(rdd.id, p)) {
                return Arc::clone(hit);
            }
            let computed = rdd.compute(self, p);
            self.bm.cached.insert((rdd.id, p), Arc::clone(&computed));
            computed
        } else {
            rdd.compute(self, p)
        }
    }

    fn shuffle_blocks(&mut self, shuffle: ShuffleId, p: usize) -> Vec<Vec<u8>> {
        self.bm.blocks.remove(&(shuffle, p)).unwrap_or_default()
    }

    fn stored_block(&mut self, id: u64) -> Option<Arc<Vec<u8>>> {
        self.bm.stored.get(&id).cloned()
    }
}

/// The shuffle blocks partition `p` of `rdd` still needs: `(shuffle, reduce partition, blocks
/// expected)`, not looking behind partitions already cached.
fn needs(rdd: &Arc<RddNode>, p: usize, bm: &BlockManager, out: &mut Vec<(ShuffleId, usize, usize)>) {
    if rdd.cached && bm.cached.contains_key(&(rdd.id, p)) {
        return;
    }
    match &rdd.kind {
        Kind::Source(_) | Kind::Blocks(..) => {}
        Kind::Narrow(parent, _) => needs(parent, p, bm, out),
        Kind::Zip(parents, _) => parents.iter().for_each(|parent| needs(parent, p, bm, out)),
        Kind::Union(parents) => {
            let mut p = p;
            for parent in parents {
                if p < parent.partitions {
                    return needs(parent, p, bm, out);
                }
                p -= parent.partitions;
            }
        }
        Kind::Shuffled(s, _) => out.push((s.id, p, s.parent.partitions)),
    }
}

/// What connects an executor to its process's driver side: on worker 0 the driver thread
/// (messages in, completions out); on the first worker of every other process the follower
/// thread, which generates each batch's lineage as the driver did (batches in).
#[derive(Default)]
pub struct Link {
    /// Messages from the driver to put on the fabric.
    pub from_driver: Option<Receiver<Msg>>,
    /// Completions to the driver.
    pub to_driver: Option<Sender<Completion>>,
    /// Batches to generate, to the follower.
    pub to_follower: Option<Sender<Msg>>,
}

/// How long a task for an RDD or job not yet generated in this process waits for it.
const UNKNOWN_WAIT: Duration = Duration::from_secs(60);

/// The executor on worker `index`, running tasks until the driver shuts it down.
pub fn run_executor(worker: &mut Worker, registry: Arc<Registry>, mut recorder: Recorder, link: Link) {
    let index = worker.index();
    worker.dataflow::<u64, _, _>(|scope| {
        let (handle, messages) = scope.feedback::<Vec<Msg>>(1);
        messages
            .unary::<timely::container::CapacityContainerBuilder<Vec<Msg>>, _, _, _>(
                Exchange::new(move |m: &Msg| m.to() as u64),
                "Executor",
                move |cap, info| {
                    let activator = scope.activator_for(Rc::clone(&info.address));
                    let mut cap = Some(cap);
                    let mut bm = BlockManager::default();
                    let mut pending: VecDeque<Task> = VecDeque::new();
                    let mut received: FxHashMap<(ShuffleId, usize), usize> = FxHashMap::default();
                    let mut outbox: Vec<Msg> = Vec::new();
                    let (mut dead, mut slow) = (false, 1.0f64);
                    let mut unknown_since: FxHashMap<u64, std::time::Instant> = FxHashMap::default();
                    move |input, output| {
                        let mut shutdown = false;
                        input.for_each(|_cap, data| {
                            for m in data.drain(..) {
                                match m {
                                    Msg::Task { task, .. } if !dead => pending.push_back(task),
                                    Msg::Task { .. } | Msg::Block { .. } | Msg::Store { .. } if dead => {}
                                    Msg::Store { id, data, .. } => {
                                        bm.stored.insert(id, data);
                                    }
                                    Msg::Task { .. } => unreachable!("handled above"),
                                    Msg::Block { shuffle, reduce, data, .. } => {
                                        bm.blocks.entry((shuffle, reduce)).or_default().push(data);
                                        *received.entry((shuffle, reduce)).or_insert(0) += 1;
                                    }
                                    Msg::Done { task, records, result, error, .. } => {
                                        if let Some(tx) = &link.to_driver {
                                            let _ = tx.send(Completion { task, records, result, error, lost: None });
                                        }
                                    }
                                    Msg::Forget { rdds, .. } => {
                                        let gone: FxHashSet<RddId> = rdds.into_iter().collect();
                                        bm.cached.retain(|(id, _), _| !gone.contains(id));
                                        bm.stored.retain(|id, _| !gone.contains(id));
                                    }
                                    Msg::Shutdown { .. } => shutdown = true,
                                    Msg::Kill { .. } => {
                                        dead = true;
                                        bm = BlockManager::default();
                                        received.clear();
                                        pending.clear();
                                        outbox.push(Msg::Ack { to: 0, executor: index });
                                    }
                                    Msg::Purge { .. } => {
                                        bm.blocks.clear();
                                        received.clear();
                                        outbox.push(Msg::Ack { to: 0, executor: index });
                                    }
                                    Msg::Ack { executor, .. } => {
                                        if let Some(tx) = &link.to_driver {
                                            let _ = tx.send(Completion {
                                                task: u64::MAX,
                                                records: 0,
                                                result: Vec::new(),
                                                error: None,
                                                lost: Some(executor),
                                            });
                                        }
                                    }
                                    Msg::Slow { factor, .. } => slow = factor,
                                    generate @ Msg::Generate { .. } => {
                                        if let Some(tx) = &link.to_follower {
                                            let _ = tx.send(generate);
                                        }
                                    }
                                }
                            }
                        });
                        if let Some(rx) = &link.from_driver {
                            loop {
                                match rx.try_recv() {
                                    Ok(m) => outbox.push(m),
                                    Err(TryRecvError::Empty) => break,
                                    Err(TryRecvError::Disconnected) => {
                                        shutdown = true;
                                        break;
                                    }
                                }
                            }
                        }
                        // Run every task whose shuffle inputs have all arrived, in arrival order.
                        let mut waiting = VecDeque::new();
                        while let Some(task) = pending.pop_front() {
                            // In a process other than the driver's, a task can arrive before this
                            // process has generated its batch: it waits (for a while).
                            let known = match &task.kind {
                                TaskKind::ShuffleMap { shuffle, .. } => registry.shuffle(*shuffle).is_some(),
                                TaskKind::Result { job } => registry.action(*job).is_some(),
                            };
                            let rdd = registry.rdd(task.rdd).filter(|_| known);
                            let Some(rdd) = rdd else {
                                let since = *unknown_since.entry(task.id).or_insert_with(std::time::Instant::now);
                                if since.elapsed() < UNKNOWN_WAIT {
                                    waiting.push_back(task);
                                } else {
                                    outbox.push(Msg::Done {
                                        to: 0,
                                        task: task.id,
                                        records: 0,
                                        result: Vec::new(),
                                        error: Some(format!(
                                            "RDD {} or its job was never generated on executor {index}: the processes do not run the same program",
                                            task.rdd
                                        )),
                                    });
                                }
                                continue;
                            };
                            unknown_since.remove(&task.id);
                            let mut need = Vec::new();
                            needs(&rdd, task.partition, &bm, &mut need);
                            if need.iter().any(|(s, p, n)| received.get(&(*s, *p)).copied().unwrap_or(0) < *n) {
                                waiting.push_back(task);
                                continue;
                            }
                            for (s, p, _) in &need {
                                received.remove(&(*s, *p));
                            }
                            let began = std::time::Instant::now();
                            // A panic in user code fails the task (and its job) with the panic's
                            // message, as a thrown exception fails a Spark task; the executor lives on.
                            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                let mut cx = Cx { bm: &mut bm };
                                let computed = cx.partition(&rdd, task.partition);
                                match &task.kind {
                                    TaskKind::ShuffleMap { shuffle, placement } => match registry.shuffle(*shuffle) {
                                        Some(s) => {
                                            let blocks = (s.map_side)(&computed, task.partition, placement.len());
                                            for (reduce, data) in blocks.into_iter().enumerate() {
                                                outbox.push(Msg::Block {
                                                    to: placement[reduce],
                                                    shuffle: *shuffle,
                                                    reduce,
                                                    data,
                                                });
                                            }
                                            Ok(Vec::new())
                                        }
                                        None => Err(format!("unknown shuffle {shuffle}")),
                                    },
                                    TaskKind::Result { job } => match registry.action(*job) {
                                        Some(action) => action(task.partition, &computed, &mut recorder),
                                        None => Err(format!("unknown job {job}")),
                                    },
                                }
                            }));
                            let (records, result, error) = match run {
                                Ok(Ok(result)) => (0, result, None),
                                Ok(Err(e)) => (0, Vec::new(), Some(e)),
                                Err(panic) => {
                                    let why = panic
                                        .downcast_ref::<String>()
                                        .cloned()
                                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                                        .unwrap_or_else(|| "a panic".into());
                                    (0, Vec::new(), Some(format!("the task panicked: {why}")))
                                }
                            };
                            if slow > 1.0 {
                                // A straggler: the task takes `slow` times as long.
                                std::thread::sleep(began.elapsed().mul_f64(slow - 1.0));
                            }
                            outbox.push(Msg::Done { to: 0, task: task.id, records, result, error });
                        }
                        pending = waiting;
                        if let Some(c) = cap.as_ref() {
                            if !outbox.is_empty() {
                                output.session(c).give_iterator(outbox.drain(..));
                            }
                        }
                        if shutdown {
                            cap = None;
                            recorder.complete();
                        } else if link.from_driver.is_some() || !pending.is_empty() {
                            activator.activate_after(Duration::from_micros(200));
                        }
                    }
                },
            )
            .connect_loop(handle);
    });
    while worker.step_or_park(Some(Duration::from_millis(1))) {}
}

use std::rc::Rc;
