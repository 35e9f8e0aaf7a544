//! `Checkpoints`: the checkpoint coordinator, Flink's `CheckpointCoordinator` on timely. Worker
//! 0 names an epoch once per checkpoint interval of wall time; every worker hears of it through
//! a broadcast, and its sources and stateful operators snapshot there (`snapshot`).
//!
//! The coordinator holds a capability a margin ahead of the data (of the outputs' frontier, and
//! at a fixed rate of the wall clock, which event time follows) and announces an epoch by sending
//! its current time: an epoch `E` is sent at time `E`, so once a worker's announcements frontier
//! has passed a time every epoch before it has arrived there (`snapshot::epochs`). Its input is
//! not connected to the data: holding it back holds no window open, and its only cost on the
//! data's way is that a source goes no further than the announcements reach.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::{ProbeHandle, Scope};
use workloads::{Recorder, RunSpec};

use crate::snapshot::Control;
use crate::time::{END_TICK, TICK_NS};

/// When the coordinator names epochs and where it holds its capability.
#[derive(Clone, Debug, PartialEq)]
pub struct Cadence {
    interval_ns: u64,
    /// The next announcement is due at this wall time (ns from the start of the run).
    due_ns: u64,
    /// How far ahead of the data the capability is held (ticks).
    margin: u64,
    /// At a fixed rate: event time follows the wall clock, so the capability stays ahead of it.
    open_loop: bool,
    /// No epoch at or before this (the restored one).
    floor: u64,
}

/// What the coordinator does in one activation.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// Go on holding the capability.
    Hold {
        /// An epoch to announce first, at the capability's time.
        announce: Option<u64>,
        /// Where to hold the capability then.
        hold: u64,
    },
    /// The data has ended: drop the capability.
    Done,
}

impl Cadence {
    /// The cadence of `spec`'s checkpoints for a dataflow starting at `now_ns` after restoring
    /// epoch `restored` (0: the start).
    pub fn new(spec: &RunSpec, interval_ns: u64, now_ns: u64, restored: u64) -> Self {
        let lead = (spec.native.max_lead_ns / TICK_NS).max(1);
        let open_loop = !spec.schedule().profile().is_max();
        // At `max` a source runs up to its lead ahead of the outputs; at a fixed rate it is at the
        // wall clock, give or take the gaps between events.
        let margin = if open_loop { (lead / 2).max(4) } else { 2 * lead };
        Self {
            interval_ns,
            due_ns: (now_ns / interval_ns + 1).saturating_mul(interval_ns),
            margin,
            open_loop,
            floor: restored,
        }
    }

    /// The coordinator at time `cap` (ticks) sees the outputs at `outputs` (`None`: done) at wall
    /// time `now_ns`.
    pub fn step(&mut self, cap: u64, outputs: Option<u64>, now_ns: u64) -> Step {
        let Some(outputs) = outputs.filter(|o| *o < END_TICK) else { return Step::Done };
        let mut hold = cap.max(self.floor + 1);
        let announce = (now_ns >= self.due_ns && cap > self.floor).then(|| {
            self.due_ns = (now_ns / self.interval_ns + 1).saturating_mul(self.interval_ns);
            hold = cap + 1;
            cap
        });
        let clock = if self.open_loop { now_ns / TICK_NS } else { 0 };
        let ahead = outputs.max(clock).max(self.floor) + self.margin;
        // Moved in steps, not at every activation: each move is progress traffic to every worker.
        if ahead >= hold + self.margin / 4 {
            hold = ahead;
        }
        Step::Hold { announce, hold: hold.min(END_TICK - 1) }
    }

    /// How long the coordinator may sleep at `now_ns`.
    pub fn sleep(&self, now_ns: u64) -> Duration {
        let poll = if self.open_loop { Duration::from_millis(2) } else { Duration::from_micros(200) };
        poll.min(Duration::from_nanos(self.due_ns.saturating_sub(now_ns)))
    }
}

