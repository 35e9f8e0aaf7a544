//! `StreamingContext`: the entry point of a streaming program and its lifecycle (Spark's
//! `StreamingContext` and `StreamingContextState`): define DStreams on it (the input streams are
//! in `input`), then `start`, `await_termination`, `stop`. The driver it starts is the
//! `scheduler`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use workloads::contract::BatchInfo;
use workloads::Observer;

use crate::conf::{Clock, StreamingConf};
use crate::dstream::graph::Graph;
use crate::dstream::{DStream, Time};
use crate::rdd::{Data, Rdd, RddContext};
use crate::scheduler::checkpoint::{self, Metadata};
use crate::scheduler::job_generator::drive;
pub use crate::scheduler::listener::Listener;
use crate::scheduler::stop::{Stop, StopSignal};
use crate::scheduler::write_ahead_log;
use crate::time::ns;
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

/// Whether a context of this process is active (started and not yet terminated).
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// The entry point of a streaming program: define DStreams on it, then `start`.
pub struct StreamingContext {
    pub(crate) graph: Arc<Graph>,
    pub(crate) conf: StreamingConf,
    state: State,
    checkpoint_dir: Option<PathBuf>,
    listeners: Arc<Mutex<Vec<Listener>>>,
    stop: Arc<StopSignal>,
    driver: Option<JoinHandle<Result<Vec<BatchInfo>, String>>>,
    /// Every batch's info, once the context has terminated.
    infos: Vec<BatchInfo>,
    observer: Observer,
    restore: Option<Metadata>,
    /// Made by `get_or_create`: the receivers' write-ahead log in the directory is this
    /// program's to recover (a context made by `new` starts it afresh).
    resumed: bool,
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
            listeners: Arc::default(),
            stop: Arc::default(),
            driver: None,
            infos: Vec::new(),
            observer: Observer::with(0, 1_000_000_000, workloads::Collect::Full),
            restore: None,
            resumed: false,
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
        ssc.checkpoint(dir)?;
        ssc.restore = found;
        ssc.resumed = true;
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

    /// The epoch milliseconds of batch time 0: a batch at [`Time`] `t` (ns) is at
    /// `time_zero_ms() + t / 1_000_000` ms, the time `print` shows and `save_as_text_files`
    /// names its folders by (Spark's batch times). On the system clock it is the start rounded
    /// down to a multiple of the batch interval, so batch times are multiples of it, as in
    /// Spark; a program resumed by [`StreamingContext::get_or_create`] keeps its checkpoint's;
    /// on a manual clock it is 0 (Spark's `ManualClock`). 0 before `start()`.
    pub fn time_zero_ms(&self) -> u64 {
        self.graph.zero_ms.load(Ordering::Acquire)
    }

    /// Sets the checkpoint directory (required by stateful operations), before `start()`.
    pub fn checkpoint(&mut self, dir: impl Into<PathBuf>) -> Result<(), StreamingError> {
        self.graph.check_not_started_for("the checkpoint directory")?;
        self.checkpoint_dir = Some(dir.into());
        Ok(())
    }

    /// How often checkpointed streams are written (a multiple of the batch interval; default:
    /// the smallest multiple of at least 10 s), before `start()`.
    pub fn checkpoint_interval(&self, interval: Duration) -> Result<(), StreamingError> {
        self.graph.check_not_started_for("the checkpoint interval")?;
        self.graph.set_checkpoint_interval(ns(interval))
    }

    /// Keeps generated RDDs for at least `duration` (Spark's `remember`), before `start()`.
    pub fn remember(&self, duration: Duration) -> Result<(), StreamingError> {
        self.graph.check_not_started_for("the remember duration")?;
        self.graph.remember(ns(duration));
        Ok(())
    }

    /// Adds a listener that hears every batch that finishes from now on (also after
    /// `start()`, as Spark's `addStreamingListener`).
    pub fn add_listener(&self, listener: Listener) {
        self.listeners.lock().expect("listeners").push(listener);
    }

    /// The context every RDD of this streaming context is built in (Spark's
    /// `ssc.sparkContext`): `parallelize` a dataset once, use it in every batch's `transform`.
    pub fn rdd_context(&self) -> &RddContext {
        &self.graph.sc
    }

    /// `sc.parallelize(data, partitions)`: [`RddContext::parallelize`] of this context's.
    pub fn parallelize<T: Data>(&self, data: Vec<T>, partitions: usize) -> Rdd<T> {
        self.graph.sc.parallelize(data, partitions)
    }

    /// `sparkContext.broadcast(value)`: `value` shared read-only by every task of every batch
    /// ([`Broadcast`](crate::rdd::Broadcast)).
    pub fn broadcast<T: Send + Sync + 'static>(&self, value: T) -> crate::rdd::Broadcast<T> {
        self.graph.sc.broadcast(value)
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

