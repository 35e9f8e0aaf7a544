//! `StreamingContext`: the graph of DStreams, its lifecycle, and the driver that runs it (the job
//! generator on a timer every batch interval, one job per output operation per batch, jobs one
//! at a time in batch order, a `BatchInfo` per batch to the listeners).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use workloads::contract::BatchInfo;
use workloads::{Observer, Recorder};

use crate::checkpoint::{self, Metadata, Ranges};
use crate::driver::Scheduler;
use crate::dstream::{DStream, Time};
use crate::executor::{run_executor, Action, Link, Msg, Registry};
use crate::rate::{min_limit, PidRateEstimator, RateLimit};
use crate::rdd::{partition, BlockRef, Data, DecodeFn, Ids, Kind, Rdd, RddNode, ShuffleData};
use crate::receiver::{self, ReceiverEnv, Starter, Tracker};
use crate::StreamingError;

/// The first id of received blocks (RDD ids stay far below).
const BLOCK_IDS: u64 = 1 << 62;

/// The generation of one batch's jobs of one output operation: calls `run` per job.
pub type OutputOp = Box<dyn Fn(Time, &mut RunJob<'_>) -> Result<(), String> + Send + Sync>;
/// Runs one job on the executors; returns what each partition's action sent back.
pub type RunJob<'a> = dyn FnMut(Arc<RddNode>, Action) -> Result<Vec<Vec<u8>>, String> + 'a;
type BatchDone = Box<dyn Fn(Time, u64) -> Vec<u64> + Send + Sync>;
/// Generates an output's RDD of a batch (its lineage), before any job runs.
pub type Generate = Box<dyn Fn(Time) + Send + Sync>;

/// An output operation: its slide, its generation, its jobs.
pub(crate) struct Output {
    slide_ns: u64,
    generate: Generate,
    op: OutputOp,
}

/// How batches are timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// Batches start at their batch time on the wall clock.
    System,
    /// Batches run back to back (tests: Spark's `ManualClock`).
    Manual,
}

/// A streaming context's configuration.
#[derive(Clone)]
pub struct StreamingConf {
    /// Executors (timely worker threads).
    pub executors: usize,
    /// Partitions of shuffles and state (`spark.default.parallelism`).
    pub partitions: usize,
    /// How batches are timed.
    pub clock: Clock,
    /// Stop by itself after this many batches, if set.
    pub batches: Option<u64>,
    /// Stop by itself before the batch at a time for which this returns true, if set.
    pub stop_before: Option<Arc<dyn Fn(Time) -> bool + Send + Sync>>,
    /// Run the batch at a time for which this returns true without waiting for the clock (no
    /// input can arrive any more: the batches only close windows), if set.
    pub no_wait: Option<Arc<dyn Fn(Time) -> bool + Send + Sync>>,
    /// Faults to inject (`kill-worker`, `slow-worker`), each at the first batch boundary at or
    /// after its time (on a manual clock: before the first batch `t` with `t - interval` at or
    /// after it).
    pub faults: Vec<workloads::Fault>,
    /// How often receivers cut their records into a block (`spark.streaming.blockInterval`).
    pub block_interval: Duration,
    /// The most records per second each receiver stores (`spark.streaming.receiver.maxRate`);
    /// unbounded if unset.
    pub receiver_max_rate: Option<f64>,
    /// Backpressure (`spark.streaming.backpressure.enabled`): after every batch the PID rate
    /// estimator sets how many records per second the sources may ingest.
    pub backpressure: bool,
    /// With backpressure, the rate of the first batch (`...backpressure.initialRate`); without
    /// one, the first batch is bounded by the maximum rates only.
    pub initial_rate: Option<f64>,
    /// The most records per second a direct stream reads from each of its partitions
    /// (`spark.streaming.kafka.maxRatePerPartition`); unbounded if unset.
    pub max_rate_per_partition: Option<f64>,
    /// Several processes (the same program started once per process; the driver runs in
    /// process 0, the others generate each batch's lineage as it tells them): `executors` is
    /// then the cluster's total. `None`: this process alone.
    pub cluster: Option<workloads::contract::ClusterSpec>,
}

impl Default for StreamingConf {
    fn default() -> Self {
        Self {
            executors: 1,
            partitions: 2,
            clock: Clock::System,
            batches: None,
            stop_before: None,
            no_wait: None,
            faults: Vec::new(),
            block_interval: Duration::from_millis(200),
            receiver_max_rate: None,
            backpressure: false,
            initial_rate: None,
            max_rate_per_partition: None,
            cluster: None,
        }
    }
}

