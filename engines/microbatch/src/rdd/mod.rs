//! RDDs: immutable, partitioned collections described by their lineage.
//!
//! An [`Rdd<T>`] is a typed handle on a type-erased [`RddNode`]. Nodes are registered by id in a
//! per-process registry, so a task names an RDD and a partition, never a closure: every worker runs
//! the same program and builds the same lineage (as every Spark executor runs the same jar).
//! Narrow dependencies (map-partitions, union) are computed in the task that needs them, and
//! `map`, `flat_map` and `filter` record by record into their consumer (nothing between them
//! materialised, as Spark chains a stage's iterators); a shuffle dependency ends a stage: its
//! map side combines and partitions each parent partition into serialised blocks sent to the
//! reducers' executors. [`lineage`] holds the graph and its
//! walk, [`data`] what partitions hold, [`pair`] the keyed operations.

pub mod broadcast;
pub mod data;
pub mod lineage;
pub mod pair;

use std::marker::PhantomData;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

pub use broadcast::Broadcast;
pub(crate) use data::Ids;
pub use data::{
    partition, partition_of, records, Action, CollectFn, Data, DecodeFn, Either, Grouped, MapSideFn, NarrowFn,
    Partition, PipeFn, RddId, ReduceFn, RunJob, ShuffleData, ShuffleId, SourceFn, ZipFn,
};
pub use lineage::{for_each, stop_if_killed, BlockRef, Killed, Kind, Pipe, RddNode, Shuffle, TaskContext};

/// What RDDs are built in (Spark's `SparkContext`, as far as RDDs need one): the ids of
/// lineage nodes, which must not collide within a run, and the default parallelism. Every RDD of
/// a [`StreamingContext`](crate::StreamingContext) shares its context
/// ([`StreamingContext::rdd_context`](crate::StreamingContext::rdd_context), or
/// [`Rdd::context`] inside `transform`), so ids are never the user's concern.
#[derive(Clone)]
pub struct RddContext {
    pub(crate) ids: Ids,
    parallelism: usize,
}

impl RddContext {
    pub(crate) fn new(ids: Ids, parallelism: usize) -> Self {
        Self { ids, parallelism: parallelism.max(1) }
    }

    /// Partitions of shuffles when none are given (Spark's `spark.default.parallelism`).
    pub fn default_parallelism(&self) -> usize {
        self.parallelism
    }

    /// `parallelize(data, partitions)`: an RDD of `data` cut into `partitions` slices, in
    /// order. Built once, it can be used in every batch (a static dataset to join with); its
    /// partitions are computed where its tasks run.
    pub fn parallelize<T: Data>(&self, data: Vec<T>, partitions: usize) -> Rdd<T> {
        let data = Arc::new(data);
        let n = partitions.max(1);
        self.source(n, move |p| {
            let (len, per) = (data.len(), data.len().div_ceil(n));
            data[(p * per).min(len)..((p + 1) * per).min(len)].to_vec()
        })
    }

    /// `broadcast(value)`: `value` shared read-only by every task ([`Broadcast`]).
    pub fn broadcast<T: Send + Sync + 'static>(&self, value: T) -> Broadcast<T> {
        Broadcast::new(value)
    }

    /// `emptyRDD`: an RDD of `partitions` empty partitions.
    pub fn empty<T: Data>(&self, partitions: usize) -> Rdd<T> {
        self.source(partitions, |_| Vec::new())
    }

    /// `union(rdds)`: their partitions, one RDD after another (empty for no RDDs).
    pub fn union<T: Data>(&self, rdds: &[Rdd<T>]) -> Rdd<T> {
        let parents: Vec<Arc<RddNode>> = rdds.iter().map(|r| Arc::clone(&r.node)).collect();
        let partitions = parents.iter().map(|p| p.partitions).sum();
        self.node(partitions, Kind::Union(parents), false)
    }

    /// A source RDD of `partitions` partitions computed by `f`.
    pub(crate) fn source<T: Data>(
        &self,
        partitions: usize,
        f: impl Fn(usize) -> Vec<T> + Send + Sync + 'static,
    ) -> Rdd<T> {
        let f: SourceFn = Arc::new(move |p| partition(f(p)));
        self.node(partitions, Kind::Source(f), false)
    }

    /// A source RDD whose partition `p` `each` pushes to its sink record by record: its
    /// consumers in the task (pipelined transformations, a shuffle's map side) read it without
    /// materialising it, as Spark's `KafkaRDD` is an iterator over the records it fetches.
    pub(crate) fn pipelined_source<T: Data>(
        &self,
        partitions: usize,
        bound: impl Fn(usize) -> usize + Send + Sync + 'static,
        each: impl Fn(usize, &AtomicBool, &mut dyn FnMut(&T)) + Send + Sync + 'static,
    ) -> Rdd<T> {
        // `each` reads the kill switch at every record: see `for_each`.
        let pipe: PipeFn<T> = Arc::new(move |cx, p, sink| each(p, &cx.kill_switch().unwrap_or_default(), sink));
        self.node(partitions, Kind::Pipelined(None, Pipe::new(pipe, Some(Arc::new(bound)))), false)
    }

    /// Co-partitioned parents (the same partition count and partitioner) combined partition
    /// by partition by `f`, which downcasts each parent's partition itself.
    pub(crate) fn zip_all<T: Data>(
        &self,
        parents: Vec<Arc<RddNode>>,
        f: impl Fn(&[Partition]) -> Vec<T> + Send + Sync + 'static,
    ) -> Rdd<T> {
        let partitions = parents.first().map_or(0, |p| p.partitions);
        assert!(parents.iter().all(|p| p.partitions == partitions), "zipped RDDs are co-partitioned");
        let f: ZipFn = Arc::new(move |ps| partition(f(ps)));
        self.node(partitions, Kind::Zip(parents, f), false)
    }

    /// A new node of this context.
    pub(crate) fn node<T: Data>(&self, partitions: usize, kind: Kind, cached: bool) -> Rdd<T> {
        self.wrap(Arc::new(RddNode { id: self.ids.next(), partitions, kind, cached, partitioner: None }))
    }

    /// An RDD of this context over `node`.
    pub(crate) fn wrap<T: Data>(&self, node: Arc<RddNode>) -> Rdd<T> {
        Rdd { node, sc: self.clone(), _t: PhantomData }
    }
}

