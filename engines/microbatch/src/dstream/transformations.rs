//! Per-batch transformations on any stream: `map`, `flat_map`, `filter`, `map_partitions`,
//! `transform`, `union`, `persist`, `count_by_value`, and the rest of the programming guide's
//! (`glom`, `repartition`, `count`, `reduce`, `transform_with`, `slice`, `cache`).
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
//! let a = ssc.queue_stream(vec![vec![1u64, 2, 3], vec![4]]).unwrap();
//! let b = ssc.queue_stream(vec![vec![10u64], vec![]]).unwrap();
//! let map = collect(&a.map(|x| x * 10).unwrap());
//! let flat_map = collect(&a.flat_map(|x| vec![*x; 2]).unwrap());
//! let filter = collect(&a.filter(|x| x % 2 == 1).unwrap());
//! let sums = collect(&a.map_partitions(|xs| vec![xs.iter().sum::<u64>()]).unwrap().reduce(|x, y| x + y).unwrap());
//! let union = collect(&a.union(&b).unwrap());
//! let counts = collect(&a.map(|x| x % 2).unwrap().count_by_value().unwrap());
//! let count = collect(&a.count().unwrap());
//! let glom = collect(&a.glom().unwrap().map(|p| p.len() as u64).unwrap());
//! let repartitioned = collect(&a.repartition(3).unwrap().glom().unwrap().count().unwrap());
//! let transformed = collect(&a.transform(|rdd, _t| rdd.map(|x| x + 1)).unwrap());
//! let with = collect(&a.transform_with(&b, |x, y, _t| x.union(&y)).unwrap());
//! let cached = collect(&a.cache().unwrap().persist().unwrap());
//! let a2 = a.clone();
//! let sliced = collect(&a.transform(move |r, t| r.context().union(&a2.slice(0, t))).unwrap());
//! ssc.start().unwrap();
//! ssc.await_termination().unwrap();
//! let at = |c: &Arc<Mutex<BTreeMap<u64, Vec<u64>>>>| c.lock().unwrap().values().cloned().collect::<Vec<_>>();
//! assert_eq!(at(&map), [vec![10, 20, 30], vec![40]]);
//! assert_eq!(at(&flat_map), [vec![1, 1, 2, 2, 3, 3], vec![4, 4]]);
//! assert_eq!(at(&filter), [vec![1, 3], vec![]]);
//! assert_eq!(at(&sums), [vec![6], vec![4]]);
//! assert_eq!(at(&union), [vec![1, 2, 3, 10], vec![4]]);
//! assert_eq!(counts.lock().unwrap()[&1000], [(0, 1), (1, 2)]);
//! assert_eq!(at(&count), [vec![3], vec![1]]);
//! assert_eq!(at(&glom), [vec![1, 2], vec![0, 1]]); // the queue deals records over 2 partitions
//! assert_eq!(at(&repartitioned), [vec![3], vec![3]]); // 3 partitions
//! assert_eq!(at(&transformed), [vec![2, 3, 4], vec![5]]);
//! assert_eq!(at(&with), [vec![1, 2, 3, 10], vec![4]]);
//! assert_eq!(at(&cached), at(&union).iter().map(|b| b.iter().copied().filter(|x| *x < 10).collect()).collect::<Vec<Vec<u64>>>());
//! assert_eq!(at(&sliced), [vec![1, 2, 3], vec![1, 2, 3, 4]]);
//! ```

use std::hash::Hash;
use std::sync::Arc;

use crate::dstream::{DStream, Time};
use crate::rdd::{Data, Rdd, ShuffleData};
use crate::StreamingError;

impl<T: Data> DStream<T> {
    /// `map`.
    pub fn map<U: Data>(&self, f: impl Fn(&T) -> U + Send + Sync + 'static) -> Result<DStream<U>, StreamingError> {
        let f = Arc::new(f);
        self.derive(move |r| {
            let f = Arc::clone(&f);
            r.map(move |x| f(x))
        })
    }

