//! An executor's block manager: cached partitions, shuffle blocks received for its reduce
//! partitions, the map outputs its own map tasks wrote (kept, as Spark keeps shuffle files, so
//! that a lost reducer gets them again without the map task running again), and received
//! (receiver) blocks stored on it; and the task context that computes a partition through it.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::executor::messages::Msg;
use crate::rdd::data::{give_back, Pages};
use crate::rdd::lineage::{walk, Visitor};
use crate::rdd::{Partition, RddId, RddNode, ReduceFn, Shuffle, ShuffleId, TaskContext};

/// One shuffle block: a map partition's serialised records for one reduce partition, in pages.
pub type Block = Arc<Pages>;

/// What one map task wrote: where each reduce partition's block went, and the blocks.
struct MapOutput {
    placement: Vec<usize>,
    blocks: Vec<Block>,
}

/// An executor's block manager: cached partitions, shuffle blocks and map outputs.
#[derive(Default)]
pub struct BlockManager {
    cached: FxHashMap<(RddId, usize), Partition>,
    /// Per `(shuffle, reduce partition)`, the block of each map partition that arrived. A map
    /// task run again (after a loss) writes the same block again: it replaces the first, so a
    /// block counts once. Blocks are kept, read by every job that needs them, until the driver
    /// frees the shuffle.
    blocks: FxHashMap<(ShuffleId, usize), BTreeMap<usize, Block>>,
    /// Per `(shuffle, map partition)`, what this executor's map task wrote.
    outputs: FxHashMap<(ShuffleId, usize), MapOutput>,
    stored: FxHashMap<u64, Arc<Vec<u8>>>,
}

impl BlockManager {
    /// Keeps map partition `map`'s block for reduce partition `reduce`.
    pub(crate) fn put_shuffle_block(&mut self, shuffle: ShuffleId, reduce: usize, map: usize, data: Block) {
        if let Some(replaced) = self.blocks.entry((shuffle, reduce)).or_default().insert(map, data) {
            give_back(replaced);
        }
    }

    /// Keeps what this executor's map task for partition `map` wrote, and returns the messages
    /// that push each block to its reduce partition's executor.
    pub(crate) fn put_map_output(
        &mut self,
        shuffle: ShuffleId,
        map: usize,
        placement: &[usize],
        blocks: Vec<Pages>,
    ) -> impl Iterator<Item = Msg> + '_ {
        let blocks: Vec<Block> = blocks.into_iter().map(Arc::new).collect();
        let output = MapOutput { placement: placement.to_vec(), blocks };
        if let Some(replaced) = self.outputs.remove(&(shuffle, map)) {
            replaced.blocks.into_iter().for_each(give_back);
        }
        let kept: &MapOutput = self.outputs.entry((shuffle, map)).insert_entry(output).into_mut();
        kept.blocks.iter().zip(&kept.placement).enumerate().map(move |(reduce, (data, &to))| Msg::Block {
            to,
            shuffle,
            reduce,
            map,
            data: Arc::clone(data),
        })
    }

    /// After executor `lost` was lost: the blocks of this executor's map outputs whose reduce
    /// partition was on it, pushed again to where the reduce partition is now
    /// (`placement[reduce]`).
    pub(crate) fn resend(&mut self, lost: usize, placement: &[usize]) -> Vec<Msg> {
        let mut out = Vec::new();
        for ((shuffle, map), output) in &mut self.outputs {
            for (reduce, data) in output.blocks.iter().enumerate() {
                if output.placement[reduce] == lost {
                    output.placement[reduce] = placement.get(reduce).copied().unwrap_or(lost);
                    let to = output.placement[reduce];
                    out.push(Msg::Block { to, shuffle: *shuffle, reduce, map: *map, data: Arc::clone(data) });
                }
            }
        }
        out
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
        // The shuffles' buffers go back to be written into again (by whichever executor lets go
        // of a block last).
        let gone: FxHashSet<ShuffleId> = shuffles.into_iter().collect();
        let blocks = self.blocks.extract_if(|(id, _), _| gone.contains(id)).flat_map(|(_, b)| b.into_values());
        blocks.for_each(give_back);
        let outputs = self.outputs.extract_if(|(id, _), _| gone.contains(id)).flat_map(|(_, o)| o.blocks);
        outputs.for_each(give_back);
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
            .map(|(s, p, n)| (s, p, self.blocks.get(&(s, p)).map_or(0, BTreeMap::len), n))
            .filter(|(_, _, got, n)| got < n)
            .collect()
    }
}

