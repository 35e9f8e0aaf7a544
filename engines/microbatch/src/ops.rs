//! The rest of the programming guide's transformations: on any stream (`glom`, `repartition`,
//! `count`, `reduce`, `transform_with`, `slice`, `cache`) and on pair streams (`flat_map_values`,
//! `combine_by_key`, `cogroup` and the joins).

// The joins' types are Spark's nested pairs.
#![allow(clippy::type_complexity)]

use std::hash::Hash;
use std::sync::Arc;

use crate::dstream::{DStream, Time};
use crate::rdd::{Data, Ids, Rdd, ShuffleData};
use crate::StreamingError;

impl<T: Data> DStream<T> {
    /// `glom`: each partition as one array.
    pub fn glom(&self) -> Result<DStream<Vec<T>>, StreamingError> {
        self.map_partitions(|xs| vec![xs.to_vec()])
    }

    /// `repartition(n)`: every batch's records spread over `n` partitions (a shuffle; each map
    /// partition deals its records round robin from its own starting partition, as Spark does).
    pub fn repartition(&self, partitions: usize) -> Result<DStream<T>, StreamingError>
    where
        T: ShuffleData,
    {
        if partitions == 0 {
            return Err(StreamingError::Invalid("repartition needs at least 1 partition".into()));
        }
        let ids = self.graph.ids.clone();
        self.derive(move |r| {
            r.shuffle_by(&ids, partitions, |p, i, _, n| (workloads::hash::mix64(p as u64) as usize).wrapping_add(i) % n)
        })
    }

    /// `count`: one record per batch, the number of records in it (0 for an empty batch).
    pub fn count(&self) -> Result<DStream<u64>, StreamingError> {
        let ids = self.graph.ids.clone();
        self.derive(move |r| {
            r.map_partitions(&ids, |xs| vec![((), xs.len() as u64)])
                .combine_by_key(&ids, 1, |c: &u64| *c, |a, c| *a += c, |a, c| *a += c)
                .map_partitions(&ids, |xs| xs.iter().map(|(_, c)| *c).collect())
        })
    }

    /// `reduce(f)`: one record per non-empty batch, its records reduced by `f` (each partition
    /// first, then the partials on one reducer).
    pub fn reduce(&self, f: impl Fn(&T, &T) -> T + Send + Sync + 'static) -> Result<DStream<T>, StreamingError>
    where
        T: ShuffleData,
    {
        let f = Arc::new(f);
        let ids = self.graph.ids.clone();
        self.derive(move |r| {
            let (f1, f2, f3) = (Arc::clone(&f), Arc::clone(&f), Arc::clone(&f));
            r.map_partitions(&ids, move |xs| {
                let mut it = xs.iter();
                let Some(first) = it.next() else { return Vec::new() };
                vec![((), it.fold(first.clone(), |acc, x| f1(&acc, x)))]
            })
            .combine_by_key(&ids, 1, |x: &T| x.clone(), move |a, x| *a = f2(a, x), move |a, x| *a = f3(a, &x))
            .map_partitions(&ids, |xs| xs.iter().map(|(_, x)| x.clone()).collect())
        })
    }

    /// `transformWith`: `f(ids, this batch's RDD, other's RDD, time)` for every batch; a
    /// stream with nothing at a time contributes an empty RDD. Both need the same slide.
    pub fn transform_with<U: Data, W: Data>(
        &self,
        other: &DStream<U>,
        f: impl Fn(&Ids, Rdd<T>, Rdd<U>, Time) -> Rdd<W> + Send + Sync + 'static,
    ) -> Result<DStream<W>, StreamingError> {
        self.graph.check_not_started()?;
        if other.slide_ns != self.slide_ns {
            return Err(StreamingError::Invalid(format!(
                "transform_with needs streams with the same slide: {} ms and {} ms",
                self.slide_ns / 1_000_000,
                other.slide_ns / 1_000_000
            )));
        }
        let (a, b) = (self.clone(), other.clone());
        let ids = self.graph.ids.clone();
        let n = self.graph.partitions;
        Ok(DStream::new(Arc::clone(&self.graph), self.slide_ns, move |t| {
            let (x, y) = (a.get(t), b.get(t));
            if x.is_none() && y.is_none() {
                return None;
            }
            Some(f(&ids, x.unwrap_or_else(|| Rdd::empty(&ids, n)), y.unwrap_or_else(|| Rdd::empty(&ids, n)), t))
        }))
    }

    /// `slice(from, to)`: the RDDs of every batch time in `[from, to]` (aligned to the slide),
    /// generating those not generated yet; for use while batches are generated (in `transform`).
    pub fn slice(&self, from: Time, to: Time) -> Vec<Rdd<T>> {
        let first = from.div_ceil(self.slide_ns).max(1) * self.slide_ns;
        (first..=to).step_by(self.slide_ns as usize).filter_map(|t| self.get(t)).collect()
    }

    /// `cache`: the same as `persist`.
    pub fn cache(&self) -> Result<DStream<T>, StreamingError> {
        self.persist()
    }
}

impl<K: ShuffleData + Hash + Eq, V: ShuffleData> DStream<(K, V)> {
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
