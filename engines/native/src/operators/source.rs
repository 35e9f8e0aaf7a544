//! `Source`: the generator's partitions spread over every worker of every process.
//!
//! A source emits each event as it comes due (open loop: it never waits for the engine, so a
//! slow engine shows as latency measured from the scheduled time) or, at `max`, as fast as the
//! dataflow drains, with a bounded lead over the output probe (timely has no backpressure of its
//! own). Records travel at the source's *watermark* time: the smallest event time any of its
//! partitions can still produce (the next event's nominal time less the disorder bound), in
//! ticks of [`TICK_NS`]. Every record's event time is at or above the timestamp it travels at,
//! so a window `[.., e)` is complete once the frontier reaches `e`.
//!
//! With snapshots on, a source records its offsets (its `source` part) each time its capability
//! passes an epoch and starts a restored dataflow from them. It moves its capability only as far
//! as the epochs announced so far reach (`snapshot::epochs`): past that it could pass an epoch it
//! has not heard of, so it goes on reading at the time it holds until the announcements catch
//! up. A source also injects the run's
//! `kill-worker` faults: when one comes due it stops and tells the worker, which drops the
//! dataflow and restores. So that every worker sees the fault before its dataflow can end, a
//! source whose input has ended holds its capability at [`END_TICK`] until the last fault.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use timely::container::{Accountable, CapacityContainerBuilder};
use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::operators::Capability;
use timely::dataflow::{ProbeHandle, Scope, Stream};
use timely::order::PartialOrder;
use timely::scheduling::Activator;
use workloads::{Recorder, RunSpec, Schedule};

use crate::operators::keys::Batch;
use crate::snapshot::Control;
use crate::time::{CHUNK, END_TICK, SOURCE_BATCH, SOURCE_PAUSE_NS, TICK_NS};

/// Which partitions a worker reads and where each ends.
#[derive(Clone, Debug)]
pub struct Plan {
    schedule: Schedule,
    /// `(partition, end offset)`, `None` when the end is the duration at `max`.
    partitions: Vec<(u32, Option<u64>)>,
    duration_ns: u64,
    /// At `max`, how far (in ticks) a source may run ahead of the output probe.
    max_lead_ticks: u64,
}

impl Plan {
    /// The partitions of `spec` that worker `index` of `peers` reads.
    pub fn new(spec: &RunSpec, index: usize, peers: usize) -> Self {
        let partitions = (0..spec.partitions())
            .filter(|p| *p as usize % peers == index)
            .map(|p| (p, spec.partition_end(p)))
            .collect();
        Self {
            schedule: spec.schedule(),
            partitions,
            duration_ns: spec.duration_ns,
            max_lead_ticks: (spec.native.max_lead_ns / TICK_NS).max(1),
        }
    }
}

/// How soon a source held back by the epochs not yet announced looks again (ns).
const WAIT_FOR_EPOCHS_NS: u64 = 1_000_000;

struct Cursor {
    partition: u32,
    next: u64,
    end: Option<u64>,
    done: bool,
}

/// A source of records made from the generator's events: `produce(p, i, due_ns, out)` turns
/// event `i` of partition `p` (due at `due_ns`, or pulled then at `max`) into records. It starts
/// from the offsets of the snapshot `control` restored, if any.
pub fn generator<'s, C, F>(
    scope: Scope<'s, u64>,
    name: &str,
    plan: Plan,
    recorder: Rc<RefCell<Recorder>>,
    probe: ProbeHandle<u64>,
    control: Rc<Control>,
    produce: F,
) -> Stream<'s, u64, C>
where
    C: Batch,
    F: FnMut(u32, u64, u64, &mut C) + 'static,
{
    control.register("source");
    source::<_, CapacityContainerBuilder<C>, _, _>(scope, name, move |mut capability, info| {
        let activator = scope.activator_for(Rc::clone(&info.address));
        let mut state = Generator::new(plan, recorder, probe, control, produce);
        // A restored source resumes at its watermark, not at time 0.
        if let Some(w) = state.reachable().filter(|w| w > capability.time()) {
            state.cross(w);
            capability.downgrade(&w);
        }
        let mut capability = Some(capability);
        move |output| {
            let Some(cap) = capability.as_mut() else { return };
            let now = state.recorder.borrow().now_ns();
            // A chunk goes downstream whole (record by record, each would be copied once more
            // into the output's own buffers); the next one gets room for a chunk and the records
            // of the event that fills it.
            let mut emit = |buffer: &mut C| {
                output.session(&*cap).give_container(buffer);
                buffer.refill(2 * CHUNK);
            };
            // A fault came due: the worker had read what was due by then (so a stalled worker
            // still loses the same input), then stops here and restores.
            if let Some(at) = state.control.pending_kill().filter(|&at| now >= at) {
                state.read(at, *cap.time(), &mut emit);
                state.control.fire();
                return;
            }
            let read = state.read(now, *cap.time(), &mut emit);
            if !state.finish_or_advance(cap, now, read, &activator) {
                capability = None;
            }
        }
    })
}

