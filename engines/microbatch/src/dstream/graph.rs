//! The DStream graph (Spark's `DStreamGraph`): what every stream of a context shares: the
//! output operations, the remember duration derived from the windows and state, the
//! checkpointed streams, the direct streams' recorded offsets, the receivers, and what
//! backpressure allows.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::rdd::{Ids, RddContext};
use crate::scheduler::checkpoint::Ranges;
use crate::scheduler::rate::RateLimit;
use crate::scheduler::receiver_tracker::{Starter, Tracker};
use crate::time::{check_multiple, Time};
use crate::StreamingError;

/// The generation of one batch's jobs of one output operation: calls `run` per job.
pub type OutputOp = Box<dyn Fn(Time, &mut RunJob<'_>) -> Result<(), String> + Send + Sync>;
pub use crate::rdd::RunJob;
pub(crate) type BatchDone = Box<dyn Fn(Time, u64) -> Vec<u64> + Send + Sync>;
/// Generates an output's RDD of a batch (its lineage), before any job runs.
pub type Generate = Box<dyn Fn(Time) + Send + Sync>;

/// An output operation: its slide, its generation, its jobs.
pub(crate) struct Output {
    pub(crate) slide_ns: u64,
    pub(crate) generate: Generate,
    pub(crate) op: OutputOp,
}

/// The DStream graph, shared by its streams.
pub struct Graph {
    pub(crate) sc: RddContext,
    pub(crate) batch_ns: u64,
    pub(crate) partitions: usize,
    pub(crate) started: AtomicBool,
    pub(crate) outputs: Mutex<Vec<Output>>,
    pub(crate) is_driver: AtomicBool,
    pub(crate) batch_done: Mutex<Vec<BatchDone>>,
    pub(crate) remember_ns: AtomicU64,
    pub(crate) stateful: AtomicBool,
    pub(crate) checkpoint_ns: AtomicU64,
    pub(crate) checkpointed: Mutex<Vec<Checkpointed>>,
    pub(crate) direct_streams: AtomicUsize,
    /// Source ranges of every batch since the last cut, by (direct stream, batch time).
    pub(crate) inputs: Mutex<BTreeMap<(usize, Time), Ranges>>,
    /// The `(stream, batch time)` of the ranges recorded since the driver last took them.
    pub(crate) fresh: Mutex<Vec<(usize, Time)>>,
    pub(crate) receivers: Mutex<Vec<Starter>>,
    pub(crate) trackers: Mutex<Vec<Arc<Tracker>>>,
    /// What backpressure allows all sources together, records/s (none without backpressure or
    /// before its first estimate).
    pub(crate) ingest: RateLimit,
    pub(crate) max_rate_per_partition: Option<f64>,
    /// The epoch ms of batch time 0 (set at start).
    pub(crate) zero_ms: AtomicU64,
    /// What runs when the context starts, before the first batch.
    pub(crate) on_start: Mutex<Vec<Box<dyn FnOnce() + Send>>>,
}

/// Writes a checkpointed stream's RDD of a batch: `(stream, time, dir, run)`.
pub(crate) type WriteFn = Box<dyn Fn(usize, Time, &Path, &mut RunJob<'_>) -> Result<(), String> + Send + Sync>;
/// Restores a checkpointed stream's RDD of a batch from the files: `(stream, time, dir)`.
pub(crate) type RestoreFn = Box<dyn Fn(usize, Time, &Path) -> Result<(), String> + Send + Sync>;
/// A checkpointed stream's hooks.
pub(crate) struct Checkpointed {
    pub(crate) write: WriteFn,
    pub(crate) restore: RestoreFn,
}

impl Graph {
    /// An empty graph of `batch_ns` batches and `partitions` shuffle partitions; `ingest` is
    /// what backpressure allows the first batch, `max_rate_per_partition` the direct streams' cap.
    pub(crate) fn new(
        batch_ns: u64,
        partitions: usize,
        ingest: Option<f64>,
        max_rate_per_partition: Option<f64>,
    ) -> Self {
        Self {
            sc: RddContext::new(Ids::default(), partitions),
            batch_ns,
            partitions,
            started: AtomicBool::new(false),
            outputs: Mutex::new(Vec::new()),
            is_driver: AtomicBool::new(true),
            batch_done: Mutex::new(Vec::new()),
            remember_ns: AtomicU64::new(batch_ns),
            stateful: AtomicBool::new(false),
            checkpoint_ns: AtomicU64::new(0),
            checkpointed: Mutex::new(Vec::new()),
            direct_streams: AtomicUsize::new(0),
            inputs: Mutex::new(BTreeMap::new()),
            fresh: Mutex::new(Vec::new()),
            receivers: Mutex::new(Vec::new()),
            trackers: Mutex::new(Vec::new()),
            ingest: {
                let limit = RateLimit::default();
                limit.set(ingest);
                limit
            },
            max_rate_per_partition,
            zero_ms: AtomicU64::new(0),
            on_start: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn check_not_started(&self) -> Result<(), StreamingError> {
        self.check_not_started_for("a transformation or output operation")
    }

    /// Refuses to set `what` once the context has started.
    pub(crate) fn check_not_started_for(&self, what: &str) -> Result<(), StreamingError> {
        if self.started.load(Ordering::Acquire) {
            Err(StreamingError::Lifecycle(format!(
                "cannot set {what} after the context has started: define the whole program before start()"
            )))
        } else {
            Ok(())
        }
    }

    /// Runs `f` when the context starts.
    pub(crate) fn at_start(&self, f: Box<dyn FnOnce() + Send>) {
        self.on_start.lock().expect("graph").push(f);
    }

    pub(crate) fn run_start_hooks(&self) {
        for f in std::mem::take(&mut *self.on_start.lock().expect("graph")) {
            f();
        }
    }

    /// The epoch ms of batch time `t` (Spark's batch time).
    pub(crate) fn epoch_ms(&self, t: Time) -> u64 {
        self.zero_ms.load(Ordering::Acquire) + t / 1_000_000
    }

    pub(crate) fn add_output(&self, slide_ns: u64, generate: Generate, op: OutputOp) {
        self.outputs.lock().expect("graph").push(Output { slide_ns, generate, op });
    }

    /// False in the processes that follow the driver: they generate lineage and register jobs,
    /// but bring nothing to a driver (no `foreach_batch` call, no printing, no `_SUCCESS`).
    pub(crate) fn is_driver(&self) -> bool {
        self.is_driver.load(Ordering::Relaxed)
    }

    pub(crate) fn on_batch_done(&self, f: BatchDone) {
        self.batch_done.lock().expect("graph").push(f);
    }

    pub(crate) fn remember(&self, ns: u64) {
        self.remember_ns.fetch_max(ns, Ordering::Relaxed);
    }

    pub(crate) fn needs_checkpoint(&self) {
        self.stateful.store(true, Ordering::Relaxed);
    }

    pub(crate) fn set_checkpoint_interval(&self, ns: u64) -> Result<(), StreamingError> {
        check_multiple("checkpoint interval", ns, self.batch_ns, true)?;
        self.checkpoint_ns.store(ns, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn add_checkpointed(&self, write: WriteFn, restore: RestoreFn) {
        self.checkpointed.lock().expect("graph").push(Checkpointed { write, restore });
    }

    /// The checkpoint interval: set, or the smallest multiple of the batch interval of at
    /// least 10 s (Spark's default).
    pub(crate) fn checkpoint_interval(&self) -> u64 {
        match self.checkpoint_ns.load(Ordering::Relaxed) {
            0 => 10_000_000_000u64.div_ceil(self.batch_ns) * self.batch_ns,
            ns => ns,
        }
    }

    /// After batch `t`: forgets generated RDDs no window, state or recovery can reach any more;
    /// returns the ids of cached RDDs and received blocks the executors can drop. With
    /// checkpointed streams, a lost state partition is recomputed from the last cut, so what
    /// it reads since then (received blocks, cached batches) is kept for a checkpoint interval.
    pub(crate) fn expire(&self, t: Time, checkpointed: bool, interval: u64) -> Vec<u64> {
        let remember = self.remembered(checkpointed, interval);
        self.batch_done.lock().expect("graph").iter().flat_map(|f| f(t, remember)).collect()
    }

    /// How long generated RDDs are remembered after their batch, ns (see [`Graph::expire`]).
    pub(crate) fn remembered(&self, checkpointed: bool, interval: u64) -> u64 {
        let since_cut = if checkpointed { interval } else { 0 };
        self.remember_ns.load(Ordering::Relaxed).max(since_cut) + self.batch_ns
    }

    pub(crate) fn record_input(&self, stream: usize, t: Time, ranges: &[(u64, u64)]) {
        self.inputs.lock().expect("graph").insert((stream, t), ranges.to_vec());
        self.fresh.lock().expect("graph").push((stream, t));
    }

    /// The offset ranges the direct streams recorded since this was last called: `(stream,
    /// batch time, ranges)` (a window computes several batches' when it fires).
    pub(crate) fn take_fresh_inputs(&self) -> Vec<(usize, Time, Ranges)> {
        let fresh = std::mem::take(&mut *self.fresh.lock().expect("graph"));
        let inputs = self.inputs.lock().expect("graph");
        fresh.into_iter().filter_map(|(s, t)| inputs.get(&(s, t)).map(|r| (s, t, r.clone()))).collect()
    }

    pub(crate) fn recorded_input(&self, stream: usize, t: Time) -> Option<Vec<(u64, u64)>> {
        self.inputs.lock().expect("graph").get(&(stream, t)).cloned()
    }
}
