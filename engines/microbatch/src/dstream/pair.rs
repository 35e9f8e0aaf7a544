//! Transformations on pair streams (Spark's `PairDStreamFunctions`): `reduce_by_key`,
//! `group_by_key`, `map_values`, `flat_map_values`, `combine_by_key`, `cogroup` and the joins.
//!
//! Every operation of the family on two 1 s batches, with what each batch gives:
//!
//! ```
//! # use std::collections::BTreeMap;
//! # use std::sync::{Arc, Mutex};
//! # use std::time::Duration;
//! # use microbatch::{Clock, DStream, StreamingConf, StreamingContext};
//! # use microbatch::rdd::ShuffleData;
//! # /// Every batch's records (sorted), by batch time in ms.
//! # fn collect<T: ShuffleData + Ord>(d: &DStream<T>) -> Arc<Mutex<BTreeMap<u64, Vec<T>>>> {
//! #     let out = Arc::new(Mutex::new(BTreeMap::new()));
//! #     let sink = Arc::clone(&out);
//! #     d.foreach_batch(move |t, mut records| { records.sort(); sink.lock().unwrap().insert(t / 1_000_000, records); }).unwrap();
//! #     out
//! # }
//! # fn s(x: &str) -> String { x.to_owned() }
//! let conf = StreamingConf { executors: 2, clock: Clock::Manual, batches: Some(2), ..StreamingConf::default() };
//! let mut ssc = StreamingContext::new(conf, Duration::from_secs(1)).unwrap();
//! let left = ssc.queue_stream(vec![vec![(s("a"), 1u64), (s("a"), 2), (s("b"), 3)], vec![(s("c"), 4)]]).unwrap();
//! let right = ssc.queue_stream(vec![vec![(s("a"), s("x"))], vec![]]).unwrap();
//! let reduced = collect(&left.reduce_by_key(|x, y| x + y).unwrap());
//! let grouped = collect(&left.group_by_key().unwrap().map_values(|vs| vs.iter().sum::<u64>()).unwrap());
//! let flat = collect(&left.flat_map_values(|v| vec![*v; 2]).unwrap());
//! let means = collect(&left.combine_by_key(|v| (*v, 1u64), |c, v| *c = (c.0 + v, c.1 + 1), |c, d| *c = (c.0 + d.0, c.1 + d.1), 2).unwrap());
//! let cogroup = collect(&left.cogroup(&right).unwrap().map_values(|(vs, ws)| (vs.len(), ws.len())).unwrap());
//! let join = collect(&left.join(&right).unwrap());
//! let left_outer = collect(&left.left_outer_join(&right).unwrap());
//! let right_outer = collect(&left.right_outer_join(&right).unwrap());
//! let full_outer = collect(&left.full_outer_join(&right).unwrap());
//! ssc.start().unwrap();
//! ssc.await_termination().unwrap();
//! assert_eq!(reduced.lock().unwrap()[&1000], [(s("a"), 3), (s("b"), 3)]);
//! assert_eq!(grouped.lock().unwrap()[&2000], [(s("c"), 4)]);
//! assert_eq!(flat.lock().unwrap()[&2000], [(s("c"), 4), (s("c"), 4)]);
//! assert_eq!(means.lock().unwrap()[&1000], [(s("a"), (3, 2)), (s("b"), (3, 1))]);
//! assert_eq!(cogroup.lock().unwrap()[&1000], [(s("a"), (2, 1)), (s("b"), (1, 0))]);
//! assert_eq!(join.lock().unwrap()[&1000], [(s("a"), (1, s("x"))), (s("a"), (2, s("x")))]);
//! assert_eq!(left_outer.lock().unwrap()[&1000], [(s("a"), (1, Some(s("x")))), (s("a"), (2, Some(s("x")))), (s("b"), (3, None))]);
//! assert_eq!(right_outer.lock().unwrap()[&2000], []);
//! assert_eq!(full_outer.lock().unwrap()[&2000], [(s("c"), (Some(4), None))]);
//! ```

// The joins' types are Spark's nested pairs.
#![allow(clippy::type_complexity)]

use std::hash::Hash;
use std::sync::Arc;

use crate::dstream::DStream;
use crate::rdd::{Data, ShuffleData};
use crate::StreamingError;

