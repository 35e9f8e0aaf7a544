//! Exchanged containers written into again, as Flink's network stack recycles its buffers. An
//! operator that has read a container of its input gives it back to its worker's pool; the
//! exchange's builders on the same worker take their next container from that pool rather than
//! from the allocator. Timely moves a container to its reader within a process and never hands
//! it back, so without this every container an exchange fills is memory the other core freed
//! last, and the stores that fill it wait for the lines to come back: 90 % of the exchange's
//! samples were on its store (`results/PERFORMANCE.md` §23).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::thread::LocalKey;

use timely::container::{
    Accountable, ContainerBuilder, DrainContainer, LengthPreservingContainerBuilder, PushInto, SizableContainer,
};
use timely::dataflow::channels::pact::ExchangeCore;

/// How many read containers a worker keeps of one type (some 64 x 8 KiB).
const KEPT: usize = 64;

/// A container type with a pool on each worker thread.
pub trait Recycle: SizableContainer + Accountable + Default + Clone + 'static {
    /// This thread's kept containers of the type.
    fn pool() -> &'static LocalKey<RefCell<Vec<Self>>>;
    /// It has memory to write into.
    fn has_room(&self) -> bool;
}

/// Keeps `container`, read, for this worker's next exchanged container of its type.
#[inline]
pub fn give_back<C: Recycle>(container: C) {
    if container.has_room() {
        C::pool().with(|p| {
            let mut p = p.borrow_mut();
            if p.len() < KEPT {
                p.push(container);
            }
        });
    }
}

/// Timely's `CapacityContainerBuilder`, but a new container comes from the worker's pool.
#[derive(Debug)]
pub struct Recycling<C> {
    current: C,
    /// A container handed back by the pusher, or taken from the pool.
    empty: Option<C>,
    pending: VecDeque<C>,
}

impl<C: Default> Default for Recycling<C> {
    fn default() -> Self {
        Self { current: C::default(), empty: None, pending: VecDeque::new() }
    }
}

impl<C: Recycle> Recycling<C> {
    /// Gives `current`, which has no memory, a container to write into: the one the pusher handed
    /// back, else one from the pool, else new memory.
    #[cold]
    #[inline(never)]
    fn start(&mut self) {
        if !self.empty.as_ref().is_some_and(C::has_room) {
            if let Some(kept) = C::pool().with(|p| p.borrow_mut().pop()) {
                self.empty = Some(kept);
            }
        }
        self.current.ensure_capacity(&mut self.empty);
    }
}

impl<T, C: Recycle + PushInto<T>> PushInto<T> for Recycling<C> {
    /// Inlined into the exchange's loop, so that a record goes from the container it is read from
    /// to the one it is written into through registers: passed by reference to a call, it was
    /// written to the stack and read back wider than it was written, which the CPU cannot forward
    /// (77 % of its samples, `results/PERFORMANCE.md` §25).
    #[inline(always)]
    fn push_into(&mut self, item: T) {
        if !self.current.has_room() {
            self.start();
        }
        self.current.push_into(item);
        if self.current.at_capacity() {
            self.pending.push_back(std::mem::take(&mut self.current));
        }
    }
}

impl<C: Recycle> ContainerBuilder for Recycling<C> {
    type Container = C;

    #[inline]
    fn extract(&mut self) -> Option<&mut C> {
        self.empty = Some(self.pending.pop_front()?);
        self.empty.as_mut()
    }

    #[inline]
    fn finish(&mut self) -> Option<&mut C> {
        if !Accountable::is_empty(&self.current) {
            self.pending.push_back(std::mem::take(&mut self.current));
        }
        self.empty = self.pending.pop_front();
        self.empty.as_mut()
    }
}

impl<C: Recycle> LengthPreservingContainerBuilder for Recycling<C> {}

/// The exchange by `route`, its containers from the worker's pool.
pub fn exchange<C, F>(route: F) -> ExchangeCore<Recycling<C>, F>
where
    C: Recycle + DrainContainer,
    Recycling<C>: for<'a> PushInto<C::Item<'a>>,
    for<'a> F: FnMut(&C::Item<'a>) -> u64 + 'static,
{
    ExchangeCore::new_core(route)
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static NUMBERS: RefCell<Vec<Vec<u64>>> = RefCell::default();
    }

    impl Recycle for Vec<u64> {
        fn pool() -> &'static LocalKey<RefCell<Vec<Self>>> {
            &NUMBERS
        }
        fn has_room(&self) -> bool {
            self.capacity() > 0
        }
    }

    #[test]
    fn a_container_given_back_is_the_next_one_filled_emptied_first() {
        let read: Vec<u64> = Vec::with_capacity(1024);
        let at = read.as_ptr();
        let mut kept = read;
        kept.extend([7, 8, 9]);
        give_back(kept);
        give_back(Vec::<u64>::new()); // no memory: not kept
        let mut b = Recycling::<Vec<u64>>::default();
        b.push_into(1);
        let mut sent = Vec::new();
        while let Some(c) = b.finish() {
            sent.push(std::mem::take(c));
        }
        assert_eq!(sent, vec![vec![1]]);
        assert_eq!(sent[0].as_ptr(), at, "the container given back is the one written into");
        assert!(NUMBERS.with(|p| p.borrow().is_empty()));
        (0..2 * KEPT).for_each(|_| give_back(Vec::<u64>::with_capacity(1)));
        assert_eq!(NUMBERS.with(|p| p.borrow().len()), KEPT, "the pool is bounded");
    }
}