impl std::fmt::Debug for StreamingConf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingConf")
            .field("executors", &self.executors)
            .field("partitions", &self.partitions)
            .field("clock", &self.clock)
            .field("batches", &self.batches)
            .field("stop_before", &self.stop_before.as_ref().map(|_| "<condition>"))
            .field("no_wait", &self.no_wait.as_ref().map(|_| "<condition>"))
            .field("faults", &self.faults)
            .field("block_interval", &self.block_interval)
            .field("receiver_max_rate", &self.receiver_max_rate)
            .field("backpressure", &self.backpressure)
            .field("initial_rate", &self.initial_rate)
            .field("max_rate_per_partition", &self.max_rate_per_partition)
            .field("cluster", &self.cluster)
            .finish()
    }
}

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

/// The DStream graph, shared by its streams.
pub struct Graph {
    pub(crate) ids: Ids,
    pub(crate) batch_ns: u64,
    pub(crate) partitions: usize,
    started: AtomicBool,
    outputs: Mutex<Vec<Output>>,
    is_driver: AtomicBool,
    batch_done: Mutex<Vec<BatchDone>>,
    remember_ns: AtomicU64,
    stateful: AtomicBool,
    checkpoint_ns: AtomicU64,
    checkpointed: Mutex<Vec<Checkpointed>>,
    direct_streams: AtomicUsize,
    /// Source ranges of every batch since the last cut, by (direct stream, batch time).
    inputs: Mutex<BTreeMap<(usize, Time), Ranges>>,
    receivers: Mutex<Vec<Starter>>,
    trackers: Mutex<Vec<Arc<Tracker>>>,
    /// What backpressure allows all sources together, records/s (none without backpressure or
    /// before its first estimate).
    ingest: RateLimit,
    max_rate_per_partition: Option<f64>,
}

