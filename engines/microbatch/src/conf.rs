//! A streaming context's configuration (Spark's `SparkConf` for `spark.streaming.*`).

use std::sync::Arc;
use std::time::Duration;

use crate::time::Time;

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
    /// Faults to inject (`kill-worker`, `slow-worker`), each at its time on the system clock,
    /// mid-batch too (on a manual clock: before the first batch `t` with `t - interval` at or
    /// after it).
    pub faults: Vec<workloads::Fault>,
    /// A lost executor is relaunched empty, as a cluster manager relaunches one (false: it stays
    /// dead and the survivors take its partitions).
    pub relaunch_lost_executors: bool,
    /// How often receivers cut their records into a block (`spark.streaming.blockInterval`).
    pub block_interval: Duration,
    /// How long a receiver that asked for a restart waits before it is started again
    /// (`spark.streaming.receiverRestartDelay`).
    pub receiver_restart_delay: Duration,
    /// The most records per second each receiver stores (`spark.streaming.receiver.maxRate`);
    /// unbounded if unset.
    pub receiver_max_rate: Option<f64>,
    /// The receivers' write-ahead log (`spark.streaming.receiver.writeAheadLog.enable`): every
    /// received block is written to the checkpoint directory before it counts as stored, so a
    /// program resumed by `get_or_create` processes what its receivers had stored (see
    /// `reliable_receiver_stream`). Needs a checkpoint directory.
    pub receiver_wal: bool,
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
    /// How long a task waits for the shuffle blocks of the stage before it (which has finished
    /// when it starts) before it fails its job, naming the blocks it lacks.
    pub shuffle_wait: Duration,
    /// How often the worker that relays the driver's messages looks for them when nothing else
    /// wakes it (a shorter period costs idle instructions, a longer one delays every stage).
    pub relay_poll: Duration,
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
            relaunch_lost_executors: true,
            block_interval: Duration::from_millis(200),
            receiver_restart_delay: Duration::from_secs(2),
            receiver_max_rate: None,
            receiver_wal: false,
            backpressure: false,
            initial_rate: None,
            max_rate_per_partition: None,
            cluster: None,
            shuffle_wait: Duration::from_secs(30),
            relay_poll: Duration::from_micros(200),
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
            .field("relaunch_lost_executors", &self.relaunch_lost_executors)
            .field("block_interval", &self.block_interval)
            .field("receiver_restart_delay", &self.receiver_restart_delay)
            .field("receiver_max_rate", &self.receiver_max_rate)
            .field("receiver_wal", &self.receiver_wal)
            .field("backpressure", &self.backpressure)
            .field("initial_rate", &self.initial_rate)
            .field("max_rate_per_partition", &self.max_rate_per_partition)
            .field("cluster", &self.cluster)
            .field("shuffle_wait", &self.shuffle_wait)
            .field("relay_poll", &self.relay_poll)
            .finish()
    }
}
