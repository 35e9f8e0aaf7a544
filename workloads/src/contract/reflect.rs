//! Input latency, one sample per input record: from its reference (its scheduled time, or when the
//! source read it in a closed loop) until the first output reflecting it was emitted. An engine
//! says what its source read (`read`) and how far its outputs have come (`reflect`); the arithmetic
//! is here, the same for both engines.
//!
//! Each read range carries a *key*: the output time at which its inputs are first reflected (the
//! native engine: the timely timestamp the records travel at, or, for event-time windows, the end
//! of the first window containing each input; the micro-batch engine: the batch whose output first
//! contains them). `reflect(frontier)` says every output with a key below `frontier` has been
//! emitted: the inputs with such keys are reflected now.

use std::collections::{BTreeMap, VecDeque};

use crate::schedule::Schedule;

/// A range of one partition's inputs waiting for its first output.
#[derive(Clone, Copy, Debug)]
struct Segment {
    from: u64,
    to: u64,
    read_ns: u64,
    key_ns: u64,
}

/// The inputs of one worker that no output reflects yet.
#[derive(Clone, Debug, Default)]
pub(crate) struct Reflections {
    /// Open loop: an input's reference is its due time. `None` (at `max`, or a socket): the time
    /// its source read it.
    due: Option<Schedule>,
    /// The nominal schedule, for event-time window keys (`None` for a socket: its events' time is
    /// their arrival).
    nominal: Option<Schedule>,
    /// Keys are the ends of event-time windows sliding by this (set by an engine whose windows
    /// close on event time).
    window_slide_ns: Option<u64>,
    pending: BTreeMap<u32, VecDeque<Segment>>,
    /// Per partition, the end of everything read so far: a range read again (a replay after a
    /// restore) is sampled once, when it was first read.
    read_to: BTreeMap<u32, u64>,
    /// In a closed loop, when the source first read past each nominal time: `(nominal ns, read
    /// ns)`, both increasing.
    clock: Vec<(u64, u64)>,
}

impl Reflections {
    /// Reflections of a run on `schedule` (`None`: a socket); `open_loop` when inputs come due on
    /// it.
    pub(crate) fn new(schedule: Option<Schedule>, open_loop: bool) -> Self {
        Self {
            due: schedule.clone().filter(|_| open_loop),
            nominal: schedule,
            window_slide_ns: None,
            pending: BTreeMap::new(),
            read_to: BTreeMap::new(),
            clock: Vec::new(),
        }
    }

    /// Keys become the end of the first event-time window of `slide_ns` that contains each input.
    pub(crate) fn key_by_windows(&mut self, slide_ns: Option<u64>) {
        self.window_slide_ns = slide_ns.filter(|s| *s > 0);
    }

    /// The slide of the event-time windows inputs are keyed by, if they are.
    pub(crate) fn window_slide(&self) -> Option<u64> {
        self.window_slide_ns
    }

    /// Inputs `[from, to)` of partition `p`, read at `read_ns`, first reflected by outputs at
    /// `key_ns` (ignored with event-time window keys). What was read before is not read again.
    #[inline]
    pub(crate) fn read(&mut self, p: u32, from: u64, to: u64, read_ns: u64, key_ns: u64) {
        let read_to = self.read_to.entry(p).or_insert(0);
        let from = from.max(*read_to);
        if to <= from {
            return;
        }
        *read_to = to;
        if let (None, Some(s)) = (&self.due, &self.nominal) {
            let nominal = s.nominal_time(p, to - 1);
            if self.clock.last().is_none_or(|l| nominal > l.0) {
                self.clock.push((nominal, read_ns));
            }
        }
        let queue = self.pending.entry(p).or_default();
        // Consecutive reads with one key and one reference are one segment.
        if let Some(last) = queue.back_mut() {
            if last.to == from && last.key_ns == key_ns && (last.read_ns == read_ns || self.due.is_some()) {
                last.to = to;
                return;
            }
        }
        queue.push_back(Segment { from, to, read_ns, key_ns });
    }

