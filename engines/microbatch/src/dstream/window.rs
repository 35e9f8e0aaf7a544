//! Window operations (Spark's `WindowedDStream` and `ReducedWindowedDStream`): `window` itself,
//! `reduce_by_window`, `count_by_window`, `count_by_value_and_window`, `group_by_key_and_window`,
//! and `reduce_by_key_and_window` with and without an inverse function (the incremental form:
//! the previous window's result, plus the batches that entered, minus those that left).
//!
//! Every operation of the family, on four 1 s batches, with windows of 2 s sliding every 1 s
//! (the incremental forms need a checkpoint directory):
//!
//! ```
//! # use std::collections::BTreeMap;
//! # use std::sync::{Arc, Mutex};
//! # use std::time::Duration;
//! # use microbatch::{Clock, DStream, StreamingConf, StreamingContext};
//! # use microbatch::rdd::ShuffleData;
//! # /// Every batch's records (sorted), by batch time in s.
//! # fn collect<T: ShuffleData + Ord>(d: &DStream<T>) -> Arc<Mutex<BTreeMap<u64, Vec<T>>>> {
//! #     let out = Arc::new(Mutex::new(BTreeMap::new()));
//! #     let sink = Arc::clone(&out);
//! #     d.foreach_batch(move |t, mut records| { records.sort(); sink.lock().unwrap().insert(t / 1_000_000_000, records); }).unwrap();
//! #     out
//! # }
//! # fn s(x: &str) -> String { x.to_owned() }
//! let conf = StreamingConf { executors: 2, clock: Clock::Manual, batches: Some(4), ..StreamingConf::default() };
//! let mut ssc = StreamingContext::new(conf, Duration::from_secs(1)).unwrap();
//! ssc.checkpoint(std::env::temp_dir().join("microbatch-doc-windows")).unwrap();
//! let (len, slide) = (Duration::from_secs(2), Duration::from_secs(1));
//! let words = ssc.queue_stream(vec![vec![s("a"), s("b")], vec![s("a")], vec![], vec![s("b")]]).unwrap();
//! let pairs = words.map(|w| (w.clone(), 1u64)).unwrap();
//! let window = collect(&words.window(len, slide).unwrap());
//! let ones = words.map(|_| 1u64).unwrap();
//! let by_window = collect(&ones.reduce_by_window(|a, b| a + b, len, slide).unwrap());
//! let by_window_inv = collect(&ones.reduce_by_window_inv(|a, b| a + b, |a, b| a - b, len, slide).unwrap());
//! let count = collect(&words.count_by_window(len, slide).unwrap());
//! let by_value = collect(&words.count_by_value_and_window(len, slide).unwrap());
//! let by_key = collect(&pairs.reduce_by_key_and_window(|a, b| a + b, len, slide).unwrap());
//! let grouped = collect(&pairs.group_by_key_and_window(len, slide).unwrap().map_values(|vs| vs.len() as u64).unwrap());
//! let inv = collect(&pairs.reduce_by_key_and_window_inv(|a, b| a + b, |a, b| a - b, len, slide).unwrap());
//! let filtered =
//!     collect(&pairs.reduce_by_key_and_window_inv_filtered(|a, b| a + b, |a, b| a - b, len, slide, 2, |(_, c)| *c > 0).unwrap());
//! ssc.start().unwrap();
//! ssc.await_termination().unwrap();
//! assert_eq!(window.lock().unwrap()[&2], [s("a"), s("a"), s("b")]);
//! assert_eq!(by_window.lock().unwrap()[&3], [1]);
//! assert_eq!(by_window_inv.lock().unwrap()[&3], [1]);
//! assert_eq!(count.lock().unwrap().values().cloned().collect::<Vec<_>>(), [vec![2], vec![3], vec![1], vec![1]]);
//! assert_eq!(by_value.lock().unwrap()[&3], [(s("a"), 1)]); // b fell to 0 and was dropped
//! assert_eq!(by_key.lock().unwrap()[&2], [(s("a"), 2), (s("b"), 1)]);
//! assert_eq!(grouped.lock().unwrap()[&4], [(s("b"), 1)]);
//! // Without a filter a key stays at 0 once its batches have left, as in Spark.
//! assert_eq!(inv.lock().unwrap()[&3], [(s("a"), 1), (s("b"), 0)]);
//! assert_eq!(filtered.lock().unwrap()[&3], [(s("a"), 1)]);
//! ```

