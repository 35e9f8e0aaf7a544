//! The receiver tracker (Spark's `ReceiverTracker`, `ReceivedBlockTracker` and block
//! generator): receivers (Spark's receiver-based input): a receiver runs on its own thread and stores
//! records; a block generator cuts them into a block every block interval (200 ms by default)
//! and stores each block in the block managers of two live executors (the second a replica, so
//! losing one executor loses no received data); the receiver tracker hands every block stored
//! by a batch's time to that batch, whose RDD has one partition per block, computed where a copy
//! is. Blocks leave the executors once their batch is out of the remember window.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::executor::messages::Msg;
use crate::rdd::{BlockRef, Ids, ShuffleData};
use crate::scheduler::checkpoint::Metadata;
use crate::scheduler::dag::Liveness;
use crate::scheduler::rate::{min_limit, RateLimit};
use crate::scheduler::write_ahead_log::{self, Logged, Resume};
use crate::time::Time;

/// What the driver gives a receiver when the context starts.
pub(crate) struct ReceiverEnv {
    /// Into the fabric (blocks go to executors through worker 0's relay).
    pub to_fabric: Sender<Msg>,
    /// Which executors are alive, and their incarnations.
    pub alive: crate::scheduler::dag::Liveness,
    /// Set when the context stops.
    pub stop: Arc<AtomicBool>,
    /// The block interval.
    pub block_interval: Duration,
    /// The most records per second a receiver stores, if bounded.
    pub max_rate: Option<f64>,
    /// What backpressure allows, records/s, if set.
    pub ingest: RateLimit,
    /// With the write-ahead log: the checkpoint directory its blocks are written to.
    pub wal: Option<PathBuf>,
}

/// Starts a receiver's threads, resuming its input where its write-ahead log says; returns the
/// block generator's handle.
pub(crate) type Starter = Box<dyn FnOnce(&ReceiverEnv, Resume) -> Result<JoinHandle<()>, String> + Send>;

/// What a receiver's `receive` is called with: `store(record)`, `report(what)` for a record it
/// dropped, and the records stored so far (with the write-ahead log, by earlier runs of the
/// program too): where a reliable source resumes.
pub(crate) type ReceiveFn<T> = dyn FnMut(&mut dyn FnMut(T) -> bool, &dyn Fn(String), u64) -> Receive + Send;

/// The blocks a receiver has stored and not yet given to a batch, and those given.
#[derive(Default)]
pub(crate) struct Tracker {
    pending: Mutex<Vec<BlockRef>>,
    allocated: Mutex<BTreeMap<Time, Vec<BlockRef>>>,
    /// The batch times allocated since the driver last took them.
    fresh: Mutex<Vec<Time>>,
    presets: Mutex<BTreeMap<Time, Vec<BlockRef>>>,
    error: Mutex<Option<String>>,
    /// Every restart and dropped record, with why (Spark's `onReceiverError`).
    events: Mutex<Vec<String>>,
    finished: AtomicBool,
    /// Bytes written to the write-ahead log.
    logged_bytes: AtomicU64,
}

impl Tracker {
    /// Every stored block not yet in a batch, now in batch `t` (in a follower: the blocks the
    /// driver gave batch `t`).
    pub fn allocate(&self, t: Time) -> Vec<BlockRef> {
        let blocks = match self.presets.lock().expect("tracker").remove(&t) {
            Some(blocks) => blocks,
            None => std::mem::take(&mut *self.pending.lock().expect("tracker")),
        };
        self.allocated.lock().expect("tracker").insert(t, blocks.clone());
        self.fresh.lock().expect("tracker").push(t);
        blocks
    }

    /// The blocks allocated since this was last called: `(batch time, blocks)`.
    pub fn take_fresh(&self) -> Vec<(Time, Vec<BlockRef>)> {
        let fresh = std::mem::take(&mut *self.fresh.lock().expect("tracker"));
        let allocated = self.allocated.lock().expect("tracker");
        fresh.into_iter().map(|t| (t, allocated.get(&t).cloned().unwrap_or_default())).collect()
    }