    /// Every output keyed below `frontier_ns` has been emitted (`u64::MAX`: every output) by
    /// `now_ns`: calls `sample(reference_ns, n)` for the inputs that reflects, oldest first.
    pub(crate) fn reflect(&mut self, frontier_ns: u64, now_ns: u64, mut sample: impl FnMut(u64, u64)) {
        for (&p, queue) in self.pending.iter_mut() {
            while let Some(seg) = queue.front_mut() {
                let end = match self.window_slide_ns {
                    _ if frontier_ns == u64::MAX => seg.to,
                    None => {
                        if seg.key_ns < frontier_ns {
                            seg.to
                        } else {
                            break;
                        }
                    }
                    // The inputs whose window ends below the frontier: those before the last
                    // window boundary below it.
                    Some(slide) => {
                        let boundary = (frontier_ns - 1) / slide * slide;
                        let key = |t: u64| (t / slide + 1) * slide;
                        match &self.nominal {
                            Some(s) => s.events_before(p, boundary).clamp(seg.from, seg.to),
                            None if key(seg.read_ns) < frontier_ns => seg.to,
                            None => break,
                        }
                    }
                };
                if end > seg.from {
                    record(&self.due, p, (seg.from, end), seg.read_ns, now_ns, &mut sample);
                    seg.from = end;
                }
                if seg.from < seg.to {
                    break;
                }
                queue.pop_front();
            }
        }
    }

    /// The wall-clock reference of an output whose event-time reference is `event_ns` (a
    /// window's end): itself on a schedule; in a closed loop, when this worker's source first read
    /// an input at or past it (or its last read, when its input ended before it).
    pub(crate) fn wall_reference(&self, event_ns: u64) -> u64 {
        if self.due.is_some() || self.nominal.is_none() {
            return event_ns;
        }
        let i = self.clock.partition_point(|c| c.0 < event_ns);
        self.clock.get(i).or(self.clock.last()).map_or(event_ns, |c| c.1)
    }

    /// Inputs read that no output reflects yet.
    pub(crate) fn in_flight(&self) -> u64 {
        self.pending.values().flatten().map(|s| s.to - s.from).sum()
    }
}

/// Inputs due within one slot share one sample, referenced at the first of them. A slot is at
/// least this many ns (50 µs, a twentieth of the native engine's millisecond target) and at
/// most [`REFERENCE_SLOT_MAX_NS`], and otherwise 1/128 of the latency being sampled: a sample
/// overstates an input's latency by less than 50 µs or 0.8 %, and a partition records at most
/// 20,000 samples a second, far fewer when its latencies are long.
pub(crate) const REFERENCE_SLOT_NS: u64 = 50_000;

/// The widest slot of inputs sampled together (1 ms).
pub(crate) const REFERENCE_SLOT_MAX_NS: u64 = 1_000_000;

