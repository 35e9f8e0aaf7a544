//! Discretized streams: a DStream is its parents, its slide and `compute(batch_time)`, which
//! returns the RDD of one batch (memoised, so every output operation of a batch shares it).

use std::collections::BTreeMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use crate::context::Graph;
use crate::executor::Action;
use crate::rdd::{records, Data, Partition, Rdd, RddNode, ShuffleData};
use crate::StreamingError;

/// A batch time: ns since the start of the stream, a multiple of the batch interval.
pub type Time = u64;

type Compute<T> = Arc<dyn Fn(Time) -> Option<Rdd<T>> + Send + Sync>;
/// The state stream, reachable from its own compute function (state at `t` reads `t - 1`).
type StateCell<K, S> = Arc<Mutex<Option<DStream<(K, S)>>>>;

/// A discretized stream of `T`.
pub struct DStream<T> {
    pub(crate) graph: Arc<Graph>,
    slide_ns: u64,
    compute: Compute<T>,
    generated: Arc<Mutex<BTreeMap<Time, Option<Rdd<T>>>>>,
}

impl<T> Clone for DStream<T> {
    fn clone(&self) -> Self {
        Self {
            graph: Arc::clone(&self.graph),
            slide_ns: self.slide_ns,
            compute: Arc::clone(&self.compute),
            generated: Arc::clone(&self.generated),
        }
    }
}

impl<T: Data> DStream<T> {
    pub(crate) fn new(
        graph: Arc<Graph>,
        slide_ns: u64,
        compute: impl Fn(Time) -> Option<Rdd<T>> + Send + Sync + 'static,
    ) -> Self {
        let generated: Arc<Mutex<BTreeMap<Time, Option<Rdd<T>>>>> = Arc::default();
        let memo = Arc::clone(&generated);
        graph.on_batch_done(Box::new(move |t, remember| {
            // Forget RDDs that no window or state can reach any more; return cached ones.
            let mut g = memo.lock().expect("dstream");
            let keep_from = t.saturating_sub(remember);
            let old: Vec<Time> = g.range(..keep_from).map(|(k, _)| *k).collect();
            old.into_iter()
                .filter_map(|k| g.remove(&k).flatten())
                .filter(|r| r.node.cached)
                .map(|r| r.node.id)
                .collect()
        }));
        Self { graph, slide_ns, compute: Arc::new(compute), generated }
    }

    /// The RDD of batch `t` (`None` when this stream produces nothing at `t`).
    pub fn get(&self, t: Time) -> Option<Rdd<T>> {
        if !t.is_multiple_of(self.slide_ns) {
            return None;
        }
        if let Some(r) = self.generated.lock().expect("dstream").get(&t) {
            return r.clone();
        }
        let r = (self.compute)(t);
        self.generated.lock().expect("dstream").insert(t, r.clone());
        r
    }

    /// How often this stream produces an RDD, ns.
    pub fn slide_ns(&self) -> u64 {
        self.slide_ns
    }

    fn derive<U: Data>(
        &self,
        f: impl Fn(Rdd<T>) -> Rdd<U> + Send + Sync + 'static,
    ) -> Result<DStream<U>, StreamingError> {
        self.graph.check_not_started()?;
        let parent = self.clone();
        Ok(DStream::new(Arc::clone(&self.graph), self.slide_ns, move |t| parent.get(t).map(&f)))
    }

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

    /// `window(length, slide)`: every `slide`, the union of the batches of the last `length`.
    /// Both must be multiples of the parent's slide.
    pub fn window(&self, length_ns: u64, slide_ns: u64) -> Result<DStream<T>, StreamingError> {
        self.graph.check_not_started()?;
        for (what, d) in [("window length", length_ns), ("slide", slide_ns)] {
            if d == 0 || d % self.slide_ns != 0 {
                return Err(StreamingError::Invalid(format!(
                    "the {what} ({} ms) must be a multiple of the batch interval ({} ms): e.g. {} ms",
                    d / 1_000_000,
                    self.slide_ns / 1_000_000,
                    (d / self.slide_ns).max(1) * self.slide_ns / 1_000_000
                )));
            }
        }
        self.graph.remember(length_ns + slide_ns);
        // A batch is in several windows: keep it in memory once computed (as Spark persists a
        // windowed stream's parent).
        let parent = self.persist()?;
        let ids = self.graph.ids.clone();
        let step = self.slide_ns;
        Ok(DStream::new(Arc::clone(&self.graph), slide_ns, move |t| {
            let from = t.saturating_sub(length_ns) + step;
            let rdds: Vec<Rdd<T>> = (from..=t).step_by(step as usize).filter_map(|s| parent.get(s)).collect();
            (!rdds.is_empty()).then(|| Rdd::union(&ids, &rdds))
        }))
    }

    /// `persist`/`cache`: every batch's RDD is kept in the executors' block managers once
    /// computed, until it leaves the remember window.
    pub fn persist(&self) -> Result<DStream<T>, StreamingError> {
        let ids = self.graph.ids.clone();
        self.derive(move |r| r.cache(&ids))
    }

