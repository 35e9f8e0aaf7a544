//! The job generator (Spark's `JobGenerator`): the driver's timer. Every batch interval it
//! generates each output operation's lineage for the batch, hands the jobs to the job scheduler,
//! and then checkpoints: every checkpoint interval a cut of the checkpointed streams, after every
//! batch the metadata. A restarted program resumes just after its last cut, running the batches
//! since again from their recorded offsets, without waiting for the clock.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use workloads::contract::BatchInfo;
use workloads::Observer;

use crate::conf::{Clock, StreamingConf};
use crate::dstream::graph::{Checkpointed, Graph, Output, RunJob};
use crate::executor::messages::{Action, Msg};
use crate::executor::registry::Registry;
use crate::executor::Waits;
use crate::rdd::{BlockRef, RddNode};
use crate::scheduler::checkpoint::{self, Metadata, Ranges, Removable};
use crate::scheduler::cluster::{self, Executors};
use crate::scheduler::dag::DagScheduler;
use crate::scheduler::follower::follow;
use crate::scheduler::job_scheduler::JobScheduler;
use crate::scheduler::listener::Listener;
use crate::scheduler::receiver_tracker::{self, ReceiverEnv};
use crate::scheduler::stop::{Stop, StopSignal};
use crate::scheduler::write_ahead_log;
use crate::time::Time;

/// Where checkpoints go, and the checkpoint a restarted program resumes from.
pub(crate) type Checkpointing = Option<(PathBuf, Option<Metadata>)>;

/// The driver: starts the executors, then runs batches until told to stop. In a process other
/// than the first, follows the driver instead.
pub(crate) fn drive(
    graph: Arc<Graph>,
    conf: StreamingConf,
    stop: Arc<StopSignal>,
    listeners: Arc<Mutex<Vec<Listener>>>,
    observer: Observer,
    checkpointing: Checkpointing,
) -> Result<Vec<BatchInfo>, String> {
    let registry = Arc::new(Registry::default());
    let cluster = cluster::of(&conf)?;
    let (to_fabric, from_driver) = mpsc::channel();
    let (to_driver, completions) = mpsc::channel();
    let (to_follower, batches) = mpsc::channel();
    let link = cluster::link(&cluster, from_driver, to_driver, to_follower);
    let Some(workers) = cluster::start_executors(
        &cluster,
        &registry,
        &observer,
        link,
        Waits { input_wait: conf.shuffle_wait, relay_poll: conf.relay_poll },
    )?
    else {
        return Ok(Vec::new());
    };
    if cluster.process_id > 0 {
        graph.is_driver.store(false, Ordering::Relaxed);
        // A restarted program's state RDDs come from the cut's files, as on the driver, so both
        // processes generate the same lineage.
        let cut = checkpointing.as_ref().and_then(|(_, meta)| meta.as_ref()).map_or(0, |m| m.cut);
        let dir = checkpointing.map(|(dir, _)| dir);
        let followed = follow(&graph, &registry, batches, dir.as_deref(), cut);
        return cluster::join_executors(workers, followed.err()).map(|()| Vec::new());
    }
    let dag = DagScheduler::new(Arc::clone(&registry), to_fabric, completions, conf.executors);
    let jobs = JobScheduler::new(dag, &conf, graph.ingest.clone(), listeners, observer.recorder());
    let mut generator = JobGenerator::new(graph, conf, registry, jobs, cluster.processes, cluster.workers);
    generator.start_receivers(&checkpointing);
    let epoch = generator.restore(&checkpointing, observer.start());
    stop.register_driver();
    generator.run(&stop, epoch, checkpointing.as_ref().map(|(dir, _)| dir.as_path()));
    generator.stop_receivers();
    finish(generator, workers)
}

/// Stops the executors and returns the batches' infos, or the run's failure.
fn finish(generator: JobGenerator, workers: Executors) -> Result<Vec<BatchInfo>, String> {
    let logged: u64 = generator.graph.trackers.lock().expect("graph").iter().map(|t| t.logged_bytes()).sum();
    let JobGenerator { jobs, mut failure, mut stats, writer, .. } = generator;
    stats.bytes += logged;
    // The last batches' metadata reaches the disk before the run ends.
    match writer.map(|mut w| w.finish()) {
        Some(Ok(bytes)) => stats.bytes += bytes,
        Some(Err(e)) => {
            failure.get_or_insert(format!("checkpoint: {e}"));
        }
        None => {}
    }
    let infos = jobs.shutdown(stats);
    cluster::join_executors(workers, failure).map(|()| infos)
}