/// Samples for inputs `[from, to)` of partition `p` reflected at `now_ns`: each by its due time,
/// grouped by the slot it was due in (see [`REFERENCE_SLOT_NS`]), or all at `read_ns` in a
/// closed loop.
fn record(
    due: &Option<Schedule>,
    p: u32,
    span: (u64, u64),
    read_ns: u64,
    now_ns: u64,
    sample: &mut impl FnMut(u64, u64),
) {
    let (from, to) = span;
    let Some(schedule) = due else {
        sample(read_ns, to - from);
        return;
    };
    let mut i = from;
    while i < to {
        let at = schedule.due(p, i).unwrap_or(read_ns);
        let slot = (now_ns.saturating_sub(at) / 128).clamp(REFERENCE_SLOT_NS, REFERENCE_SLOT_MAX_NS);
        let slot_end = (at / slot + 1) * slot;
        let next = schedule.events_before(p, slot_end).clamp(i + 1, to);
        sample(at, next - i);
        i = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Profile;

    fn samples(r: &mut Reflections, frontier: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        r.reflect(frontier, frontier, |t, n| out.push((t, n)));
        out
    }

    #[test]
    fn closed_loop_inputs_wait_for_their_key() {
        let mut r = Reflections::new(None, false);
        r.read(0, 0, 10, 5, 100);
        r.read(0, 10, 25, 7, 200);
        r.read(1, 0, 3, 8, 100);
        assert!(samples(&mut r, 100).is_empty());
        assert_eq!(samples(&mut r, 101), vec![(5, 10), (8, 3)]);
        assert_eq!(r.in_flight(), 15);
        assert_eq!(samples(&mut r, u64::MAX), vec![(7, 15)]);
        assert_eq!(r.in_flight(), 0);
        // A replay reads again what was read before: only what is new is sampled.
        r.read(0, 20, 30, 9, 300);
        assert_eq!(samples(&mut r, u64::MAX), vec![(9, 5)]);
    }

    #[test]
    fn open_loop_inputs_are_sampled_at_their_due_time() {
        // 1,000 events/s on one partition: event i is due at i ms.
        let s = Schedule::new(Profile::Constant { rate: 1000.0 }, 1, 0, 1).unwrap();
        let mut r = Reflections::new(Some(s), true);
        r.read(0, 0, 3, 99, 5_000_000);
        let got = samples(&mut r, 5_000_001);
        assert_eq!(got, vec![(0, 1), (1_000_000, 1), (2_000_000, 1)]);
    }

    #[test]
    fn inputs_due_within_a_millisecond_are_sampled_within_a_slot_of_their_due_time() {
        // 100,000 events/s on one partition: event i is due at 10 µs x i, five to a slot.
        let s = Schedule::new(Profile::Constant { rate: 100_000.0 }, 1, 0, 1).unwrap();
        let mut r = Reflections::new(Some(s.clone()), true);
        r.read(0, 0, 100, 99, 1_000_000);
        let got = samples(&mut r, 1_000_001);
        assert_eq!(got.iter().map(|g| g.1).sum::<u64>(), 100);
        assert_eq!(got.len(), 20);
        // Every input's sample is referenced at most a slot before its due time, never after it.
        let mut i = 0;
        for (reference, n) in got {
            for k in i..i + n {
                let due = s.due(0, k).unwrap();
                assert!(
                    reference <= due && due - reference < REFERENCE_SLOT_NS,
                    "input {k} due {due} sampled at {reference}"
                );
            }
            i += n;
        }
        // Reflected a second after they were due, the same inputs make one sample a millisecond.
        let mut r = Reflections::new(Some(s), true);
        r.read(0, 0, 100, 99, 1_000_000);
        let mut got = Vec::new();
        r.reflect(1_000_001, 1_000_000_000, |t, n| got.push((t, n)));
        assert_eq!(got, vec![(0, 100)]);
    }

    #[test]
    fn closed_loop_window_ends_map_to_when_the_source_read_past_them() {
        let s = Schedule::new(Profile::Max { nominal: 1000.0 }, 1, 0, 1).unwrap();
        let mut r = Reflections::new(Some(s), false);
        // Events 0..10 (nominal 0..9 ms) read at 50 µs, 10..20 at 70 µs.
        r.read(0, 0, 10, 50_000, 0);
        r.read(0, 10, 20, 70_000, 0);
        assert_eq!(r.wall_reference(5_000_000), 50_000);
        assert_eq!(r.wall_reference(10_000_000), 70_000);
        assert_eq!(r.wall_reference(60_000_000), 70_000, "past the input's end: the last read");
        let open = Reflections::new(Some(Schedule::new(Profile::Constant { rate: 1000.0 }, 1, 0, 1).unwrap()), true);
        assert_eq!(open.wall_reference(5_000_000), 5_000_000);
    }

    #[test]
    fn event_time_windows_reflect_inputs_once_their_window_has_closed() {
        // 1,000 events/s: windows of 10 ms hold 10 events each.
        let s = Schedule::new(Profile::Max { nominal: 1000.0 }, 1, 0, 1).unwrap();
        let mut r = Reflections::new(Some(s), false);
        r.key_by_windows(Some(10_000_000));
        r.read(0, 0, 25, 3, 0);
        // The frontier at 10 ms: the window [0, 10 ms) is out, the next is not.
        assert_eq!(samples(&mut r, 10_000_000), Vec::<(u64, u64)>::new());
        assert_eq!(samples(&mut r, 10_000_001), vec![(3, 10)]);
        assert_eq!(samples(&mut r, 25_000_000), vec![(3, 10)]);
        assert_eq!(r.in_flight(), 5);
    }
}
