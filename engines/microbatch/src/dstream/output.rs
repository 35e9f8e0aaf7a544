//! Output operations: `foreach_batch`, `foreach_rdd`, `foreach_partition`, `print` and
//! `save_as_text_files`. Each registers one job per batch with the graph.

use std::sync::{Arc, Mutex};

use crate::dstream::graph::RunJob;
use crate::dstream::{DStream, Time};
use crate::executor::messages::Action;
use crate::rdd::{records, Data, Partition, Rdd, ShuffleData};
use crate::text::SparkText;
use crate::StreamingError;

const DASHES: &str = "-------------------------------------------";

impl<T: Data> DStream<T> {
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

    /// `foreachRDD(rdd => rdd.foreachPartition(...))`: `f(batch_time, partition, records)` runs
    /// on the executors, for every partition of every batch (where the partition was computed:
    /// records do not travel to the driver).
    pub fn foreach_partition(
        &self,
        f: impl Fn(Time, usize, &[T]) + Send + Sync + 'static,
    ) -> Result<(), StreamingError> {
        self.foreach_partition_recorded(move |t, p, records, _r| f(t, p, records))
    }

    /// [`DStream::foreach_partition`], reporting to each executor's recorder (the harness's
    /// jobs).
    pub(crate) fn foreach_partition_recorded(
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

    /// `print()`: [`DStream::print_n`] of Spark's default, the first 10 records of every batch.
    pub fn print(&self) -> Result<(), StreamingError>
    where
        T: ShuffleData + SparkText,
    {
        self.print_n(10)
    }

    /// `print(n)` to standard output: per batch, Spark's header (`Time: <ms> ms` between dashed
    /// lines), the first `n` records, `...` when there are more, and a blank line.
    pub fn print_n(&self, n: usize) -> Result<(), StreamingError>
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
            let mut text = format!("{DASHES}\nTime: {} ms\n{DASHES}\n", graph.epoch_ms(t));
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
            let ms = graph.epoch_ms(t);
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
}
