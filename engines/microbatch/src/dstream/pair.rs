//! Transformations on pair streams (Spark's `PairDStreamFunctions`): `reduce_by_key`,
//! `group_by_key`, `map_values`, `flat_map_values`, `combine_by_key`, `cogroup` and the joins.

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
        let ids = self.graph.ids.clone();
        let n = self.graph.partitions;
        self.derive(move |r| {
            let (f1, f2) = (Arc::clone(&f), Arc::clone(&f));
            r.combine_by_key(&ids, n, |v: &V| v.clone(), move |c, v| *c = f1(c, v), move |c, d| *c = f2(c, &d))
        })
    }

    /// `groupByKey`.
    pub fn group_by_key(&self) -> Result<DStream<(K, Vec<V>)>, StreamingError> {
        let ids = self.graph.ids.clone();
        let n = self.graph.partitions;
        self.derive(move |r| {
            r.combine_by_key(&ids, n, |v: &V| vec![v.clone()], |c, v| c.push(v.clone()), |c, d| c.extend(d))
        })
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
        let ids = self.graph.ids.clone();
        self.derive(move |r| {
            let (c, mv, mc) = (Arc::clone(&create), Arc::clone(&merge_value), Arc::clone(&merge_combiners));
            r.combine_by_key(&ids, partitions, move |v| c(v), move |a, v| mv(a, v), move |a, b| mc(a, b))
        })
    }

    /// `cogroup`: per batch, every key of either stream with its values from each.
    pub fn cogroup<W: ShuffleData>(
        &self,
        other: &DStream<(K, W)>,
    ) -> Result<DStream<(K, (Vec<V>, Vec<W>))>, StreamingError> {
        let n = self.graph.partitions;
        self.transform_with(other, move |ids, a, b, _| a.cogroup(ids, &b, n))
    }

    /// `join`: per batch, `(k, (v, w))` for every pair of values of a key in both streams.
    pub fn join<W: ShuffleData>(&self, other: &DStream<(K, W)>) -> Result<DStream<(K, (V, W))>, StreamingError> {
        self.cogroup_flat(other, |vs, ws, out| {
            for v in vs {
                out.extend(ws.iter().map(|w| (v.clone(), w.clone())));
            }
        })
    }

    /// `leftOuterJoin`: every value of this stream, with each matching value or `None`.
    pub fn left_outer_join<W: ShuffleData>(
        &self,
        other: &DStream<(K, W)>,
    ) -> Result<DStream<(K, (V, Option<W>))>, StreamingError> {
        self.cogroup_flat(other, |vs, ws, out| {
            for v in vs {
                if ws.is_empty() {
                    out.push((v.clone(), None));
                }
                out.extend(ws.iter().map(|w| (v.clone(), Some(w.clone()))));
            }
        })
    }

    /// `rightOuterJoin`: every value of the other stream, with each matching value or `None`.
    pub fn right_outer_join<W: ShuffleData>(
        &self,
        other: &DStream<(K, W)>,
    ) -> Result<DStream<(K, (Option<V>, W))>, StreamingError> {
        self.cogroup_flat(other, |vs, ws, out| {
            for w in ws {
                if vs.is_empty() {
                    out.push((None, w.clone()));
                }
                out.extend(vs.iter().map(|v| (Some(v.clone()), w.clone())));
            }
        })
    }

    /// `fullOuterJoin`: every value of either stream, with each matching value or `None`.
    pub fn full_outer_join<W: ShuffleData>(
        &self,
        other: &DStream<(K, W)>,
    ) -> Result<DStream<(K, (Option<V>, Option<W>))>, StreamingError> {
        self.cogroup_flat(other, |vs, ws, out| match (vs.is_empty(), ws.is_empty()) {
            (_, true) => out.extend(vs.iter().map(|v| (Some(v.clone()), None))),
            (true, false) => out.extend(ws.iter().map(|w| (None, Some(w.clone())))),
            (false, false) => {
                for v in vs {
                    out.extend(ws.iter().map(|w| (Some(v.clone()), Some(w.clone()))));
                }
            }
        })
    }

    /// A cogroup whose value lists `emit` turns into joined values.
    fn cogroup_flat<W: ShuffleData, J: Data>(
        &self,
        other: &DStream<(K, W)>,
        emit: impl Fn(&[V], &[W], &mut Vec<J>) + Send + Sync + 'static,
    ) -> Result<DStream<(K, J)>, StreamingError> {
        let emit = Arc::new(emit);
        let ids = self.graph.ids.clone();
        self.cogroup(other)?.transform(move |_, r, _| {
            let emit = Arc::clone(&emit);
            r.map_partitions(&ids, move |groups| {
                let mut out = Vec::new();
                let mut joined = Vec::new();
                for (k, (vs, ws)) in groups {
                    emit(vs, ws, &mut joined);
                    out.extend(joined.drain(..).map(|j| (k.clone(), j)));
                }
                out
            })
        })
    }
}
