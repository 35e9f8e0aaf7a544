//! Fault tolerance, Flink-style: consistent snapshots on the frontier, restore, replay.
//!
//! **Epochs.** Snapshots are taken at epochs: timely times (event time, in ticks) that worker 0's
//! checkpoint coordinator (`operators::checkpoints`) names once per checkpoint interval of wall
//! time, as Flink's coordinator triggers a checkpoint. An epoch is a time a little ahead of the
//! data, announced to every worker; a source does not pass a time before it knows every epoch
//! below it, and an operator holds back input it cannot yet place (`epochs`). At a fixed rate
//! event time keeps pace with the wall clock, but at `max` it runs as fast as the engine reads:
//! epochs fixed in event time would come many times a wall second there. Snapshot `E` holds, for
//! each worker, the state of every stateful operator after exactly the records whose timestamps
//! are below `E`, and each source's offsets at the moment its capability passed `E`. That is a
//! consistent cut, timely's equivalent of Flink's aligned barriers: an operator snapshots once its
//! input frontier has passed `E` (every record below `E` has arrived); until then it holds back
//! input at `E` or later (the alignment), and it sends nothing at `E` or later before its
//! snapshot.
//!
//! **Commit.** A worker writes its operators' parts for `E` as one file when it has all of them
//! (checksummed, written atomically). Snapshot `E` is committed when every worker of the cluster
//! has written its file: the files of one epoch and generation are the manifest. Files go to the
//! checkpoint directory, which must be shared by every process (one host, or a shared file system).
//!
//! **Restore.** On a fault every worker drops its dataflow, waits for the others, and reads the
//! newest committed snapshot whose files all check out (a truncated or corrupt one is passed over
//! for the one before it, and the restore says why). It rebuilds the dataflow with that state; the
//! sources replay from the snapshot's offsets. Outputs are a store keyed by (key, window) or, for
//! running counts, (word, count): the worker's outputs are rewound to where they stood at the
//! snapshot, and the replay writes them again, so nothing is lost or counted twice.
//!
//! Each restore starts a new generation; a snapshot's files carry their generation, so a file
//! written before a fault is never mixed with one written after it.

pub mod aligner;
pub mod epochs;
pub mod files;
pub mod rescale;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::rc::Rc;

use rustc_hash::FxHashMap;
use serde::Serialize;
use timely::scheduling::Activator;
use workloads::durable::write_checked;
use workloads::{Fault, OutputMark, RunSpec};

use crate::snapshot::aligner::Aligner;
use crate::snapshot::epochs::Epochs;
use crate::snapshot::files::{epoch_dir, parse_epoch_dir, read_snapshot, worker_file, Parts, Snapshot, WorkerFile};
use crate::snapshot::rescale::Part;
use crate::time::{DEFAULT_INTERVAL_NS, TICK_NS};

/// What a restore went back to.
#[derive(Debug, Default)]
pub struct Restored {
    /// The epoch restored (ticks); 0 when starting from the beginning.
    pub epoch: u64,
    /// Whether a snapshot was found.
    pub found: bool,
    parts: Parts,
    /// A snapshot taken by another number of workers: every old worker's parts (each operator
    /// keeps its share, see `rescale`).
    rescaled: Vec<Parts>,
}

/// Per-worker state that outlives a dataflow: the snapshot store, the faults to inject, and how
/// far each partition's inputs were counted (so replayed records are not counted twice).
pub struct Control {
    /// `None`: no snapshots (a socket source has no offsets to replay from).
    dir: Option<PathBuf>,
    /// The checkpoint interval, wall-clock ns (`u64::MAX` without snapshots).
    interval_ns: u64,
    /// The epochs announced to the current dataflow.
    epochs: Rc<Epochs>,
    /// How many of its own snapshot files the worker keeps.
    keep: usize,
    worker: usize,
    workers: usize,
    generation: Cell<u32>,
    /// `kill-worker` times, ns from the start, in order.
    /// The kills in the order they come due: `(at ns, index in the run's faults)`.
    kills: Vec<(u64, usize)>,
    fired: Cell<usize>,
    /// The worker straggles: `(from ns, until ns, factor)`.
    slow: Vec<(u64, u64, f64)>,
    counted: RefCell<FxHashMap<u32, u64>>,
    restored: RefCell<Restored>,
    store: RefCell<Store>,
    /// The parts the current dataflow's operators registered: a worker's file for an epoch is
    /// written once it has every one.
    parts: RefCell<BTreeSet<String>>,
    /// Whether the current dataflow is built (every part registered).
    sealed: Cell<bool>,
}