use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use rustc_hash::FxHashMap;

use crate::dstream::state::recursive;
use crate::dstream::DStream;
use crate::rdd::{records, Data, Partition, Rdd, ShuffleData};
use crate::time::{check_multiple, ns};
use crate::StreamingError;

impl<T: Data> DStream<T> {
    /// `window(length, slide)`: every `slide`, the union of the batches of the last `length`.
    /// Both must be multiples of the parent's slide.
    pub fn window(&self, length: Duration, slide: Duration) -> Result<DStream<T>, StreamingError> {
        self.graph.check_not_started()?;
        let (length_ns, slide_ns) = (ns(length), ns(slide));
        self.check_window(length_ns, slide_ns)?;
        self.graph.remember(length_ns + slide_ns);
        // A batch is in several windows: keep it in memory once computed (as Spark persists a
        // windowed stream's parent).
        let parent = self.persist()?;
        let sc = self.graph.sc.clone();
        let step = self.slide_ns;
        Ok(DStream::new(Arc::clone(&self.graph), slide_ns, move |t| {
            let from = t.saturating_sub(length_ns) + step;
            let rdds: Vec<Rdd<T>> = (from..=t).step_by(step as usize).filter_map(|s| parent.get(s)).collect();
            (!rdds.is_empty()).then(|| sc.union(&rdds))
        }))
    }

    /// Refuses a window length or slide that is not a positive multiple of this stream's slide,
    /// naming one that is.
    pub(crate) fn check_window(&self, length_ns: u64, slide_ns: u64) -> Result<(), StreamingError> {
        check_multiple("window length", length_ns, self.slide_ns, false)?;
        check_multiple("slide", slide_ns, self.slide_ns, false)
    }
}

impl<T: ShuffleData> DStream<T> {
    /// `reduceByWindow(f, length, slide)`: every slide, the window's records reduced to one
    /// (nothing for an empty window).
    pub fn reduce_by_window(
        &self,
        f: impl Fn(&T, &T) -> T + Send + Sync + 'static,
        length: Duration,
        slide: Duration,
    ) -> Result<DStream<T>, StreamingError> {
        let f = Arc::new(f);
        let g = Arc::clone(&f);
        self.reduce(move |a, b| f(a, b))?.window(length, slide)?.reduce(move |a, b| g(a, b))
    }

    /// `reduceByWindow(f, inverse, length, slide)`: the same, computed incrementally: the
    /// previous window's value, `f` with the batches that entered, `inverse` with those that
    /// left. Once the stream has had a record, every window has a value. Needs a checkpoint
    /// directory.
    pub fn reduce_by_window_inv(
        &self,
        f: impl Fn(&T, &T) -> T + Send + Sync + 'static,
        inverse: impl Fn(&T, &T) -> T + Send + Sync + 'static,
        length: Duration,
        slide: Duration,
    ) -> Result<DStream<T>, StreamingError> {
        let f = Arc::new(f);
        let g = Arc::clone(&f);
        self.reduce(move |a, b| f(a, b))?
            .map(|x| ((), x.clone()))?
            .reduce_by_key_and_window_in(move |a, b| g(a, b), inverse, ns(length), ns(slide), 1, |_| true)?
            .map(|(_, x)| x.clone())
    }

    /// `countByWindow(length, slide)`: every slide, the number of records in the window
    /// (incrementally, as Spark does; needs a checkpoint directory).
    pub fn count_by_window(&self, length: Duration, slide: Duration) -> Result<DStream<u64>, StreamingError> {
        self.map(|_| 1u64)?.reduce_by_window_inv(|a, b| a + b, |a, b| a - b, length, slide)
    }

