//! Sources: the generator's partitions spread over every worker of every process.
//!
//! A source emits each event as it comes due (open loop: it never waits for the engine, so a
//! slow engine shows as latency measured from the scheduled time) or, at `max`, as fast as the
//! dataflow drains, with a bounded lead over the output probe (timely has no backpressure of its
//! own). Records travel at the source's *watermark* time: the smallest event time any of its
//! partitions can still produce (the next event's nominal time less the disorder bound), in
//! ticks of [`TICK_NS`]. Every record's event time is at or above the timestamp it travels at,
//! so a window `[.., e)` is complete once the frontier reaches `e`.
//!
//! With snapshots on, a source records its offsets each time its capability passes an epoch
//! (see [`crate::snapshot`]) and starts a restored dataflow from them. A source also injects the
//! run's `kill-worker` faults: when one comes due it stops and tells the worker, which drops the
//! dataflow and restores. So that every worker sees the fault before its dataflow can end, a
//! source whose input has ended holds its capability at [`END_TICK`] until the last fault.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::{ProbeHandle, Scope, Stream};
use timely::order::PartialOrder;
use workloads::{Recorder, RunSpec, Schedule};

use crate::snapshot::Control;

/// The granularity of timely timestamps: event time in ns divided by this.
pub const TICK_NS: u64 = 1_000_000;

/// At most this many events per partition per activation (keeps operators responsive).
const BATCH: u64 = 8 * 1024;

/// Records are handed to the output in chunks of this many, so the staging buffer stays in cache.
const CHUNK: usize = 1024;

/// At `max`, how far (in ticks) a source may run ahead of the output probe.
const MAX_LEAD_TICKS: u64 = 100;

/// Where a source whose input has ended holds its capability while a fault is still to come:
/// past every window, far from overflow when multiplied by [`TICK_NS`].
pub const END_TICK: u64 = u64::MAX / TICK_NS / 4;

/// Which partitions a worker reads and where each ends.
#[derive(Clone, Debug)]
pub struct Plan {
    schedule: Schedule,
    /// `(partition, end offset)`, `None` when the end is the duration at `max`.
    partitions: Vec<(u32, Option<u64>)>,
    duration_ns: u64,
}

impl Plan {
    /// The partitions of `spec` that worker `index` of `peers` reads.
    pub fn new(spec: &RunSpec, index: usize, peers: usize) -> Self {
        let partitions = (0..spec.partitions())
            .filter(|p| *p as usize % peers == index)
            .map(|p| (p, spec.partition_end(p)))
            .collect();
        Self { schedule: spec.schedule(), partitions, duration_ns: spec.duration_ns }
    }
}

struct Cursor {
    partition: u32,
    next: u64,
    end: Option<u64>,
    done: bool,
}