#[derive(Default)]
struct Store {
    pending: BTreeMap<u64, Vec<(String, Vec<u8>)>>,
    finals: Vec<(String, Vec<u8>)>,
    written: VecDeque<PathBuf>,
    warned: bool,
    /// What writing this worker's files cost.
    stats: workloads::contract::CheckpointStats,
}

impl Control {
    /// The control of worker `worker` of `workers` for `spec`, snapshotting into `dir` (`None`: no
    /// snapshots). Removes this worker's files left in `dir` by an earlier run; call it on every
    /// worker before the workers first synchronise.
    pub fn new(spec: &RunSpec, dir: Option<PathBuf>, worker: usize, workers: usize) -> Self {
        let interval_ns =
            dir.as_ref().map_or(u64::MAX, |_| spec.checkpoint.interval_ns.unwrap_or(DEFAULT_INTERVAL_NS).max(1));
        let epochs = Rc::new(if dir.is_some() { Epochs::after(0) } else { Epochs::none() });
        let mut kills = Vec::new();
        let mut slow = Vec::new();
        for (i, f) in spec.faults.iter().enumerate() {
            match *f {
                Fault::KillWorker { at_ns, .. } => kills.push((at_ns, i)),
                Fault::SlowWorker { worker: w, at_ns, for_ns, factor } if w == worker => {
                    slow.push((at_ns, at_ns + for_ns, factor))
                }
                _ => {}
            }
        }
        kills.sort_unstable();
        // A restarted generation of processes resumes from the snapshots the one before it wrote
        // (see `Control::resume`); its own files carry generations of their own.
        let restarted = spec.cluster.journal.as_ref().map_or(0, |j| j.generation);
        let control = Self {
            dir,
            interval_ns,
            epochs,
            keep: spec.native.snapshots_kept,
            worker,
            workers,
            generation: Cell::new(restarted << 16),
            kills,
            fired: Cell::new(0),
            slow,
            counted: RefCell::default(),
            restored: RefCell::default(),
            store: RefCell::default(),
            parts: RefCell::default(),
            sealed: Cell::new(false),
        };
        if restarted == 0 {
            control.remove_own_files();
        }
        control
    }

    /// This worker's index in the cluster.
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// Whether snapshots are taken.
    pub fn snapshots(&self) -> bool {
        self.dir.is_some()
    }

    /// The checkpoint interval, wall-clock ns.
    pub fn interval_ns(&self) -> u64 {
        self.interval_ns
    }

    /// The epochs announced to the current dataflow (none come without snapshots).
    pub fn epochs(&self) -> &Rc<Epochs> {
        &self.epochs
    }

    /// When the next `kill-worker` fault is due, ns, if one is still to come.
    pub fn pending_kill(&self) -> Option<u64> {
        self.kills.get(self.fired.get()).map(|k| k.0)
    }

    /// The index in the run's faults of the `k`-th kill to come due.
    pub fn kill_index(&self, k: usize) -> Option<usize> {
        self.kills.get(k).map(|k| k.1)
    }

    /// Called by a source that saw the pending kill come due: the worker drops its dataflow after
    /// this step.
    pub fn fire(&self) {
        self.fired.set(self.fired.get() + 1);
    }

    /// How many kills have fired.
    pub fn fired(&self) -> usize {
        self.fired.get()
    }

    /// The straggler factor at `now_ns` (1 when not slowed).
    pub fn slow_factor(&self, now_ns: u64) -> f64 {
        self.slow.iter().filter(|(from, to, _)| (*from..*to).contains(&now_ns)).map(|s| s.2).fold(1.0, f64::max)
    }

    /// Counts partition `p` as read up to `end`; returns how many of the records before `end`
    /// were not counted before (a replay reads records that were).
    #[inline]
    pub fn count(&self, p: u32, start: u64, end: u64) -> u64 {
        let mut counted = self.counted.borrow_mut();
        let c = counted.entry(p).or_insert(0);
        let fresh = end.saturating_sub(start.max(*c));
        *c = (*c).max(end);
        fresh
    }

    /// The epoch the current dataflow starts from (ticks; 0 without a restore).
    pub fn restored_epoch(&self) -> u64 {
        self.restored.borrow().epoch
    }