/// The inputs a batch computed: the direct streams' offset ranges and the receivers' blocks,
/// each with the batch time it belongs to.
struct Fresh {
    ranges: Vec<(usize, Time, Ranges)>,
    blocks: Vec<(usize, Time, Vec<BlockRef>)>,
}

impl Fresh {
    fn take(graph: &Graph) -> Self {
        let trackers = graph.trackers.lock().expect("graph");
        let blocks = trackers
            .iter()
            .enumerate()
            .flat_map(|(i, tr)| tr.take_fresh().into_iter().map(move |(at, b)| (i, at, b)))
            .collect();
        Self { ranges: graph.take_fresh_inputs(), blocks }
    }

    /// The input records: the ranges' lengths and the blocks' records.
    fn records(&self) -> u64 {
        let direct: u64 = self.ranges.iter().flat_map(|(_, _, r)| r.iter().map(|(from, to)| to - from)).sum();
        direct + self.blocks.iter().flat_map(|(_, _, b)| b).map(|b| b.records).sum::<u64>()
    }
}

/// The driver's batch loop and everything it keeps between batches.
struct JobGenerator {
    graph: Arc<Graph>,
    conf: StreamingConf,
    registry: Arc<Registry>,
    jobs: JobScheduler,
    outputs: Vec<Output>,
    hooks: Vec<Checkpointed>,
    /// What the checkpoints cost.
    stats: workloads::contract::CheckpointStats,
    /// The checkpoint interval, ns.
    interval: u64,
    processes: usize,
    workers: usize,
    /// The first batch to run (after a restart, the one after the cut).
    first: u64,
    /// Batches up to this time are run again from recorded offsets, without waiting.
    replay_until: Time,
    /// The last cut, and the one before it (whose files a new cut may remove).
    cut: Time,
    previous_cut: Time,
    failure: Option<String>,
    /// The metadata checkpoint writer, from the first checkpoint on.
    writer: Option<checkpoint::MetadataWriter>,
    /// Set when the receivers are to stop.
    receivers_stop: Arc<AtomicBool>,
    /// The receivers' block generators, running.
    receivers: Vec<std::thread::JoinHandle<()>>,
    /// With the receivers' write-ahead log, what the metadata records of their blocks.
    received: Received,
}

/// What the metadata checkpoint records of the receivers' blocks (with their write-ahead log,
/// which logs each batch's blocks itself).
#[derive(Default)]
struct Received {
    /// Per receiver, the first block id no batch took yet.
    through: Vec<u64>,
    /// `through` at the last cut and at the one before it (blocks below the latter may go).
    at_cut: Vec<u64>,
    at_previous_cut: Vec<u64>,
}

impl Received {
    /// Batch `t` took `blocks`.
    fn took(&mut self, blocks: &[(usize, Time, Vec<BlockRef>)]) {
        for (r, _, refs) in blocks.iter().filter(|(_, _, refs)| !refs.is_empty()) {
            if self.through.len() <= *r {
                self.through.resize(r + 1, 0);
            }
            self.through[*r] = self.through[*r].max(refs.iter().map(|b| b.id + 1).max().unwrap_or(0));
        }
    }
}

impl JobGenerator {
    fn new(
        graph: Arc<Graph>,
        conf: StreamingConf,
        registry: Arc<Registry>,
        jobs: JobScheduler,
        processes: usize,
        workers: usize,
    ) -> Self {
        let outputs = std::mem::take(&mut *graph.outputs.lock().expect("graph"));
        let hooks = std::mem::take(&mut *graph.checkpointed.lock().expect("graph"));
        let interval = graph.checkpoint_interval();
        Self {
            graph,
            conf,
            registry,
            jobs,
            outputs,
            hooks,
            stats: Default::default(),
            interval,
            processes,
            workers,
            first: 1,
            replay_until: 0,
            cut: 0,
            previous_cut: 0,
            failure: None,
            writer: None,
            receivers_stop: Arc::default(),
            receivers: Vec::new(),
            received: Received::default(),
        }
    }