    /// A block recovered from the write-ahead log, for the next batch.
    pub fn push_pending(&self, block: BlockRef) {
        self.pending.lock().expect("tracker").push(block);
    }

    /// Bytes written to the write-ahead log so far.
    pub fn logged_bytes(&self) -> u64 {
        self.logged_bytes.load(Ordering::Relaxed)
    }

    /// In a follower (or a program resuming from its write-ahead log): batch `t` holds `blocks`.
    pub fn preset(&self, t: Time, blocks: Vec<BlockRef>) {
        self.presets.lock().expect("tracker").insert(t, blocks);
    }

    /// Whether the receiver's input has ended and every block it stored is in a batch.
    pub fn drained(&self) -> bool {
        self.finished.load(Ordering::Acquire) && self.pending.lock().expect("tracker").is_empty()
    }

    /// Why the receiver failed, if it did.
    pub fn error(&self) -> Option<String> {
        self.error.lock().expect("tracker").clone()
    }

    /// Notes a restart or a dropped record.
    pub fn event(&self, what: String) {
        let mut events = self.events.lock().expect("tracker");
        if events.len() < MAX_EVENTS {
            events.push(what);
        }
    }

    /// The restarts and dropped records so far.
    pub fn events(&self) -> Vec<String> {
        self.events.lock().expect("tracker").clone()
    }

    /// Blocks of batches before `keep_from`, forgotten.
    pub fn expire(&self, keep_from: Time) -> Vec<u64> {
        let mut allocated = self.allocated.lock().expect("tracker");
        let old: Vec<Time> = allocated.range(..keep_from).map(|(t, _)| *t).collect();
        old.into_iter().filter_map(|t| allocated.remove(&t)).flatten().map(|b| b.id).collect()
    }
}

/// Events kept per receiver (a receiver restarting forever does not grow the driver).
const MAX_EVENTS: usize = 1000;

/// How a receiver's `receive` ended (Spark's `Receiver.stop` and `restart`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Receive {
    /// Its input has ended: the receiver stops (what it stored is still processed).
    Done,
    /// Spark's `restart(message)`: `receive` is called again after the restart delay (the
    /// message is kept, see `StreamingContext::receiver_events`).
    Restart(String),
    /// The receiver cannot go on: the program stops with this error after the batch in
    /// progress.
    Fail(String),
}