/// A source of records made from the generator's events: `produce(p, i, due_ns, out)` turns
/// event `i` of partition `p` (due at `due_ns`, or pulled then at `max`) into records. It starts
/// from the offsets of the snapshot `control` restored, if any.
pub fn generator<'s, D, F>(
    scope: Scope<'s, u64>,
    name: &str,
    plan: Plan,
    recorder: Rc<RefCell<Recorder>>,
    probe: ProbeHandle<u64>,
    control: Rc<Control>,
    mut produce: F,
) -> Stream<'s, u64, Vec<D>>
where
    D: timely::ExchangeData,
    F: FnMut(u32, u64, u64, &mut Vec<D>) + 'static,
{
    source(scope, name, move |mut capability, info| {
        let activator = scope.activator_for(Rc::clone(&info.address));
        let schedule = plan.schedule.clone();
        let max = schedule.profile().is_max();
        let disorder = schedule.disorder_ns();
        let restored: Vec<(u32, u64)> = control.part("source").unwrap_or_default();
        let mut cursors: Vec<Cursor> = plan
            .partitions
            .iter()
            .map(|&(partition, end)| {
                let next = restored.iter().find(|r| r.0 == partition).map_or(0, |r| r.1);
                Cursor { partition, next, end, done: end.is_some_and(|e| next >= e) }
            })
            .collect();
        let timing = schedule.clone();
        let watermark = move |cursors: &[Cursor]| {
            cursors
                .iter()
                .filter(|c| !c.done)
                .map(|c| timing.nominal_time(c.partition, c.next).saturating_sub(disorder) / TICK_NS)
                .min()
        };
        // A restored source resumes at its watermark, not at time 0.
        let mut epochs = Epochs { next: control.first_epoch(), interval: control.interval() };
        let offsets = |cursors: &[Cursor]| cursors.iter().map(|c| (c.partition, c.next)).collect::<Vec<_>>();
        if let Some(w) = watermark(&cursors).filter(|w| w > capability.time()) {
            epochs.cross(&control, w, || offsets(&cursors));
            capability.downgrade(&w);
        }
        let mut capability = Some(capability);
        let mut finished = false;
        let mut buffer: Vec<D> = Vec::new();
        move |output| {
            let Some(cap) = capability.as_mut() else { return };
            let now = recorder.borrow().now_ns();
            // A fault came due: this worker stops here and restores.
            if control.pending_kill().is_some_and(|at| now >= at) {
                control.fire();
                return;
            }
            let mut fresh = 0u64;
            let mut more_now = false;
            let mut next_due = u64::MAX;
            let blocked = max
                && probe.with_frontier(|f| f.first().is_some_and(|t| cap.time().saturating_sub(*t) > MAX_LEAD_TICKS));
            for c in cursors.iter_mut().filter(|c| !c.done) {
                if max && now >= plan.duration_ns && c.end.is_none() {
                    c.end = Some(c.next);
                }
                let start = c.next;
                let limit = c.next + BATCH;
                while c.next < limit && c.end.is_none_or(|e| c.next < e) {
                    let due = match schedule.due(c.partition, c.next) {
                        Some(due) if due > now => {
                            next_due = next_due.min(due);
                            break;
                        }
                        Some(due) => due,
                        None if blocked => break,
                        None => now,
                    };
                    produce(c.partition, c.next, due, &mut buffer);
                    c.next += 1;
                    if buffer.len() >= CHUNK {
                        output.session(&*cap).give_iterator(buffer.drain(..));
                    }
                }
                if c.next > start {
                    fresh += control.count(c.partition, start, c.next);
                }
                if c.end.is_some_and(|e| c.next >= e) {
                    c.done = true;
                } else if c.next == limit {
                    more_now = true;
                }
            }
            if !buffer.is_empty() {
                output.session(&*cap).give_iterator(buffer.drain(..));
            }
            if fresh > 0 {
                recorder.borrow_mut().inputs(fresh, now);
            }
            // The watermark: the least event time any partition can still produce.
            match watermark(&cursors) {
                None => {
                    if !finished {
                        finished = true;
                        let mut r = recorder.borrow_mut();
                        for c in &cursors {
                            r.partition_end(c.partition, c.next);
                        }
                        control.put_final("source", &offsets(&cursors));
                    }
                    match control.pending_kill() {
                        // Hold on until the fault, so that every worker sees it.
                        Some(at) => {
                            if *cap.time() < END_TICK {
                                cap.downgrade(&END_TICK);
                            }
                            activator.activate_after(Duration::from_nanos(at.saturating_sub(now)));
                        }
                        None => capability = None,
                    }
                }
                Some(w) => {
                    if cap.time().less_than(&w) {
                        epochs.cross(&control, w, || offsets(&cursors));
                        cap.downgrade(&w);
                    }
                    let until_fault = control.pending_kill().map_or(u64::MAX, |at| at.saturating_sub(now));
                    if more_now || (max && !blocked) {
                        activator.activate();
                    } else if max {
                        activator.activate_after(Duration::from_micros(100));
                    } else {
                        activator.activate_after(Duration::from_nanos(next_due.saturating_sub(now).min(until_fault)));
                    }
                }
            }
        }
    })
}

/// The epochs a source owes offsets for.
struct Epochs {
    next: u64,
    interval: u64,
}

impl Epochs {
    /// The capability moves to `to`: the offsets now are the source's part of every epoch passed
    /// (read only when one is).
    #[inline]
    fn cross(&mut self, control: &Control, to: u64, offsets: impl FnOnce() -> Vec<(u32, u64)>) {
        if self.next > to || self.next >= END_TICK {
            return;
        }
        let offsets = offsets();
        while self.next <= to && self.next < END_TICK {
            control.put(self.next, "source", &offsets);
            self.next += self.interval;
        }
    }
}
