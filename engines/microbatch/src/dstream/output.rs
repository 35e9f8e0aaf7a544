//! Output operations: `foreach_batch`, `foreach_rdd`, `foreach_partition`, `print` and
//! `save_as_text_files`. Each registers one job per batch with the graph.
//!
//! Every output operation on two 1 s batches (a stream may have several: each is a job of the
//! batch):
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use microbatch::{Clock, StreamingConf, StreamingContext};
//!
//! let conf = StreamingConf { executors: 2, clock: Clock::Manual, batches: Some(2), ..StreamingConf::default() };
//! let mut ssc = StreamingContext::new(conf, Duration::from_secs(1)).unwrap();
//! let numbers = ssc.queue_stream(vec![vec![1u64, 2, 3], vec![4]]).unwrap();
//! numbers.print().unwrap(); // the first 10 records of every batch, under Spark's header
//! numbers.print_n(2).unwrap(); // the first 2, then "..."
//! let out = std::env::temp_dir().join(format!("microbatch-doc-output-{}", std::process::id()));
//! numbers.save_as_text_files(out.join("numbers").to_str().unwrap(), "txt").unwrap();
//! // On the driver, every batch's records.
//! let batches = Arc::new(Mutex::new(Vec::new()));
//! let sink = Arc::clone(&batches);
//! numbers.foreach_batch(move |_t, records| sink.lock().unwrap().push(records.len())).unwrap();
//! // On the executors, every partition (records stay where they were computed).
//! let partitions = Arc::new(Mutex::new(0));
//! let seen = Arc::clone(&partitions);
//! numbers.foreach_partition(move |_t, _p, records| *seen.lock().unwrap() += records.len()).unwrap();
//! // The batch's RDD on the driver, with the RDD API and jobs of its own.
//! let sums = Arc::new(Mutex::new(Vec::new()));
//! let sink = Arc::clone(&sums);
//! numbers
//!     .foreach_rdd(move |_t, rdd, run| {
//!         let total: u64 = rdd.collect(run)?.iter().sum();
//!         sink.lock().unwrap().push((rdd.count(run)?, total));
//!         Ok(())
//!     })
//!     .unwrap();
//! ssc.start().unwrap();
//! ssc.await_termination().unwrap();
//! assert_eq!(*batches.lock().unwrap(), [3, 1]);
//! assert_eq!(*partitions.lock().unwrap(), 4);
//! assert_eq!(*sums.lock().unwrap(), [(3, 6), (1, 4)]);
//! // Manual clock: batch times from 0 (on the system clock, epoch ms).
//! assert!(out.join("numbers-1000.txt/_SUCCESS").exists());
//! let mut lines: Vec<String> = ["part-00000", "part-00001"]
//!     .iter()
//!     .flat_map(|p| std::fs::read_to_string(out.join("numbers-1000.txt").join(p)).unwrap().lines().map(str::to_owned).collect::<Vec<_>>())
//!     .collect();
//! lines.sort();
//! assert_eq!(lines, ["1", "2", "3"]);
//! # std::fs::remove_dir_all(&out).unwrap();
//! ```

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
            let all = rdd.collect(run)?;
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
        // The sink this output operation is, for the journal of a run that spans restarts.
        let source = crate::commits::OUTPUT + self.graph.outputs.lock().expect("graph").len() as u32;
        self.foreach_rdd(move |t, rdd, run| {
            let f = Arc::clone(&f);
            let parts = rdd.node.partitions as u32;
            run(
                Arc::clone(&rdd.node),
                Arc::new(move |p, part: &Partition, r| {
                    f(t, p, records::<T>(part), r);
                    // The partition is written: an output task's commit point.
                    r.commit(workloads::contract::journal::Commit::Batch { source, time_ns: t, part: p as u32, parts });
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