    /// Starts every receiver; with their write-ahead log, first recovers what it holds (the
    /// blocks of the batches to run again, and those no finished batch took).
    fn start_receivers(&mut self, checkpointing: &Checkpointing) {
        let wal = checkpointing.as_ref().filter(|_| self.conf.receiver_wal);
        let env = ReceiverEnv {
            to_fabric: self.jobs.dag.sender(),
            alive: self.jobs.dag.alive(),
            stop: Arc::clone(&self.receivers_stop),
            block_interval: self.conf.block_interval,
            max_rate: self.conf.receiver_max_rate,
            ingest: self.graph.ingest.clone(),
            wal: wal.map(|(dir, _)| dir.clone()),
        };
        let trackers = self.graph.trackers.lock().expect("graph").clone();
        let fabric = receiver_tracker::Fabric { to: &env.to_fabric, alive: &env.alive };
        let allocated = match wal.map(|(dir, _)| write_ahead_log::allocations(dir)).transpose() {
            Ok(allocated) => allocated.unwrap_or_default(),
            Err(e) => {
                self.failure = Some(e);
                return;
            }
        };
        for (i, start) in std::mem::take(&mut *self.graph.receivers.lock().expect("graph")).into_iter().enumerate() {
            let resume = match wal {
                Some((dir, meta)) => {
                    let logged = receiver_tracker::Logs { dir, meta: meta.as_ref(), allocated: &allocated };
                    match receiver_tracker::recover(&logged, i, self.graph.batch_ns, &trackers[i], &fabric) {
                        Ok(resume) => resume,
                        Err(e) => {
                            self.failure = Some(e);
                            return;
                        }
                    }
                }
                None => write_ahead_log::Resume::default(),
            };
            match start(&env, resume) {
                Ok(handle) => self.receivers.push(handle),
                Err(e) => self.failure = Some(e),
            }
        }
    }

    /// Stops every receiver and waits until each has stored its last block.
    fn stop_receivers(&mut self) {
        self.receivers_stop.store(true, Ordering::Release);
        for receiver in self.receivers.drain(..) {
            let _ = receiver.join();
        }
    }

    /// What a stop request means before batch `k`: `true` to stop now. A graceful request stops
    /// the receivers and lets batch `k` (the one their last blocks go to) be the last.
    fn stopping(&mut self, stop: &StopSignal, k: u64, last: &mut Option<u64>) -> bool {
        match stop.requested() {
            Stop::Now => return true,
            Stop::Graceful if last.is_none() => {
                self.stop_receivers();
                *last = Some(k);
            }
            _ => {}
        }
        last.is_some_and(|l| k > l)
    }

    /// Resumes from the checkpoint, if there is one: the state of its cut, its recorded offsets,
    /// and the clock as if the run had started the cut's time ago. Returns the run's epoch.
    fn restore(&mut self, checkpointing: &Checkpointing, epoch: Instant) -> Instant {
        let Some((dir, Some(meta))) = checkpointing else { return epoch };
        if meta.cut > 0 {
            for (sid, hook) in self.hooks.iter().enumerate() {
                if let Err(e) = (hook.restore)(sid, meta.cut, dir) {
                    self.failure = Some(format!("cannot restore the checkpoint: {e}"));
                }
            }
        }
        // Recorded as fresh, so the first batch announced to the other processes carries them.
        for (stream, t, ranges) in &meta.inputs {
            self.graph.record_input(*stream, *t, ranges);
        }
        self.first = meta.cut / self.graph.batch_ns + 1;
        tracing::info!(
            cut_ms = meta.cut / 1_000_000,
            time_ms = meta.time / 1_000_000,
            "restored from the metadata checkpoint"
        );
        (self.replay_until, self.cut, self.previous_cut) = (meta.time, meta.cut, meta.cut);
        self.received.through = meta.received_through.clone();
        // A program started anew goes on as if it had started the cut's time ago; a restarted
        // process of a run that spans restarts keeps the run's start (which is earlier), so the
        // batches of the time it was down run at once, as Spark's restart generates them.
        Instant::now().checked_sub(Duration::from_nanos(meta.cut)).map_or(epoch, |e| e.min(epoch))
    }