    /// `flatMap`.
    pub fn flat_map<U: Data, I: IntoIterator<Item = U>>(
        &self,
        f: impl Fn(&T) -> I + Send + Sync + 'static,
    ) -> Result<DStream<U>, StreamingError> {
        let f = Arc::new(f);
        self.derive(move |r| {
            let f = Arc::clone(&f);
            r.flat_map(move |x| f(x))
        })
    }

    /// `filter`.
    pub fn filter(&self, f: impl Fn(&T) -> bool + Send + Sync + 'static) -> Result<DStream<T>, StreamingError> {
        let f = Arc::new(f);
        self.derive(move |r| {
            let f = Arc::clone(&f);
            r.filter(move |x| f(x))
        })
    }

    /// `mapPartitions`.
    pub fn map_partitions<U: Data>(
        &self,
        f: impl Fn(&[T]) -> Vec<U> + Send + Sync + 'static,
    ) -> Result<DStream<U>, StreamingError> {
        let f = Arc::new(f);
        self.derive(move |r| {
            let f = Arc::clone(&f);
            r.map_partitions(move |xs| f(xs))
        })
    }

    /// `transform((rdd, time) => ...)`: an RDD-to-RDD function applied to every batch's RDD,
    /// run on the driver when the batch is generated. The RDD API is Spark's (`map`, `filter`,
    /// `reduce_by_key`, `join`, ...); [`Rdd::context`] builds other RDDs, and an RDD built once
    /// outside (`StreamingContext::rdd_context().parallelize`) can be used in every batch.
    ///
    /// ```
    /// # use std::sync::{Arc, Mutex};
    /// # use std::time::Duration;
    /// # use microbatch::{Clock, StreamingConf, StreamingContext};
    /// let conf = StreamingConf { clock: Clock::Manual, batches: Some(2), ..StreamingConf::default() };
    /// let mut ssc = StreamingContext::new(conf, Duration::from_secs(1)).unwrap();
    /// // The seed's `wordCounts.transform(rdd => rdd.join(dataset))`: a static dataset, joined
    /// // with every batch.
    /// let spam = ssc.rdd_context().parallelize(vec![("spam".to_string(), true)], 1);
    /// let words = ssc.queue_stream(vec![vec!["spam".to_string(), "ham".into()], vec!["spam".into()]]).unwrap();
    /// let counts = words.map(|w| (w.clone(), 1u64)).unwrap().reduce_by_key(|a, b| a + b).unwrap();
    /// let flagged = counts.transform(move |rdd, _t| rdd.join(&spam).map(|(w, (n, _))| (w.clone(), *n))).unwrap();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = Arc::clone(&seen);
    /// flagged.foreach_batch(move |_t, batch| sink.lock().unwrap().push(batch)).unwrap();
    /// ssc.start().unwrap();
    /// ssc.await_termination().unwrap();
    /// let spam = |n| vec![("spam".to_string(), n)];
    /// assert_eq!(*seen.lock().unwrap(), vec![spam(1), spam(1)]);
    /// ```
    pub fn transform<U: Data>(
        &self,
        f: impl Fn(Rdd<T>, Time) -> Rdd<U> + Send + Sync + 'static,
    ) -> Result<DStream<U>, StreamingError> {
        self.graph.check_not_started()?;
        let parent = self.clone();
        Ok(DStream::new(Arc::clone(&self.graph), self.slide_ns, move |t| parent.get(t).map(|r| f(r, t))))
    }

    /// `union` with another stream of the same slide.
    pub fn union(&self, other: &DStream<T>) -> Result<DStream<T>, StreamingError> {
        self.graph.check_not_started()?;
        self.check_same_slide(other)?;
        let (a, b) = (self.clone(), other.clone());
        let sc = self.graph.sc.clone();
        Ok(DStream::new(Arc::clone(&self.graph), self.slide_ns, move |t| {
            let rdds: Vec<Rdd<T>> = [a.get(t), b.get(t)].into_iter().flatten().collect();
            (!rdds.is_empty()).then(|| sc.union(&rdds))
        }))
    }

