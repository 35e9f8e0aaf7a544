//! What travels between the driver and the executors: tasks, shuffle blocks, completions and
//! the driver's commands, and a job's action.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::rdd::{BlockRef, RddId, ShuffleId};
use crate::scheduler::checkpoint::Ranges;

pub use crate::rdd::Action;

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
        /// The map partition that wrote it (a map task run again writes the same block again).
        map: usize,
        /// Serialised records in pages (shared with the map side's kept copy within a process).
        data: Arc<crate::rdd::data::Pages>,
    },
    /// Executor to driver.
    Done {
        /// Destination (worker 0, the driver's relay).
        to: usize,
        /// The task.
        task: u64,
        /// What the action sent back to the driver.
        result: Vec<u8>,
        /// Why it failed, if it did.
        error: Option<String>,
    },
    /// Driver to executor: drop cached partitions of these RDDs, received blocks of these ids,
    /// and the blocks of these shuffles.
    Forget {
        /// Destination.
        to: usize,
        /// RDDs whose cached partitions go, and blocks that go.
        rdds: Vec<RddId>,
        /// Shuffles whose blocks go (no job can read them again).
        shuffles: Vec<ShuffleId>,
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
    /// Driver to executor (fault injection): lose every cached partition, shuffle block,
    /// received block and pending task; then take no more tasks, or, relaunched, start empty.
    Kill {
        /// Destination.
        to: usize,
        /// The executor is relaunched (a fresh, empty one takes its place).
        relaunch: bool,
    },
    /// Driver to a surviving executor after a loss: drop every task not started (the stage in
    /// flight is planned again). Its blocks and map outputs stay.
    Purge {
        /// Destination.
        to: usize,
    },
    /// Driver to a surviving executor after executor `lost` was lost (and acknowledged): push
    /// again the kept map outputs' blocks of every reduce partition that was on it, to
    /// `placement[reduce]`, where that partition is now.
    Resend {
        /// Destination.
        to: usize,
        /// The lost executor.
        lost: usize,
        /// Where each reduce partition is now.
        placement: Vec<usize>,
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
        /// `(direct stream, batch time, offset ranges)` the batch computed (a window computes
        /// several batches' when it fires).
        inputs: Vec<(usize, u64, Ranges)>,
        /// `(receiver, batch time, blocks)` the batch allocated.
        blocks: Vec<(usize, u64, Vec<BlockRef>)>,
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
    pub(crate) fn to(&self) -> usize {
        match self {
            Msg::Task { to, .. }
            | Msg::Block { to, .. }
            | Msg::Done { to, .. }
            | Msg::Forget { to, .. }
            | Msg::Store { to, .. }
            | Msg::Shutdown { to }
            | Msg::Kill { to, .. }
            | Msg::Purge { to }
            | Msg::Resend { to, .. }
            | Msg::Ack { to, .. }
            | Msg::Slow { to, .. }
            | Msg::Generate { to, .. } => *to,
        }
    }
}

/// What the driver hears from the executors.
#[derive(Clone, Debug)]
pub enum Completion {
    /// A task finished.
    Task {
        /// The task.
        task: u64,
        /// What the action sent back.
        result: Vec<u8>,
        /// Why it failed, if it did.
        error: Option<String>,
    },
    /// An executor acknowledges a `Kill` or `Purge`.
    Acknowledged {
        /// The executor.
        executor: usize,
    },
}