/// Makes the starter of receiver number `receiver`: `receive(store, report, stored)` runs on its
/// own thread, calling `store(record)` for every record (false, not stored, once the context
/// stops: return then) and `report(what)` for a record it dropped; it is called again
/// `restart_delay` after it asks for a restart.
pub(crate) fn starter<T: ShuffleData>(
    receiver: usize,
    ids: Ids,
    tracker: Arc<Tracker>,
    restart_delay: Duration,
    mut receive: Box<ReceiveFn<T>>,
) -> Starter {
    Box::new(move |env: &ReceiverEnv, resume: Resume| {
        ids.advance_to(resume.next_id);
        let log = env.wal.as_ref().map(|dir| write_ahead_log::log_dir(dir, receiver));
        let stored = Arc::new(AtomicU64::new(resume.from));
        let counted = Arc::clone(&stored);
        let buffer: Arc<Mutex<Vec<T>>> = Arc::default();
        let done = Arc::new(AtomicBool::new(false));
        let (stop, max_rate, ingest) = (Arc::clone(&env.stop), env.max_rate, env.ingest.clone());
        let (into, finished, failed) = (Arc::clone(&buffer), Arc::clone(&done), Arc::clone(&tracker));
        let stopped = Arc::clone(&env.stop);
        std::thread::Builder::new()
            .name("receiver".into())
            .spawn(move || {
                // A rate limiter over windows of 100 ms: the smaller of the receiver's maximum
                // rate and what backpressure allows (which changes after every batch).
                let window = Duration::from_millis(100);
                let (mut window_start, mut in_window) = (Instant::now(), 0u64);
                let mut store = |x: T| {
                    if window_start.elapsed() >= window {
                        (window_start, in_window) = (Instant::now(), 0);
                    }
                    if let Some(rate) = min_limit(max_rate, ingest.get()) {
                        if in_window as f64 >= rate * window.as_secs_f64() {
                            std::thread::sleep(window.saturating_sub(window_start.elapsed()));
                            (window_start, in_window) = (Instant::now(), 0);
                        }
                    }
                    // Checked under the buffer's lock: once the block generator has taken its
                    // last block, a record is refused (false), never stored and lost.
                    let mut buffer = into.lock().expect("receiver buffer");
                    if stop.load(Ordering::Acquire) {
                        return false;
                    }
                    in_window += 1;
                    buffer.push(x);
                    counted.fetch_add(1, Ordering::Relaxed);
                    true
                };
                supervise(&mut *receive, &mut store, &stored, &failed, restart_delay, &stopped);
                finished.store(true, Ordering::Release);
            })
            .map_err(|e| format!("cannot start a receiver: {e}"))?;
        let (to_fabric, alive, stop) = (env.to_fabric.clone(), Arc::clone(&env.alive), Arc::clone(&env.stop));
        let interval = env.block_interval;
        std::thread::Builder::new()
            .name("block-generator".into())
            .spawn(move || {
                let mut end = resume.from;
                loop {
                    std::thread::sleep(interval);
                    // Read before the last take: a record stored after it finds the flag set.
                    let stopping = stop.load(Ordering::Acquire);
                    let ended = done.load(Ordering::Acquire);
                    let records = std::mem::take(&mut *buffer.lock().expect("receiver buffer"));
                    if !records.is_empty() {
                        end += records.len() as u64;
                        if !store_block(&tracker, &to_fabric, &alive, (ids.next(), end, log.as_deref()), &records) {
                            tracker.finished.store(true, Ordering::Release);
                            return;
                        }
                    }
                    if ended || stopping {
                        tracker.finished.store(true, Ordering::Release);
                        return;
                    }
                }
            })
            .map_err(|e| format!("cannot start a block generator: {e}"))
    })
}

/// Stores `records` as block `id` (the receiver's records through it: `end`) on two live
/// executors, written first to the write-ahead log `log` if there is one, and gives it to the
/// tracker; false when the fabric is gone or the log cannot be written (the tracker's error says
/// so, and the program stops).
fn store_block<T: ShuffleData>(
    tracker: &Tracker,
    to_fabric: &Sender<Msg>,
    alive: &Mutex<Vec<Option<u32>>>,
    (id, end, log): (u64, u64, Option<&std::path::Path>),
    records: &[T],
) -> bool {
    let data = bincode::serialize(records).expect("encode a received block");
    let n = records.len() as u64;
    let data = match log {
        Some(log) => {
            let block = Logged { id, records: n, end, data };
            match write_ahead_log::append(log, &block) {
                Ok(bytes) => tracker.logged_bytes.fetch_add(bytes, Ordering::Relaxed),
                Err(e) => {
                    *tracker.error.lock().expect("tracker") = Some(format!("the receivers' write-ahead log: {e}"));
                    return false;
                }
            };
            block.data
        }
        None => data,
    };
    match place_block(to_fabric, alive, id, Arc::new(data), n) {
        Some(block) => {
            tracker.pending.lock().expect("tracker").push(block);
            true
        }
        None => false,
    }
}