    /// `persist`/`cache`: every batch's RDD is kept in the executors' block managers once
    /// computed, until it leaves the remember window.
    pub fn persist(&self) -> Result<DStream<T>, StreamingError> {
        self.derive(move |r| r.cache())
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
        self.derive(move |r| {
            r.shuffle_by(partitions, |p, i, _, n| (workloads::hash::mix64(p as u64) as usize).wrapping_add(i) % n)
        })
    }

    /// `count`: one record per batch, the number of records in it (0 for an empty batch).
    pub fn count(&self) -> Result<DStream<u64>, StreamingError> {
        self.derive(move |r| {
            // A zero in, as Spark unions one: a batch of no partitions counts 0 too.
            let zero = r.context().parallelize(vec![((), 0u64)], 1);
            r.map_partitions(|xs| vec![((), xs.len() as u64)])
                .union(&zero)
                .combine_by_key(|c: &u64| *c, |a, c| *a += c, |a, c| *a += c, 1)
                .map_partitions(|xs| xs.iter().map(|(_, c)| *c).collect())
        })
    }

    /// `reduce(f)`: one record per non-empty batch, its records reduced by `f` (each partition
    /// first, then the partials on one reducer).
    pub fn reduce(&self, f: impl Fn(&T, &T) -> T + Send + Sync + 'static) -> Result<DStream<T>, StreamingError>
    where
        T: ShuffleData,
    {
        let f = Arc::new(f);
        self.derive(move |r| {
            let (f1, f2, f3) = (Arc::clone(&f), Arc::clone(&f), Arc::clone(&f));
            r.map_partitions(move |xs| {
                let mut it = xs.iter();
                let Some(first) = it.next() else { return Vec::new() };
                vec![((), it.fold(first.clone(), |acc, x| f1(&acc, x)))]
            })
            .combine_by_key(|x: &T| x.clone(), move |a, x| *a = f2(a, x), move |a, x| *a = f3(a, &x), 1)
            .map_partitions(|xs| xs.iter().map(|(_, x)| x.clone()).collect())
        })
    }

    /// `transformWith`: `f(this batch's RDD, other's RDD, time)` for every batch; a stream with
    /// nothing at a time contributes an empty RDD. Both need the same slide (a join of a window
    /// with a stream, say, needs the stream windowed to the window's slide).
    pub fn transform_with<U: Data, W: Data>(
        &self,
        other: &DStream<U>,
        f: impl Fn(Rdd<T>, Rdd<U>, Time) -> Rdd<W> + Send + Sync + 'static,
    ) -> Result<DStream<W>, StreamingError> {
        self.graph.check_not_started()?;
        self.check_same_slide(other)?;
        let (a, b) = (self.clone(), other.clone());
        let sc = self.graph.sc.clone();
        let n = self.graph.partitions;
        Ok(DStream::new(Arc::clone(&self.graph), self.slide_ns, move |t| {
            let (x, y) = (a.get(t), b.get(t));
            if x.is_none() && y.is_none() {
                return None;
            }
            Some(f(x.unwrap_or_else(|| sc.empty(n)), y.unwrap_or_else(|| sc.empty(n)), t))
        }))
    }

    /// Refuses to combine, batch by batch, streams of different slides.
    fn check_same_slide<U>(&self, other: &DStream<U>) -> Result<(), StreamingError> {
        if other.slide_ns == self.slide_ns {
            return Ok(());
        }
        Err(StreamingError::Invalid(format!(
            "streams combined per batch (join, cogroup, union, transform_with) must have the same slide, not {} ms and {} ms: window the faster one to the other's slide",
            self.slide_ns / 1_000_000,
            other.slide_ns / 1_000_000
        )))
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
