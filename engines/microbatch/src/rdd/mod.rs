//! RDDs: immutable, partitioned collections described by their lineage.
//!
//! An [`Rdd<T>`] is a typed handle on a type-erased [`RddNode`]. Nodes are registered by id in a
//! per-process registry, so a task names an RDD and a partition, never a closure: every worker runs
//! the same program and builds the same lineage (as every Spark executor runs the same jar).
//! Narrow dependencies (map-partitions, union) are computed in the task that needs them; a
//! shuffle dependency ends a stage: its map side combines and partitions each parent partition
//! into serialised blocks sent to the reducers' executors. [`lineage`] holds the graph and its
//! walk, [`data`] what partitions hold, [`pair`] the keyed operations.

pub mod data;
pub mod lineage;
pub mod pair;

use std::marker::PhantomData;
use std::sync::Arc;

pub use data::{
    partition, partition_of, records, Data, DecodeFn, Grouped, Ids, MapSideFn, NarrowFn, Partition, RddId, ReduceFn,
    ShuffleData, ShuffleId, SourceFn, ZipFn,
};
pub use lineage::{BlockRef, Kind, RddNode, Shuffle, TaskContext};

/// A typed handle on a lineage node.
pub struct Rdd<T> {
    /// The node.
    pub node: Arc<RddNode>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Rdd<T> {
    fn clone(&self) -> Self {
        Self { node: Arc::clone(&self.node), _t: PhantomData }
    }
}

impl<T: Data> Rdd<T> {
    /// An RDD from a node.
    pub fn from_node(node: Arc<RddNode>) -> Self {
        Self { node, _t: PhantomData }
    }

    /// A source RDD of `partitions` partitions computed by `f`.
    pub fn source(ids: &Ids, partitions: usize, f: impl Fn(usize) -> Vec<T> + Send + Sync + 'static) -> Self {
        let f: SourceFn = Arc::new(move |p| partition(f(p)));
        Self::from_node(Arc::new(RddNode { id: ids.next(), partitions, kind: Kind::Source(f), cached: false }))
    }

    /// Applies `f` to each partition.
    pub fn map_partitions<U: Data>(&self, ids: &Ids, f: impl Fn(&[T]) -> Vec<U> + Send + Sync + 'static) -> Rdd<U> {
        let f: NarrowFn = Arc::new(move |p| partition(f(records::<T>(p))));
        Rdd::from_node(Arc::new(RddNode {
            id: ids.next(),
            partitions: self.node.partitions,
            kind: Kind::Narrow(Arc::clone(&self.node), f),
            cached: false,
        }))
    }

    /// `map`: `f` of every record.
    pub fn map<U: Data>(&self, ids: &Ids, f: impl Fn(&T) -> U + Send + Sync + 'static) -> Rdd<U> {
        self.map_partitions(ids, move |xs| xs.iter().map(&f).collect())
    }

    /// `flatMap`: every record of `f` of every record.
    pub fn flat_map<U: Data, I: IntoIterator<Item = U>>(
        &self,
        ids: &Ids,
        f: impl Fn(&T) -> I + Send + Sync + 'static,
    ) -> Rdd<U> {
        self.map_partitions(ids, move |xs| xs.iter().flat_map(&f).collect())
    }

    /// `filter`: the records for which `f` holds.
    pub fn filter(&self, ids: &Ids, f: impl Fn(&T) -> bool + Send + Sync + 'static) -> Rdd<T> {
        self.map_partitions(ids, move |xs| xs.iter().filter(|x| f(x)).cloned().collect())
    }

    /// The union of several RDDs of the same type.
    pub fn union(ids: &Ids, rdds: &[Rdd<T>]) -> Rdd<T> {
        let parents: Vec<Arc<RddNode>> = rdds.iter().map(|r| Arc::clone(&r.node)).collect();
        let partitions = parents.iter().map(|p| p.partitions).sum();
        Rdd::from_node(Arc::new(RddNode { id: ids.next(), partitions, kind: Kind::Union(parents), cached: false }))
    }

    /// Zips this RDD with others of the same partitioning, partition by partition.
    pub fn zip_with<U: Data, W: Data>(
        &self,
        ids: &Ids,
        other: &Rdd<U>,
        f: impl Fn(&[T], &[U]) -> Vec<W> + Send + Sync + 'static,
    ) -> Rdd<W> {
        assert_eq!(self.node.partitions, other.node.partitions, "zipped RDDs are co-partitioned");
        let f: ZipFn = Arc::new(move |ps| partition(f(records::<T>(&ps[0]), records::<U>(&ps[1]))));
        Rdd::from_node(Arc::new(RddNode {
            id: ids.next(),
            partitions: self.node.partitions,
            kind: Kind::Zip(vec![Arc::clone(&self.node), Arc::clone(&other.node)], f),
            cached: false,
        }))
    }

    /// An RDD of `partitions` empty partitions.
    pub fn empty(ids: &Ids, partitions: usize) -> Self {
        Self::source(ids, partitions, |_| Vec::new())
    }

    /// Co-partitioned parents (the same partition count and partitioner) combined partition
    /// by partition by `f`, which downcasts each parent's partition itself.
    pub fn zip_all(
        ids: &Ids,
        parents: Vec<Arc<RddNode>>,
        f: impl Fn(&[Partition]) -> Vec<T> + Send + Sync + 'static,
    ) -> Self {
        let partitions = parents.first().map_or(0, |p| p.partitions);
        assert!(parents.iter().all(|p| p.partitions == partitions), "zipped RDDs are co-partitioned");
        let f: ZipFn = Arc::new(move |ps| partition(f(ps)));
        Rdd::from_node(Arc::new(RddNode { id: ids.next(), partitions, kind: Kind::Zip(parents, f), cached: false }))
    }

    /// The reduce side of a shuffle of this RDD into `partitions` partitions.
    fn shuffled<U: Data>(&self, ids: &Ids, partitions: usize, map_side: MapSideFn, reduce: ReduceFn) -> Rdd<U> {
        let shuffle =
            Arc::new(Shuffle { id: ids.next(), parent: Arc::clone(&self.node), map_side, reducers: partitions });
        Rdd::from_node(Arc::new(RddNode {
            id: ids.next(),
            partitions,
            kind: Kind::Shuffled(shuffle, reduce),
            cached: false,
        }))
    }

    /// The same RDD, kept in the block manager once computed.
    pub fn cache(&self, ids: &Ids) -> Rdd<T> {
        let f: NarrowFn = Arc::new(|p| Arc::clone(p));
        Rdd::from_node(Arc::new(RddNode {
            id: ids.next(),
            partitions: self.node.partitions,
            kind: Kind::Narrow(Arc::clone(&self.node), f),
            cached: true,
        }))
    }
}