impl<K: ShuffleData + Hash + Eq, V: ShuffleData> DStream<(K, V)> {
    /// `reduceByKey` (map-side combine, then one reduce per key).
    pub fn reduce_by_key(
        &self,
        f: impl Fn(&V, &V) -> V + Send + Sync + 'static,
    ) -> Result<DStream<(K, V)>, StreamingError> {
        let f = Arc::new(f);
        let n = self.graph.partitions;
        self.derive(move |r| {
            let f = Arc::clone(&f);
            r.reduce_by_key_n(move |a, b| f(a, b), n)
        })
    }

    /// `groupByKey`.
    pub fn group_by_key(&self) -> Result<DStream<(K, Vec<V>)>, StreamingError> {
        let n = self.graph.partitions;
        self.derive(move |r| r.group_by_key_n(n))
    }

    /// `mapValues`.
    pub fn map_values<U: Data>(
        &self,
        f: impl Fn(&V) -> U + Send + Sync + 'static,
    ) -> Result<DStream<(K, U)>, StreamingError> {
        self.map(move |(k, v)| (k.clone(), f(v)))
    }

    /// `flatMapValues`.
    pub fn flat_map_values<U: Data, I: IntoIterator<Item = U>>(
        &self,
        f: impl Fn(&V) -> I + Send + Sync + 'static,
    ) -> Result<DStream<(K, U)>, StreamingError> {
        self.flat_map(move |(k, v)| f(v).into_iter().map(|u| (k.clone(), u)).collect::<Vec<_>>())
    }

    /// `combineByKey(create, merge_value, merge_combiners, partitions)`, with map-side combine.
    pub fn combine_by_key<C: ShuffleData>(
        &self,
        create: impl Fn(&V) -> C + Send + Sync + 'static,
        merge_value: impl Fn(&mut C, &V) + Send + Sync + 'static,
        merge_combiners: impl Fn(&mut C, C) + Send + Sync + 'static,
        partitions: usize,
    ) -> Result<DStream<(K, C)>, StreamingError> {
        if partitions == 0 {
            return Err(StreamingError::Invalid("combine_by_key needs at least 1 partition".into()));
        }
        let (create, merge_value, merge_combiners) =
            (Arc::new(create), Arc::new(merge_value), Arc::new(merge_combiners));
        self.derive(move |r| {
            let (c, mv, mc) = (Arc::clone(&create), Arc::clone(&merge_value), Arc::clone(&merge_combiners));
            r.combine_by_key(move |v| c(v), move |a, v| mv(a, v), move |a, b| mc(a, b), partitions)
        })
    }

    /// `cogroup`: per batch, every key of either stream with its values from each.
    pub fn cogroup<W: ShuffleData>(
        &self,
        other: &DStream<(K, W)>,
    ) -> Result<DStream<(K, (Vec<V>, Vec<W>))>, StreamingError> {
        let n = self.graph.partitions;
        self.transform_with(other, move |a, b, _| a.cogroup_n(&b, n))
    }

    /// `join`: per batch, `(k, (v, w))` for every pair of values of a key in both streams.
    pub fn join<W: ShuffleData>(&self, other: &DStream<(K, W)>) -> Result<DStream<(K, (V, W))>, StreamingError> {
        let n = self.graph.partitions;
        self.transform_with(other, move |a, b, _| a.join_n(&b, n))
    }

    /// `leftOuterJoin`: every value of this stream, with each matching value or `None`.
    pub fn left_outer_join<W: ShuffleData>(
        &self,
        other: &DStream<(K, W)>,
    ) -> Result<DStream<(K, (V, Option<W>))>, StreamingError> {
        self.transform_with(other, |a, b, _| a.left_outer_join(&b))
    }

    /// `rightOuterJoin`: every value of the other stream, with each matching value or `None`.
    pub fn right_outer_join<W: ShuffleData>(
        &self,
        other: &DStream<(K, W)>,
    ) -> Result<DStream<(K, (Option<V>, W))>, StreamingError> {
        self.transform_with(other, |a, b, _| a.right_outer_join(&b))
    }

    /// `fullOuterJoin`: every value of either stream, with each matching value or `None`.
    pub fn full_outer_join<W: ShuffleData>(
        &self,
        other: &DStream<(K, W)>,
    ) -> Result<DStream<(K, (Option<V>, Option<W>))>, StreamingError> {
        self.transform_with(other, |a, b, _| a.full_outer_join(&b))
    }
}
