//! Where tasks run (Spark's task scheduler with its locality preferences): partition `p` on
//! executor `p % executors` (so a cached partition is where its next use runs) or, once that one
//! is dead, on a survivor; a task reading a received block where a copy is; a map task computed
//! from sources alone on the least loaded executor when its own has more (so a lost executor's
//! share is recomputed on every executor in parallel, as D-Streams' recovery is).

use std::sync::Arc;

use crate::rdd::lineage::{walk, BlockRef, Visitor};
use crate::rdd::{Kind, RddNode};

/// The executor of partition `p`, given each executor's incarnation (`None`: dead):
/// `p % executors` while it is alive, else the `p`-th survivor, cyclically.
pub(crate) fn place(incarnations: &[Option<u32>], p: usize) -> usize {
    let home = p % incarnations.len();
    if incarnations[home].is_some() {
        return home;
    }
    let survivors: Vec<usize> = (0..incarnations.len()).filter(|e| incarnations[*e].is_some()).collect();
    survivors[p % survivors.len()]
}

/// Where each task `(rdd, is a map task, partition)` of a wave runs.
pub(crate) fn place_tasks<'a>(
    incarnations: &[Option<u32>],
    tasks: impl Iterator<Item = (&'a Arc<RddNode>, bool, usize)>,
) -> Result<Vec<usize>, String> {
    let mut placed = Vec::new();
    let mut free = Vec::new();
    for (i, (rdd, map, p)) in tasks.enumerate() {
        placed.push(match location(rdd, p) {
            Location::Home(home) => {
                if map && from_sources(rdd, p) {
                    free.push(i);
                }
                place(incarnations, home)
            }
            Location::Hosts(block) => {
                let mut copies = block.hosts.iter().zip(block.incarnations());
                copies.find(|(h, i)| incarnations[**h] == Some(*i)).map(|(h, _)| *h).ok_or_else(|| {
                    format!("received block {} was lost with every copy (executors {:?})", block.id, block.hosts)
                })?
            }
        });
    }
    let mut load = vec![0usize; incarnations.len()];
    let mut is_free = vec![false; placed.len()];
    free.iter().for_each(|i| is_free[*i] = true);
    placed.iter().zip(&is_free).filter(|(_, f)| !**f).for_each(|(e, _)| load[*e] += 1);
    let live: Vec<usize> = (0..incarnations.len()).filter(|e| incarnations[*e].is_some()).collect();
    for i in free {
        let least = live.iter().copied().min_by_key(|e| load[*e]).unwrap_or(placed[i]);
        if load[placed[i]] > load[least] {
            placed[i] = least;
        }
        load[placed[i]] += 1;
    }
    Ok(placed)
}

/// Whether partition `p` of `rdd` is computed from sources alone (no cached partition, received
/// block or shuffle on the way): it can run on any executor.
fn from_sources(rdd: &Arc<RddNode>, p: usize) -> bool {
    struct Pure(bool);
    impl Visitor for Pure {
        fn node(&mut self, node: &Arc<RddNode>, _p: Option<usize>) -> bool {
            self.0 &= !node.cached && !matches!(node.kind, Kind::Blocks(..) | Kind::Shuffled(..));
            self.0
        }
    }
    let mut pure = Pure(true);
    walk(rdd, Some(p), &mut pure);
    pure.0
}

/// Where a task should run.
enum Location {
    /// With partition `home` (executor `home % executors`, or a survivor).
    Home(usize),
    /// Where a copy of the received block is.
    Hosts(BlockRef),
}

/// Where partition `p` of `rdd` should run: where the partition it reads was computed (and may
/// be cached), or where a received block is. A union's partition is its parent's; every other
/// partition is its own.
fn location(rdd: &Arc<RddNode>, p: usize) -> Location {
    struct Locate(Location);
    impl Visitor for Locate {
        fn node(&mut self, node: &Arc<RddNode>, p: Option<usize>) -> bool {
            let p = p.expect("a placement follows one partition");
            match &node.kind {
                Kind::Union(_) | Kind::Narrow(..) | Kind::Pipelined(Some(_), _) => true,
                Kind::Blocks(blocks, _) => {
                    self.0 = Location::Hosts(blocks[p].clone());
                    false
                }
                _ => {
                    self.0 = Location::Home(p);
                    false
                }
            }
        }
    }
    let mut locate = Locate(Location::Home(p));
    walk(rdd, Some(p), &mut locate);
    locate.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdd::{Ids, RddContext};

    #[test]
    fn a_lost_share_of_map_tasks_from_sources_is_spread_and_the_rest_stays_with_its_partition() {
        let sc = RddContext::new(Ids::default(), 2);
        let source = sc.parallelize((0..8u64).map(|k| (k, 1u64)).collect(), 4);
        let cached = source.map(|kv| *kv).cache();
        let alive = [Some(1), Some(0)];
        // Partitions 1 and 3 of two map stages, all at home on executor 1: from sources, half
        // go to executor 0; over a cached partition, they stay.
        let lost = [(&source.node, 1), (&source.node, 3), (&source.node, 1), (&source.node, 3)];
        assert_eq!(place_tasks(&alive, lost.into_iter().map(|(r, p)| (r, true, p))).unwrap(), vec![1, 0, 1, 0]);
        let pinned = [(&cached.node, 1), (&cached.node, 3)];
        assert_eq!(place_tasks(&alive, pinned.into_iter().map(|(r, p)| (r, true, p))).unwrap(), vec![1, 1]);
        // Result tasks stay with their partition; a balanced stage stays at home.
        assert_eq!(place_tasks(&alive, lost.into_iter().map(|(r, p)| (r, false, p))).unwrap(), vec![1, 1, 1, 1]);
        let all = (0..4).map(|p| (&source.node, true, p));
        assert_eq!(place_tasks(&alive, all).unwrap(), vec![0, 1, 0, 1]);
        // A dead executor's partitions go to the survivors.
        assert_eq!((0..4).map(|p| place(&[Some(0), None, Some(0)], p)).collect::<Vec<_>>(), vec![0, 2, 2, 0]);
    }
}