/// A typed handle on a lineage node, in its [`RddContext`].
pub struct Rdd<T> {
    /// The node.
    pub node: Arc<RddNode>,
    sc: RddContext,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Rdd<T> {
    fn clone(&self) -> Self {
        Self { node: Arc::clone(&self.node), sc: self.sc.clone(), _t: PhantomData }
    }
}

impl<T: Data> Rdd<T> {
    /// The context this RDD was built in (Spark's `rdd.sparkContext`): to `parallelize` a
    /// dataset inside `transform`.
    pub fn context(&self) -> &RddContext {
        &self.sc
    }

    /// How many partitions it has.
    pub fn partitions(&self) -> usize {
        self.node.partitions
    }

    /// `mapPartitions`: `f` of each partition's records.
    pub fn map_partitions<U: Data>(&self, f: impl Fn(&[T]) -> Vec<U> + Send + Sync + 'static) -> Rdd<U> {
        let f: NarrowFn = Arc::new(move |p| partition(f(records::<T>(p))));
        self.sc.node(self.node.partitions, Kind::Narrow(Arc::clone(&self.node), f), false)
    }

    /// `map`: `f` of every record (pipelined).
    pub fn map<U: Data>(&self, f: impl Fn(&T) -> U + Send + Sync + 'static) -> Rdd<U> {
        self.pipelined(true, move |x, sink| sink(&f(x)))
    }

    /// `flatMap`: every record of `f` of every record (pipelined).
    pub fn flat_map<U: Data, I: IntoIterator<Item = U>>(&self, f: impl Fn(&T) -> I + Send + Sync + 'static) -> Rdd<U> {
        self.pipelined(false, move |x, sink| {
            for y in f(x) {
                sink(&y);
            }
        })
    }

    /// `filter`: the records for which `f` holds (pipelined).
    pub fn filter(&self, f: impl Fn(&T) -> bool + Send + Sync + 'static) -> Rdd<T> {
        let keyed = self.node.partitioner.is_some();
        self.pipelined(true, move |x, sink| {
            if f(x) {
                sink(x);
            }
        })
        .partitioned(keyed)
    }

    /// A narrow transformation that `each` computes record by record, pushing a record's
    /// outputs to its sink. A consumer in the same task (another pipelined transformation, the
    /// map side of a shuffle) reads it without materialising it or its pipelined parents:
    /// Spark's narrow transformations, chained iterators in one task of a stage. Materialised
    /// (an action's input, a zip's, a cached RDD) it is computed from its parent's records all
    /// the same.
    /// `at_most_one`: `each` pushes at most one record per record, so a bound on the parent's
    /// partitions bounds this node's.
    fn pipelined<U: Data>(
        &self,
        at_most_one: bool,
        each: impl Fn(&T, &mut dyn FnMut(&U)) + Send + Sync + 'static,
    ) -> Rdd<U> {
        let parent = Arc::clone(&self.node);
        let pipe: PipeFn<U> = Arc::new(move |cx, p, sink| for_each::<T>(&parent, cx, p, &mut |x| each(x, &mut *sink)));
        let bound = self.node.pipe().and_then(Pipe::bound_fn).filter(|_| at_most_one);
        let parent = Some(Arc::clone(&self.node));
        self.sc.node(self.node.partitions, Kind::Pipelined(parent, Pipe::new(pipe, bound)), false)
    }

