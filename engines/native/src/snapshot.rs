//! Fault tolerance, Flink-style: consistent snapshots on the frontier, restore, replay.
//!
//! **Epochs.** Snapshots are taken at epochs, the multiples of the checkpoint interval in
//! timely time (event time, in ticks): every operator knows them in advance, so no coordinator
//! has to announce them. Snapshot `E` holds, for each worker, the state of every stateful operator
//! after exactly the records whose timestamps are below `E`, and each source's offsets at the
//! moment its capability passed `E`. That is a consistent cut, timely's equivalent of Flink's
//! aligned barriers: an operator snapshots once its input frontier has passed `E` (every record
//! below `E` has arrived); until then it holds back input at `E` or later (the alignment), and it
//! sends nothing at `E` or later before its snapshot.
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

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use timely::progress::frontier::AntichainRef;
use workloads::durable::{read_checked, write_checked};
use workloads::{Fault, OutputMark, RunSpec};

use crate::source::{END_TICK, TICK_NS};

/// The checkpoint interval when the run gives none: one second of event time.
pub const DEFAULT_INTERVAL_NS: u64 = 1_000_000_000;

/// How many of its own snapshot files a worker keeps (older ones are removed).
const KEEP: usize = 3;

/// The stateful parts of every job, per worker: the source's offsets, the keyed operator's state
/// and the sink's output position.
const PARTS: usize = 3;

/// One worker's file for one epoch.
#[derive(Serialize, Deserialize)]
struct WorkerFile {
    epoch: u64,
    generation: u32,
    worker: usize,
    parts: Vec<(String, Vec<u8>)>,
}

/// What a restore went back to.
#[derive(Debug, Default)]
pub struct Restored {
    /// The epoch restored (ticks); 0 when starting from the beginning.
    pub epoch: u64,
    /// Whether a snapshot was found.
    pub found: bool,
    parts: FxHashMap<String, Vec<u8>>,
}

/// Per-worker state that outlives a dataflow: the snapshot store, the faults to inject, and how
/// far each partition's inputs were counted (so replayed records are not counted twice).
pub struct Control {
    /// `None`: no snapshots (a socket source has no offsets to replay from).
    dir: Option<PathBuf>,
    /// The epoch length in ticks (`u64::MAX` without snapshots).
    interval: u64,
    worker: usize,
    workers: usize,
    generation: Cell<u32>,
    /// `kill-worker` times, ns from the start, in order.
    kills: Vec<u64>,
    fired: Cell<usize>,
    /// The worker straggles: `(from ns, until ns, factor)`.
    slow: Vec<(u64, u64, f64)>,
    counted: RefCell<FxHashMap<u32, u64>>,
    restored: RefCell<Restored>,
    store: RefCell<Store>,
}

#[derive(Default)]
struct Store {
    pending: BTreeMap<u64, Vec<(String, Vec<u8>)>>,
    finals: Vec<(String, Vec<u8>)>,
    written: VecDeque<PathBuf>,
    warned: bool,
}

impl Control {
    /// The control of worker `worker` of `workers` for `spec`, snapshotting into `dir` (`None`: no
    /// snapshots). Removes this worker's files left in `dir` by an earlier run; call it on every
    /// worker before the workers first synchronise.
    pub fn new(spec: &RunSpec, dir: Option<PathBuf>, worker: usize, workers: usize) -> Self {
        let interval = dir
            .as_ref()
            .map_or(u64::MAX, |_| (spec.checkpoint.interval_ns.unwrap_or(DEFAULT_INTERVAL_NS) / TICK_NS).max(1));
        let mut kills = Vec::new();
        let mut slow = Vec::new();
        for f in &spec.faults {
            match *f {
                Fault::KillWorker { at_ns, .. } => kills.push(at_ns),
                Fault::SlowWorker { worker: w, at_ns, for_ns, factor } if w == worker => {
                    slow.push((at_ns, at_ns + for_ns, factor))
                }
                _ => {}
            }
        }
        kills.sort_unstable();
        let control = Self {
            dir,
            interval,
            worker,
            workers,
            generation: Cell::new(0),
            kills,
            fired: Cell::new(0),
            slow,
            counted: RefCell::default(),
            restored: RefCell::default(),
            store: RefCell::default(),
        };
        control.remove_own_files();
        control
    }

    /// Whether snapshots are taken.
    pub fn snapshots(&self) -> bool {
        self.dir.is_some()
    }

    /// The checkpoint interval in ticks.
    pub fn interval(&self) -> u64 {
        self.interval
    }

