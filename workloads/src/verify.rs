//! Verification of a whole run: the part every workload shares. A [`Judge`] checks that each
//! partition was read to where the spec says it ends (when that is known in advance) and knows
//! exactly the offset ranges the run read, so a workload regenerates them, computes its oracle
//! over them and compares the outputs (see each workload's `verify`).

use std::collections::BTreeMap;

use crate::contract::report::RunReport;
use crate::contract::spec::{RunSpec, Source};
use crate::verdict::Verdict;

/// How a running count reports: every update once (a native keyed count), or snapshots of the
/// totals that may repeat (`update_state_by_key`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Running {
    /// Every update `(word, 1..=total)` exactly once.
    EveryUpdate,
    /// Prefix counts, possibly repeated; each word's largest equals its total.
    Snapshots,
}

/// A run under judgement: its spec, its report, and the offset ranges it read.
pub struct Judge<'a> {
    /// The run's spec.
    pub spec: &'a RunSpec,
    /// What the run observed.
    pub report: &'a RunReport,
    /// How its running counts report.
    pub running: Running,
    ends: Vec<u64>,
    /// Per partition, the micro-batch batches' arrival runs and the native engine's ingestion
    /// runs, `(end offset, time)`, in the events' offsets (see [`Judge::new`]).
    batches: BTreeMap<u32, Vec<(u64, u64)>>,
    ingestion: BTreeMap<u32, Vec<(u64, u64)>>,
}

impl<'a> Judge<'a> {
    /// A judge of `report`, or the failed verdict when the run read other input than its spec
    /// offers (input lost or invented) or reported generated records malformed.
    ///
    /// A socket's events are the sender's well-formed lines: the lines the run skipped
    /// (malformed or blank, `report.skipped_lines`) are taken out of its offsets, so that the
    /// `i`-th event read is judged as the generator's `i`-th.
    pub fn new(spec: &'a RunSpec, report: &'a RunReport, running: Running) -> Result<Self, Verdict> {
        if report.malformed > 0 && spec.source == Source::Generator {
            return Err(Verdict::failed(0, format!("{} generated records were reported malformed", report.malformed)));
        }
        let partitions = spec.partitions();
        let mut ends = Vec::with_capacity(partitions as usize);
        for p in 0..partitions {
            let read = report.partition_ends.get(&p).copied().unwrap_or(0);
            // A socket run reads whatever the sender sent; a generator run must read what it offers.
            if let Some(expected) = spec.partition_end(p).filter(|_| spec.source == Source::Generator) {
                if read != expected {
                    return Err(Verdict::failed(
                        0,
                        format!("partition {p} was read to offset {read}, but the run offers {expected} events: input lost or invented"),
                    ));
                }
            }
            ends.push(read);
        }
        let events = Renumber::new(&report.skipped_lines);
        ends.iter_mut().for_each(|e| *e = events.before(*e));
        let renumber = |runs: &BTreeMap<u32, Vec<(u64, u64)>>| -> BTreeMap<u32, Vec<(u64, u64)>> {
            runs.iter().map(|(&p, a)| (p, a.iter().map(|&(end, t)| (events.before(end), t)).collect())).collect()
        };
        let (batches, ingestion) = (renumber(&report.microbatch.arrivals), renumber(&report.native.ingestion));
        Ok(Self { spec, report, running, ends, batches, ingestion })
    }

    /// Per partition, the micro-batch batches' arrival runs, `(end offset, batch time)`, in the
    /// events' offsets.
    pub fn batch_arrivals(&self) -> &BTreeMap<u32, Vec<(u64, u64)>> {
        &self.batches
    }

    /// Every `(partition, offset)` the run read.
    pub fn coords(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.ends.iter().enumerate().flat_map(|(p, &end)| (0..end).map(move |i| (p as u32, i)))
    }