    /// Runs batches until told to stop, the configured batches have run, or one fails.
    fn run(&mut self, stop: &StopSignal, epoch: Instant, dir: Option<&Path>) {
        // Faults come due on the wall clock (mid-stage too), or at batch boundaries on a manual one.
        let clock = (self.conf.clock == Clock::System).then_some(epoch);
        self.jobs.dag.set_faults(self.conf.faults.clone(), clock, self.conf.relaunch_lost_executors);
        let mut last = None;
        for k in self.first.. {
            if self.failure.is_some() || self.conf.batches.is_some_and(|n| k > n) || self.stopping(stop, k, &mut last) {
                break;
            }
            let t: Time = k * self.graph.batch_ns;
            if self.conf.stop_before.as_ref().is_some_and(|f| f(t)) {
                break;
            }
            // A request that comes while waiting: now ends the wait; graceful stops the
            // receivers and the wait goes on, for this batch, the last.
            while !self.wait_for(t, epoch, stop, if last.is_some() { Stop::Graceful } else { Stop::Running }) {
                if self.stopping(stop, k, &mut last) {
                    return;
                }
            }
            if self.failure.is_some() {
                break;
            }
            self.batch(t, epoch, dir);
            if self.failure.is_some() {
                break;
            }
            let checkpointed = !self.hooks.is_empty();
            let forget = self.graph.expire(t, checkpointed, self.interval);
            // With state checkpointed, a lost state partition is rebuilt from the batches since
            // the cut: their shuffles' map outputs stay as long as their RDDs are remembered.
            let keep_from = checkpointed.then(|| t.saturating_sub(self.graph.remembered(true, self.interval)));
            self.jobs.dag.end_batch(t, forget, keep_from);
            // Every job of the batch has run: what no later batch can reach goes, so the
            // registry does not grow with the run.
            self.registry.forget_unreachable();
        }
    }

    /// Sleeps until batch `t` is due (on the system clock, outside a replay), waking for the
    /// faults that come due meanwhile; returns false, early, when a stop request other than
    /// `handled` comes.
    fn wait_for(&mut self, t: Time, epoch: Instant, stop: &StopSignal, handled: Stop) -> bool {
        let no_wait = self.conf.no_wait.as_ref().is_some_and(|f| f(t));
        if self.conf.clock == Clock::System && t > self.replay_until && !no_wait {
            loop {
                let (now, fault) = (epoch.elapsed().as_nanos() as u64, self.jobs.dag.next_fault_ns());
                let wake = fault.map_or(t, |f| f.min(t));
                if wake > now && !stop.sleep_until(epoch + Duration::from_nanos(wake), handled) {
                    return false;
                }
                if fault.is_none_or(|f| f > t) {
                    return true;
                }
                if let Err(e) = self.jobs.dag.apply_faults(epoch.elapsed().as_nanos() as u64) {
                    self.failure = Some(format!("fault injection before batch {} ms: {e}", t / 1_000_000));
                    return true;
                }
            }
        }
        true
    }