    /// When the next `kill-worker` fault is due, ns, if one is still to come.
    pub fn pending_kill(&self) -> Option<u64> {
        self.kills.get(self.fired.get()).copied()
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

    /// The restored state of part `name`, decoded; `None` when starting afresh.
    pub fn part<T: DeserializeOwned>(&self, name: &str) -> Option<T> {
        let restored = self.restored.borrow();
        let bytes = restored.parts.get(name)?;
        // The file's checksum was verified and it was written by this binary for this run (the
        // directory is cleared at the start), so a decoding failure is a bug, not bad input.
        Some(bincode::deserialize(bytes).unwrap_or_else(|e| panic!("snapshot part {name} does not decode: {e}")))
    }

    /// The first epoch the current dataflow owes a snapshot for: the one after the restored
    /// epoch (`u64::MAX` without snapshots).
    pub fn first_epoch(&self) -> u64 {
        if self.snapshots() {
            (self.restored_epoch() / self.interval + 1) * self.interval
        } else {
            u64::MAX
        }
    }

    /// An operator's epoch tracker, starting after the restored epoch. `S` is what is kept with
    /// held input: a capability when output may follow from it, `()` otherwise.
    pub fn aligner<D, S>(&self) -> Aligner<D, S> {
        Aligner { interval: self.interval, next: self.first_epoch(), held: Vec::new() }
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
        let dir = self.dir.as_ref().expect("snapshots on");
        let complete: Vec<u64> = store
            .pending
            .iter()
            .filter(|(_, parts)| {
                parts.len() + store.finals.iter().filter(|(n, _)| !parts.iter().any(|(m, _)| m == n)).count() >= PARTS
            })
            .map(|(e, _)| *e)
            .collect();
        for epoch in complete {
            let mut parts = store.pending.remove(&epoch).expect("listed");
            for (name, bytes) in &store.finals {
                if !parts.iter().any(|(m, _)| m == name) {
                    parts.push((name.clone(), bytes.clone()));
                }
            }
            let file = WorkerFile { epoch, generation: self.generation.get(), worker: self.worker, parts };
            let path = epoch_dir(dir, epoch, self.generation.get()).join(worker_file(self.worker));
            let written = bincode::serialize(&file).map_err(|e| e.to_string()).and_then(|b| write_checked(&path, &b));
            match written {
                Ok(()) => {
                    store.written.push_back(path);
                    while store.written.len() > KEEP {
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
                    eprintln!("native: snapshot at epoch {epoch} not written: {e}");
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
                    Ok(parts) => {
                        restored.epoch = epoch;
                        restored.found = true;
                        restored.parts = parts;
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
            let written = std::mem::take(&mut store.written);
            *store = Store { written, ..Store::default() };
        }
        self.generation.set(self.generation.get() + 1);
        let epoch_ns = restored.found.then_some(restored.epoch * TICK_NS);
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

fn epoch_dir(dir: &Path, epoch: u64, generation: u32) -> PathBuf {
    dir.join(format!("epoch-{epoch:020}-g{generation:04}"))
}

fn parse_epoch_dir(name: &str) -> Option<(u64, u32)> {
    let (epoch, generation) = name.strip_prefix("epoch-")?.split_once("-g")?;
    Some((epoch.parse().ok()?, generation.parse().ok()?))
}

fn worker_file(worker: usize) -> String {
    format!("worker-{worker:04}.snap")
}

/// Reads worker `me`'s parts of the snapshot in `path`, after checking every worker's file.
/// `Err(None)`: not committed (a file is missing); `Err(Some(why))`: a file is damaged.
fn read_snapshot(
    path: &Path,
    epoch: u64,
    generation: u32,
    workers: usize,
    me: usize,
) -> Result<FxHashMap<String, Vec<u8>>, Option<String>> {
    if (0..workers).any(|w| !path.join(worker_file(w)).exists()) {
        return Err(None);
    }
    let mut mine = None;
    for w in 0..workers {
        let bytes = read_checked(&path.join(worker_file(w))).map_err(Some)?;
        let file: WorkerFile = bincode::deserialize(&bytes)
            .map_err(|e| Some(format!("{} does not decode: {e}", path.join(worker_file(w)).display())))?;
        if file.epoch != epoch || file.generation != generation || file.worker != w {
            return Err(Some(format!("{} belongs to another snapshot", path.join(worker_file(w)).display())));
        }
        if w == me {
            mine = Some(file.parts.into_iter().collect());
        }
    }
    Ok(mine.expect("me < workers"))
}

/// An operator's view of the epochs: the next snapshot it owes, and the input it holds back
/// until then (the alignment), each batch with its time and stamp `S`.
pub struct Aligner<D, S = ()> {
    interval: u64,
    next: u64,
    held: Vec<(u64, S, Vec<D>)>,
}

impl<D, S> Aligner<D, S> {
    /// Takes a batch of input at `time`: `process`es it now, or holds it back (with `stamp()`)
    /// until the snapshot of an earlier epoch is written.
    #[inline]
    pub fn admit(
        &mut self,
        time: u64,
        stamp: impl FnOnce() -> S,
        data: &mut Vec<D>,
        process: impl FnOnce(&mut Vec<D>),
    ) {
        if time >= self.next {
            self.held.push((time, stamp(), std::mem::take(data)));
        } else {
            process(data);
        }
    }

    /// The next epoch the frontier has passed (every input before it has arrived), if one is
    /// owed. The end of the input (an empty frontier, or a source holding at the end) is no
    /// epoch: see [`Aligner::ended`].
    pub fn passed(&self, frontier: AntichainRef<'_, u64>) -> Option<u64> {
        (self.next != u64::MAX && !Self::ended(frontier) && frontier.iter().all(|f| *f >= self.next))
            .then_some(self.next)
    }

    /// Moves past the epoch just snapshotted; returns the held input that now comes before the
    /// next epoch, to process.
    pub fn advance(&mut self) -> Vec<(S, Vec<D>)> {
        self.next += self.interval;
        let next = self.next;
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held).into_iter().partition(|h| h.0 < next);
        self.held = later;
        now.into_iter().map(|(_, s, d)| (s, d)).collect()
    }

    /// Whether the input has ended (no more epochs will pass): returns everything held.
    pub fn release_if_ended(&mut self, frontier: AntichainRef<'_, u64>) -> Vec<(S, Vec<D>)> {
        if Self::ended(frontier) {
            std::mem::take(&mut self.held).into_iter().map(|(_, s, d)| (s, d)).collect()
        } else {
            Vec::new()
        }
    }

    fn ended(frontier: AntichainRef<'_, u64>) -> bool {
        frontier.iter().all(|f| *f >= END_TICK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use workloads::{JobSpec, Profile, Workload};

    fn control(dir: &Path, worker: usize, workers: usize) -> Control {
        let mut spec = RunSpec::new(JobSpec::default_for(Workload::Wordcount), Profile::Constant { rate: 1.0 }, 1);
        spec.checkpoint.interval_ns = Some(100 * TICK_NS);
        Control::new(&spec, Some(dir.to_path_buf()), worker, workers)
    }

    fn snapshot(c: &Control, epoch: u64, offset: u64) {
        c.put(epoch, "source", &vec![(0u32, offset)]);
        c.put(epoch, "count", &offset);
        c.put(epoch, "outputs", &OutputMark::default());
    }

    #[test]
    fn a_restore_takes_the_newest_snapshot_every_worker_committed_and_that_checks_out() {
        let dir = workloads::durable::scratch_dir("native-snapshot-test");
        let (a, b) = (control(&dir, 0, 2), control(&dir, 1, 2));
        for epoch in [100, 200, 300] {
            snapshot(&a, epoch, epoch * 10);
            snapshot(&b, epoch, epoch * 10);
        }
        // Epoch 400 is not committed: only worker 0 wrote it.
        snapshot(&a, 400, 4000);
        // Epoch 300 is damaged: a flipped byte in worker 1's file.
        let damaged = epoch_dir(&dir, 300, 0).join(worker_file(1));
        let mut bytes = std::fs::read(&damaged).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&damaged, bytes).unwrap();
        let (epoch, skipped) = a.restore();
        assert_eq!(epoch, Some(200 * TICK_NS));
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].contains("corrupt"), "{skipped:?}");
        assert_eq!(a.part::<Vec<(u32, u64)>>("source"), Some(vec![(0, 2000)]));
        assert_eq!(a.part::<u64>("count"), Some(2000));
        // The next generation's snapshots are written apart from the earlier one's.
        assert_eq!(a.first_epoch(), 300);
        snapshot(&a, 300, 3001);
        assert!(epoch_dir(&dir, 300, 1).join(worker_file(0)).exists());
        // Only the newest three of its own files are kept.
        for epoch in [400, 500, 600] {
            snapshot(&a, epoch, epoch);
        }
        assert!(!epoch_dir(&dir, 300, 1).join(worker_file(0)).exists());
        a.remove_own_files();
        b.remove_own_files();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir(&dir).unwrap();
    }

    #[test]
    fn without_a_committed_snapshot_a_restore_starts_from_the_beginning() {
        let dir = workloads::durable::scratch_dir("native-snapshot-test");
        let a = control(&dir, 0, 2);
        snapshot(&a, 100, 1000);
        let (epoch, skipped) = a.restore();
        assert_eq!((epoch, skipped.len()), (None, 0));
        assert_eq!(a.part::<u64>("count"), None);
        assert_eq!(a.restored_outputs(), OutputMark::default());
        a.remove_own_files();
        std::fs::remove_dir(&dir).unwrap();
    }
}
