//! The aligned-input protocol every stateful operator follows, written once: an operator holds
//! back input at or after the next epoch (or past the times whose epochs it knows of) until its
//! frontier passes the epoch, emits nothing at or after the epoch before its snapshot, writes
//! its state, then goes on with what it held.

use std::rc::Rc;

use timely::progress::frontier::AntichainRef;
use timely::scheduling::Activator;

use crate::operators::recycle::{give_back, Recycle};
use crate::snapshot::epochs::Epochs;
use crate::time::END_TICK;

/// An operator's view of the epochs: the next snapshot it owes (an index into the worker's
/// announced [`Epochs`]), and the input it holds back until then (the alignment), each batch
/// (a container `C`) with its time and stamp `S`. Input held at or past the bound of the known epochs waits for
/// the bound to move, which wakes the operator (`waker`).
pub struct Aligner<C, S = ()> {
    epochs: Rc<Epochs>,
    next: usize,
    held: Vec<(u64, S, C)>,
    waker: Activator,
    /// The bound's move count when the operator last asked to be woken.
    asked: Option<u64>,
}

impl<C: Default, S> Aligner<C, S> {
    /// A tracker of the epochs announced in `epochs`, owing a snapshot for each, for the
    /// operator that `waker` activates.
    pub(crate) fn new(epochs: Rc<Epochs>, waker: Activator) -> Self {
        Self { epochs, next: 0, held: Vec::new(), waker, asked: None }
    }

    /// Takes a batch of input at `time`: `process`es it now, or holds it back (with `stamp()`)
    /// until the snapshot of an earlier epoch is written. While anything is held, so is every
    /// later batch, so that the input is processed in the order it came (the epochs known may
    /// have grown since the held input came, and a detector's windows depend on the order).
    #[inline]
    pub fn admit(&mut self, time: u64, stamp: impl FnOnce() -> S, data: &mut C, process: impl FnOnce(&mut C)) {
        if !self.held.is_empty() || time >= self.epochs.limit(self.next) {
            self.held.push((time, stamp(), std::mem::take(data)));
        } else {
            process(data);
        }
    }

    /// The next epoch the frontier has passed (every input before it has arrived), if one is
    /// owed. The end of the input (an empty frontier, or a source holding at the end) is no
    /// epoch: see [`Aligner::settle`].
    pub fn passed(&self, frontier: AntichainRef<'_, u64>) -> Option<u64> {
        let next = self.epochs.get(self.next)?;
        (!Self::ended(frontier) && frontier.iter().all(|f| *f >= next)).then_some(next)
    }

    /// The held input that may now be processed: all of it once the input has ended, else what
    /// comes before the next epoch and the bound of the known ones.
    fn release(&mut self, frontier: AntichainRef<'_, u64>) -> Vec<(S, C)> {
        if self.held.is_empty() {
            return Vec::new();
        }
        let limit = if Self::ended(frontier) { u64::MAX } else { self.epochs.limit(self.next) };
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held).into_iter().partition(|h| h.0 < limit);
        self.held = later;
        now.into_iter().map(|(_, s, d)| (s, d)).collect()
    }

    fn ended(frontier: AntichainRef<'_, u64>) -> bool {
        frontier.iter().all(|f| *f >= END_TICK)
    }

    /// One activation's epochs: the held input that no longer waits is `process`ed; for each
    /// epoch the frontier has passed, `snapshot(state, epoch)` (the operator emits what comes
    /// before the epoch and writes its part), then the held input before the next one is
    /// processed; once the input has ended, everything held is.
    pub fn settle<St: ?Sized>(
        &mut self,
        frontier: AntichainRef<'_, u64>,
        state: &mut St,
        mut snapshot: impl FnMut(&mut St, u64),
        mut process: impl FnMut(&mut St, S, C),
    ) {
        loop {
            for (stamp, data) in self.release(frontier) {
                process(state, stamp, data);
            }
            let Some(epoch) = self.passed(frontier) else { break };
            snapshot(state, epoch);
            self.next += 1;
        }
        self.wait_for_the_bound();
    }

    /// When input is held only by the bound (no known epoch before it), asks to be woken when
    /// the bound moves: a worker may hear of the coordinator's move after its frontier changed.
    fn wait_for_the_bound(&mut self) {
        let bound = self.epochs.bound();
        let by_bound = self.epochs.get(self.next).is_none_or(|e| e > bound);
        let moves = self.epochs.moves();
        if by_bound && self.asked != Some(moves) && self.held.iter().any(|h| h.0 >= bound) {
            self.epochs.wake_when_the_bound_moves(&self.waker);
            self.asked = Some(moves);
        }
    }
}

