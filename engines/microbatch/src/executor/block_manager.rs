//! An executor's block manager: cached partitions, shuffle blocks received for its reduce
//! partitions, and received (receiver) blocks stored on it; and the task context that computes a
//! partition through it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::rdd::lineage::{walk, Visitor};
use crate::rdd::{Partition, RddId, RddNode, ReduceFn, Shuffle, ShuffleId, TaskContext};

/// An executor's block manager: cached partitions and received shuffle blocks.
#[derive(Default)]
pub struct BlockManager {
    cached: FxHashMap<(RddId, usize), Partition>,
    blocks: FxHashMap<(ShuffleId, usize), Vec<Vec<u8>>>,
    /// How many blocks arrived per `(shuffle, reduce partition)`. Blocks are kept, read by
    /// every job of the batch that needs them (Spark keeps a shuffle's map outputs), until the
    /// driver frees the batch's shuffles.
    received: FxHashMap<(ShuffleId, usize), usize>,
    /// The shuffle attempt blocks must come from: set by the latest executor loss; a block of an
    /// older attempt comes from a task of an aborted stage.
    attempt: u32,
    stored: FxHashMap<u64, Arc<Vec<u8>>>,
}

impl BlockManager {
    /// Keeps a shuffle block for reduce partition `reduce` from the shuffle's `attempt` (a block
    /// of an attempt before the latest loss is stale and dropped).
    pub(crate) fn put_shuffle_block(&mut self, shuffle: ShuffleId, reduce: usize, attempt: u32, data: Vec<u8>) {
        if attempt < self.attempt {
            return;
        }
        self.blocks.entry((shuffle, reduce)).or_default().push(data);
        *self.received.entry((shuffle, reduce)).or_insert(0) += 1;
    }

    /// Keeps a received block.
    pub(crate) fn store(&mut self, id: u64, data: Arc<Vec<u8>>) {
        self.stored.insert(id, data);
    }

    /// Drops cached partitions of these RDDs, received blocks of these ids, and the blocks of
    /// these shuffles.
    pub(crate) fn forget(&mut self, ids: Vec<RddId>, shuffles: Vec<ShuffleId>) {
        let gone: FxHashSet<RddId> = ids.into_iter().collect();
        self.cached.retain(|(id, _), _| !gone.contains(id));
        self.stored.retain(|id, _| !gone.contains(id));
        let gone: FxHashSet<ShuffleId> = shuffles.into_iter().collect();
        self.blocks.retain(|(id, _), _| !gone.contains(id));
        self.received.retain(|(id, _), _| !gone.contains(id));
    }

    /// Drops every shuffle block (after an executor loss); blocks must come from `attempt` on.
    pub(crate) fn purge_shuffles(&mut self, attempt: u32) {
        self.attempt = attempt;
        self.blocks.clear();
        self.received.clear();
    }

    /// The shuffle inputs partition `p` of `rdd` still lacks (not looking behind partitions
    /// already cached): `(shuffle, reduce partition, blocks arrived, blocks expected)`; empty
    /// when the task can run.
    pub(crate) fn missing_inputs(&self, rdd: &Arc<RddNode>, p: usize) -> Vec<(ShuffleId, usize, usize, usize)> {
        struct Needs<'a> {
            bm: &'a BlockManager,
            out: Vec<(ShuffleId, usize, usize)>,
        }
        impl Visitor for Needs<'_> {
            fn node(&mut self, node: &Arc<RddNode>, p: Option<usize>) -> bool {
                !(node.cached && p.is_some_and(|p| self.bm.cached.contains_key(&(node.id, p))))
            }
            fn shuffle(&mut self, s: &Arc<Shuffle>, p: Option<usize>) -> bool {
                self.out.push((s.id, p.expect("a task's walk follows its partition"), s.parent.partitions));
                false
            }
        }
        let mut needs = Needs { bm: self, out: Vec::new() };
        walk(rdd, Some(p), &mut needs);
        needs
            .out
            .into_iter()
            .map(|(s, p, n)| (s, p, self.received.get(&(s, p)).copied().unwrap_or(0), n))
            .filter(|(_, _, got, n)| got < n)
            .collect()
    }
}