    /// `foreachRDD` with the records brought to the driver: `f(batch_time, records)` runs on
    /// the driver after each batch's job (partitions in order).
    pub fn foreach_batch(&self, f: impl Fn(Time, Vec<T>) + Send + Sync + 'static) -> Result<(), StreamingError> {
        self.graph.check_not_started()?;
        let parent = self.clone();
        let f = Arc::new(f);
        self.graph.add_output(
            self.slide_ns,
            Box::new(move |t, run: &mut dyn FnMut(Arc<RddNode>, Action) -> Result<(), String>| {
                let Some(rdd) = parent.get(t) else { return Ok(()) };
                let collected: Arc<Mutex<BTreeMap<usize, Vec<T>>>> = Arc::default();
                let sink = Arc::clone(&collected);
                let action: Action = Arc::new(move |p, part: &Partition, _r| {
                    sink.lock().expect("collect").insert(p, records::<T>(part).clone());
                });
                run(Arc::clone(&rdd.node), action)?;
                let all: Vec<T> =
                    std::mem::take(&mut *collected.lock().expect("collect")).into_values().flatten().collect();
                f(t, all);
                Ok(())
            }),
        );
        Ok(())
    }

    /// `foreachRDD` with the action run on the executors, partition by partition, reporting
    /// to each executor's recorder.
    pub fn foreach_partition(
        &self,
        f: impl Fn(Time, usize, &[T], &mut workloads::Recorder) + Send + Sync + 'static,
    ) -> Result<(), StreamingError> {
        self.graph.check_not_started()?;
        let parent = self.clone();
        let f = Arc::new(f);
        self.graph.add_output(
            self.slide_ns,
            Box::new(move |t, run: &mut dyn FnMut(Arc<RddNode>, Action) -> Result<(), String>| {
                let Some(rdd) = parent.get(t) else { return Ok(()) };
                let f = Arc::clone(&f);
                run(Arc::clone(&rdd.node), Arc::new(move |p, part: &Partition, r| f(t, p, records::<T>(part), r)))
            }),
        );
        Ok(())
    }

    /// `countByValue`.
    pub fn count_by_value(&self) -> Result<DStream<(T, u64)>, StreamingError>
    where
        T: ShuffleData + Hash + Eq,
    {
        self.map(|x| (x.clone(), 1u64))?.reduce_by_key(|a, b| a + b)
    }

    /// `countByValueAndWindow(length, slide)`.
    pub fn count_by_value_and_window(&self, length_ns: u64, slide_ns: u64) -> Result<DStream<(T, u64)>, StreamingError>
    where
        T: ShuffleData + Hash + Eq,
    {
        self.map(|x| (x.clone(), 1u64))?.reduce_by_key_and_window(|a, b| a + b, length_ns, slide_ns)
    }
}

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

    /// `reduceByKeyAndWindow(f, length, slide)`: the window, then `reduceByKey`.
    pub fn reduce_by_key_and_window(
        &self,
        f: impl Fn(&V, &V) -> V + Send + Sync + 'static,
        length_ns: u64,
        slide_ns: u64,
    ) -> Result<DStream<(K, V)>, StreamingError> {
        self.window(length_ns, slide_ns)?.reduce_by_key(f)
    }

    /// `updateStateByKey(f)`: every batch, `f(new values, previous state)` for every key with
    /// state or new values; `None` removes the key. Needs a checkpoint directory.
    pub fn update_state_by_key<S: Data>(
        &self,
        f: impl Fn(&[V], Option<&S>) -> Option<S> + Send + Sync + 'static,
    ) -> Result<DStream<(K, S)>, StreamingError> {
        self.graph.check_not_started()?;
        self.graph.needs_checkpoint();
        let grouped = self.group_by_key()?;
        let graph = Arc::clone(&self.graph);
        let ids = graph.ids.clone();
        let n = graph.partitions;
        let interval = graph.batch_ns;
        let f = Arc::new(f);
        graph.remember(2 * interval);
        let state: StateCell<K, S> = Arc::default();
        let this = Arc::clone(&state);
        let stream = DStream::new(Arc::clone(&graph), interval, move |t| {
            let prev: Rdd<(K, S)> = match t.checked_sub(interval).filter(|p| *p > 0) {
                Some(p) => this.lock().expect("state").as_ref().and_then(|s| s.get(p)),
                None => None,
            }
            .unwrap_or_else(|| Rdd::source(&ids, n, |_| Vec::new()));
            let new: Rdd<(K, Vec<V>)> = grouped.get(t).unwrap_or_else(|| Rdd::source(&ids, n, |_| Vec::new()));
            let f = Arc::clone(&f);
            let merged = prev.zip_with(&ids, &new, move |old, fresh| {
                let mut fresh_map: rustc_hash::FxHashMap<&K, &Vec<V>> = fresh.iter().map(|(k, v)| (k, v)).collect();
                let mut out = Vec::with_capacity(old.len() + fresh.len());
                for (k, s) in old {
                    let vs = fresh_map.remove(k).map(Vec::as_slice).unwrap_or(&[]);
                    if let Some(s2) = f(vs, Some(s)) {
                        out.push((k.clone(), s2));
                    }
                }
                for (k, vs) in fresh {
                    if fresh_map.contains_key(k) {
                        if let Some(s2) = f(vs, None) {
                            out.push((k.clone(), s2));
                        }
                    }
                }
                out
            });
            Some(merged.cache(&ids))
        });
        *state.lock().expect("state") = Some(stream.clone());
        Ok(stream)
    }
}