    /// `countByValueAndWindow(length, slide)`: as Spark computes it, incrementally (counts of
    /// the previous window, plus the batches that entered, minus those that left), values whose
    /// count fell to 0 dropped. Needs a checkpoint directory.
    pub fn count_by_value_and_window(
        &self,
        length: Duration,
        slide: Duration,
    ) -> Result<DStream<(T, u64)>, StreamingError>
    where
        T: Hash + Eq,
    {
        self.map(|x| (x.clone(), 1u64))?.reduce_by_key_and_window_inv_filtered(
            |a, b| a + b,
            |a, b| a - b,
            length,
            slide,
            self.graph.partitions,
            |(_, c)| *c != 0,
        )
    }
}

impl<K: ShuffleData + Hash + Eq, V: ShuffleData> DStream<(K, V)> {
    /// `reduceByKeyAndWindow(f, length, slide)`: as Spark defines it, each batch reduced by key,
    /// the window of those reductions, reduced again. A window keeps (and a batch in several
    /// windows is computed once into) a batch's reduction, one record per key, never its records.
    pub fn reduce_by_key_and_window(
        &self,
        f: impl Fn(&V, &V) -> V + Send + Sync + 'static,
        length: Duration,
        slide: Duration,
    ) -> Result<DStream<(K, V)>, StreamingError> {
        let f = Arc::new(f);
        let g = Arc::clone(&f);
        self.reduce_by_key(move |a, b| f(a, b))?.window(length, slide)?.reduce_by_key(move |a, b| g(a, b))
    }

    /// `groupByKeyAndWindow(length, slide)`.
    pub fn group_by_key_and_window(
        &self,
        length: Duration,
        slide: Duration,
    ) -> Result<DStream<(K, Vec<V>)>, StreamingError> {
        self.window(length, slide)?.group_by_key()
    }

    /// `reduceByKeyAndWindow(f, inverse, length, slide)`: incrementally, from the previous
    /// window: `f` adds the batches that entered, `inverse` takes out those that left. Every key
    /// stays, as in Spark without a filter (a key whose batches have all left keeps its
    /// inverse-reduced value). Needs a checkpoint directory.
    ///
    /// ```
    /// # use std::sync::{Arc, Mutex};
    /// # use std::time::Duration;
    /// # use microbatch::{Clock, StreamingConf, StreamingContext};
    /// let conf = StreamingConf { clock: Clock::Manual, batches: Some(3), ..StreamingConf::default() };
    /// let mut ssc = StreamingContext::new(conf, Duration::from_secs(1)).unwrap();
    /// ssc.checkpoint(std::env::temp_dir().join("doc-inv-window")).unwrap();
    /// let a = || ("a".to_string(), 1u64);
    /// let pairs = ssc.queue_stream(vec![vec![a()], vec![a()], vec![]]).unwrap();
    /// let counts = pairs
    ///     .reduce_by_key_and_window_inv(|x, y| x + y, |x, y| x - y, Duration::from_secs(2), Duration::from_secs(1))
    ///     .unwrap();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = Arc::clone(&seen);
    /// counts.foreach_batch(move |_t, records| sink.lock().unwrap().push(records)).unwrap();
    /// ssc.start().unwrap();
    /// ssc.await_termination().unwrap();
    /// // Two-second windows every second: a = 1, then 2, then 1 (the first batch has left).
    /// let a = |n| vec![("a".to_string(), n)];
    /// assert_eq!(*seen.lock().unwrap(), vec![a(1), a(2), a(1)]);
    /// ```
    pub fn reduce_by_key_and_window_inv(
        &self,
        f: impl Fn(&V, &V) -> V + Send + Sync + 'static,
        inverse: impl Fn(&V, &V) -> V + Send + Sync + 'static,
        length: Duration,
        slide: Duration,
    ) -> Result<DStream<(K, V)>, StreamingError> {
        let n = self.graph.partitions;
        self.reduce_by_key_and_window_in(f, inverse, ns(length), ns(slide), n, |_| true)
    }