    /// The restored state of part `name`, decoded (of a snapshot taken by another number of
    /// workers: this worker's share of every old worker's, see `rescale`); `None` when starting
    /// afresh.
    pub fn part<T: Part>(&self, name: &str) -> Option<T> {
        let restored = self.restored.borrow();
        // The file's checksum was verified and it was written by this binary for this run (the
        // directory is cleared at the start), so a decoding failure is a bug, not bad input.
        let decode = |bytes: &Vec<u8>| -> T {
            bincode::deserialize(bytes).unwrap_or_else(|e| panic!("snapshot part {name} does not decode: {e}"))
        };
        if !restored.rescaled.is_empty() {
            let parts = restored.rescaled.iter().map(|p| p.get(name).map(decode)).collect::<Option<Vec<T>>>()?;
            return Some(T::rescale(parts, self.worker, self.workers));
        }
        restored.parts.get(name).map(decode)
    }

    /// A stateful operator's epoch tracker, starting after the restored epoch, for an operator
    /// that writes `parts` of every snapshot and that `waker` activates. `S` is what is kept with
    /// held input: a capability when output may follow from it, `()` otherwise.
    pub fn aligner<C: Default, S>(&self, parts: &[&str], waker: Activator) -> Aligner<C, S> {
        for part in parts {
            self.register(part);
        }
        Aligner::new(Rc::clone(&self.epochs), waker)
    }

    /// Registers part `name` of every snapshot of the dataflow being built: a worker's file is
    /// complete when it has every registered part.
    pub fn register(&self, name: &str) {
        self.parts.borrow_mut().insert(name.to_owned());
    }

    /// The dataflow is built: every operator has registered its parts, so files can be written.
    pub fn seal(&self) {
        self.sealed.set(true);
        if self.snapshots() {
            self.write_complete(&mut self.store.borrow_mut());
        }
    }

    /// Whether this worker straggles at some point of the run.
    pub fn straggles(&self) -> bool {
        !self.slow.is_empty()
    }

    /// Adds part `name` of this worker's snapshot at `epoch`; writes the worker's file once it
    /// has every part.
    pub fn put<T: Serialize + ?Sized>(&self, epoch: u64, name: &str, value: &T) {
        if !self.snapshots() {
            return;
        }
        let bytes = bincode::serialize(value).expect("snapshot state serialises");
        let mut store = self.store.borrow_mut();
        store.pending.entry(epoch).or_default().push((name.to_owned(), bytes));
        self.write_complete(&mut store);
    }

    /// Adds the `outputs` part of this worker's snapshot at `epoch`: where the recorder's outputs
    /// stand. In a run that spans restarts, what the worker observed up to here goes to the
    /// journal, kept if a restart goes back to this snapshot or a later one.
    pub fn put_outputs(&self, epoch: u64, recorder: &mut workloads::Recorder) {
        self.put(epoch, "outputs", &recorder.mark());
        recorder.commit(workloads::contract::journal::Commit::Epoch { worker: self.worker as u32, epoch });
    }

    /// Adds the last part of an operator that has finished (a source at the end of its input):
    /// it stands for that part in every later epoch.
    pub fn put_final<T: Serialize + ?Sized>(&self, name: &str, value: &T) {
        if !self.snapshots() {
            return;
        }
        let bytes = bincode::serialize(value).expect("snapshot state serialises");
        let mut store = self.store.borrow_mut();
        store.finals.push((name.to_owned(), bytes));
        self.write_complete(&mut store);
    }

    fn write_complete(&self, store: &mut Store) {
        if !self.sealed.get() {
            return;
        }
        let dir = self.dir.as_ref().expect("snapshots on");
        let registered = self.parts.borrow();
        let has = |parts: &[(String, Vec<u8>)], name: &str| parts.iter().chain(&store.finals).any(|(m, _)| m == name);
        let complete: Vec<u64> = store
            .pending
            .iter()
            .filter(|(_, parts)| registered.iter().all(|name| has(parts, name)))
            .map(|(e, _)| *e)
            .collect();
        for epoch in complete {
            let mut parts = store.pending.remove(&epoch).expect("listed");
            for (name, bytes) in &store.finals {
                if !parts.iter().any(|(m, _)| m == name) {
                    parts.push((name.clone(), bytes.clone()));
                }
            }
            let _snapshot = tracing::debug_span!("snapshot", epoch, worker = self.worker).entered();
            let (worker, workers) = (self.worker, self.workers);
            let file = WorkerFile { epoch, generation: self.generation.get(), worker, workers, parts };
            let path = epoch_dir(dir, epoch, self.generation.get()).join(worker_file(self.worker));
            let started = std::time::Instant::now();
            let bytes = bincode::serialize(&file).map_err(|e| e.to_string());
            let written = bytes.and_then(|b| write_checked(&path, &b).map(|()| b.len() as u64));
            store.stats.pause_ns += started.elapsed().as_nanos() as u64;
            match written {
                Ok(bytes) => {
                    let ms = started.elapsed().as_secs_f64() * 1e3;
                    tracing::debug!(bytes, ms, "snapshot written");
                    store.stats.taken += 1;
                    store.stats.bytes += bytes;
                    store.written.push_back(path);
                    while store.written.len() > self.keep {
                        let old = store.written.pop_front().expect("non-empty");
                        let _ = std::fs::remove_file(&old);
                        if let Some(parent) = old.parent() {
                            let _ = std::fs::remove_dir(parent);
                        }
                    }
                }
                // A failed snapshot is not fatal (the run goes on, a restore uses an older one).
                Err(e) if !store.warned => {
                    store.warned = true;
                    tracing::warn!(epoch, worker = self.worker, error = %e, "snapshot not written (a restore uses an older one)");
                }
                Err(_) => {}
            }
        }
    }

