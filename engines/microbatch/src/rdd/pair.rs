//! Shuffles and keyed operations on RDDs: `shuffle_by`, `partition_by_key`, `cogroup`, `join`,
//! `group_by_key`, `reduce_by_key`, `combine_by_key` (with map-side combine, as Spark's).

use std::hash::Hash;
use std::sync::Arc;

use crate::rdd::data::{partition, partition_of, records, Grouped, Ids, MapSideFn, ReduceFn, ShuffleData};
use crate::rdd::Rdd;

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
                let mut part: Vec<T> = bincode::deserialize(block).expect("a shuffle block this run wrote");
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

    /// `join`: `(k, (v, w))` for every pair of values of a key in both RDDs, in `partitions`
    /// partitions (Spark's `join(other, numPartitions)`).
    ///
    /// ```
    /// use microbatch::{Clock, StreamingConf, StreamingContext};
    /// let ssc = StreamingContext::new(StreamingConf { clock: Clock::Manual, ..StreamingConf::default() }, std::time::Duration::from_millis(100)).unwrap();
    /// let ads = ssc.parallelize(vec![(7u32, 1u64), (8, 2), (7, 3)], 2);
    /// let campaigns = ssc.parallelize(vec![(7u32, 70u32), (8, 80)], 1);
    /// let joined = ads.join(ssc.ids(), &campaigns, 2);
    /// assert_eq!(joined.node.partitions, 2);
    /// ```
    pub fn join<W: ShuffleData>(&self, ids: &Ids, other: &Rdd<(K, W)>, partitions: usize) -> Rdd<(K, (V, W))> {
        self.cogroup(ids, other, partitions).map_partitions(ids, |groups| {
            let mut out = Vec::new();
            for (k, (vs, ws)) in groups {
                for v in vs {
                    out.extend(ws.iter().map(|w| (k.clone(), (v.clone(), w.clone()))));
                }
            }
            out
        })
    }

    /// `reduceByKey`: the values of each key combined by `f`, on both sides of the shuffle, into
    /// `partitions` partitions.
    pub fn reduce_by_key(
        &self,
        ids: &Ids,
        partitions: usize,
        f: impl Fn(&V, &V) -> V + Send + Sync + 'static,
    ) -> Rdd<(K, V)> {
        let f = Arc::new(f);
        let (f1, f2) = (Arc::clone(&f), f);
        self.combine_by_key(ids, partitions, |v: &V| v.clone(), move |c, v| *c = f1(c, v), move |c, d| *c = f2(c, &d))
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
                let pairs: Vec<(K, C)> = bincode::deserialize(block).expect("a shuffle block this run wrote");
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
