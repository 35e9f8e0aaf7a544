//! `StreamingContext`: the entry point of a streaming program and its lifecycle (Spark's
//! `StreamingContext` and `StreamingContextState`): define DStreams on it (the input streams are
//! in `input`), then `start`, `await_termination`, `stop`. The driver it starts is the
//! `scheduler`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use workloads::contract::BatchInfo;
use workloads::Observer;

use crate::conf::StreamingConf;
use crate::dstream::graph::Graph;
use crate::dstream::{DStream, Time};
use crate::rdd::{Data, Ids, Rdd};
use crate::scheduler::checkpoint::{self, Metadata};
use crate::scheduler::job_generator::drive;
pub use crate::scheduler::listener::Listener;
use crate::StreamingError;

/// The lifecycle states (Spark's `StreamingContextState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Defined, not started: transformations and outputs may be added.
    Initialized,
    /// Started: batches run.
    Active,
    /// Stopped: cannot be started again.
    Stopped,
}

/// The entry point of a streaming program: define DStreams on it, then `start`.
pub struct StreamingContext {
    pub(crate) graph: Arc<Graph>,
    pub(crate) conf: StreamingConf,
    state: State,
    checkpoint_dir: Option<PathBuf>,
    listeners: Vec<Listener>,
    stop: Arc<AtomicBool>,
    driver: Option<JoinHandle<Result<Vec<BatchInfo>, String>>>,
    observer: Observer,
    restore: Option<Metadata>,
    passed_over: Vec<String>,
}

impl StreamingContext {
    /// A context cutting streams into batches of `batch_interval`.
    pub fn new(conf: StreamingConf, batch_interval: Duration) -> Result<Self, StreamingError> {
        let batch_ns = batch_interval.as_nanos() as u64;
        if batch_ns == 0 || conf.executors == 0 || conf.partitions == 0 {
            return Err(StreamingError::Invalid("the batch interval, executors and partitions must be above 0".into()));
        }
        Ok(Self {
            graph: Arc::new(Graph::new(
                batch_ns,
                conf.partitions,
                conf.initial_rate.filter(|_| conf.backpressure),
                conf.max_rate_per_partition,
            )),
            conf,
            state: State::Initialized,
            checkpoint_dir: None,
            listeners: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            driver: None,
            observer: Observer::with(0, 1_000_000_000, workloads::Collect::Full),
            restore: None,
            passed_over: Vec::new(),
        })
    }

    /// `getOrCreate(dir, create)`: the program `create` builds, resumed from the newest usable
    /// checkpoint in `dir` if there is one (else started afresh with `dir` as its checkpoint
    /// directory). Closures cannot be read back from disk in Rust, so unlike Spark `create` is
    /// always called to rebuild the same graph; the checkpoint supplies where it resumes: the
    /// state of the last consistent cut, read from its files, and the source offsets of every
    /// batch since, which are run again before new batches. A corrupt or partial checkpoint is
    /// passed over for the one before it (see [`StreamingContext::recovery`]).
    pub fn get_or_create(
        dir: impl Into<PathBuf>,
        create: impl FnOnce() -> Result<StreamingContext, StreamingError>,
    ) -> Result<StreamingContext, StreamingError> {
        let dir = dir.into();
        let (found, passed_over) = checkpoint::latest(&dir);
        let mut ssc = create()?;
        ssc.checkpoint(dir);
        ssc.restore = found;
        ssc.passed_over = passed_over;
        Ok(ssc)
    }

    /// The checkpoint this context resumes from (its last batch and its cut), and the newer
    /// checkpoints passed over as corrupt or partial, with why.
    pub fn recovery(&self) -> (Option<(Time, Time)>, &[String]) {
        (self.restore.as_ref().map(|m| (m.time, m.cut)), &self.passed_over)
    }

    /// Reports outputs and batches to `observer` (the harness's) instead of a private one.
    pub fn set_observer(&mut self, observer: Observer) {
        self.observer = observer;
    }

    /// The lifecycle state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The batch interval, ns.
    pub fn batch_ns(&self) -> u64 {
        self.graph.batch_ns
    }

    /// Sets the checkpoint directory (required by stateful operations).
    pub fn checkpoint(&mut self, dir: impl Into<PathBuf>) {
        self.checkpoint_dir = Some(dir.into());
    }

    /// How often checkpointed streams are written (a multiple of the batch interval; default:
    /// the smallest multiple of at least 10 s).
    pub fn checkpoint_interval(&self, interval: Duration) -> Result<(), StreamingError> {
        self.graph.check_not_started()?;
        self.graph.set_checkpoint_interval(interval.as_nanos() as u64)
    }

    /// Keeps generated RDDs for at least `duration` (Spark's `remember`).
    pub fn remember(&self, duration: Duration) {
        self.graph.remember(duration.as_nanos() as u64);
    }

    /// Adds a listener that hears every finished batch.
    pub fn add_listener(&mut self, listener: Listener) {
        self.listeners.push(listener);
    }