/// Computes partitions through a block manager: cached ones are read from it or kept in it.
pub(crate) struct Cx<'a> {
    pub(crate) bm: &'a mut BlockManager,
    /// The executor's kill switch: once set, the task stops at the next partition it computes.
    pub(crate) killed: &'a AtomicBool,
}

/// What a task stopped by its executor's kill switch unwinds with (not a panic of user code).
pub(crate) struct Killed;

impl Cx<'_> {
    /// Stops the task, unwinding with [`Killed`], if its executor has been killed since it
    /// began. `resume_unwind` runs no panic hook: nothing is printed for a killed task.
    pub(crate) fn stop_if_killed(&self) {
        if self.killed.load(Ordering::Acquire) {
            std::panic::resume_unwind(Box::new(Killed));
        }
    }
}

impl TaskContext for Cx<'_> {
    fn partition(&mut self, rdd: &Arc<RddNode>, p: usize) -> Partition {
        let computed = if rdd.cached {
            if let Some(hit) = self.bm.cached.get(&(rdd.id, p)) {
                return Arc::clone(hit);
            }
            let computed = rdd.compute(self, p);
            self.bm.cached.insert((rdd.id, p), Arc::clone(&computed));
            computed
        } else {
            rdd.compute(self, p)
        };
        // Each computed partition of the lineage is a point where a killed task stops.
        self.stop_if_killed();
        computed
    }

    fn reduce(&mut self, shuffle: ShuffleId, p: usize, reduce: &ReduceFn) -> Partition {
        reduce(self.bm.blocks.get(&(shuffle, p)).map_or(&[][..], Vec::as_slice))
    }

    fn stored_block(&mut self, id: u64) -> Option<Arc<Vec<u8>>> {
        self.bm.stored.get(&id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdd::{Ids, Kind, RddContext};

    #[test]
    fn shuffle_blocks_stay_for_every_reader_until_the_shuffle_is_forgotten() {
        let sc = RddContext::new(Ids::default(), 2);
        let reduced = sc.parallelize(vec![(1u64, 1u64), (2, 2), (3, 3)], 2).reduce_by_key_n(|a, b| a + b, 2);
        let Kind::Shuffled(shuffle, _) = &reduced.node.kind else { panic!("a shuffled RDD") };
        let mut bm = BlockManager::default();
        // Reduce partition 0 waits for both map partitions' blocks, and says so.
        assert_eq!(bm.missing_inputs(&reduced.node, 0), vec![(shuffle.id, 0, 0, 2)]);
        bm.put_shuffle_block(shuffle.id, 0, 0, bincode::serialize(&vec![(2u64, 2u64)]).unwrap());
        assert_eq!(bm.missing_inputs(&reduced.node, 0), vec![(shuffle.id, 0, 1, 2)]);
        bm.put_shuffle_block(shuffle.id, 0, 0, bincode::serialize(&Vec::<(u64, u64)>::new()).unwrap());
        assert!(bm.missing_inputs(&reduced.node, 0).is_empty());
        // Two jobs read the partition: both find every block.
        let alive = AtomicBool::new(false);
        for _ in 0..2 {
            let part = Cx { bm: &mut bm, killed: &alive }.partition(&reduced.node, 0);
            assert_eq!(crate::rdd::records::<(u64, u64)>(&part), &vec![(2, 2)]);
            assert!(bm.missing_inputs(&reduced.node, 0).is_empty());
        }
        // Freed after the batch: a later reader waits again (for the map stage to rerun).
        bm.forget(Vec::new(), vec![shuffle.id]);
        assert_eq!(bm.missing_inputs(&reduced.node, 0), vec![(shuffle.id, 0, 0, 2)]);
        // A block of an attempt before the latest loss is dropped.
        bm.purge_shuffles(1);
        bm.put_shuffle_block(shuffle.id, 0, 0, Vec::new());
        assert_eq!(bm.missing_inputs(&reduced.node, 0), vec![(shuffle.id, 0, 0, 2)]);
    }
}