/// What one activation read.
struct Read {
    /// More is due now than one activation reads.
    more_now: bool,
    /// The earliest time an unread event comes due.
    next_due: u64,
    /// At `max`: held back by the lead over the probe.
    blocked: bool,
}

/// A generator source's state between activations.
struct Generator<C, F> {
    plan: Plan,
    recorder: Rc<RefCell<Recorder>>,
    probe: ProbeHandle<u64>,
    control: Rc<Control>,
    produce: F,
    cursors: Vec<Cursor>,
    /// The next epoch this source owes offsets for (an index into the announced epochs).
    epoch: usize,
    finished: bool,
    buffer: C,
}

impl<C: Batch, F: FnMut(u32, u64, u64, &mut C)> Generator<C, F> {
    fn new(
        plan: Plan,
        recorder: Rc<RefCell<Recorder>>,
        probe: ProbeHandle<u64>,
        control: Rc<Control>,
        produce: F,
    ) -> Self {
        let restored: Vec<(u32, u64)> = control.part("source").unwrap_or_default();
        let cursors = plan
            .partitions
            .iter()
            .map(|&(partition, end)| {
                let next = restored.iter().find(|r| r.0 == partition).map_or(0, |r| r.1);
                Cursor { partition, next, end, done: end.is_some_and(|e| next >= e) }
            })
            .collect();
        Self { plan, recorder, probe, control, produce, cursors, epoch: 0, finished: false, buffer: C::default() }
    }

    /// The watermark: the least event time (ticks) any partition can still produce.
    fn watermark(&self) -> Option<u64> {
        let disorder = self.plan.schedule.disorder_ns();
        self.cursors
            .iter()
            .filter(|c| !c.done)
            .map(|c| self.plan.schedule.nominal_time(c.partition, c.next).saturating_sub(disorder) / TICK_NS)
            .min()
    }

    /// How far the capability may move: to the watermark, but not to a time whose epochs are not
    /// all known yet.
    fn reachable(&self) -> Option<u64> {
        self.watermark().map(|w| self.reach(w))
    }

    /// How far towards `w` the capability may move: short of the first time whose epochs are
    /// not all known yet.
    #[inline]
    fn reach(&self, w: u64) -> u64 {
        w.min(self.control.epochs().bound().saturating_sub(1))
    }

    fn offsets(&self) -> Vec<(u32, u64)> {
        self.cursors.iter().map(|c| (c.partition, c.next)).collect()
    }

    /// The capability moves to `to`: the offsets now are the source's part of every epoch passed
    /// (read only when one is).
    #[inline]
    fn cross(&mut self, to: u64) {
        let epochs = self.control.epochs();
        if epochs.get(self.epoch).is_none_or(|e| e > to) {
            return;
        }
        let offsets = self.offsets();
        while let Some(e) = epochs.get(self.epoch).filter(|e| *e <= to) {
            self.control.put(e, "source", &offsets);
            self.epoch += 1;
        }
    }