    /// `sc.parallelize(data, partitions)`: an RDD of `data` cut into `partitions` slices, with its
    /// id from this context, so it can be built once and joined with every batch (in
    /// `transform`). Its partitions are computed where its tasks run.
    pub fn parallelize<T: Data>(&self, data: Vec<T>, partitions: usize) -> Rdd<T> {
        let data = Arc::new(data);
        let n = partitions.max(1);
        Rdd::source(&self.graph.ids, n, move |p| {
            let (len, per) = (data.len(), data.len().div_ceil(n));
            data[(p * per).min(len)..((p + 1) * per).min(len)].to_vec()
        })
    }

    /// The ids RDDs built outside `transform` take (as `parallelize` does), so they never collide
    /// with the graph's.
    pub fn ids(&self) -> &Ids {
        &self.graph.ids
    }

    /// Partitions of shuffles and state (Spark's `spark.default.parallelism`).
    pub fn default_parallelism(&self) -> usize {
        self.graph.partitions
    }

    /// `union` of several streams of the same slide.
    pub fn union<T: Data>(&self, streams: &[DStream<T>]) -> Result<DStream<T>, StreamingError> {
        let (first, rest) =
            streams.split_first().ok_or_else(|| StreamingError::Invalid("union needs at least one stream".into()))?;
        rest.iter().try_fold(first.clone(), |acc, s| acc.union(s))
    }

    /// Starts the executors and the driver. Errors: a second start, a start after stop, a
    /// stateful operation without a checkpoint directory, no output operation.
    pub fn start(&mut self) -> Result<(), StreamingError> {
        match self.state {
            State::Active => {
                return Err(StreamingError::Lifecycle("the context has already started: start() it once".into()))
            }
            State::Stopped => {
                return Err(StreamingError::Lifecycle(
                    "a stopped context cannot be restarted: create a new StreamingContext".into(),
                ))
            }
            State::Initialized => {}
        }
        if self.graph.stateful.load(Ordering::Relaxed) && self.checkpoint_dir.is_none() {
            return Err(StreamingError::Lifecycle(
                "a stateful operation (update_state_by_key, map_with_state) needs a checkpoint directory: call checkpoint(dir) before start()".into(),
            ));
        }
        if self.graph.outputs.lock().expect("graph").is_empty() {
            return Err(StreamingError::Lifecycle(
                "no output operation is registered: add foreach_batch, foreach_partition or print before start()"
                    .into(),
            ));
        }
        let graph = Arc::clone(&self.graph);
        let conf = self.conf.clone();
        let stop = Arc::clone(&self.stop);
        let mut listeners = std::mem::take(&mut self.listeners);
        let observer = self.observer.clone();
        let checkpointing = self.checkpoint_dir.clone().map(|dir| (dir, self.restore.take()));
        if let Some((dir, Some(meta))) = &checkpointing {
            let streams = self.graph.checkpointed.lock().expect("graph").len();
            if meta.batch_ns != self.graph.batch_ns || meta.streams != streams {
                return Err(StreamingError::Invalid(format!(
                    "the checkpoint in {} was written by another program ({} ms batches, {} checkpointed streams; this one has {} ms and {streams}): use a new checkpoint directory, or delete this one to start afresh",
                    dir.display(),
                    meta.batch_ns / 1_000_000,
                    meta.streams,
                    self.graph.batch_ns / 1_000_000
                )));
            }
        }
        self.graph.started.store(true, Ordering::Release);
        self.state = State::Active;
        self.driver = Some(
            std::thread::Builder::new()
                .name("driver".into())
                .spawn(move || drive(graph, conf, stop, &mut listeners, observer, checkpointing))
                .map_err(|e| StreamingError::Invalid(format!("cannot start the driver: {e}")))?,
        );
        Ok(())
    }

    /// Waits until the context stops (by `stop`, or when its configured batches have run).
    pub fn await_termination(&mut self) -> Result<Vec<BatchInfo>, StreamingError> {
        let Some(driver) = self.driver.take() else {
            return Err(StreamingError::Lifecycle("the context was not started: call start() first".into()));
        };
        let result = driver.join().map_err(|_| StreamingError::Failed("the driver panicked".into()))?;
        self.state = State::Stopped;
        result.map_err(StreamingError::Failed)
    }

    /// Waits up to `timeout`; `Ok(true)` when the context stopped within it.
    pub fn await_termination_or_timeout(&mut self, timeout: Duration) -> Result<bool, StreamingError> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.driver.as_ref().is_none_or(|d| d.is_finished()) {
                self.await_termination()?;
                return Ok(true);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(false)
    }

    /// Stops the context. Graceful: the batch being processed finishes first (it always does:
    /// batches are not interrupted); either way no further batch starts.
    pub fn stop(&mut self, _graceful: bool) -> Result<Vec<BatchInfo>, StreamingError> {
        self.stop.store(true, Ordering::Release);
        let infos = if self.driver.is_some() { self.await_termination()? } else { Vec::new() };
        self.state = State::Stopped;
        Ok(infos)
    }
}