/// Computes partitions through a block manager: cached ones are read from it or kept in it.
pub(crate) struct Cx<'a> {
    pub(crate) bm: &'a mut BlockManager,
    /// The executor's kill switch: once set, the task stops at the next partition it computes
    /// (or the next record a pipelined transformation reads).
    pub(crate) killed: &'a Arc<AtomicBool>,
}

impl Cx<'_> {
    /// Stops the task, unwinding with [`Killed`](crate::rdd::Killed), if its executor has been
    /// killed since it began.
    pub(crate) fn stop_if_killed(&self) {
        crate::rdd::stop_if_killed(self.killed);
    }
}

impl TaskContext for Cx<'_> {
    fn kill_switch(&self) -> Option<Arc<AtomicBool>> {
        Some(Arc::clone(self.killed))
    }

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
        // In map-partition order, so a reduce reads its inputs in the same order on every run.
        let blocks = self.bm.blocks.get(&(shuffle, p));
        let pages = blocks.into_iter().flat_map(|b| b.values().flat_map(|pages| pages.iter().map(Vec::as_slice)));
        reduce(&pages.collect::<Vec<&[u8]>>())
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
        let block = |v: Vec<(u64, u64)>| {
            let mut w = crate::rdd::data::BlockWriter::new(1, v.len(), 16);
            v.iter().for_each(|r| w.push(0, r));
            Arc::new(w.finish().pop().unwrap())
        };
        // Reduce partition 0 waits for both map partitions' blocks, and says so.
        assert_eq!(bm.missing_inputs(&reduced.node, 0), vec![(shuffle.id, 0, 0, 2)]);
        bm.put_shuffle_block(shuffle.id, 0, 1, block(vec![(2, 2)]));
        assert_eq!(bm.missing_inputs(&reduced.node, 0), vec![(shuffle.id, 0, 1, 2)]);
        // A map task run again writes its block again: it counts once.
        bm.put_shuffle_block(shuffle.id, 0, 1, block(vec![(2, 2)]));
        assert_eq!(bm.missing_inputs(&reduced.node, 0), vec![(shuffle.id, 0, 1, 2)]);
        bm.put_shuffle_block(shuffle.id, 0, 0, block(Vec::new()));
        assert!(bm.missing_inputs(&reduced.node, 0).is_empty());
        // Two jobs read the partition: both find every block.
        let alive = Arc::new(AtomicBool::new(false));
        for _ in 0..2 {
            let part = Cx { bm: &mut bm, killed: &alive }.partition(&reduced.node, 0);
            assert_eq!(crate::rdd::records::<(u64, u64)>(&part), &vec![(2, 2)]);
            assert!(bm.missing_inputs(&reduced.node, 0).is_empty());
        }
        // Freed: a later reader waits again (for the map stage to run again).
        bm.forget(Vec::new(), vec![shuffle.id]);
        assert_eq!(bm.missing_inputs(&reduced.node, 0), vec![(shuffle.id, 0, 0, 2)]);
    }

    #[test]
    fn a_kept_map_output_is_pushed_again_to_where_a_lost_reducer_is_now() {
        let mut bm = BlockManager::default();
        let pushed: Vec<(usize, usize)> = bm
            .put_map_output(7, 3, &[0, 1, 0], vec![vec![vec![10]], vec![vec![11]], vec![vec![12]]])
            .map(|m| match m {
                Msg::Block { to, reduce, map: 3, shuffle: 7, .. } => (to, reduce),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(pushed, vec![(0, 0), (1, 1), (0, 2)]);
        // Executor 1 is lost and its reduce partitions go to executor 0: only reduce partition
        // 1's block travels again, with its bytes; later losses follow it there.
        let again = bm.resend(1, &[0, 0, 0]);
        assert_eq!(again.len(), 1);
        let Msg::Block { to: 0, reduce: 1, map: 3, data, .. } = &again[0] else { panic!("{again:?}") };
        assert_eq!(**data, vec![vec![11]]);
        assert!(bm.resend(1, &[0, 0, 0]).is_empty());
        assert_eq!(bm.resend(0, &[2, 2, 2]).len(), 3);
        // Forgetting the shuffle drops the map output too.
        bm.forget(Vec::new(), vec![7]);
        assert!(bm.resend(2, &[0, 0, 0]).is_empty());
    }
}
