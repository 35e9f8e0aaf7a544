//! The lineage graph: nodes and their dependencies (narrow, union, zip, shuffle, received
//! blocks), how a node computes a partition, and the one walk every pass over a lineage uses
//! ([`walk`] with a [`Visitor`]: the stages a job needs, what a task waits for, where a task
//! runs, what the registry learns, what became materialized).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Serialize;

use crate::rdd::data::{
    records, CollectFn, Data, DecodeFn, MapSideFn, NarrowFn, Partition, PipeFn, RddId, ReduceFn, ShuffleId, SourceFn,
    ZipFn,
};

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
    /// The executor's kill switch, read by pipelined transformations at every record.
    fn kill_switch(&self) -> Option<Arc<AtomicBool>> {
        None
    }
}

/// What a task stopped by its executor's kill switch unwinds with (not a panic of user code).
pub struct Killed;

/// Stops the task, unwinding with [`Killed`], once `switch` is set. `resume_unwind` runs no
/// panic hook: nothing is printed for a killed task.
pub fn stop_if_killed(switch: &AtomicBool) {
    if switch.load(Ordering::Acquire) {
        std::panic::resume_unwind(Box::new(Killed));
    }
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
    /// Records computed one at a time, from the parent's one at a time (`map`, `flat_map`,
    /// `filter`) or from nothing (a direct stream's offset ranges): a consumer in the same task
    /// reads them without materialising them, or any pipelined node before them.
    Pipelined(Option<Arc<RddNode>>, Pipe),
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

/// How a pipelined node's records are computed: one at a time into a sink (its typed
/// [`PipeFn`], behind `Any`), or all of them into a partition.
pub struct Pipe {
    each: Box<dyn std::any::Any + Send + Sync>,
    collect: CollectFn,
    bound: Option<BoundFn>,
}

/// How many records partition `p` of a pipelined node is expected to push at most, known before
/// it runs (a direct stream's: its offsets, one record each). It only sizes what is built from
/// them: a partition that pushes more makes those grow, nothing else.
pub type BoundFn = Arc<dyn Fn(usize) -> usize + Send + Sync>;

impl Pipe {
    /// The pipe of a node of `T` records whose partition `p` pushes `each` its records, at most
    /// `bound(p)` of them when that is known (a source's offset range; a `map` or `filter` of
    /// a bounded parent): what is built from them is sized once instead of growing.
    pub fn new<T: Data>(each: PipeFn<T>, bound: Option<BoundFn>) -> Self {
        let all = Arc::clone(&each);
        let at_most = bound.clone();
        let collect: CollectFn = Arc::new(move |cx, p| {
            let mut out = Vec::with_capacity(at_most.as_ref().map_or(0, |b| b(p)));
            all(cx, p, &mut |x: &T| out.push(x.clone()));
            crate::rdd::data::partition(out)
        });
        Self { each: Box::new(each), collect, bound }
    }

    /// At most how many records partition `p` holds, if known before it is computed.
    pub fn bound(&self, p: usize) -> Option<usize> {
        self.bound.as_ref().map(|b| b(p))
    }

    /// The bound function, for a node that pushes at most one record per record of this one.
    pub fn bound_fn(&self) -> Option<BoundFn> {
        self.bound.clone()
    }
}

/// Pushes every record of partition `p` of `node`, in order, to `sink`. A pipelined node that is
/// not cached computes them record by record from its parent's (as Spark's narrow
/// transformations run through one iterator chain in a stage's task); any other node's partition
/// is computed in `cx` (or read from its cache) and its records read. A killed executor's task
/// stops before the next record the pipeline's first node hands on (Spark: the next `hasNext`
/// of the `InterruptibleIterator` over a task's input), not at the end of its partition.
pub fn for_each<T: Data>(node: &Arc<RddNode>, cx: &mut dyn TaskContext, p: usize, sink: &mut dyn FnMut(&T)) {
    if let Some(each) = node.pipe().and_then(|pipe| pipe.each.downcast_ref::<PipeFn<T>>()) {
        return each(cx, p, sink);
    }
    let part = cx.partition(node, p);
    let killed = cx.kill_switch().unwrap_or_default();
    for x in records::<T>(&part) {
        stop_if_killed(&killed);
        sink(x);
    }
}

impl RddNode {
    /// The nodes it reads directly, not through a shuffle (every partition of a union's).
    pub fn parents(&self) -> &[Arc<RddNode>] {
        match &self.kind {
            Kind::Narrow(parent, _) | Kind::Pipelined(Some(parent), _) => std::slice::from_ref(parent),
            Kind::Zip(parents, _) | Kind::Union(parents) => parents,
            Kind::Source(_) | Kind::Blocks(..) | Kind::Pipelined(None, _) | Kind::Shuffled(..) => &[],
        }
    }

    /// How its records are pushed one at a time, when it is pipelined and not cached (a cached
    /// node's partition is computed once and kept).
    pub fn pipe(&self) -> Option<&Pipe> {
        match &self.kind {
            Kind::Pipelined(_, pipe) if !self.cached => Some(pipe),
            _ => None,
        }
    }

    /// Computes partition `p` in `cx`.
    pub fn compute(self: &Arc<Self>, cx: &mut dyn TaskContext, p: usize) -> Partition {
        match &self.kind {
            Kind::Source(f) => f(p),
            Kind::Pipelined(_, pipe) => (pipe.collect)(cx, p),
            Kind::Narrow(parent, f) => f(&cx.partition(parent, p)),
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
    match (&node.kind, p) {
        (Kind::Union(parents), Some(p)) => {
            if let Some((parent, q)) = union_parent(parents, p) {
                walk(parent, Some(q), visitor);
            }
        }
        (Kind::Shuffled(s, _), _) => {
            if visitor.shuffle(s, p) {
                walk(&s.parent, None, visitor);
                visitor.after_shuffle(s);
            }
        }
        _ => node.parents().iter().for_each(|parent| walk(parent, p, visitor)),
    }
}
