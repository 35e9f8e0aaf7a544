//! Shuffles and keyed operations on RDDs, as Spark's `PairRDDFunctions`: `partition_by_key`,
//! `reduce_by_key`, `group_by_key`, `combine_by_key` (with map-side combine), `map_values`,
//! `cogroup`, `join` and the outer joins. Without a partition count they shuffle into the
//! context's default parallelism; the `_n` forms take one (Spark's `numPartitions`).

use std::hash::Hash;
use std::sync::Arc;

use crate::rdd::data::BlockWriter;
use crate::rdd::data::{
    block_len, hold, partition, partition_of, read_block, records, reduce_buffer, Data, Either, Grouped, MapSideFn,
    ReduceFn, ShuffleData,
};
use crate::rdd::{for_each, Rdd};

impl<T: ShuffleData> Rdd<T> {
    /// Redistributes the records into `partitions` partitions without combining: the record
    /// at index `i` of map partition `p` goes to reduce partition `route(p, i, record,
    /// partitions)`.
    /// Blocks are read in map-partition order, so records of one map partition keep their order.
    pub fn shuffle_by(
        &self,
        partitions: usize,
        route: impl Fn(usize, usize, &T, usize) -> usize + Send + Sync + 'static,
    ) -> Rdd<T> {
        let map_side: MapSideFn = Arc::new(move |cx, parent, p, n| {
            // Blocks sized from a materialised parent's records, or from a pipelined one's bound
            // (its source's offsets); otherwise they grow.
            let computed = parent.pipe().is_none().then(|| cx.partition(parent, p));
            let known = match (&computed, parent.pipe()) {
                (Some(c), _) => records::<T>(c).len(),
                (None, Some(pipe)) => pipe.bound(p).unwrap_or(0),
                (None, None) => 0,
            };
            let mut blocks = BlockWriter::new(n, known, std::mem::size_of::<T>());
            let mut i = 0;
            let mut push = |x: &T| {
                blocks.push(route(p, i, x, n), x);
                i += 1;
            };
            match &computed {
                Some(c) => records::<T>(c).iter().for_each(push),
                None => for_each::<T>(parent, cx, p, &mut push),
            }
            blocks.finish()
        });
        let reduce: ReduceFn = Arc::new(move |blocks| {
            // Decoded straight into one partition sized up front: no vector per block, no
            // growing, no copy from one into the other.
            let mut out = reduce_buffer(blocks.iter().map(|b| block_len(b)).sum());
            for block in blocks {
                read_block(block, |x: T| out.push(x));
            }
            let out = partition(out);
            hold(&out);
            out
        });
        self.shuffled(partitions, map_side, reduce)
    }
}

impl<K: ShuffleData + Hash + Eq, V: ShuffleData> Rdd<(K, V)> {
    /// Partitions the pairs by key into `partitions` partitions (no combining), co-partitioned
    /// with every other keyed shuffle into as many partitions.
    pub fn partition_by_key(&self, partitions: usize) -> Rdd<(K, V)> {
        if self.partitioned_by_key_into(partitions) {
            return self.clone();
        }
        self.shuffle_by(partitions, |_, _, (k, _), n| partition_of(k, n)).partitioned(true)
    }

    /// `mapValues`: `f` of every value, keys kept.
    pub fn map_values<U: Data>(&self, f: impl Fn(&V) -> U + Send + Sync + 'static) -> Rdd<(K, U)> {
        let keyed = self.node.partitioner.is_some();
        self.map(move |(k, v)| (k.clone(), f(v))).partitioned(keyed)
    }

    /// `reduceByKey`: the values of each key combined by `f`, on both sides of the shuffle.
    pub fn reduce_by_key(&self, f: impl Fn(&V, &V) -> V + Send + Sync + 'static) -> Rdd<(K, V)> {
        self.reduce_by_key_n(f, self.context().default_parallelism())
    }

