//! RDDs: immutable, partitioned collections described by their lineage.
//!
//! An [`Rdd<T>`] is a typed handle on a type-erased [`RddNode`]. Nodes are registered by id in a
//! per-process registry, so a task names an RDD and a partition, never a closure: every worker runs
//! the same program and builds the same lineage (as every Spark executor runs the same jar).
//! Narrow dependencies (map-partitions, union) are computed in the task that needs them; a
//! shuffle dependency ends a stage: its map side combines and partitions each parent partition
//! into serialised blocks sent to the reducers' executors.

use std::any::Any;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A key's values from each side of a `cogroup`.
pub type Grouped<V, W> = (Vec<V>, Vec<W>);

/// Identifies an RDD within a run.
pub type RddId = u64;
/// Identifies a shuffle within a run.
pub type ShuffleId = u64;

/// A computed partition: a `Vec<T>` behind `Any`.
pub type Partition = Arc<dyn Any + Send + Sync>;

/// Values an RDD can hold.
pub trait Data: Clone + Send + Sync + 'static {}
impl<T: Clone + Send + Sync + 'static> Data for T {}

/// Keys and values that cross a shuffle.
pub trait ShuffleData: Data + Serialize + DeserializeOwned {}
impl<T: Data + Serialize + DeserializeOwned> ShuffleData for T {}

/// How an executor obtains the inputs of a computation: computed parents and shuffle blocks.
pub trait TaskContext {
    /// The partition `p` of `rdd`, computed (or read from the block manager when cached).
    fn partition(&mut self, rdd: &Arc<RddNode>, p: usize) -> Partition;
    /// Every serialised block the map side of `shuffle` wrote for reduce partition `p`.
    fn shuffle_blocks(&mut self, shuffle: ShuffleId, p: usize) -> Vec<Vec<u8>>;
    /// A received block stored on this executor (the scheduler runs a block's task where a
    /// copy is).
    fn stored_block(&mut self, id: u64) -> Option<Arc<Vec<u8>>>;
}

/// Computes a partition of a source.
pub type SourceFn = Arc<dyn Fn(usize) -> Partition + Send + Sync>;
/// Turns a parent partition into a partition.
pub type NarrowFn = Arc<dyn Fn(&Partition) -> Partition + Send + Sync>;
/// Turns parent partition `p` into one serialised block per reduce partition (map-side
/// combine): `(partition, p, reducers)`.
pub type MapSideFn = Arc<dyn Fn(&Partition, usize, usize) -> Vec<Vec<u8>> + Send + Sync>;
/// Turns every block of a reduce partition into the partition.
pub type ReduceFn = Arc<dyn Fn(Vec<Vec<u8>>) -> Partition + Send + Sync>;
/// Decodes a received block into a partition.
pub type DecodeFn = Arc<dyn Fn(&[u8]) -> Partition + Send + Sync>;
/// Combines the partitions of several parents (same partitioning) into one.
pub type ZipFn = Arc<dyn Fn(&[Partition]) -> Partition + Send + Sync>;

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
                let mut p = p;
                for parent in parents {
                    if p < parent.partitions {
                        return cx.partition(parent, p);
                    }
                    p -= parent.partitions;
                }
                unreachable!("partition within the union")
            }
            Kind::Zip(parents, f) => {
                let inputs: Vec<Partition> = parents.iter().map(|parent| cx.partition(parent, p)).collect();
                f(&inputs)
            }
            Kind::Shuffled(shuffle, reduce) => reduce(cx.shuffle_blocks(shuffle.id, p)),
            Kind::Blocks(blocks, decode) => match cx.stored_block(blocks[p].id) {
                Some(bytes) => decode(&bytes),
                // The scheduler places the task with a copy; none here means both copies are
                // gone, which it refuses before the stage starts.
                None => panic!("block {} is not on this executor", blocks[p].id),
            },
        }
    }

    /// The shuffles this RDD's lineage depends on, nearest stage boundaries only (the parents
    /// of these are computed by earlier stages).
    pub fn shuffle_deps(&self) -> Vec<Arc<Shuffle>> {
        let mut out = Vec::new();
        self.collect_shuffles(&mut out);
        out
    }

    fn collect_shuffles(&self, out: &mut Vec<Arc<Shuffle>>) {
        match &self.kind {
            Kind::Source(_) | Kind::Blocks(..) => {}
            Kind::Narrow(parent, _) => parent.collect_shuffles(out),
            Kind::Union(parents) | Kind::Zip(parents, _) => parents.iter().for_each(|p| p.collect_shuffles(out)),
            Kind::Shuffled(s, _) => {
                if !out.iter().any(|o| o.id == s.id) {
                    out.push(Arc::clone(s));
                }
            }
        }
    }
}

/// Downcasts a partition to its records.
pub fn records<T: Data>(p: &Partition) -> &Vec<T> {
    p.downcast_ref::<Vec<T>>().expect("partition of the RDD's element type")
}

/// Wraps records as a partition.
pub fn partition<T: Data>(v: Vec<T>) -> Partition {
    Arc::new(v)
}

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

/// Allocates RDD and shuffle ids.
#[derive(Default, Clone)]
pub struct Ids(Arc<std::sync::atomic::AtomicU64>);

impl Ids {
    /// Ids from `first` on (received blocks use their own range: they are made by the driver's
    /// process alone, while RDD ids must match in every process).
    pub fn starting_at(first: u64) -> Self {
        Self(Arc::new(std::sync::atomic::AtomicU64::new(first)))
    }

