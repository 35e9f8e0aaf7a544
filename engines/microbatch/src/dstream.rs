//! Discretized streams: a DStream is its parents, its slide and `compute(batch_time)`, which
//! returns the RDD of one batch (memoised, so every output operation of a batch shares it).

use std::collections::BTreeMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::context::{Graph, RunJob};
use crate::executor::Action;
use crate::rdd::{records, Data, Partition, Rdd, ShuffleData};
use crate::text::SparkText;
use crate::StreamingError;

const DASHES: &str = "-------------------------------------------";

/// A batch time: ns since the start of the stream, a multiple of the batch interval.
pub type Time = u64;

type Compute<T> = Arc<dyn Fn(Time) -> Option<Rdd<T>> + Send + Sync>;

/// A discretized stream of `T`.
pub struct DStream<T> {
    pub(crate) graph: Arc<Graph>,
    pub(crate) slide_ns: u64,
    compute: Compute<T>,
    generated: Arc<Mutex<BTreeMap<Time, Option<Rdd<T>>>>>,
    checkpointed: Arc<AtomicBool>,
}

impl<T> Clone for DStream<T> {
    fn clone(&self) -> Self {
        Self {
            graph: Arc::clone(&self.graph),
            slide_ns: self.slide_ns,
            compute: Arc::clone(&self.compute),
            generated: Arc::clone(&self.generated),
            checkpointed: Arc::clone(&self.checkpointed),
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
        Self { graph, slide_ns, compute: Arc::new(compute), generated, checkpointed: Arc::default() }
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

    /// The RDD of batch `t` if it was generated (never computes it).
    pub(crate) fn generated_at(&self, t: Time) -> Option<Rdd<T>> {
        self.generated.lock().expect("dstream").get(&t).cloned().flatten()
    }

    /// Makes `rdd` this stream's RDD of batch `t` (a checkpointed or restored RDD).
    pub(crate) fn replace(&self, t: Time, rdd: Rdd<T>) {
        self.generated.lock().expect("dstream").insert(t, Some(rdd));
    }

    /// Marks this stream as checkpointed; false if it already was.
    pub(crate) fn mark_checkpointed(&self) -> bool {
        !self.checkpointed.swap(true, Ordering::AcqRel)
    }

    /// `checkpoint(interval)`: this stream's RDDs are written to the checkpoint directory every
    /// `interval` (a multiple of the batch interval), cutting their lineage. The interval is
    /// the graph's: every checkpointed stream is written at the same batch times, so a
    /// restart finds one consistent cut.
    pub fn checkpoint(&self, interval: std::time::Duration) -> Result<DStream<T>, StreamingError>
    where
        T: ShuffleData,
    {
        self.graph.check_not_started()?;
        self.graph.set_checkpoint_interval(interval.as_nanos() as u64)?;
        self.graph.needs_checkpoint();
        crate::state::register_checkpoint(&self.graph, self);
        Ok(self.clone())
    }

    /// How often this stream produces an RDD, ns.
    pub fn slide_ns(&self) -> u64 {
        self.slide_ns
    }

    pub(crate) fn derive<U: Data>(
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
        self.check_window(length_ns, slide_ns)?;
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

    /// Refuses a window length or slide that is not a positive multiple of this stream's slide,
    /// naming one that is.
    pub(crate) fn check_window(&self, length_ns: u64, slide_ns: u64) -> Result<(), StreamingError> {
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
        Ok(())
    }

    /// `persist`/`cache`: every batch's RDD is kept in the executors' block managers once
    /// computed, until it leaves the remember window.
    pub fn persist(&self) -> Result<DStream<T>, StreamingError> {
        let ids = self.graph.ids.clone();
        self.derive(move |r| r.cache(&ids))
    }

    /// `foreachRDD` with the records brought to the driver (`collect`): `f(batch_time, records)`
    /// runs on the driver after each batch's job, partitions in order. Records travel back
    /// serialised, as they would from executors in other processes.
    pub fn foreach_batch(&self, f: impl Fn(Time, Vec<T>) + Send + Sync + 'static) -> Result<(), StreamingError>
    where
        T: ShuffleData,
    {
        let parent_graph = Arc::clone(&self.graph);
        self.foreach_rdd(move |t, rdd, run| {
            let action: Action = Arc::new(|_p, part: &Partition, _r| {
                bincode::serialize(records::<T>(part)).map_err(|e| format!("cannot send records to the driver: {e}"))
            });
            let mut all = Vec::new();
            for bytes in run(Arc::clone(&rdd.node), action)? {
                let mut part: Vec<T> =
                    bincode::deserialize(&bytes).map_err(|e| format!("a task result did not decode: {e}"))?;
                all.append(&mut part);
            }
            if parent_graph.is_driver() {
                f(t, all);
            }
            Ok(())
        })
    }

    /// `foreachRDD`: `f(batch_time, rdd, run_job)` on the driver for every batch with an RDD;
    /// `run_job` runs a job over an RDD on the executors.
    pub fn foreach_rdd(
        &self,
        f: impl Fn(Time, &Rdd<T>, &mut RunJob<'_>) -> Result<(), String> + Send + Sync + 'static,
    ) -> Result<(), StreamingError> {
        self.graph.check_not_started()?;
        let (parent, generator) = (self.clone(), self.clone());
        self.graph.add_output(
            self.slide_ns,
            Box::new(move |t| {
                generator.get(t);
            }),
            Box::new(move |t, run: &mut RunJob<'_>| match parent.get(t) {
                Some(rdd) => f(t, &rdd, run),
                None => Ok(()),
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
        let f = Arc::new(f);
        self.foreach_rdd(move |t, rdd, run| {
            let f = Arc::clone(&f);
            run(
                Arc::clone(&rdd.node),
                Arc::new(move |p, part: &Partition, r| {
                    f(t, p, records::<T>(part), r);
                    Ok(Vec::new())
                }),
            )
            .map(drop)
        })
    }

    /// `print(n)` to standard output: per batch, Spark's header (`Time: <ms> ms` between dashed
    /// lines), the first `n` records, `...` when there are more, and a blank line.
    pub fn print(&self, n: usize) -> Result<(), StreamingError>
    where
        T: ShuffleData + SparkText,
    {
        self.print_to(n, std::io::stdout())
    }

    /// `print(n)` to `out`.
    pub fn print_to(&self, n: usize, out: impl std::io::Write + Send + 'static) -> Result<(), StreamingError>
    where
        T: ShuffleData + SparkText,
    {
        let out = Mutex::new(out);
        let graph = Arc::clone(&self.graph);
        self.foreach_rdd(move |t, rdd, run| {
            // Each partition sends at most n + 1 records (Spark's `take(n + 1)`).
            let action: Action = Arc::new(move |_p, part: &Partition, _r| {
                let xs = records::<T>(part);
                bincode::serialize(&xs[..xs.len().min(n + 1)]).map_err(|e| format!("cannot send records: {e}"))
            });
            let mut first: Vec<T> = Vec::new();
            for bytes in run(Arc::clone(&rdd.node), action)? {
                let part: Vec<T> =
                    bincode::deserialize(&bytes).map_err(|e| format!("a task result did not decode: {e}"))?;
                first.extend(part.into_iter().take(n + 1 - first.len()));
            }
            let mut text = format!("{DASHES}\nTime: {} ms\n{DASHES}\n", t / 1_000_000);
            for x in first.iter().take(n) {
                x.write_text(&mut text);
                text.push('\n');
            }
            if first.len() > n {
                text.push_str("...\n");
            }
            if !graph.is_driver() {
                return Ok(());
            }
            text.push('\n');
            let mut out = out.lock().expect("print");
            out.write_all(text.as_bytes()).and_then(|()| out.flush()).map_err(|e| format!("print: {e}"))
        })
    }

    /// `saveAsTextFiles(prefix, suffix)`: every batch is written by the executors, one
    /// `part-NNNNN` file per partition (a record a line), into the directory
    /// `prefix-<TIME_IN_MS>.suffix` (`prefix-<TIME_IN_MS>` when `suffix` is empty), with an
    /// empty `_SUCCESS` file once the whole batch is written.
    pub fn save_as_text_files(&self, prefix: &str, suffix: &str) -> Result<(), StreamingError>
    where
        T: SparkText,
    {
        let (prefix, suffix) = (prefix.to_owned(), suffix.to_owned());
        let graph = Arc::clone(&self.graph);
        self.foreach_rdd(move |t, rdd, run| {
            let ms = t / 1_000_000;
            let dir = std::path::PathBuf::from(if suffix.is_empty() {
                format!("{prefix}-{ms}")
            } else {
                format!("{prefix}-{ms}.{suffix}")
            });
            let at = dir.clone();
            run(
                Arc::clone(&rdd.node),
                Arc::new(move |p, part: &Partition, _r| {
                    let mut text = String::new();
                    for x in records::<T>(part) {
                        x.write_text(&mut text);
                        text.push('\n');
                    }
                    std::fs::create_dir_all(&at)
                        .and_then(|()| std::fs::write(at.join(format!("part-{p:05}")), text))
                        .map(|()| Vec::new())
                        .map_err(|e| format!("cannot write {}: {e}", at.display()))
                }),
            )?;
            if !graph.is_driver() {
                return Ok(());
            }
            std::fs::write(dir.join("_SUCCESS"), b"").map_err(|e| format!("cannot write {}: {e}", dir.display()))
        })
    }

    /// `countByValue`.
    pub fn count_by_value(&self) -> Result<DStream<(T, u64)>, StreamingError>
    where
        T: ShuffleData + Hash + Eq,
    {
        self.map(|x| (x.clone(), 1u64))?.reduce_by_key(|a, b| a + b)
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
}