impl<C: Recycle + Default, S> Aligner<C, S> {
    /// [`Aligner::admit`] of a container an exchange filled: once processed, it goes back to the
    /// worker's pool for the exchange to write into again (`operators::recycle`).
    #[inline]
    pub fn admit_exchanged(
        &mut self,
        time: u64,
        stamp: impl FnOnce() -> S,
        data: &mut C,
        process: impl FnOnce(&mut C),
    ) {
        self.admit(time, stamp, data, process);
        give_back(std::mem::take(data));
    }

    /// [`Aligner::settle`] of containers an exchange filled: each held one, once processed, goes
    /// back to the worker's pool.
    pub fn settle_exchanged<St: ?Sized>(
        &mut self,
        frontier: AntichainRef<'_, u64>,
        state: &mut St,
        snapshot: impl FnMut(&mut St, u64),
        mut process: impl FnMut(&mut St, S, &mut C),
    ) {
        self.settle(frontier, state, snapshot, |state, stamp, mut data| {
            process(state, stamp, &mut data);
            give_back(data);
        });
    }
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};

    use timely::progress::Antichain;
    use timely::scheduling::Activations;

    use super::*;

    /// An activator on `queue`, for an aligner under test.
    fn waker(queue: &Rc<RefCell<Activations>>) -> Activator {
        Activator::new(Rc::from(vec![3]), Rc::clone(queue))
    }

    /// Admits `batches` (time, value), then settles at `frontier`; returns what was processed,
    /// in order, and the snapshots taken.
    fn run(a: &mut Aligner<Vec<u32>>, batches: &[(u64, u32)], frontier: u64, out: &mut Vec<u32>) -> Vec<u64> {
        for &(time, v) in batches {
            a.admit(time, || (), &mut vec![v], |d| out.append(d));
        }
        let mut snapshots = Vec::new();
        a.settle(
            Antichain::from_elem(frontier).borrow(),
            out,
            |_, e| snapshots.push(e),
            |out, (), mut d| out.append(&mut d),
        );
        snapshots
    }

    #[test]
    fn input_is_processed_in_order_around_epochs_and_the_bound_of_the_known_ones() {
        let epochs = Rc::new(Epochs::after(0));
        epochs.complete_below(10);
        let mut a = Aligner::new(Rc::clone(&epochs), waker(&Rc::new(RefCell::new(Activations::new(None)))));
        let mut out = Vec::new();
        // Past the bound: held, though no epoch is known there yet.
        assert!(run(&mut a, &[(5, 1), (12, 2)], 5, &mut out).is_empty());
        assert_eq!(out, [1]);
        // The bound moves on: a later batch waits behind the held one, then both go, in order.
        epochs.complete_below(30);
        assert!(run(&mut a, &[(13, 3)], 12, &mut out).is_empty());
        assert_eq!(out, [1, 2, 3]);
        // Epoch 20 is named: input at 20 or later waits for its snapshot, which is taken once
        // the frontier has passed it, after everything before it.
        epochs.announce(20);
        assert!(run(&mut a, &[(19, 4), (21, 5)], 19, &mut out).is_empty());
        assert_eq!(out, [1, 2, 3, 4]);
        assert_eq!(run(&mut a, &[], 21, &mut out), [20]);
        assert_eq!(out, [1, 2, 3, 4, 5]);
        // The end of the input releases everything, whatever the bound.
        run(&mut a, &[(40, 6)], 25, &mut out);
        assert_eq!(out.len(), 5);
        run(&mut a, &[], END_TICK, &mut out);
        assert_eq!(out, [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn input_held_only_by_the_bound_wakes_its_operator_when_the_bound_moves() {
        let queue = Rc::new(RefCell::new(Activations::new(None)));
        // How many operators were activated since the last look.
        let woken = || {
            let mut q = queue.borrow_mut();
            q.advance();
            let n = Cell::new(0);
            q.map_active(|_| n.set(n.get() + 1));
            n.get()
        };
        let epochs = Rc::new(Epochs::after(0));
        epochs.complete_below(10);
        let mut a = Aligner::new(Rc::clone(&epochs), waker(&queue));
        let mut out = Vec::new();
        // Past the bound, with no epoch known before it: held until the bound moves.
        run(&mut a, &[(12, 1)], 5, &mut out);
        assert!(out.is_empty());
        epochs.complete_below(10);
        assert_eq!(woken(), 0, "no move, no wake");
        epochs.complete_below(20);
        assert_eq!(woken(), 1, "the bound's move wakes the operator, whose frontier did not change");
        run(&mut a, &[], 5, &mut out);
        assert_eq!(out, [1]);
        // Held by a known epoch: the frontier passing it wakes the operator, not the bound.
        epochs.announce(25);
        epochs.complete_below(30);
        woken();
        run(&mut a, &[(26, 2)], 20, &mut out);
        epochs.complete_below(40);
        assert_eq!(woken(), 0);
        assert_eq!(run(&mut a, &[], 26, &mut out), [25]);
        assert_eq!(out, [1, 2]);
    }
}
