//! Checkpointed streams (Spark's `DStreamCheckpointData`): a stream registered here has its RDD
//! written by the executors every checkpoint interval, one file per partition (length and
//! CRC-32 checked), and its lineage replaced by a read of those files, so recovering a lost
//! partition never replays more than one interval of batches.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use workloads::durable::{read_checked, write_checked};

use crate::dstream::graph::{Graph, RunJob};
use crate::dstream::DStream;
use crate::executor::messages::Action;
use crate::rdd::{partition, records, Kind, Partition, Rdd, RddContext, RddNode, ShuffleData};
use crate::scheduler::checkpoint::{complete_parts, rdd_dir, success_line};

impl<T: ShuffleData> DStream<T> {
    /// `checkpoint(interval)`: this stream's RDDs are written to the checkpoint directory every
    /// `interval` (a multiple of the batch interval), cutting their lineage. The interval is
    /// the graph's: every checkpointed stream is written at the same batch times, so a
    /// restart finds one consistent cut.
    pub fn checkpoint(&self, interval: std::time::Duration) -> Result<DStream<T>, crate::StreamingError> {
        self.graph.check_not_started()?;
        self.graph.set_checkpoint_interval(interval.as_nanos() as u64)?;
        self.graph.needs_checkpoint();
        register_checkpoint(&self.graph, self);
        Ok(self.clone())
    }
}

/// Registers `stream` to be written every checkpoint interval, and restorable.
pub(crate) fn register_checkpoint<T: ShuffleData>(graph: &Arc<Graph>, stream: &DStream<T>) {
    if !stream.mark_checkpointed() {
        return;
    }
    let (writer, restorer) = (stream.clone(), stream.clone());
    let sc = graph.sc.clone();
    let on = Arc::downgrade(graph);
    graph.add_checkpointed(
        Box::new(move |sid, t, dir: &Path, run: &mut RunJob<'_>| {
            let Some(rdd) = writer.generated_at(t) else { return Ok(()) };
            let at = rdd_dir(dir, sid, t);
            let target = at.clone();
            let write: Action = Arc::new(move |p, part: &Partition, _r| {
                let bytes = bincode::serialize(records::<T>(part)).map_err(|e| format!("cannot encode state: {e}"))?;
                write_checked(&target.join(format!("part-{p:05}")), &bytes).map(|()| Vec::new())
            });
            run(Arc::clone(&rdd.node), write)?;
            // The driver marks the cut complete once every partition is written (the count,
            // so a lost file is noticed).
            if on.upgrade().is_some_and(|g| g.is_driver()) {
                std::fs::write(at.join("_SUCCESS"), success_line(rdd.node.partitions, rdd.node.partitioner))
                    .map_err(|e| format!("cannot write {}: {e}", at.display()))?;
            }
            // Cut the lineage: the same RDD (same id, so cached partitions still hit), now read
            // from the files when a partition is missing.
            // It keeps its partitioner: the next batch's state joins it without a shuffle.
            let (n, by_key) = (rdd.node.partitions, rdd.node.partitioner);
            writer.replace(t, file_rdd::<T>(rdd.context(), rdd.node.id, n, by_key, at));
            Ok(())
        }),
        Box::new(move |sid, t, dir: &Path| {
            let at = rdd_dir(dir, sid, t);
            let (partitions, by_key) = complete_parts(&at)?;
            restorer.replace(t, file_rdd::<T>(&sc, sc.ids.next(), partitions, by_key, at));
            Ok(())
        }),
    );
}

fn file_rdd<T: ShuffleData>(
    sc: &RddContext,
    id: u64,
    partitions: usize,
    partitioner: Option<usize>,
    at: PathBuf,
) -> Rdd<T> {
    let read = move |p: usize| -> Partition {
        let path = at.join(format!("part-{p:05}"));
        // A checkpoint was verified before it was used; failing now is an I/O fault the task
        // reports rather than a wrong answer.
        let records: Vec<T> = read_checked(&path)
            .and_then(|b| bincode::deserialize(&b).map_err(|e| format!("{}: {e}", path.display())))
            .unwrap_or_else(|e| panic!("checkpoint file lost after verification: {e}"));
        partition(records)
    };
    sc.wrap(Arc::new(RddNode { id, partitions, kind: Kind::Source(Arc::new(read)), cached: true, partitioner }))
}