    /// `reduceByKey(f, numPartitions)`.
    pub fn reduce_by_key_n(&self, f: impl Fn(&V, &V) -> V + Send + Sync + 'static, partitions: usize) -> Rdd<(K, V)> {
        let f = Arc::new(f);
        let (f1, f2) = (Arc::clone(&f), f);
        self.combine_by_key(|v: &V| v.clone(), move |c, v| *c = f1(c, v), move |c, d| *c = f2(c, &d), partitions)
    }

    /// `groupByKey`: the values of each key, grouped (map-side grouping).
    pub fn group_by_key(&self) -> Rdd<(K, Vec<V>)> {
        self.group_by_key_n(self.context().default_parallelism())
    }

    /// `groupByKey(numPartitions)`.
    pub fn group_by_key_n(&self, partitions: usize) -> Rdd<(K, Vec<V>)> {
        self.combine_by_key(|v: &V| vec![v.clone()], |c, v| c.push(v.clone()), |c, d| c.extend(d), partitions)
    }

    /// `cogroup`: every key of either RDD with all its values from each.
    pub fn cogroup<W: ShuffleData>(&self, other: &Rdd<(K, W)>) -> Rdd<(K, Grouped<V, W>)> {
        self.cogroup_n(other, self.context().default_parallelism())
    }

