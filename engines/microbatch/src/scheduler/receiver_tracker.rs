//! The receiver tracker (Spark's `ReceiverTracker`, `ReceivedBlockTracker` and block
//! generator): receivers (Spark's receiver-based input): a receiver runs on its own thread and stores
//! records; a block generator cuts them into a block every block interval (200 ms by default)
//! and stores each block in the block managers of two live executors (the second a replica, so
//! losing one executor loses no received data); the receiver tracker hands every block stored
//! by a batch's time to that batch, whose RDD has one partition per block, computed where a copy
//! is. Blocks leave the executors once their batch is out of the remember window.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::executor::messages::Msg;
use crate::rdd::{BlockRef, Ids, ShuffleData};
use crate::scheduler::rate::{min_limit, RateLimit};
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
}

/// Starts a receiver's threads; returns the block generator's handle.
pub(crate) type Starter = Box<dyn FnOnce(&ReceiverEnv) -> Result<JoinHandle<()>, String> + Send>;

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

    /// In a follower: batch `t` holds `blocks`.
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

/// Makes the starter of a receiver: `receive(store)` runs on its own thread, calling
/// `store(record)` for every record (false, not stored, once the context stops: return then) and
/// `report(what)` for a record it dropped; it is called again `restart_delay` after it asks for
/// a restart.
pub(crate) fn starter<T: ShuffleData>(
    ids: Ids,
    tracker: Arc<Tracker>,
    restart_delay: Duration,
    mut receive: impl FnMut(&mut dyn FnMut(T) -> bool, &dyn Fn(String)) -> Receive + Send + 'static,
) -> Starter {
    Box::new(move |env: &ReceiverEnv| {
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
                    true
                };
                supervise(&mut receive, &mut store, &failed, restart_delay, &stopped);
                finished.store(true, Ordering::Release);
            })
            .map_err(|e| format!("cannot start a receiver: {e}"))?;
        let (to_fabric, alive, stop) = (env.to_fabric.clone(), Arc::clone(&env.alive), Arc::clone(&env.stop));
        let interval = env.block_interval;
        std::thread::Builder::new()
            .name("block-generator".into())
            .spawn(move || {
                let mut next = 0usize;
                loop {
                    std::thread::sleep(interval);
                    // Read before the last take: a record stored after it finds the flag set.
                    let stopping = stop.load(Ordering::Acquire);
                    let ended = done.load(Ordering::Acquire);
                    let records = std::mem::take(&mut *buffer.lock().expect("receiver buffer"));
                    if !records.is_empty() {
                        if !store_block(&tracker, &to_fabric, &alive, (ids.next(), next), &records) {
                            return;
                        }
                        next += 1;
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

/// Stores `records` as block `id`, the receiver's `next`-th, on two live executors, and gives it
/// to the tracker; false when the fabric is gone.
fn store_block<T: ShuffleData>(
    tracker: &Tracker,
    to_fabric: &Sender<Msg>,
    alive: &Mutex<Vec<Option<u32>>>,
    (id, next): (u64, usize),
    records: &[T],
) -> bool {
    let (hosts, incarnations) = replica_hosts(alive, next);
    let data = Arc::new(bincode::serialize(records).expect("encode a received block"));
    for &to in &hosts {
        if to_fabric.send(Msg::Store { to, id, data: Arc::clone(&data) }).is_err() {
            return false;
        }
    }
    tracker.pending.lock().expect("tracker").push(BlockRef { id, records: records.len() as u64, hosts, incarnations });
    true
}

/// Calls `receive` until it is done or fails, or the context stops; again `restart_delay` after
/// each restart it asks for (Spark's `ReceiverSupervisor`).
fn supervise<T>(
    receive: &mut impl FnMut(&mut dyn FnMut(T) -> bool, &dyn Fn(String)) -> Receive,
    store: &mut dyn FnMut(T) -> bool,
    tracker: &Tracker,
    restart_delay: Duration,
    stopped: &AtomicBool,
) {
    let report = |what: String| tracker.event(what);
    loop {
        match receive(store, &report) {
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
