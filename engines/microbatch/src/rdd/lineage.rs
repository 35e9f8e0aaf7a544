//! The lineage graph: nodes and their dependencies (narrow, union, zip, shuffle, received
//! blocks), how a node computes a partition, and the one walk every pass over a lineage uses
//! ([`walk`] with a [`Visitor`]: the stages a job needs, what a task waits for, where a task
//! runs, what the registry learns, what became materialized).

use std::sync::Arc;

use serde::Serialize;

use crate::rdd::data::{DecodeFn, MapSideFn, NarrowFn, Partition, RddId, ReduceFn, ShuffleId, SourceFn, ZipFn};

/// How an executor obtains the inputs of a computation: computed parents and shuffle blocks.
pub trait TaskContext {
    /// The partition `p` of `rdd`, computed (or read from the block manager when cached).
    fn partition(&mut self, rdd: &Arc<RddNode>, p: usize) -> Partition;
    /// `reduce` over every serialised block the map side of `shuffle` wrote for reduce
    /// partition `p` (the blocks stay: another job of the batch may read them again).
    fn reduce(&mut self, shuffle: ShuffleId, p: usize, reduce: &ReduceFn) -> Partition;
    /// A received block stored on this executor (the scheduler runs a block's task where a
    /// copy is).
    fn stored_block(&mut self, id: u64) -> Option<Arc<Vec<u8>>>;
}

/// A shuffle dependency: the parent and its map side.
pub struct Shuffle {
    /// The shuffle's id.
    pub id: ShuffleId,
    /// The map side's input.
    pub parent: Arc<RddNode>,
    /// Combine and partition one parent partition.
    pub map_side: MapSideFn,
    /// Reduce partitions.
    pub reducers: usize,
}

/// How an RDD's partitions are computed.
pub enum Kind {
    /// Partitions computed from nothing (a source's offset ranges, a queue's batch).
    Source(SourceFn),
    /// One parent partition in, one out.
    Narrow(Arc<RddNode>, NarrowFn),
    /// The parents' partitions, one after another.
    Union(Vec<Arc<RddNode>>),
    /// Co-partitioned parents zipped partition by partition (state with new data, joins).
    Zip(Vec<Arc<RddNode>>, ZipFn),
    /// The reduce side of a shuffle.
    Shuffled(Arc<Shuffle>, ReduceFn),
    /// Blocks a receiver stored in executors' block managers, one partition each (Spark's
    /// `BlockRDD`).
    Blocks(Vec<BlockRef>, DecodeFn),
}

/// A received block: its id and the executors holding a copy (the first, then its replica).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct BlockRef {
    /// The block's id (from the RDD id space).
    pub id: u64,
    /// Records in it.
    pub records: u64,
    /// Executors that store it.
    pub hosts: Vec<usize>,
    /// Each host's incarnation when the block was stored (a relaunched executor has lost it);
    /// empty: the first.
    #[serde(default)]
    pub incarnations: Vec<u32>,
}

impl BlockRef {
    /// Each host's incarnation when the block was stored.
    pub fn incarnations(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.hosts.len()).map(|i| self.incarnations.get(i).copied().unwrap_or(0))
    }
}

/// A node of the lineage graph.
pub struct RddNode {
    /// The RDD's id.
    pub id: RddId,
    /// How many partitions.
    pub partitions: usize,
    /// How they are computed.
    pub kind: Kind,
    /// Keep computed partitions in the block manager (`cache`/`persist`, state).
    pub cached: bool,
    /// `Some(n)`: pairs hash-partitioned by key (`partition_of(key, n)`) into `n` partitions, so
    /// that a keyed operation into `n` partitions needs no shuffle (Spark's `partitioner`).
    pub partitioner: Option<usize>,
}

impl RddNode {
    /// Computes partition `p` in `cx`.
    pub fn compute(self: &Arc<Self>, cx: &mut dyn TaskContext, p: usize) -> Partition {
        match &self.kind {
            Kind::Source(f) => f(p),
            Kind::Narrow(parent, f) => {
                let input = cx.partition(parent, p);
                f(&input)
            }
            Kind::Union(parents) => {
                let (parent, q) = union_parent(parents, p).expect("partition within the union");
                cx.partition(parent, q)
            }
            Kind::Zip(parents, f) => {
                let inputs: Vec<Partition> = parents.iter().map(|parent| cx.partition(parent, p)).collect();
                f(&inputs)
            }
            Kind::Shuffled(shuffle, reduce) => cx.reduce(shuffle.id, p, reduce),
            Kind::Blocks(blocks, decode) => match cx.stored_block(blocks[p].id) {
                Some(bytes) => decode(&bytes),
                // The scheduler places the task with a copy; none here means both copies are
                // gone, which it refuses before the stage starts.
                None => panic!("block {} is not on this executor", blocks[p].id),
            },
        }
    }
}

/// The parent of partition `p` of a union of `parents`, and the partition of it.
pub fn union_parent(parents: &[Arc<RddNode>], p: usize) -> Option<(&Arc<RddNode>, usize)> {
    let mut p = p;
    for parent in parents {
        if p < parent.partitions {
            return Some((parent, p));
        }
        p -= parent.partitions;
    }
    None
}

/// What a [`walk`] does at each node and shuffle dependency of a lineage.
pub trait Visitor {
    /// At a node (with the partition the walk follows, if it follows one); `false` stops the
    /// walk from going into the node's parents.
    fn node(&mut self, node: &Arc<RddNode>, p: Option<usize>) -> bool {
        let _ = (node, p);
        true
    }

    /// At a shuffle dependency (reached from reduce partition `p`, if the walk follows one);
    /// `true` goes on into its map side (the parent, every partition).
    fn shuffle(&mut self, shuffle: &Arc<Shuffle>, p: Option<usize>) -> bool {
        let _ = (shuffle, p);
        false
    }

    /// After the map side of a shuffle the walk went into (parents first).
    fn after_shuffle(&mut self, shuffle: &Arc<Shuffle>) {
        let _ = shuffle;
    }
}

/// Walks the lineage of `node` depth first, parents in order: with `Some(p)` only what
/// partition `p` reads (a union's partition is its parent's), with `None` every partition.
pub fn walk(node: &Arc<RddNode>, p: Option<usize>, visitor: &mut impl Visitor) {
    if !visitor.node(node, p) {
        return;
    }
    match &node.kind {
        Kind::Source(_) | Kind::Blocks(..) => {}
        Kind::Narrow(parent, _) => walk(parent, p, visitor),
        Kind::Zip(parents, _) => parents.iter().for_each(|parent| walk(parent, p, visitor)),
        Kind::Union(parents) => match p {
            Some(p) => {
                if let Some((parent, q)) = union_parent(parents, p) {
                    walk(parent, Some(q), visitor);
                }
            }
            None => parents.iter().for_each(|parent| walk(parent, None, visitor)),
        },
        Kind::Shuffled(s, _) => {
            if visitor.shuffle(s, p) {
                walk(&s.parent, None, visitor);
                visitor.after_shuffle(s);
            }
        }
    }
}
