//! The epochs a worker knows of: those the checkpoint coordinator announced (see
//! `operators::checkpoints`), and how far that list is complete.
//!
//! The coordinator names each epoch by sending it at its own timely time, so an epoch `E` is
//! announced at time `E`: once the announcements' frontier on this worker has passed a time
//! `b`, every epoch below `b` is known. A source never moves its capability to a time at or
//! past that bound (it could be passing an epoch it has not heard of), and a stateful
//! operator holds back input at or past it, as it does input at or past the next epoch.

use std::cell::{Cell, RefCell};

use timely::scheduling::Activator;

/// The announced epochs (ticks, increasing) and the bound below which the list is complete.
#[derive(Debug)]
pub struct Epochs {
    known: RefCell<Vec<u64>>,
    bound: Cell<u64>,
    /// How often the bound has moved.
    moves: Cell<u64>,
    /// Operators holding input at or past the bound: woken when it moves (their own frontier
    /// need not change then).
    waiting: RefCell<Vec<Activator>>,
}

impl Epochs {
    /// No snapshots: no epoch will ever come, so nothing waits for one.
    pub(crate) fn none() -> Self {
        Self { known: RefCell::default(), bound: Cell::new(u64::MAX), moves: Cell::new(0), waiting: RefCell::default() }
    }

    /// A dataflow starting from the snapshot of epoch `restored` (0: from the beginning): no
    /// epoch at or before it will be announced, and none after it is known yet.
    pub(crate) fn after(restored: u64) -> Self {
        let epochs = Self::none();
        epochs.reset(restored);
        epochs
    }

    /// Starts again after a restore of epoch `restored` (see [`Epochs::after`]).
    pub(crate) fn reset(&self, restored: u64) {
        self.known.borrow_mut().clear();
        // The waiting operators were those of the dataflow the restore dropped.
        self.waiting.borrow_mut().clear();
        self.bound.set(restored.saturating_add(1));
    }

    /// Epoch `epoch` was announced (announcements arrive in order; a repeat is ignored).
    pub(crate) fn announce(&self, epoch: u64) {
        let mut known = self.known.borrow_mut();
        if known.last().is_none_or(|last| *last < epoch) {
            known.push(epoch);
        }
    }

    /// The announcements' frontier reached `frontier`: every epoch below it is known. The
    /// operators waiting for the bound to move are woken.
    pub(crate) fn complete_below(&self, frontier: u64) {
        if frontier > self.bound.get() {
            self.bound.set(frontier);
            self.moves.set(self.moves.get() + 1);
            for waiter in self.waiting.borrow_mut().drain(..) {
                waiter.activate();
            }
        }
    }

    /// Wakes `waiter` when the bound next moves.
    pub(crate) fn wake_when_the_bound_moves(&self, waiter: &Activator) {
        self.waiting.borrow_mut().push(waiter.clone());
    }

    /// How often the bound has moved (a waiter is woken once per move it asked for).
    pub(crate) fn moves(&self) -> u64 {
        self.moves.get()
    }

    /// The `i`-th epoch announced, if it has been.
    #[inline]
    pub fn get(&self, i: usize) -> Option<u64> {
        self.known.borrow().get(i).copied()
    }

    /// Every epoch below this is known.
    #[inline]
    pub fn bound(&self) -> u64 {
        self.bound.get()
    }

    /// For an operator whose next epoch is the `i`-th: the first time whose input must wait
    /// (the `i`-th epoch if it is known, else the bound, past which one could still be named).
    #[inline]
    pub fn limit(&self, i: usize) -> u64 {
        self.get(i).unwrap_or(u64::MAX).min(self.bound.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_waits_at_the_next_known_epoch_or_where_the_list_may_be_incomplete() {
        let e = Epochs::after(0);
        // Nothing announced, nothing known past time 0.
        assert_eq!((e.get(0), e.limit(0)), (None, 1));
        e.complete_below(40);
        assert_eq!(e.limit(0), 40);
        e.announce(50);
        e.complete_below(60);
        assert_eq!((e.get(0), e.limit(0), e.limit(1)), (Some(50), 50, 60));
        e.announce(50);
        e.complete_below(30);
        assert_eq!((e.get(1), e.bound()), (None, 60), "a repeat or an older frontier changes nothing");
        e.reset(50);
        assert_eq!((e.get(0), e.limit(0)), (None, 51));
        let none = Epochs::none();
        assert_eq!(none.limit(0), u64::MAX);
    }
}