/// Writes a checkpointed stream's RDD of a batch: `(stream, time, dir, run)`.
type WriteFn = Box<dyn Fn(usize, Time, &Path, &mut RunJob<'_>) -> Result<(), String> + Send + Sync>;
/// Restores a checkpointed stream's RDD of a batch from the files: `(stream, time, dir)`.
type RestoreFn = Box<dyn Fn(usize, Time, &Path) -> Result<(), String> + Send + Sync>;
struct Checkpointed {
    write: WriteFn,
    restore: RestoreFn,
}

impl Graph {
    pub(crate) fn check_not_started(&self) -> Result<(), StreamingError> {
        if self.started.load(Ordering::Acquire) {
            Err(StreamingError::Lifecycle("cannot add a transformation or output operation after the context has started: define the whole graph before start()".into()))
        } else {
            Ok(())
        }
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
        let batch = self.batch_ns;
        if ns == 0 || !ns.is_multiple_of(batch) {
            return Err(StreamingError::Invalid(format!(
                "the checkpoint interval ({} ms) must be a multiple of the batch interval ({} ms): e.g. {} ms",
                ns / 1_000_000,
                batch / 1_000_000,
                ns.div_ceil(batch).max(1) * batch / 1_000_000
            )));
        }
        self.checkpoint_ns.store(ns, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn add_checkpointed(&self, write: WriteFn, restore: RestoreFn) {
        self.checkpointed.lock().expect("graph").push(Checkpointed { write, restore });
    }

    /// The checkpoint interval: set, or the smallest multiple of the batch interval of at
    /// least 10 s (Spark's default).
    fn checkpoint_interval(&self) -> u64 {
        match self.checkpoint_ns.load(Ordering::Relaxed) {
            0 => 10_000_000_000u64.div_ceil(self.batch_ns) * self.batch_ns,
            ns => ns,
        }
    }

    /// After batch `t`: forgets generated RDDs no window, state or recovery can reach any more;
    /// returns the ids of cached RDDs and received blocks the executors can drop. With
    /// checkpointed streams, a lost state partition is recomputed from the last cut, so what
    /// it reads since then (received blocks, cached batches) is kept for a checkpoint interval.
    fn expire(&self, t: Time, checkpointed: bool, interval: u64) -> Vec<u64> {
        let since_cut = if checkpointed { interval } else { 0 };
        let remember = self.remember_ns.load(Ordering::Relaxed).max(since_cut) + self.batch_ns;
        self.batch_done.lock().expect("graph").iter().flat_map(|f| f(t, remember)).collect()
    }

    fn record_input(&self, stream: usize, t: Time, ranges: &[(u64, u64)]) {
        self.inputs.lock().expect("graph").insert((stream, t), ranges.to_vec());
    }

    fn recorded_input(&self, stream: usize, t: Time) -> Option<Vec<(u64, u64)>> {
        self.inputs.lock().expect("graph").get(&(stream, t)).cloned()
    }
}

/// A listener's view of each finished batch.
pub type Listener = Box<dyn FnMut(&BatchInfo) + Send>;

/// The entry point of a streaming program: define DStreams on it, then `start`.
pub struct StreamingContext {
    graph: Arc<Graph>,
    conf: StreamingConf,
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
            graph: Arc::new(Graph {
                ids: Ids::default(),
                batch_ns,
                partitions: conf.partitions,
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
                receivers: Mutex::new(Vec::new()),
                trackers: Mutex::new(Vec::new()),
                ingest: {
                    let limit = RateLimit::default();
                    limit.set(conf.initial_rate.filter(|_| conf.backpressure));
                    limit
                },
                max_rate_per_partition: conf.max_rate_per_partition,
            }),
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

    /// `queueStream`: batch `k` (at time `(k + 1) * interval`) is `batches[k]`, in one
    /// partition per executor; later batches are empty.
    pub fn queue_stream<T: Data>(&self, batches: Vec<Vec<T>>) -> Result<DStream<T>, StreamingError> {
        self.graph.check_not_started()?;
        let batches = Arc::new(batches);
        let ids = self.graph.ids.clone();
        let interval = self.graph.batch_ns;
        let parts = self.conf.executors;
        Ok(DStream::new(Arc::clone(&self.graph), interval, move |t| {
            let k = (t / interval).checked_sub(1)? as usize;
            let batch = batches.get(k).cloned().unwrap_or_default();
            Some(Rdd::source(&ids, parts, move |p| batch.iter().skip(p).step_by(parts).cloned().collect()))
        }))
    }

    /// A direct stream over `partitions` source partitions (Kafka's direct stream: the driver
    /// decides each batch's offset ranges, the executors read them). Batch `t` of partition `p`
    /// reads `[from, end(p, t, from, allowed))` where `from` is where the batch before ended and
    /// `allowed` is how many records backpressure and the maximum rate per partition let it read
    /// (`None`: unbounded); an end beyond `from + allowed` is cut there. `read(p, i, out)` reads
    /// record `i`. The ranges are part of the metadata checkpoint, so a restarted program reads
    /// exactly the same batches again.
    pub fn direct_stream<T: Data>(
        &self,
        partitions: usize,
        end: impl Fn(usize, Time, u64, Option<u64>) -> u64 + Send + Sync + 'static,
        read: impl Fn(usize, u64, &mut Vec<T>) + Send + Sync + 'static,
    ) -> Result<DStream<T>, StreamingError> {
        self.graph.check_not_started()?;
        let ids = self.graph.ids.clone();
        let (end, read) = (Arc::new(end), Arc::new(read));
        let stream = self.graph.direct_streams.fetch_add(1, Ordering::Relaxed);
        let graph = Arc::downgrade(&self.graph);
        let interval = self.graph.batch_ns;
        let next: Mutex<Option<Vec<u64>>> = Mutex::new(None);
        Ok(DStream::new(Arc::clone(&self.graph), self.graph.batch_ns, move |t| {
            let graph = graph.upgrade()?;
            let ranges = match graph.recorded_input(stream, t) {
                Some(ranges) => ranges,
                None => {
                    let mut next = next.lock().expect("offsets");
                    let from = next.take().unwrap_or_else(|| {
                        // Resuming: the batch before this one, if it was recorded, else the start.
                        match t.checked_sub(interval).and_then(|b| graph.recorded_input(stream, b)) {
                            Some(r) => r.iter().map(|(_, to)| *to).collect(),
                            None => vec![0; partitions],
                        }
                    });
                    // Records per partition per batch: backpressure's share, the maximum rate.
                    let per_second =
                        min_limit(graph.ingest.get().map(|r| r / partitions as f64), graph.max_rate_per_partition);
                    let allowed = per_second.map(|r| ((r * interval as f64 / 1e9).ceil() as u64).max(1));
                    let ranges: Vec<(u64, u64)> = from
                        .iter()
                        .enumerate()
                        .map(|(p, &f)| {
                            let to = end(p, t, f, allowed).max(f);
                            (f, allowed.map_or(to, |a| to.min(f.saturating_add(a))))
                        })
                        .collect();
                    graph.record_input(stream, t, &ranges);
                    ranges
                }
            };
            *next.lock().expect("offsets") = Some(ranges.iter().map(|(_, to)| *to).collect());
            let read = Arc::clone(&read);
            Some(Rdd::source(&ids, partitions, move |p| {
                let mut out = Vec::new();
                for i in ranges[p].0..ranges[p].1 {
                    read(p, i, &mut out);
                }
                out
            }))
        }))
    }

    /// `union` of several streams of the same slide.
    pub fn union<T: Data>(&self, streams: &[DStream<T>]) -> Result<DStream<T>, StreamingError> {
        let (first, rest) =
            streams.split_first().ok_or_else(|| StreamingError::Invalid("union needs at least one stream".into()))?;
        rest.iter().try_fold(first.clone(), |acc, s| acc.union(s))
    }

    /// `receiverStream`: records stored by `receive`, which runs on its own thread from
    /// `start()`, calling `store(record)` for each (false once the context stops: return then).
    /// Records are cut into blocks every block interval, each stored on two executors; each
    /// batch holds the blocks stored by its time, one partition per block. An error returned by
    /// `receive` stops the program with it after the batch in progress.
    pub fn receiver_stream<T: ShuffleData>(
        &self,
        receive: impl FnOnce(&mut dyn FnMut(T) -> bool) -> Result<(), String> + Send + 'static,
    ) -> Result<DStream<T>, StreamingError> {
        self.graph.check_not_started()?;
        let tracker = Arc::new(Tracker::default());
        let ids = self.graph.ids.clone();
        let block_ids = Ids::starting_at(BLOCK_IDS + ((self.graph.trackers.lock().expect("graph").len() as u64) << 40));
        self.graph.receivers.lock().expect("graph").push(receiver::starter(block_ids, Arc::clone(&tracker), receive));
        let expire = Arc::clone(&tracker);
        self.graph.on_batch_done(Box::new(move |t, remember| expire.expire(t.saturating_sub(remember))));
        let decode: DecodeFn = Arc::new(|bytes: &[u8]| {
            let records: Vec<T> = bincode::deserialize(bytes).expect("a block this run's receiver encoded");
            partition(records)
        });
        self.graph.trackers.lock().expect("graph").push(Arc::clone(&tracker));
        let stream = DStream::new(Arc::clone(&self.graph), self.graph.batch_ns, move |t| {
            let blocks = tracker.allocate(t);
            let partitions = blocks.len();
            let kind = Kind::Blocks(blocks, Arc::clone(&decode));
            Some(Rdd::from_node(Arc::new(RddNode { id: ids.next(), partitions, kind, cached: false })))
        });
        Ok(stream)
    }

    /// Whether every receiver's input has ended and every block it stored is in a batch.
    pub fn receivers_drained(&self) -> Arc<dyn Fn() -> bool + Send + Sync> {
        let graph = Arc::downgrade(&self.graph);
        Arc::new(move || graph.upgrade().is_some_and(|g| g.trackers.lock().expect("graph").iter().all(|t| t.drained())))
    }

    /// `socketTextStream(addr)`: the lines read from a TCP connection to `addr` (retried for
    /// 10 s), decoded as UTF-8 (invalid bytes replaced), through a receiver.
    pub fn socket_text_stream(&self, addr: &str) -> Result<DStream<String>, StreamingError> {
        let addr = addr.to_owned();
        self.receiver_stream(move |store: &mut dyn FnMut(String) -> bool| {
            let stream = workloads::socket::connect(&addr)?;
            workloads::socket::for_each_line(stream, |bytes| store(String::from_utf8_lossy(&bytes).into_owned()))
                .map_err(|e| format!("reading {addr}: {e}"))
        })
    }

    /// `textFileStream(dir)`: every batch, the lines of the files that appeared in `dir` since
    /// the batch before (one partition per file; names starting with `.` or `_` are ignored,
    /// so write a file under such a name and rename it into place). A file is read once.
    pub fn text_file_stream(&self, dir: impl Into<PathBuf>) -> Result<DStream<String>, StreamingError> {
        self.graph.check_not_started()?;
        let dir = dir.into();
        let ids = self.graph.ids.clone();
        let seen: Mutex<std::collections::HashSet<PathBuf>> = Mutex::default();
        Ok(DStream::new(Arc::clone(&self.graph), self.graph.batch_ns, move |_t| {
            let mut fresh: Vec<PathBuf> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|f| f.is_file()))
                .filter(|e| !e.file_name().to_string_lossy().starts_with(['.', '_']))
                .map(|e| e.path())
                .collect();
            fresh.sort();
            let mut seen = seen.lock().expect("seen files");
            fresh.retain(|p| seen.insert(p.clone()));
            Some(Rdd::source(&ids, fresh.len(), move |p| {
                // A file that vanished before its task ran reads as empty.
                std::fs::read(&fresh[p])
                    .map(|b| String::from_utf8_lossy(&b).lines().map(str::to_owned).collect())
                    .unwrap_or_default()
            }))
        }))
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

/// The driver: starts the executors, then runs batches until told to stop.
fn drive(
    graph: Arc<Graph>,
    conf: StreamingConf,
    stop: Arc<AtomicBool>,
    listeners: &mut [Listener],
    observer: Observer,
    checkpointing: Option<(PathBuf, Option<Metadata>)>,
) -> Result<Vec<BatchInfo>, String> {
    let registry = Arc::new(Registry::default());
    let mut failure = None;
    let (to_fabric, from_driver) = mpsc::channel();
    let (to_driver, completions) = mpsc::channel();
    let (to_follower, batches) = mpsc::channel();
    let cluster = conf.cluster.clone().unwrap_or_else(|| workloads::contract::ClusterSpec {
        workers: conf.executors,
        ..workloads::contract::ClusterSpec::default()
    });
    if cluster.total_workers() != conf.executors {
        return Err(format!(
            "the cluster has {} executors but the configuration says {}: set executors to workers x processes",
            cluster.total_workers(),
            conf.executors
        ));
    }
    let process = cluster.process_id;
    let first_local = process * cluster.workers;
    // Worker 0 relays for the driver; the first worker of every other process for its follower.
    let link = Mutex::new(Some(if process == 0 {
        Link { from_driver: Some(from_driver), to_driver: Some(to_driver), to_follower: None }
    } else {
        Link { to_follower: Some(to_follower), ..Link::default() }
    }));
    let reg = Arc::clone(&registry);
    let obs = observer.clone();
    let config = timely_config(&cluster)?;
    // timely waits for every peer forever: give up after the connect timeout instead.
    let connected = Arc::new(AtomicBool::new(false));
    let up = Arc::clone(&connected);
    let workers = std::thread::Builder::new()
        .name("executors".into())
        .spawn(move || {
            timely::execute(config, move |worker| {
                up.store(true, Ordering::Release);
                obs.start();
                let link = if worker.index() == first_local { link.lock().expect("link").take() } else { None };
                run_executor(worker, Arc::clone(&reg), obs.recorder(), link.unwrap_or_default());
            })
            .map(|g| g.join())
        })
        .map_err(|e| format!("cannot start the executors: {e}"))?;
    let deadline = Instant::now() + Duration::from_nanos(cluster.connect_timeout_ns.max(1));
    while cluster.processes > 1 && !connected.load(Ordering::Acquire) {
        if workers.is_finished() {
            return join_executors(workers, None).map(|()| Vec::new());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "process {process} could not connect to all {} processes at {:?} within {} s: check that every process was started, with the same hostfile",
                cluster.processes,
                cluster.addresses,
                cluster.connect_timeout_ns / 1_000_000_000
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if process > 0 {
        graph.is_driver.store(false, Ordering::Relaxed);
        let dir = checkpointing.map(|(dir, _)| dir);
        let followed = follow(&graph, &registry, batches, dir.as_deref());
        return join_executors(workers, followed.err()).map(|()| Vec::new());
    }
    let receivers_stop = Arc::new(AtomicBool::new(false));
    let env = ReceiverEnv {
        to_fabric: to_fabric.clone(),
        alive: Arc::new(Mutex::new(Vec::new())),
        stop: Arc::clone(&receivers_stop),
        block_interval: conf.block_interval,
        max_rate: conf.receiver_max_rate,
        ingest: graph.ingest.clone(),
    };
    let mut scheduler = Scheduler::new(Arc::clone(&registry), to_fabric, completions, conf.executors);
    let env = ReceiverEnv { alive: scheduler.alive(), ..env };
    let mut generators = Vec::new();
    for start in std::mem::take(&mut *graph.receivers.lock().expect("graph")) {
        match start(&env) {
            Ok(handle) => generators.push(handle),
            Err(e) => failure = Some(e),
        }
    }
    let mut epoch = observer.start();
    let mut recorder: Recorder = observer.recorder();
    let mut infos = Vec::new();
    let outputs = std::mem::take(&mut *graph.outputs.lock().expect("graph"));
    let hooks = std::mem::take(&mut *graph.checkpointed.lock().expect("graph"));
    // Backpressure: the estimator starts at the initial rate (or at the first batch's rate).
    let mut estimator = conf
        .backpressure
        .then(|| PidRateEstimator::new(conf.initial_rate.or(conf.receiver_max_rate).unwrap_or(f64::MAX)));
    // Per fault: how many of its actions were applied (a slow worker starts, then ends).
    let mut injected = vec![0u8; conf.faults.len()];
    let interval = graph.checkpoint_interval();
    // Where a restarted program resumes: just after the cut, running the batches since it
    // again, without waiting, from their recorded offsets.
    let (mut first, mut replay_until, mut cut, mut previous_cut) = (1, 0, 0, 0);
    if let Some((dir, Some(meta))) = &checkpointing {
        if meta.cut > 0 {
            for (sid, hook) in hooks.iter().enumerate() {
                if let Err(e) = (hook.restore)(sid, meta.cut, dir) {
                    failure = Some(format!("cannot restore the checkpoint: {e}"));
                }
            }
        }
        graph.inputs.lock().expect("graph").extend(meta.inputs.iter().map(|(s, t, r)| ((*s, *t), r.clone())));
        first = meta.cut / graph.batch_ns + 1;
        (replay_until, cut, previous_cut) = (meta.time, meta.cut, meta.cut);
        epoch = Instant::now().checked_sub(Duration::from_nanos(meta.cut)).unwrap_or(epoch);
    }
    for k in first.. {
        if failure.is_some() {
            break;
        }
        if stop.load(Ordering::Acquire) || conf.batches.is_some_and(|n| k > n) {
            break;
        }
        let t: Time = k * graph.batch_ns;
        if conf.stop_before.as_ref().is_some_and(|f| f(t)) {
            break;
        }
        if conf.clock == Clock::System && t > replay_until && !conf.no_wait.as_ref().is_some_and(|f| f(t)) {
            let due = epoch + Duration::from_nanos(t);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        let started = Instant::now();
        // Fault times are real time since the start, or batch time on a manual clock.
        let elapsed = match conf.clock {
            Clock::System => started.saturating_duration_since(epoch).as_nanos() as u64,
            Clock::Manual => t - graph.batch_ns,
        };
        if let Err(e) = inject(&mut scheduler, &conf.faults, &mut injected, elapsed) {
            failure = Some(format!("fault injection before batch {} ms: {e}", t / 1_000_000));
            break;
        }
        // Generate every output's lineage first (Spark's job generation), so that the other
        // processes can generate the same from this batch's inputs, then run the jobs.
        for o in outputs.iter().filter(|o| t.is_multiple_of(o.slide_ns)) {
            (o.generate)(t);
        }
        if cluster.processes > 1 {
            let inputs: Vec<(usize, Ranges)> = graph
                .inputs
                .lock()
                .expect("graph")
                .iter()
                .filter(|((_, at), _)| *at == t)
                .map(|((s, _), r)| (*s, r.clone()))
                .collect();
            let blocks: Vec<(usize, Vec<BlockRef>)> = graph
                .trackers
                .lock()
                .expect("graph")
                .iter()
                .enumerate()
                .map(|(i, tr)| (i, tr.allocated_at(t)))
                .collect();
            for p in 1..cluster.processes {
                let generate = Msg::Generate {
                    to: p * cluster.workers,
                    time: t,
                    inputs: inputs.clone(),
                    blocks: blocks.clone(),
                    first_job: scheduler.next_job(),
                };
                if scheduler.send(generate).is_err() {
                    failure.get_or_insert("the executors are gone".into());
                }
            }
        }
        let mut run = |rdd: Arc<RddNode>, action: Action| scheduler.run_job(&rdd, action);
        for o in outputs.iter().filter(|o| t.is_multiple_of(o.slide_ns)) {
            if let Err(e) = (o.op)(t, &mut run) {
                failure = Some(format!("batch {} ms: {e}", t / 1_000_000));
                break;
            }
        }
        // The batch's input records: its direct streams' offset ranges and its received blocks.
        let direct: u64 = graph
            .inputs
            .lock()
            .expect("graph")
            .iter()
            .filter(|((_, at), _)| *at == t)
            .flat_map(|(_, ranges)| ranges.iter().map(|(from, to)| to - from))
            .sum();
        let received: u64 =
            graph.trackers.lock().expect("graph").iter().flat_map(|tr| tr.allocated_at(t)).map(|b| b.records).sum();
        if let Some(e) = graph.trackers.lock().expect("graph").iter().find_map(|t| t.error()) {
            failure.get_or_insert(e);
        }
        if let (Some((dir, _)), None) = (&checkpointing, &failure) {
            if let Err(e) = write_checkpoint(&graph, &hooks, dir, t, interval, &mut cut, &mut previous_cut, &mut run) {
                failure = Some(format!("batch {} ms: checkpoint: {e}", t / 1_000_000));
            }
        } else if checkpointing.is_none() {
            graph.inputs.lock().expect("graph").retain(|(_, at), _| *at > t);
        }
        let ended = Instant::now();
        let since = |i: Instant| i.saturating_duration_since(epoch).as_nanos() as f64;
        let info = BatchInfo {
            batch_time_ms: t / 1_000_000,
            records: direct + received,
            scheduling_delay_ms: (since(started) - t as f64).max(0.0) / 1e6,
            processing_delay_ms: (ended - started).as_secs_f64() * 1e3,
            total_delay_ms: (since(ended) - t as f64).max(0.0) / 1e6,
        };
        if let Some(estimator) = estimator.as_mut() {
            estimator.update(
                info.records,
                info.processing_delay_ms,
                info.scheduling_delay_ms,
                graph.batch_ns as f64 / 1e6,
            );
            graph.ingest.set(Some(estimator.rate()).filter(|r| *r < f64::MAX));
        }
        for l in listeners.iter_mut() {
            l(&info);
        }
        recorder.batch(info.clone());
        infos.push(info);
        if failure.is_some() {
            break;
        }
        let forget = graph.expire(t, !hooks.is_empty(), interval);
        if !forget.is_empty() {
            scheduler.forget(forget, Vec::new());
        }
        // Every job of the batch has run: the lineage registered for it goes (the next batch
        // registers what it needs again), so the registry does not grow with the run.
        registry.clear_lineage();
    }
    receivers_stop.store(true, Ordering::Release);
    for generator in generators {
        let _ = generator.join();
    }
    scheduler.shutdown();
    recorder.complete();
    join_executors(workers, failure).map(|()| infos)
}

type Executors = JoinHandle<Result<Vec<Result<(), String>>, String>>;

/// Waits for this process's executors; the run's failure, if any, else theirs.
fn join_executors(workers: Executors, failure: Option<String>) -> Result<(), String> {
    let mut failure = failure;
    match workers.join() {
        Ok(Ok(results)) => {
            if let Some(e) = results.into_iter().find_map(|r| r.err()) {
                failure.get_or_insert(format!("an executor failed: {e}"));
            }
        }
        Ok(Err(e)) => {
            failure.get_or_insert(format!("the executors could not start: {e}"));
        }
        Err(_) => {
            failure.get_or_insert("the executors panicked".into());
        }
    }
    failure.map_or(Ok(()), Err)
}

/// A process other than the driver's: for every batch the driver announces, generate the same
/// lineage from the same inputs and register its jobs (this process's executors run their
/// tasks), until the driver shuts the executors down.
fn follow(
    graph: &Arc<Graph>,
    registry: &Arc<Registry>,
    batches: mpsc::Receiver<Msg>,
    dir: Option<&Path>,
) -> Result<(), String> {
    let outputs = std::mem::take(&mut *graph.outputs.lock().expect("graph"));
    let hooks = std::mem::take(&mut *graph.checkpointed.lock().expect("graph"));
    let interval = graph.checkpoint_interval();
    let trackers = graph.trackers.lock().expect("graph").clone();
    while let Ok(Msg::Generate { time: t, inputs, blocks, first_job, .. }) = batches.recv() {
        // The driver announces a batch once the one before has run: its lineage can go.
        registry.forget_jobs_before(first_job);
        registry.clear_lineage();
        graph.inputs.lock().expect("graph").extend(inputs.into_iter().map(|(s, r)| ((s, t), r)));
        for (i, b) in blocks {
            if let Some(tracker) = trackers.get(i) {
                tracker.preset(t, b);
            }
        }
        let mut next_job = first_job;
        let mut run = |rdd: Arc<RddNode>, action: Action| -> Result<Vec<Vec<u8>>, String> {
            registry.register(&rdd);
            registry.register_action(next_job, action);
            next_job += 1;
            Ok(vec![Vec::new(); rdd.partitions])
        };
        for o in outputs.iter().filter(|o| t.is_multiple_of(o.slide_ns)) {
            (o.generate)(t);
        }
        for o in outputs.iter().filter(|o| t.is_multiple_of(o.slide_ns)) {
            (o.op)(t, &mut run)?;
        }
        if let Some(dir) = dir.filter(|_| t.is_multiple_of(interval)) {
            for (sid, hook) in hooks.iter().enumerate() {
                (hook.write)(sid, t, dir, &mut run)?;
            }
        }
        graph.inputs.lock().expect("graph").retain(|(_, at), _| *at > t);
        registry.forget(&graph.expire(t, !hooks.is_empty(), interval), &[], &[]);
    }
    Ok(())
}

/// The timely configuration of `cluster`, after checking that this process's port is free.
fn timely_config(cluster: &workloads::contract::ClusterSpec) -> Result<timely::Config, String> {
    use timely::communication::Config as CommConfig;
    let communication = if cluster.processes > 1 {
        let mine = &cluster.addresses[cluster.process_id];
        std::net::TcpListener::bind(mine).map_err(|e| {
            format!(
                "process {} cannot listen on {mine}: {e}: the port is in use or not local; pick a free port in the hostfile",
                cluster.process_id
            )
        })?;
        CommConfig::Cluster {
            threads: cluster.workers,
            process: cluster.process_id,
            addresses: cluster.addresses.clone(),
            report: false,
            zerocopy: false,
        }
    } else if cluster.workers > 1 {
        CommConfig::Process(cluster.workers)
    } else {
        CommConfig::Thread
    };
    Ok(timely::Config { communication, worker: timely::WorkerConfig::default() })
}

/// After batch `t`: every checkpoint interval, a cut (every checkpointed stream's RDD of `t`
/// written by the executors); after every batch, the metadata checkpoint.
#[allow(clippy::too_many_arguments)]
fn write_checkpoint(
    graph: &Graph,
    hooks: &[Checkpointed],
    dir: &Path,
    t: Time,
    interval: u64,
    cut: &mut Time,
    previous_cut: &mut Time,
    run: &mut RunJob<'_>,
) -> Result<(), String> {
    if t.is_multiple_of(interval) {
        for (sid, hook) in hooks.iter().enumerate() {
            (hook.write)(sid, t, dir, run)?;
        }
        (*previous_cut, *cut) = (*cut, t);
    }
    let mut inputs = graph.inputs.lock().expect("graph");
    inputs.retain(|(_, at), _| *at >= *cut);
    let meta = Metadata {
        batch_ns: graph.batch_ns,
        time: t,
        cut: *cut,
        streams: hooks.len(),
        inputs: inputs.iter().map(|((s, at), r)| (*s, *at, r.clone())).collect(),
    };
    drop(inputs);
    checkpoint::write(dir, &meta, *previous_cut)
}

/// Applies the faults due by `elapsed` ns that have not been applied yet.
fn inject(scheduler: &mut Scheduler, faults: &[workloads::Fault], done: &mut [u8], elapsed: u64) -> Result<(), String> {
    use workloads::Fault;
    for (fault, done) in faults.iter().zip(done.iter_mut()) {
        match *fault {
            Fault::KillWorker { worker, at_ns } if *done == 0 && at_ns <= elapsed => {
                scheduler.kill(worker)?;
                *done = 1;
            }
            Fault::SlowWorker { worker, at_ns, for_ns, factor } => {
                if *done == 0 && at_ns <= elapsed {
                    scheduler.slow(worker, factor)?;
                    *done = 1;
                }
                if *done == 1 && at_ns + for_ns <= elapsed {
                    scheduler.slow(worker, 1.0)?;
                    *done = 2;
                }
            }
            Fault::KillProcess { .. } if *done == 0 && elapsed > 0 => {
                return Err("kill-process needs several processes, which the micro-batch engine does not run".into())
            }
            _ => {}
        }
    }
    Ok(())
}
