//! Sources: the generator's partitions spread over every worker of every process.
//!
//! A source emits each event as it comes due (open loop: it never waits for the engine, so a
//! slow engine shows as latency measured from the scheduled time) or, at `max`, as fast as the
//! dataflow drains, with a bounded lead over the output probe (timely has no backpressure of its
//! own). Records travel at the source's *watermark* time: the smallest event time any of its
//! partitions can still produce (the next event's nominal time less the disorder bound), in
//! ticks of [`TICK_NS`]. Every record's event time is at or above the timestamp it travels at,
//! so a window `[.., e)` is complete once the frontier reaches `e`.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::{ProbeHandle, Scope, Stream};
use timely::order::PartialOrder;
use workloads::{Recorder, RunSpec, Schedule};

/// The granularity of timely timestamps: event time in ns divided by this.
pub const TICK_NS: u64 = 1_000_000;

/// At most this many events per partition per activation (keeps operators responsive).
const BATCH: u64 = 8 * 1024;

/// Records are handed to the output in chunks of this many, so the staging buffer stays in cache.
const CHUNK: usize = 1024;

/// At `max`, how far (in ticks) a source may run ahead of the output probe.
const MAX_LEAD_TICKS: u64 = 100;

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
/// event `i` of partition `p` (due at `due_ns`, or pulled then at `max`) into records.
pub fn generator<'s, D, F>(
    scope: Scope<'s, u64>,
    name: &str,
    plan: Plan,
    recorder: Rc<RefCell<Recorder>>,
    probe: ProbeHandle<u64>,
    mut produce: F,
) -> Stream<'s, u64, Vec<D>>
where
    D: timely::ExchangeData,
    F: FnMut(u32, u64, u64, &mut Vec<D>) + 'static,
{
    source(scope, name, move |capability, info| {
        let activator = scope.activator_for(Rc::clone(&info.address));
        let mut capability = Some(capability);
        let schedule = plan.schedule.clone();
        let max = schedule.profile().is_max();
        let disorder = schedule.disorder_ns();
        let mut cursors: Vec<Cursor> = plan
            .partitions
            .iter()
            .map(|&(partition, end)| Cursor { partition, next: 0, end, done: end == Some(0) })
            .collect();
        let mut buffer: Vec<D> = Vec::new();
        move |output| {
            let Some(cap) = capability.as_mut() else { return };
            let now = recorder.borrow().now_ns();
            let mut emitted = 0u64;
            let mut more_now = false;
            let mut next_due = u64::MAX;
            let blocked = max
                && probe.with_frontier(|f| f.first().is_some_and(|t| cap.time().saturating_sub(*t) > MAX_LEAD_TICKS));
            for c in cursors.iter_mut().filter(|c| !c.done) {
                if max && now >= plan.duration_ns && c.end.is_none() {
                    c.end = Some(c.next);
                }
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
                    emitted += 1;
                    if buffer.len() >= CHUNK {
                        output.session(&*cap).give_iterator(buffer.drain(..));
                    }
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
            if emitted > 0 {
                recorder.borrow_mut().inputs(emitted, now);
            }
            // The watermark: the least event time any partition can still produce.
            let watermark = cursors
                .iter()
                .filter(|c| !c.done)
                .map(|c| schedule.nominal_time(c.partition, c.next).saturating_sub(disorder) / TICK_NS)
                .min();
            match watermark {
                None => {
                    let mut r = recorder.borrow_mut();
                    for c in &cursors {
                        r.partition_end(c.partition, c.next);
                    }
                    capability = None;
                }
                Some(w) => {
                    if cap.time().less_than(&w) {
                        cap.downgrade(&w);
                    }
                    if more_now || (max && !blocked) {
                        activator.activate();
                    } else if max {
                        activator.activate_after(Duration::from_micros(100));
                    } else {
                        activator.activate_after(Duration::from_nanos(next_due.saturating_sub(now)));
                    }
                }
            }
        }
    })
}