/// Stores block `id` of `records` records on two live executors (round the executors by id);
/// `None` when the fabric is gone.
pub(crate) fn place_block(
    to_fabric: &Sender<Msg>,
    alive: &Mutex<Vec<Option<u32>>>,
    id: u64,
    data: Arc<Vec<u8>>,
    records: u64,
) -> Option<BlockRef> {
    let (hosts, incarnations) = replica_hosts(alive, id as usize);
    for &to in &hosts {
        to_fabric.send(Msg::Store { to, id, data: Arc::clone(&data) }).ok()?;
    }
    Some(BlockRef { id, records, hosts, incarnations })
}

/// The fabric a recovered block is stored on again.
pub(crate) struct Fabric<'a> {
    pub to: &'a Sender<Msg>,
    pub alive: &'a Liveness,
}

/// What a resumed program recovers receivers' blocks from: the checkpoint directory, the newest
/// good metadata checkpoint (`None`: none was written, so no batch finished), and the logged
/// allocations of batches.
pub(crate) struct Logs<'a> {
    pub dir: &'a Path,
    pub meta: Option<&'a Metadata>,
    pub allocated: &'a write_ahead_log::Allocations,
}

/// Recovers receiver `receiver`'s logged blocks for a resumed program: every batch since the
/// cut that took blocks (finished, or running when the driver died) gets them again, by its
/// logged allocation (stored anew on the live executors); the blocks no batch took are the
/// tracker's pending ones, in order.
pub(crate) fn recover(
    logs: &Logs<'_>,
    receiver: usize,
    batch_ns: u64,
    tracker: &Tracker,
    fabric: &Fabric<'_>,
) -> Result<Resume, String> {
    let logged = write_ahead_log::read_all(&write_ahead_log::log_dir(logs.dir, receiver))?;
    let resume = Resume {
        from: logged.iter().map(|b| b.end).max().unwrap_or(0),
        next_id: logged.last().map_or(0, |b| b.id + 1),
    };
    let mut by_id: BTreeMap<u64, Logged> = logged.into_iter().map(|b| (b.id, b)).collect();
    let (cut, time) = logs.meta.map_or((0, 0), |m| (m.cut, m.time));
    // Each batch since the cut: the blocks its logged allocation names, or none (a finished batch
    // whose receiver streams were not computed).
    let mut batches: BTreeMap<Time, Vec<u64>> =
        (cut / batch_ns + 1..=time / batch_ns).map(|k| (k * batch_ns, Vec::new())).collect();
    for (t, took) in logs.allocated.range(cut + 1..) {
        let ids = took.iter().filter(|(r, _)| *r == receiver).flat_map(|(_, ids)| ids.iter().copied());
        batches.insert(*t, ids.collect());
    }
    // Each logged block is stored again once, its bytes moved (not copied) to the executors.
    let store = |b: Logged| {
        place_block(fabric.to, fabric.alive, b.id, Arc::new(b.data), b.records).ok_or("the executors are gone")
    };
    for (t, ids) in batches {
        let blocks = ids.into_iter().map(|id| {
            let logged = by_id.remove(&id).ok_or_else(|| {
                format!("the receivers' write-ahead log has lost block {id} of batch {} ms: delete the checkpoint directory to start afresh", t / 1_000_000)
            })?;
            Ok(store(logged)?)
        });
        tracker.preset(t, blocks.collect::<Result<_, String>>()?);
    }
    if let Some(meta) = logs.meta {
        let through = meta.received_through.get(receiver).copied().unwrap_or(0);
        by_id.retain(|id, _| *id >= through);
    }
    for b in by_id.into_values() {
        tracker.push_pending(store(b)?);
    }
    Ok(resume)
}