/// Builds the coordinator (worker 0 announces, every worker listens) into `scope`, if the run
/// takes snapshots: `outputs` is the probe of the job's outputs.
pub fn coordinator(
    scope: Scope<'_, u64>,
    spec: &RunSpec,
    control: &Rc<Control>,
    recorder: &Rc<RefCell<Recorder>>,
    outputs: &ProbeHandle<u64>,
) {
    if !control.snapshots() {
        return;
    }
    let now = recorder.borrow().now_ns();
    let mut cadence = Cadence::new(spec, control.interval_ns(), now, control.restored_epoch());
    let (recorder, outputs) = (Rc::clone(recorder), outputs.clone());
    let announcements = source::<_, timely::container::CapacityContainerBuilder<Vec<u64>>, _, _>(
        scope,
        "Checkpoints",
        move |cap, info| {
            let activator = scope.activator_for(Rc::clone(&info.address));
            let mut cap = (scope.index() == 0).then_some(cap);
            move |output| {
                let Some(c) = cap.as_mut() else { return };
                let now = recorder.borrow().now_ns();
                let frontier = outputs.with_frontier(|f| f.first().copied());
                match cadence.step(*c.time(), frontier, now) {
                    Step::Done => cap = None,
                    Step::Hold { announce, hold } => {
                        if let Some(epoch) = announce {
                            output.session(&*c).give(epoch);
                        }
                        if hold > *c.time() {
                            c.downgrade(&hold);
                        }
                        activator.activate_after(cadence.sleep(now));
                    }
                }
            }
        },
    );
    let epochs = Rc::clone(control.epochs());
    announcements.broadcast().sink(Pipeline, "Epochs", move |(input, frontier)| {
        input.for_each(|_, data| data.drain(..).for_each(|e| epochs.announce(e)));
        epochs.complete_below(frontier.frontier().first().copied().unwrap_or(u64::MAX));
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use workloads::{JobSpec, Profile, Workload};

    const MS: u64 = 1_000_000;

    /// The tick of `ms` milliseconds.
    fn t(ms: u64) -> u64 {
        ms * MS / TICK_NS
    }

    fn cadence(profile: Profile, restored: u64) -> Cadence {
        let spec = RunSpec::new(JobSpec::default_for(Workload::Wordcount), profile, 10_000 * MS);
        Cadence::new(&spec, 1_000 * MS, 0, restored)
    }

    fn held(step: Step) -> (Option<u64>, u64) {
        match step {
            Step::Hold { announce, hold } => (announce, hold),
            Step::Done => panic!("done"),
        }
    }

    #[test]
    fn at_max_epochs_come_once_a_wall_interval_however_fast_event_time_runs() {
        let mut c = cadence(Profile::Max { nominal: 1e6 }, 0);
        assert_eq!(held(c.step(0, Some(0), 0)), (None, t(200)), "held ahead of the outputs");
        // Small moves of the outputs do not move it (each move is progress traffic).
        assert_eq!(held(c.step(t(200), Some(t(40)), MS)), (None, t(200)));
        // The data keeps up with the capability, 3 s of wall time in steps of 1 ms.
        let (mut cap, mut epochs) = (t(200), Vec::new());
        for ms in 2..=3_000 {
            let (announce, hold) = held(c.step(cap, Some(cap - t(10)), ms * MS));
            epochs.extend(announce);
            assert!(hold > cap || (announce.is_none() && hold == cap));
            cap = hold;
        }
        // Event time ran on far past 3 s; one epoch each wall second, at the time then held.
        assert!(cap > t(100_000), "{cap}");
        assert_eq!(epochs.len(), 3, "{epochs:?}");
        assert!(epochs.windows(2).all(|w| w[0] < w[1]));
        // The outputs past the end: the coordinator lets go.
        assert_eq!(c.step(cap, Some(END_TICK), 3_001 * MS), Step::Done);
        assert_eq!(c.step(cap, None, 3_001 * MS), Step::Done);
    }

    #[test]
    fn at_a_fixed_rate_the_capability_stays_ahead_of_the_clock_and_after_the_restored_epoch() {
        let mut c = cadence(Profile::Constant { rate: 1e4 }, t(3_000));
        // A restored dataflow starts past its epoch, whatever the outputs say.
        let (_, hold) = held(c.step(0, Some(0), 3_500 * MS));
        assert_eq!(hold, t(3_550));
        let (announce, hold) = held(c.step(hold, Some(t(3_900)), 4_000 * MS));
        assert_eq!((announce, hold), (Some(t(3_550)), t(4_050)));
        assert_eq!(c.sleep(4_000 * MS), Duration::from_millis(2));
        assert_eq!(c.sleep(4_999 * MS), Duration::from_millis(1));
    }
}