    /// `union(other)`: this RDD's partitions, then the other's.
    pub fn union(&self, other: &Rdd<T>) -> Rdd<T> {
        self.sc.union(&[self.clone(), other.clone()])
    }

    /// `zipPartitions`: this RDD with another of as many partitions, partition by partition.
    ///
    /// # Panics
    /// When the partition counts differ.
    pub fn zip_partitions<U: Data, W: Data>(
        &self,
        other: &Rdd<U>,
        f: impl Fn(&[T], &[U]) -> Vec<W> + Send + Sync + 'static,
    ) -> Rdd<W> {
        assert_eq!(self.node.partitions, other.node.partitions, "zipped RDDs are co-partitioned");
        let f: ZipFn = Arc::new(move |ps| partition(f(records::<T>(&ps[0]), records::<U>(&ps[1]))));
        let parents = vec![Arc::clone(&self.node), Arc::clone(&other.node)];
        self.sc.node(self.node.partitions, Kind::Zip(parents, f), false)
    }

    /// The reduce side of a shuffle of this RDD into `partitions` partitions.
    fn shuffled<U: Data>(&self, partitions: usize, map_side: MapSideFn, reduce: ReduceFn) -> Rdd<U> {
        let shuffle = Arc::new(Shuffle {
            id: self.sc.ids.next(),
            parent: Arc::clone(&self.node),
            map_side,
            reducers: partitions,
        });
        self.sc.node(partitions, Kind::Shuffled(shuffle, reduce), false)
    }

    /// This RDD (just built) known to hold pairs hash-partitioned by key into its partitions
    /// when `by_key` (Spark's `partitioner`; `preservesPartitioning` for a narrow one).
    pub(crate) fn partitioned(mut self, by_key: bool) -> Rdd<T> {
        let n = self.node.partitions;
        Arc::get_mut(&mut self.node).expect("a node just built").partitioner = by_key.then_some(n);
        self
    }

    /// Whether the records are pairs hash-partitioned by key into `n` partitions.
    pub fn partitioned_by_key_into(&self, n: usize) -> bool {
        self.node.partitioner == Some(n)
    }

    /// `cache`: the same RDD, kept in the block manager once computed.
    pub fn cache(&self) -> Rdd<T> {
        let f: NarrowFn = Arc::new(|p| Arc::clone(p));
        let keyed = self.node.partitioner.is_some();
        self.sc.node(self.node.partitions, Kind::Narrow(Arc::clone(&self.node), f), true).partitioned(keyed)
    }
}

impl<T: ShuffleData> Rdd<T> {
    /// `collect`: every record, partitions in order, brought to the driver by a job that `run`
    /// runs (the `run_job` of `foreach_rdd`).
    pub fn collect(&self, run: &mut RunJob<'_>) -> Result<Vec<T>, String> {
        let action: Action = Arc::new(|_p, part: &Partition, _r| {
            bincode::serialize(records::<T>(part)).map_err(|e| format!("cannot send records to the driver: {e}"))
        });
        let mut all = Vec::new();
        for bytes in run(Arc::clone(&self.node), action)? {
            // A follower process registers the job for its executors and gets no results (an
            // executor's, even of no records, is never empty): the records go to the driver.
            if bytes.is_empty() {
                continue;
            }
            let mut part: Vec<T> =
                bincode::deserialize(&bytes).map_err(|e| format!("a task result did not decode: {e}"))?;
            all.append(&mut part);
        }
        Ok(all)
    }

    /// `count`: how many records, counted on the executors by a job that `run` runs.
    pub fn count(&self, run: &mut RunJob<'_>) -> Result<u64, String> {
        let action: Action =
            Arc::new(|_p, part: &Partition, _r| Ok((records::<T>(part).len() as u64).to_le_bytes().to_vec()));
        let counts = run(Arc::clone(&self.node), action)?;
        Ok(counts.iter().map(|b| b.as_slice().try_into().map_or(0, u64::from_le_bytes)).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sources_bound_carries_through_map_and_filter_but_not_flat_map() {
        let sc = RddContext::new(Ids::default(), 2);
        let source = sc.pipelined_source(2, |p| 10 + p, |_p, _killed, sink: &mut dyn FnMut(&u64)| sink(&1));
        let bound = |r: &Rdd<u64>| r.node.pipe().and_then(|pipe| pipe.bound(1));
        assert_eq!(bound(&source), Some(11));
        assert_eq!(bound(&source.map(|x| x + 1).filter(|x| *x > 1)), Some(11));
        assert_eq!(bound(&source.flat_map(|x| vec![*x; 3])), None, "a flat_map may push more than it reads");
        assert_eq!(bound(&source.flat_map(|x| vec![*x; 3]).map(|x| x + 1)), None);
    }
}