    /// `reduceByKeyAndWindow(f, inverse, length, slide, partitions, filter)`: the same, into
    /// `partitions` partitions, keeping only the keys `filter` keeps (Spark's `filterFunc`, e.g.
    /// dropping counts that fell to 0).
    pub fn reduce_by_key_and_window_inv_filtered(
        &self,
        f: impl Fn(&V, &V) -> V + Send + Sync + 'static,
        inverse: impl Fn(&V, &V) -> V + Send + Sync + 'static,
        length: Duration,
        slide: Duration,
        partitions: usize,
        filter: impl Fn(&(K, V)) -> bool + Send + Sync + 'static,
    ) -> Result<DStream<(K, V)>, StreamingError> {
        if partitions == 0 {
            return Err(StreamingError::Invalid("a windowed reduce needs at least 1 partition".into()));
        }
        self.reduce_by_key_and_window_in(f, inverse, ns(length), ns(slide), partitions, filter)
    }

    fn reduce_by_key_and_window_in(
        &self,
        f: impl Fn(&V, &V) -> V + Send + Sync + 'static,
        inverse: impl Fn(&V, &V) -> V + Send + Sync + 'static,
        length_ns: u64,
        slide_ns: u64,
        partitions: usize,
        filter: impl Fn(&(K, V)) -> bool + Send + Sync + 'static,
    ) -> Result<DStream<(K, V)>, StreamingError> {
        self.graph.check_not_started()?;
        self.check_window(length_ns, slide_ns)?;
        self.graph.needs_checkpoint();
        let f = Arc::new(f);
        let g = Arc::clone(&f);
        // Each batch reduced once, kept: it enters one window and leaves a later one.
        let reduced = self
            .combine_by_key(
                |v| v.clone(),
                move |a, v| *a = g(a, v),
                {
                    let g = Arc::clone(&f);
                    move |a, v| *a = g(a, &v)
                },
                partitions,
            )?
            .persist()?;
        self.graph.remember(length_ns + 2 * slide_ns);
        let (inverse, filter) = (Arc::new(inverse), Arc::new(filter));
        let step = self.slide_ns;
        let sc = self.graph.sc.clone();
        recursive(&self.graph, slide_ns, move |t, previous: Option<Rdd<(K, V)>>| {
            let batches = |from: u64, to: u64| -> Vec<Arc<crate::rdd::RddNode>> {
                // Batches in (from, to].
                (from.saturating_add(step)..=to)
                    .step_by(step as usize)
                    .filter(|s| *s > 0)
                    .map(|s| reduced.get(s).unwrap_or_else(|| sc.empty(partitions)).node)
                    .collect()
            };
            let (prev, old, new) = match previous {
                // Incrementally, when the previous window exists and windows overlap or touch.
                Some(prev) if length_ns >= slide_ns => {
                    let old = batches(t.saturating_sub(slide_ns + length_ns), t.saturating_sub(length_ns));
                    (prev.node, old, batches(t - slide_ns, t))
                }
                _ => (sc.empty::<(K, V)>(partitions).node, Vec::new(), batches(t.saturating_sub(length_ns), t)),
            };
            let (n_old, f, inverse, filter) = (old.len(), Arc::clone(&f), Arc::clone(&inverse), Arc::clone(&filter));
            let mut parents = vec![prev];
            parents.extend(old);
            parents.extend(new);
            let window = sc.zip_all(parents, move |parts: &[Partition]| {
                let mut acc: FxHashMap<K, V> = records::<(K, V)>(&parts[0]).iter().cloned().collect();
                for part in &parts[1..=n_old] {
                    for (k, v) in records::<(K, V)>(part) {
                        if let Some(a) = acc.get_mut(k) {
                            *a = inverse(a, v);
                        }
                    }
                }
                for part in &parts[n_old + 1..] {
                    for (k, v) in records::<(K, V)>(part) {
                        match acc.get_mut(k) {
                            Some(a) => *a = f(a, v),
                            None => {
                                acc.insert(k.clone(), v.clone());
                            }
                        }
                    }
                }
                acc.into_iter().filter(|kv| filter(kv)).collect()
            });
            Some(window)
        })
    }
}