/// Calls `receive` until it is done or fails, or the context stops; again `restart_delay` after
/// each restart it asks for (Spark's `ReceiverSupervisor`).
fn supervise<T>(
    receive: &mut ReceiveFn<T>,
    store: &mut dyn FnMut(T) -> bool,
    stored: &AtomicU64,
    tracker: &Tracker,
    restart_delay: Duration,
    stopped: &AtomicBool,
) {
    let report = |what: String| tracker.event(what);
    loop {
        match receive(store, &report, stored.load(Ordering::Relaxed)) {
            Receive::Done => return,
            Receive::Fail(e) => {
                *tracker.error.lock().expect("tracker") = Some(format!("the receiver failed: {e}"));
                return;
            }
            Receive::Restart(why) => {
                let delay = restart_delay.as_secs_f64();
                tracker.event(format!("the receiver restarts in {delay:.1} s: {why}"));
                if sleep_unless_stopped(restart_delay, stopped) {
                    return;
                }
            }
        }
        if stopped.load(Ordering::Acquire) {
            return;
        }
    }
}

/// Sleeps `d`, waking early when `stop` is set; returns whether it was.
fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if stop.load(Ordering::Acquire) {
            return true;
        }
        std::thread::sleep(until.saturating_duration_since(Instant::now()).min(Duration::from_millis(20)));
    }
    stop.load(Ordering::Acquire)
}

/// Where the `next`-th block goes, and each host's incarnation: blocks go round the live
/// executors, each with a replica on the next one.
fn replica_hosts(alive: &Mutex<Vec<Option<u32>>>, next: usize) -> (Vec<usize>, Vec<u32>) {
    let live: Vec<(usize, u32)> =
        alive.lock().expect("alive").iter().enumerate().filter_map(|(e, a)| a.map(|i| (e, i))).collect();
    let chosen = if live.len() > 1 { vec![live[next % live.len()], live[(next + 1) % live.len()]] } else { live };
    chosen.into_iter().unzip()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// Logged blocks 0..4; batch 100 ms (the last the metadata checkpoint names) took block 0,
    /// batch 200 ms took blocks 1 and 2 and was logged but never checkpointed (the driver died
    /// while it ran), block 3 came after it.
    #[test]
    fn a_resumed_program_gives_a_batch_it_ran_after_the_last_metadata_checkpoint_the_blocks_it_took() {
        let dir = workloads::durable::scratch_dir("wal-recover");
        let log = write_ahead_log::log_dir(&dir, 0);
        for id in 0..4 {
            let data = bincode::serialize(&vec![id]).unwrap();
            write_ahead_log::append(&log, &Logged { id, records: 1, end: id + 1, data }).unwrap();
        }
        let took = [(0, 100 * MS, vec![0]), (0, 200 * MS, vec![1, 2])].into_iter();
        write_ahead_log::log_allocations(&dir, took).unwrap();
        let meta = Metadata {
            batch_ns: 100 * MS,
            time: 100 * MS,
            cut: 0,
            streams: 0,
            inputs: Vec::new(),
            zero_ms: 0,
            received_through: vec![1],
        };
        let (to, stored) = std::sync::mpsc::channel();
        let alive: Liveness = Arc::new(Mutex::new(vec![Some(0), Some(0)]));
        let tracker = Tracker::default();
        let allocated = write_ahead_log::allocations(&dir).unwrap();
        let logs = Logs { dir: &dir, meta: Some(&meta), allocated: &allocated };
        let resume = recover(&logs, 0, 100 * MS, &tracker, &Fabric { to: &to, alive: &alive }).unwrap();
        assert_eq!((resume.from, resume.next_id), (4, 4));
        let ids = |t| tracker.allocate(t).iter().map(|b| b.id).collect::<Vec<_>>();
        assert_eq!(ids(100 * MS), vec![0], "the checkpointed batch, run again");
        assert_eq!(ids(200 * MS), vec![1, 2], "the batch after it, as its allocation was logged");
        assert_eq!(ids(300 * MS), vec![3], "the next batch: what no batch took");
        // Every block stored again, on two executors each.
        assert_eq!(stored.try_iter().count(), 8);
        // Cleaning below the cut at 200 ms leaves that batch's allocation.
        write_ahead_log::clean_allocations(&dir, 200 * MS);
        assert_eq!(write_ahead_log::allocations(&dir).unwrap().keys().copied().collect::<Vec<_>>(), vec![200 * MS]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