    /// One batch: faults due, job generation, the jobs, the checkpoint, the batch's info.
    fn batch(&mut self, t: Time, epoch: Instant, dir: Option<&Path>) {
        let _batch = tracing::debug_span!("batch", time_ms = t / 1_000_000).entered();
        let started = Instant::now();
        // Fault times are real time since the start, or batch time on a manual clock.
        let elapsed = match self.conf.clock {
            Clock::System => started.saturating_duration_since(epoch).as_nanos() as u64,
            Clock::Manual => t - self.graph.batch_ns,
        };
        if let Err(e) = self.jobs.dag.apply_faults(elapsed) {
            self.failure = Some(format!("fault injection before batch {} ms: {e}", t / 1_000_000));
            return;
        }
        // Generate every output's lineage first (Spark's job generation), so that the other
        // processes can generate the same from this batch's inputs, then run the jobs.
        for o in self.outputs.iter().filter(|o| t.is_multiple_of(o.slide_ns)) {
            (o.generate)(t);
        }
        let inputs = Fresh::take(&self.graph);
        if self.conf.receiver_wal {
            self.received.took(&inputs.blocks);
            let took = inputs.blocks.iter().map(|(r, at, b)| (*r, *at, b.iter().map(|b| b.id).collect()));
            if let Some(Err(e)) = dir.map(|dir| write_ahead_log::log_allocations(dir, took)) {
                self.failure = Some(format!("batch {} ms: the write-ahead log: {e}", t / 1_000_000));
                return;
            }
        }
        self.announce(t, &inputs);
        if let Err(e) = self.jobs.run_jobs(&self.outputs, t) {
            self.failure = Some(format!("batch {} ms: {e}", t / 1_000_000));
        }
        let records = inputs.records();
        if let Some(e) = self.graph.trackers.lock().expect("graph").iter().find_map(|t| t.error()) {
            self.failure.get_or_insert(e);
        }
        match dir {
            Some(dir) if self.failure.is_none() => {
                if let Err(e) = self.checkpoint(dir, t) {
                    self.failure = Some(format!("batch {} ms: checkpoint: {e}", t / 1_000_000));
                }
            }
            Some(_) => {}
            None => self.graph.inputs.lock().expect("graph").retain(|(_, at), _| *at > t),
        }
        self.jobs.batch_completed(t, records, started, epoch, self.graph.batch_ns);
    }

    /// Tells every other process's follower the inputs batch `t` computed (its own, and those
    /// of earlier batches a window computed when it fired), so it generates the same lineage.
    fn announce(&mut self, t: Time, inputs: &Fresh) {
        for p in 1..self.processes {
            let generate = Msg::Generate {
                to: p * self.workers,
                time: t,
                inputs: inputs.ranges.clone(),
                blocks: inputs.blocks.clone(),
                first_job: self.jobs.dag.next_job(),
            };
            if self.jobs.dag.send(generate).is_err() {
                self.failure.get_or_insert("the executors are gone".into());
            }
        }
    }

    /// After batch `t`: every checkpoint interval, a cut (every checkpointed stream's RDD of `t`
    /// written by the executors); after every batch, the metadata checkpoint.
    fn checkpoint(&mut self, dir: &Path, t: Time) -> Result<(), String> {
        let started = Instant::now();
        let written = self.write_checkpoint(dir, t);
        self.stats.pause_ns += started.elapsed().as_nanos() as u64;
        written
    }

    fn write_checkpoint(&mut self, dir: &Path, t: Time) -> Result<(), String> {
        if t.is_multiple_of(self.interval) {
            let dag = &mut self.jobs.dag;
            let mut run = |rdd: Arc<RddNode>, action: Action| dag.run_job(&rdd, action);
            for (sid, hook) in self.hooks.iter().enumerate() {
                (hook.write)(sid, t, dir, &mut run as &mut RunJob<'_>)?;
            }
            (self.previous_cut, self.cut) = (self.cut, t);
            let through = self.received.through.clone();
            self.received.at_previous_cut = std::mem::replace(&mut self.received.at_cut, through);
            self.stats.taken += 1;
            self.stats.bytes += (0..self.hooks.len()).map(|sid| checkpoint::state_bytes(dir, sid, t)).sum::<u64>();
        }
        let mut inputs = self.graph.inputs.lock().expect("graph");
        inputs.retain(|(_, at), _| *at >= self.cut);
        let meta = Metadata {
            batch_ns: self.graph.batch_ns,
            time: t,
            cut: self.cut,
            streams: self.hooks.len(),
            inputs: inputs.iter().map(|((s, at), r)| (*s, *at, r.clone())).collect(),
            zero_ms: self.graph.zero_ms.load(Ordering::Acquire),
            received_through: self.received.through.clone(),
        };
        drop(inputs);
        self.stats.metadata += 1;
        if self.writer.is_none() {
            self.writer = Some(checkpoint::MetadataWriter::start(dir.to_path_buf())?);
        }
        let removable =
            Removable { previous_cut: self.previous_cut, logged_below: self.received.at_previous_cut.clone() };
        self.writer.as_mut().expect("started").write(meta, removable)
    }
}
