//! Per-batch transformations on any stream: `map`, `flat_map`, `filter`, `map_partitions`,
//! `transform`, `union`, `persist`, `count_by_value`, and the rest of the programming guide's
//! (`glom`, `repartition`, `count`, `reduce`, `transform_with`, `slice`, `cache`).

use std::hash::Hash;
use std::sync::Arc;

use crate::dstream::{DStream, Time};
use crate::rdd::{Data, Ids, Rdd, ShuffleData};
use crate::StreamingError;

impl<T: Data> DStream<T> {
    /// `map`.
    pub fn map<U: Data>(&self, f: impl Fn(&T) -> U + Send + Sync + 'static) -> Result<DStream<U>, StreamingError> {
        let f = Arc::new(f);
        let ids = self.graph.ids.clone();
        self.derive(move |r| {
            let f = Arc::clone(&f);
            r.map_partitions(&ids, move |xs| xs.iter().map(|x| f(x)).collect())
        })
    }

    /// `flatMap`.
    pub fn flat_map<U: Data, I: IntoIterator<Item = U>>(
        &self,
        f: impl Fn(&T) -> I + Send + Sync + 'static,
    ) -> Result<DStream<U>, StreamingError> {
        let f = Arc::new(f);
        let ids = self.graph.ids.clone();
        self.derive(move |r| {
            let f = Arc::clone(&f);
            r.map_partitions(&ids, move |xs| xs.iter().flat_map(|x| f(x)).collect())
        })
    }

    /// `filter`.
    pub fn filter(&self, f: impl Fn(&T) -> bool + Send + Sync + 'static) -> Result<DStream<T>, StreamingError> {
        let f = Arc::new(f);
        let ids = self.graph.ids.clone();
        self.derive(move |r| {
            let f = Arc::clone(&f);
            r.map_partitions(&ids, move |xs| xs.iter().filter(|x| f(x)).cloned().collect())
        })
    }

    /// `mapPartitions`.
    pub fn map_partitions<U: Data>(
        &self,
        f: impl Fn(&[T]) -> Vec<U> + Send + Sync + 'static,
    ) -> Result<DStream<U>, StreamingError> {
        let f = Arc::new(f);
        let ids = self.graph.ids.clone();
        self.derive(move |r| {
            let f = Arc::clone(&f);
            r.map_partitions(&ids, move |xs| f(xs))
        })
    }

    /// `transform`: an arbitrary RDD-to-RDD function applied to every batch.
    pub fn transform<U: Data>(
        &self,
        f: impl Fn(&crate::rdd::Ids, Rdd<T>, Time) -> Rdd<U> + Send + Sync + 'static,
    ) -> Result<DStream<U>, StreamingError> {
        self.graph.check_not_started()?;
        let parent = self.clone();
        let ids = self.graph.ids.clone();
        Ok(DStream::new(Arc::clone(&self.graph), self.slide_ns, move |t| parent.get(t).map(|r| f(&ids, r, t))))
    }

    /// `union` with another stream of the same slide.
    pub fn union(&self, other: &DStream<T>) -> Result<DStream<T>, StreamingError> {
        self.graph.check_not_started()?;
        if other.slide_ns != self.slide_ns {
            return Err(StreamingError::Invalid("union needs streams with the same slide duration".into()));
        }
        let (a, b) = (self.clone(), other.clone());
        let ids = self.graph.ids.clone();
        Ok(DStream::new(Arc::clone(&self.graph), self.slide_ns, move |t| {
            let rdds: Vec<Rdd<T>> = [a.get(t), b.get(t)].into_iter().flatten().collect();
            (!rdds.is_empty()).then(|| Rdd::union(&ids, &rdds))
        }))
    }

    /// `persist`/`cache`: every batch's RDD is kept in the executors' block managers once
    /// computed, until it leaves the remember window.
    pub fn persist(&self) -> Result<DStream<T>, StreamingError> {
        let ids = self.graph.ids.clone();
        self.derive(move |r| r.cache(&ids))
    }

    /// `countByValue`.
    pub fn count_by_value(&self) -> Result<DStream<(T, u64)>, StreamingError>
    where
        T: ShuffleData + Hash + Eq,
    {
        self.map(|x| (x.clone(), 1u64))?.reduce_by_key(|a, b| a + b)
    }

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