    /// Reads what is due at `now` from every partition (at most a batch each), emitting records
    /// through `emit` in chunks.
    fn read(&mut self, now: u64, at: u64, emit: &mut impl FnMut(&mut C)) -> Read {
        let schedule = &self.plan.schedule;
        let max = schedule.profile().is_max();
        let lead = self.plan.max_lead_ticks;
        let blocked = max && self.probe.with_frontier(|f| f.first().is_some_and(|t| at.saturating_sub(*t) > lead));
        let (mut fresh, mut more_now, mut next_due) = (0u64, false, u64::MAX);
        let mut recorder = self.recorder.borrow_mut();
        for c in self.cursors.iter_mut().filter(|c| !c.done) {
            if max && now >= self.plan.duration_ns && c.end.is_none() {
                c.end = Some(c.next);
            }
            let start = c.next;
            let limit = c.next + SOURCE_BATCH;
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
                (self.produce)(c.partition, c.next, due, &mut self.buffer);
                c.next += 1;
                if self.buffer.record_count() >= CHUNK as i64 {
                    emit(&mut self.buffer);
                }
            }
            if c.next > start {
                fresh += self.control.count(c.partition, start, c.next);
                // Reflected once the frontier passes the time they travel at.
                recorder.read(c.partition, start, c.next, now, at * TICK_NS);
            }
            if c.end.is_some_and(|e| c.next >= e) {
                c.done = true;
            } else if c.next == limit {
                more_now = true;
            }
        }
        if !Accountable::is_empty(&self.buffer) {
            emit(&mut self.buffer);
        }
        if fresh > 0 {
            recorder.inputs(fresh, now);
        }
        Read { more_now, next_due, blocked }
    }

    /// After a read: moves the capability to the watermark and schedules the next activation,
    /// or, once every partition is done, reports where each ended and holds at [`END_TICK`]
    /// until a pending fault. Returns false when the capability is to be dropped.
    fn finish_or_advance(&mut self, cap: &mut Capability<u64>, now: u64, read: Read, activator: &Activator) -> bool {
        let max = self.plan.schedule.profile().is_max();
        let Some(w) = self.watermark() else {
            if !self.finished {
                self.finished = true;
                let mut r = self.recorder.borrow_mut();
                for c in &self.cursors {
                    r.partition_end(c.partition, c.next);
                }
                self.control.put_final("source", &self.offsets());
            }
            // Hold on until the fault, so that every worker sees it.
            let Some(at) = self.control.pending_kill() else { return false };
            if *cap.time() < END_TICK {
                cap.downgrade(&END_TICK);
            }
            activator.activate_after(Duration::from_nanos(at.saturating_sub(now)));
            return true;
        };
        let to = self.reach(w);
        if cap.time().less_than(&to) {
            self.cross(to);
            cap.downgrade(&to);
        }
        // Held short of the watermark by the epochs not yet announced: look again soon.
        let waits = if to < w { WAIT_FOR_EPOCHS_NS } else { u64::MAX };
        let until_fault = self.control.pending_kill().map_or(u64::MAX, |at| at.saturating_sub(now));
        if read.more_now || (max && !read.blocked) {
            activator.activate();
        } else if max {
            activator.activate_after(Duration::from_micros(100));
        } else {
            activator.activate_after(pause(read.next_due, now, until_fault.min(waits)));
        }
        true
    }
}

/// How long an open-loop source sleeps at `now` when the next event is due at `next_due` and it
/// must look again within `within` ns (a fault, an epoch): until the event is due, but at least
/// [`SOURCE_PAUSE_NS`], so that the worker parks between reads (and the core is free for the
/// other worker) rather than waking for every event of a fast schedule.
fn pause(next_due: u64, now: u64, within: u64) -> Duration {
    Duration::from_nanos(next_due.saturating_sub(now).max(SOURCE_PAUSE_NS).min(within))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_sleeps_until_its_next_event_but_never_less_than_its_pause_nor_past_a_deadline() {
        let pause_ns = |next_due, now, within| pause(next_due, now, within).as_nanos() as u64;
        assert_eq!(pause_ns(1_000_000, 0, u64::MAX), 1_000_000, "an event due in 1 ms");
        assert_eq!(pause_ns(1_000, 0, u64::MAX), SOURCE_PAUSE_NS, "an event due in 1 µs waits for more");
        assert_eq!(pause_ns(0, 5, u64::MAX), SOURCE_PAUSE_NS, "an event already due");
        assert_eq!(pause_ns(1_000_000, 0, 20_000), 20_000, "a fault or an epoch sooner");
    }
}