    /// `cogroup(other, numPartitions)`: both sides are grouped by key into `partitions`
    /// partitions, then zipped partition by partition.
    pub fn cogroup_n<W: ShuffleData>(&self, other: &Rdd<(K, W)>, partitions: usize) -> Rdd<(K, Grouped<V, W>)> {
        let left = self.group_by_key_n(partitions);
        let right = other.group_by_key_n(partitions);
        left.zip_partitions(&right, |ls, rs| {
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

    /// `join`: `(k, (v, w))` for every pair of values of a key in both RDDs.
    ///
    /// ```
    /// use microbatch::{Clock, StreamingConf, StreamingContext};
    /// let conf = StreamingConf { clock: Clock::Manual, ..StreamingConf::default() };
    /// let ssc = StreamingContext::new(conf, std::time::Duration::from_millis(100)).unwrap();
    /// let sc = ssc.rdd_context();
    /// let ads = sc.parallelize(vec![(7u32, 1u64), (8, 2), (7, 3)], 2);
    /// let campaigns = sc.parallelize(vec![(7u32, 70u32), (8, 80)], 1);
    /// // Into the context's default parallelism (2 here); `join_n` takes a partition count.
    /// assert_eq!(ads.join(&campaigns).partitions(), 2);
    /// assert_eq!(ads.join_n(&campaigns, 4).partitions(), 4);
    /// ```
    pub fn join<W: ShuffleData>(&self, other: &Rdd<(K, W)>) -> Rdd<(K, (V, W))> {
        self.join_n(other, self.context().default_parallelism())
    }

    /// `join(other, numPartitions)`.
    pub fn join_n<W: ShuffleData>(&self, other: &Rdd<(K, W)>, partitions: usize) -> Rdd<(K, (V, W))> {
        self.cogroup_flat(other, partitions, |vs, ws, out| {
            for v in vs {
                out.extend(ws.iter().map(|w| (v.clone(), w.clone())));
            }
        })
    }

    /// `leftOuterJoin`: every value of this RDD, with each matching value or `None`.
    pub fn left_outer_join<W: ShuffleData>(&self, other: &Rdd<(K, W)>) -> Rdd<(K, (V, Option<W>))> {
        self.cogroup_flat(other, self.context().default_parallelism(), |vs, ws, out| {
            for v in vs {
                if ws.is_empty() {
                    out.push((v.clone(), None));
                }
                out.extend(ws.iter().map(|w| (v.clone(), Some(w.clone()))));
            }
        })
    }

    /// `rightOuterJoin`: every value of the other RDD, with each matching value or `None`.
    pub fn right_outer_join<W: ShuffleData>(&self, other: &Rdd<(K, W)>) -> Rdd<(K, (Option<V>, W))> {
        self.cogroup_flat(other, self.context().default_parallelism(), |vs, ws, out| {
            for w in ws {
                if vs.is_empty() {
                    out.push((None, w.clone()));
                }
                out.extend(vs.iter().map(|v| (Some(v.clone()), w.clone())));
            }
        })
    }

    /// `fullOuterJoin`: every value of either RDD, with each matching value or `None`.
    pub fn full_outer_join<W: ShuffleData>(&self, other: &Rdd<(K, W)>) -> Rdd<(K, Either<V, W>)> {
        self.cogroup_flat(other, self.context().default_parallelism(), |vs, ws, out| {
            match (vs.is_empty(), ws.is_empty()) {
                (_, true) => out.extend(vs.iter().map(|v| (Some(v.clone()), None))),
                (true, false) => out.extend(ws.iter().map(|w| (None, Some(w.clone())))),
                (false, false) => {
                    for v in vs {
                        out.extend(ws.iter().map(|w| (Some(v.clone()), Some(w.clone()))));
                    }
                }
            }
        })
    }

    /// A cogroup into `partitions` whose value lists `emit` turns into joined values.
    fn cogroup_flat<W: ShuffleData, J: Data>(
        &self,
        other: &Rdd<(K, W)>,
        partitions: usize,
        emit: impl Fn(&[V], &[W], &mut Vec<J>) + Send + Sync + 'static,
    ) -> Rdd<(K, J)> {
        self.cogroup_n(other, partitions).map_partitions(move |groups| {
            let (mut out, mut joined) = (Vec::new(), Vec::new());
            for (k, (vs, ws)) in groups {
                emit(vs, ws, &mut joined);
                out.extend(joined.drain(..).map(|j| (k.clone(), j)));
            }
            out
        })
    }

    /// `combineByKey(create, mergeValue, mergeCombiners, numPartitions)`: shuffles into
    /// `partitions` partitions by key, combining values of a key on both sides of the shuffle
    /// (map-side combine).
    pub fn combine_by_key<C: ShuffleData>(
        &self,
        create: impl Fn(&V) -> C + Send + Sync + 'static,
        merge_value: impl Fn(&mut C, &V) + Send + Sync + 'static,
        merge_combiners: impl Fn(&mut C, C) + Send + Sync + 'static,
        partitions: usize,
    ) -> Rdd<(K, C)> {
        if self.partitioned_by_key_into(partitions) {
            // Every key is in its partition already (Spark: the same partitioner, no shuffle).
            return self
                .map_partitions(move |pairs| {
                    let mut out: rustc_hash::FxHashMap<K, C> = Default::default();
                    for (k, v) in pairs {
                        match out.get_mut(k) {
                            Some(c) => merge_value(c, v),
                            None => {
                                out.insert(k.clone(), create(v));
                            }
                        }
                    }
                    out.into_iter().collect()
                })
                .partitioned(true);
        }
        let map_side: MapSideFn = Arc::new(move |cx, parent, p, n| {
            // Combined first, then split: a key's reduce partition is found once per key, not
            // once per record. The pairs come one at a time from the parent's pipeline.
            let mut combined: rustc_hash::FxHashMap<K, C> = Default::default();
            for_each::<(K, V)>(parent, cx, p, &mut |(k, v)| match combined.get_mut(k) {
                Some(c) => merge_value(c, v),
                None => {
                    combined.insert(k.clone(), create(v));
                }
            });
            let mut blocks = BlockWriter::new(n, combined.len(), std::mem::size_of::<(K, C)>());
            for kc in &combined {
                blocks.push(partition_of(kc.0, n), &kc);
            }
            blocks.finish()
        });
        let reduce: ReduceFn = Arc::new(move |blocks| {
            let mut out: rustc_hash::FxHashMap<K, C> = Default::default();
            for block in blocks {
                read_block(block, |(k, c): (K, C)| match out.get_mut(&k) {
                    Some(existing) => merge_combiners(existing, c),
                    None => {
                        out.insert(k, c);
                    }
                });
            }
            partition(out.into_iter().collect::<Vec<(K, C)>>())
        });
        self.shuffled(partitions, map_side, reduce).partitioned(true)
    }
}