    /// After a fault, with every worker's dataflow dropped: finds the newest committed snapshot
    /// whose files all check out, and makes it the state the next dataflow starts from. Returns
    /// its epoch in ns (`None`: start from the beginning) and the newer snapshots passed over.
    pub fn restore(&self) -> (Option<u64>, Vec<String>) {
        let mut restored = Restored::default();
        let mut skipped = Vec::new();
        if let Some(dir) = &self.dir {
            let mut epochs: Vec<(u64, u32, PathBuf)> = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| parse_epoch_dir(&e.file_name().to_string_lossy()).map(|(ep, g)| (ep, g, e.path())))
                .collect();
            epochs.sort_unstable_by_key(|e| std::cmp::Reverse((e.0, e.1)));
            for (epoch, generation, path) in epochs {
                match read_snapshot(&path, epoch, generation, self.workers, self.worker) {
                    Ok(snapshot) => {
                        restored.epoch = epoch;
                        restored.found = true;
                        match snapshot {
                            Snapshot::Own(parts) => restored.parts = parts,
                            Snapshot::Rescaled(all) => {
                                tracing::info!(
                                    epoch,
                                    from_workers = all.len(),
                                    to_workers = self.workers,
                                    worker = self.worker,
                                    "restoring a snapshot taken at another parallelism: its keyed state split again"
                                );
                                restored.rescaled = all;
                            }
                        }
                        break;
                    }
                    // Not every worker got to write this one: not committed, not worth a word.
                    Err(None) => {}
                    Err(Some(why)) => skipped.push(why),
                }
            }
        }
        {
            let mut store = self.store.borrow_mut();
            // The files written and the run's checkpoint figures outlive the dataflow.
            let (written, stats) = (std::mem::take(&mut store.written), store.stats);
            *store = Store { written, stats, ..Store::default() };
        }
        self.generation.set(self.generation.get() + 1);
        // The next dataflow's operators register their parts again.
        self.parts.borrow_mut().clear();
        self.sealed.set(false);
        let epoch_ns = restored.found.then_some(restored.epoch * TICK_NS);
        if self.snapshots() {
            self.epochs.reset(restored.epoch);
        }
        *self.restored.borrow_mut() = restored;
        (epoch_ns, skipped)
    }

    /// The rewind of the restored outputs (the start, without a snapshot).
    pub fn restored_outputs(&self) -> OutputMark {
        self.part("outputs").unwrap_or_default()
    }

    /// How many records were read again: for each partition, from the restored offset to where
    /// it had been counted.
    pub fn replayed(&self, offsets: &[(u32, u64)]) -> u64 {
        let counted = self.counted.borrow();
        counted.iter().map(|(p, c)| c.saturating_sub(offsets.iter().find(|o| o.0 == *p).map_or(0, |o| o.1))).sum()
    }

    /// What writing this worker's snapshot files cost.
    pub fn stats(&self) -> workloads::contract::CheckpointStats {
        self.store.borrow().stats
    }

    /// Removes this worker's files (at the start, and when the run is over).
    pub fn remove_own_files(&self) {
        let Some(dir) = &self.dir else { return };
        let name = worker_file(self.worker);
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if parse_epoch_dir(&entry.file_name().to_string_lossy()).is_some() {
                let _ = std::fs::remove_file(entry.path().join(&name));
                let _ = std::fs::remove_dir(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests;