    /// Starts the executors and the driver. Errors: a second start, a start after stop,
    /// another context active in this process (Spark allows one per JVM), a stateful operation
    /// without a checkpoint directory, no output operation.
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
        self.check_startable()?;
        if ACTIVE.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return Err(StreamingError::Lifecycle(
                "another StreamingContext is active in this process: stop() it (or await its termination) before starting this one".into(),
            ));
        }
        if let (Some(dir), true, false) = (&self.checkpoint_dir, self.conf.receiver_wal, self.resumed) {
            let _ = std::fs::remove_dir_all(write_ahead_log::root(dir));
        }
        let checkpointing = self.checkpoint_dir.clone().map(|dir| (dir, self.restore.take()));
        let zero = match (&checkpointing, self.conf.clock) {
            (Some((_, Some(meta))), _) if meta.zero_ms > 0 => meta.zero_ms,
            (_, Clock::Manual) => 0,
            (_, Clock::System) => {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                let batch_ms = (self.graph.batch_ns / 1_000_000).max(1);
                now.as_millis() as u64 / batch_ms * batch_ms
            }
        };
        self.graph.zero_ms.store(zero, Ordering::Release);
        self.graph.run_start_hooks();
        let (graph, conf, stop) = (Arc::clone(&self.graph), self.conf.clone(), Arc::clone(&self.stop));
        let (listeners, observer) = (Arc::clone(&self.listeners), self.observer.clone());
        self.graph.started.store(true, Ordering::Release);
        self.state = State::Active;
        let driver = std::thread::Builder::new()
            .name("driver".into())
            .spawn(move || drive(graph, conf, stop, listeners, observer, checkpointing))
            .map_err(|e| {
                ACTIVE.store(false, Ordering::Release);
                StreamingError::Invalid(format!("cannot start the driver: {e}"))
            })?;
        self.driver = Some(driver);
        Ok(())
    }

    /// Refuses to start a graph that cannot run: state without a checkpoint directory, no
    /// output, a checkpoint written by another program.
    fn check_startable(&self) -> Result<(), StreamingError> {
        if self.graph.stateful.load(Ordering::Relaxed) && self.checkpoint_dir.is_none() {
            return Err(StreamingError::Lifecycle(
                "a stateful or incremental window operation (update_state_by_key, map_with_state, count_by_window, count_by_value_and_window, reduce_by_window_inv, reduce_by_key_and_window_inv) needs a checkpoint directory: call checkpoint(dir) before start()".into(),
            ));
        }
        if self.conf.receiver_wal && self.checkpoint_dir.is_none() {
            return Err(StreamingError::Lifecycle(
                "the receivers' write-ahead log (receiver_wal) is written to the checkpoint directory: call checkpoint(dir) before start(), or set receiver_wal to false".into(),
            ));
        }
        if self.graph.outputs.lock().expect("graph").is_empty() {
            return Err(StreamingError::Lifecycle(
                "no output operation is registered: add print, foreach_batch, foreach_rdd, foreach_partition or save_as_text_files before start()"
                    .into(),
            ));
        }
        if let (Some(dir), Some(meta)) = (&self.checkpoint_dir, &self.restore) {
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
        Ok(())
    }

    /// Waits until the context stops (by `stop`, or when its configured batches have run);
    /// returns every batch's info (at once, when it has already stopped).
    pub fn await_termination(&mut self) -> Result<Vec<BatchInfo>, StreamingError> {
        let Some(driver) = self.driver.take() else {
            return match self.state {
                State::Stopped => Ok(self.infos.clone()),
                _ => Err(StreamingError::Lifecycle("the context was not started: call start() first".into())),
            };
        };
        let result = driver.join().map_err(|_| StreamingError::Failed("the driver panicked".into()));
        self.state = State::Stopped;
        ACTIVE.store(false, Ordering::Release);
        self.infos = result?.map_err(StreamingError::Failed)?;
        Ok(self.infos.clone())
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

    /// `stop(stopGracefully)`: stops the context and returns every batch's info. Not graceful:
    /// now: the batch in progress finishes (its jobs are not interrupted), no other starts, and
    /// what the receivers stored since is dropped. Graceful: the receivers stop, and the next
    /// batch, at its time, processes everything they stored; then the context stops. A context
    /// never started is just marked stopped.
    pub fn stop(&mut self, graceful: bool) -> Result<Vec<BatchInfo>, StreamingError> {
        self.stop.request(if graceful { Stop::Graceful } else { Stop::Now });
        if self.driver.is_some() {
            return self.await_termination();
        }
        self.state = State::Stopped;
        Ok(self.infos.clone())
    }
}

impl Drop for StreamingContext {
    /// A context dropped while running stops now (its threads do not outlive it).
    fn drop(&mut self) {
        if self.driver.is_some() {
            self.stop.request(Stop::Now);
            let _ = self.await_termination();
        }
    }
}