    /// `f(p, offsets)` over every range of offsets the run read, split into pieces run on every
    /// core; the results in no particular order (for oracles whose parts merge in any order).
    pub fn par_ranges<R: Send>(&self, f: impl Fn(u32, std::ops::Range<u64>) -> R + Sync) -> Vec<R> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        // A few pieces per thread, so that uneven partitions still keep every core busy.
        let total: u64 = self.ends.iter().sum();
        self.par_pieces(total.div_ceil(4 * threads as u64).max(1), f)
    }

    fn par_pieces<R: Send>(&self, piece: u64, f: impl Fn(u32, std::ops::Range<u64>) -> R + Sync) -> Vec<R> {
        let pieces: Vec<(u32, std::ops::Range<u64>)> = self
            .ends
            .iter()
            .enumerate()
            .flat_map(|(p, &end)| {
                (0..end.max(1))
                    .step_by(piece.min(usize::MAX as u64) as usize)
                    .map(move |s| (p as u32, s..s.saturating_add(piece).min(end)))
            })
            .collect();
        par_map(&pieces, |(p, r)| f(*p, r.clone()))
    }

    /// The offset each partition was read to.
    pub fn ends(&self) -> &[u64] {
        &self.ends
    }

    /// Whether the events came from a socket (in one stream, in global order).
    pub fn from_socket(&self) -> bool {
        matches!(self.spec.source, Source::Socket(_))
    }

    /// Whether windows hold what arrived (micro-batch: in their batches; native socket runs: by
    /// when each line was read), not what the events' times say.
    pub fn by_arrival(&self) -> bool {
        !self.report.microbatch.arrivals.is_empty() || !self.report.native.ingestion.is_empty()
    }

    /// Partition `p`'s arrival runs, `(end offset, time)`, and what to subtract from a run's time
    /// for the time its events are filed under (a batch's interval: an event read by the batch
    /// at `t` counts as of `t - interval`; nothing for a read stamp).
    fn arrivals(&self, p: u32) -> Option<(&[(u64, u64)], u64)> {
        let batches = self.batches.get(&p).map(|a| (&a[..], self.spec.microbatch.batch_interval_ns));
        batches.or_else(|| self.ingestion.get(&p).map(|a| (&a[..], 0)))
    }

    /// Whether the times [`Judge::window_time`] files partition `p`'s events `..end` under
    /// (`arrival`), or their event times, never decrease along the offsets, so that a window's
    /// events are a run of offsets: arrival times that never go back and cover the range, or
    /// event times without disorder.
    pub fn times_monotone(&self, p: u32, arrival: bool, end: u64) -> bool {
        match self.arrivals(p).filter(|_| arrival) {
            None => self.spec.disorder_ns == 0,
            Some((a, _)) => a.windows(2).all(|w| w[0].1 <= w[1].1) && a.last().is_some_and(|last| last.0 >= end),
        }
    }

    /// The time a window job files event `(p, i)` under: its event time, or, when windows are by
    /// arrival, when it arrived (see [`Judge::arrivals`]).
    pub fn window_time(&self, p: u32, i: u64, event_time: u64) -> u64 {
        match self.arrivals(p) {
            None => event_time,
            Some((a, before)) => {
                let at = a.partition_point(|(end, _)| *end <= i);
                a.get(at).map(|(_, t)| t.saturating_sub(before)).unwrap_or(event_time)
            }
        }
    }

    /// Judges window results: `check(true)` compares them with the oracle over
    /// [`Judge::window_time`]s; when windows are by arrival, the verdict (whose semantics are then
    /// arrival time) also says how they compare with the event-time oracle, `check(false)`, and
    /// carries that comparison's accuracy.
    pub fn windows(&self, check: impl Fn(bool) -> Verdict) -> Verdict {
        self.windows_in_one_pass(|both| (check(true), both.then(|| check(false))), |v| v.clone())
    }

    /// [`Judge::windows`] for an oracle that makes both expectations in one pass over the
    /// events: `expected(both)` gives the expectation over [`Judge::window_time`]s and, when
    /// `both` (windows by arrival), the event-time one; `compare` judges the outputs against one.
    pub fn windows_in_one_pass<E>(
        &self,
        expected: impl FnOnce(bool) -> (E, Option<E>),
        compare: impl Fn(&E) -> Verdict,
    ) -> Verdict {
        let both = self.by_arrival();
        let (first, event_time) = expected(both);
        let verdict = compare(&first);
        match event_time.filter(|_| both) {
            Some(e) => crate::verdict::note_event_time(verdict, &compare(&e)),
            None => verdict,
        }
    }
}

/// A socket stream's offsets renumbered without the lines that were no event.
struct Renumber {
    /// The skipped ranges, each with the lines skipped before it.
    runs: Vec<(u64, u64, u64)>,
}

impl Renumber {
    fn new(skipped: &[(u64, u64)]) -> Self {
        let mut before = 0;
        let runs = skipped
            .iter()
            .map(|&(s, e)| {
                let r = (s, e, before);
                before += e - s;
                r
            })
            .collect();
        Self { runs }
    }

    /// The events before stream offset `offset`.
    fn before(&self, offset: u64) -> u64 {
        let at = self.runs.partition_point(|r| r.0 < offset);
        match at.checked_sub(1).map(|i| self.runs[i]) {
            None => offset,
            Some((s, e, before)) => offset - before - (e.min(offset) - s),
        }
    }
}

/// `f` over every item, on every core (each thread takes the next item as it finishes one); the
/// results in no particular order.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(items.len()).max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(k) else { return out };
                        out.push(f(item));
                    }
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("a verification thread panicked")).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::report::skip_line;

    #[test]
    fn skipped_lines_are_taken_out_of_the_events_numbering() {
        // Lines 3, 4 and 9 of a socket stream were no event (line 4 reported twice, by a batch
        // run again, and out of order).
        let mut skipped = Vec::new();
        for offset in [3, 4, 9, 4] {
            skip_line(&mut skipped, offset);
        }
        assert_eq!(skipped, [(3, 5), (9, 10)]);
        let events = Renumber::new(&skipped);
        let before: Vec<u64> = (0..=12).map(|o| events.before(o)).collect();
        assert_eq!(before, [0, 1, 2, 3, 3, 3, 4, 5, 6, 7, 7, 8, 9]);
        assert_eq!(Renumber::new(&[]).before(7), 7);
    }
}