    /// A fresh id.
    pub fn next(&self) -> u64 {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

/// The partition of `key` among `n`.
pub fn partition_of<K: Hash>(key: &K, n: usize) -> usize {
    use std::hash::BuildHasher;
    (workloads::hash::mix64(rustc_hash::FxBuildHasher.hash_one(key)) % n as u64) as usize
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

impl<T: ShuffleData> Rdd<T> {
    /// Redistributes the records into `partitions` partitions without combining: the record
    /// at index `i` of map partition `p` goes to reduce partition `route(p, i, record,
    /// partitions)`.
    /// Blocks are read in map-partition order, so records of one map partition keep their order.
    pub fn shuffle_by(
        &self,
        ids: &Ids,
        partitions: usize,
        route: impl Fn(usize, usize, &T, usize) -> usize + Send + Sync + 'static,
    ) -> Rdd<T> {
        let map_side: MapSideFn = Arc::new(move |part, p, n| {
            let mut buckets: Vec<Vec<&T>> = (0..n).map(|_| Vec::new()).collect();
            for (i, x) in records::<T>(part).iter().enumerate() {
                buckets[route(p, i, x, n)].push(x);
            }
            buckets.iter().map(|b| bincode::serialize(b).expect("serialise a shuffle block")).collect()
        });
        let reduce: ReduceFn = Arc::new(move |blocks| {
            let mut out = Vec::new();
            for block in blocks {
                let mut part: Vec<T> = bincode::deserialize(&block).expect("a shuffle block this run wrote");
                out.append(&mut part);
            }
            partition(out)
        });
        self.shuffled(ids, partitions, map_side, reduce)
    }
}

impl<K: ShuffleData + Hash + Eq, V: ShuffleData> Rdd<(K, V)> {
    /// Partitions the pairs by key into `partitions` partitions (no combining), co-partitioned
    /// with every other keyed shuffle into as many partitions.
    pub fn partition_by_key(&self, ids: &Ids, partitions: usize) -> Rdd<(K, V)> {
        self.shuffle_by(ids, partitions, |_, _, (k, _), n| partition_of(k, n))
    }

    /// Every key of either RDD with all its values from each (`cogroup`): both sides are
    /// grouped by key into `partitions` partitions, then zipped partition by partition.
    pub fn cogroup<W: ShuffleData>(
        &self,
        ids: &Ids,
        other: &Rdd<(K, W)>,
        partitions: usize,
    ) -> Rdd<(K, Grouped<V, W>)> {
        let left = self.group_by_key(ids, partitions);
        let right = other.group_by_key(ids, partitions);
        left.zip_with(ids, &right, |ls, rs| {
            let mut out: rustc_hash::FxHashMap<K, (Vec<V>, Vec<W>)> = Default::default();
            for (k, vs) in ls {
                out.entry(k.clone()).or_default().0.extend(vs.iter().cloned());
            }
            for (k, ws) in rs {
                out.entry(k.clone()).or_default().1.extend(ws.iter().cloned());
            }
            out.into_iter().collect()
        })
    }

    /// Groups the values of each key into `partitions` partitions (map-side grouping).
    pub fn group_by_key(&self, ids: &Ids, partitions: usize) -> Rdd<(K, Vec<V>)> {
        self.combine_by_key(ids, partitions, |v: &V| vec![v.clone()], |c, v| c.push(v.clone()), |c, d| c.extend(d))
    }

    /// Shuffles into `partitions` partitions by key, combining values of a key with `merge` on
    /// both sides of the shuffle (map-side combine, as Spark's `combineByKey`).
    pub fn combine_by_key<C: ShuffleData>(
        &self,
        ids: &Ids,
        partitions: usize,
        create: impl Fn(&V) -> C + Send + Sync + 'static,
        merge_value: impl Fn(&mut C, &V) + Send + Sync + 'static,
        merge_combiners: impl Fn(&mut C, C) + Send + Sync + 'static,
    ) -> Rdd<(K, C)> {
        let map_side: MapSideFn = Arc::new(move |p, _, n| {
            let mut buckets: Vec<rustc_hash::FxHashMap<K, C>> = (0..n).map(|_| Default::default()).collect();
            for (k, v) in records::<(K, V)>(p) {
                let bucket = &mut buckets[partition_of(k, n)];
                match bucket.get_mut(k) {
                    Some(c) => merge_value(c, v),
                    None => {
                        bucket.insert(k.clone(), create(v));
                    }
                }
            }
            buckets
                .into_iter()
                .map(|b| {
                    bincode::serialize(&b.into_iter().collect::<Vec<(K, C)>>()).expect("serialise a shuffle block")
                })
                .collect()
        });
        let reduce: ReduceFn = Arc::new(move |blocks| {
            let mut out: rustc_hash::FxHashMap<K, C> = Default::default();
            for block in blocks {
                let pairs: Vec<(K, C)> = bincode::deserialize(&block).expect("a shuffle block this run wrote");
                for (k, c) in pairs {
                    match out.get_mut(&k) {
                        Some(existing) => merge_combiners(existing, c),
                        None => {
                            out.insert(k, c);
                        }
                    }
                }
            }
            partition(out.into_iter().collect::<Vec<(K, C)>>())
        });
        self.shuffled(ids, partitions, map_side, reduce)
    }
}
