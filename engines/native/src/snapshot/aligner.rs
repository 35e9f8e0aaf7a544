//! The aligned-input protocol every stateful operator follows, written once: an operator holds
//! back input at or after the next epoch until its frontier passes the epoch, emits nothing at
//! or after the epoch before its snapshot, writes its state, then goes on with what it held.

use timely::progress::frontier::AntichainRef;

use crate::time::END_TICK;

/// An operator's view of the epochs: the next snapshot it owes, and the input it holds back
/// until then (the alignment), each batch with its time and stamp `S`.
pub struct Aligner<D, S = ()> {
    interval: u64,
    next: u64,
    held: Vec<(u64, S, Vec<D>)>,
}

impl<D, S> Aligner<D, S> {
    /// A tracker of epochs every `interval` ticks, the first owed at `next`.
    pub(crate) fn new(interval: u64, next: u64) -> Self {
        Self { interval, next, held: Vec::new() }
    }

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

    /// One activation's epochs: for each epoch the frontier has passed, `snapshot(state, epoch)`
    /// (the operator emits what comes before the epoch and writes its part), then the held input
    /// before the next epoch is `process`ed; once the input has ended, everything held is.
    pub fn settle<St: ?Sized>(
        &mut self,
        frontier: AntichainRef<'_, u64>,
        state: &mut St,
        mut snapshot: impl FnMut(&mut St, u64),
        mut process: impl FnMut(&mut St, S, Vec<D>),
    ) {
        while let Some(epoch) = self.passed(frontier) {
            snapshot(state, epoch);
            for (stamp, data) in self.advance() {
                process(state, stamp, data);
            }
        }
        for (stamp, data) in self.release_if_ended(frontier) {
            process(state, stamp, data);
        }
    }
}
