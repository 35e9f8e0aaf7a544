//! The direct stream (Spark's `DirectKafkaInputDStream`): the driver decides each batch's
//! offset ranges, bounded by backpressure and the maximum rate per partition; the executors
//! read them. The ranges are part of the metadata checkpoint.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use crate::context::StreamingContext;
use crate::dstream::{DStream, Time};
use crate::rdd::Data;
use crate::scheduler::rate::min_limit;
use crate::StreamingError;

/// Offsets a direct stream's task reads before handing their records on.
const READ_CHUNK: usize = 1024;

impl StreamingContext {
    /// A direct stream over `partitions` source partitions (Kafka's direct stream: the driver
    /// decides each batch's offset ranges, the executors read them). Batch `t` of partition `p`
    /// reads `[from, end(p, t, from, allowed))` where `from` is where the batch before ended and
    /// `allowed` is how many records backpressure and the maximum rate per partition let it read
    /// (`None`: unbounded); an end beyond `from + allowed` is cut there. `read(p, i, out)` reads
    /// record `i`. The ranges are part of the metadata checkpoint, so a restarted program reads
    /// exactly the same batches again.
    pub fn direct_stream<T: Data>(
        &self,
        partitions: usize,
        end: impl Fn(usize, Time, u64, Option<u64>) -> u64 + Send + Sync + 'static,
        read: impl Fn(usize, u64, &mut Vec<T>) + Send + Sync + 'static,
    ) -> Result<DStream<T>, StreamingError> {
        self.graph.check_not_started()?;
        let sc = self.graph.sc.clone();
        let (end, read) = (Arc::new(end), Arc::new(read));
        let stream = self.graph.direct_streams.fetch_add(1, Ordering::Relaxed);
        let graph = Arc::downgrade(&self.graph);
        let interval = self.graph.batch_ns;
        let next: Mutex<Option<Vec<u64>>> = Mutex::new(None);
        Ok(DStream::new(Arc::clone(&self.graph), self.graph.batch_ns, move |t| {
            let graph = graph.upgrade()?;
            let ranges = match graph.recorded_input(stream, t) {
                Some(ranges) => ranges,
                None => {
                    let mut next = next.lock().expect("offsets");
                    let from = next.take().unwrap_or_else(|| {
                        // Resuming: the batch before this one, if it was recorded, else the start.
                        match t.checked_sub(interval).and_then(|b| graph.recorded_input(stream, b)) {
                            Some(r) => r.iter().map(|(_, to)| *to).collect(),
                            None => vec![0; partitions],
                        }
                    });
                    // Records per partition per batch: backpressure's share, the maximum rate.
                    let per_second =
                        min_limit(graph.ingest.get().map(|r| r / partitions as f64), graph.max_rate_per_partition);
                    let allowed = per_second.map(|r| ((r * interval as f64 / 1e9).ceil() as u64).max(1));
                    let ranges: Vec<(u64, u64)> = from
                        .iter()
                        .enumerate()
                        .map(|(p, &f)| {
                            let to = end(p, t, f, allowed).max(f);
                            (f, allowed.map_or(to, |a| to.min(f.saturating_add(a))))
                        })
                        .collect();
                    graph.record_input(stream, t, &ranges);
                    ranges
                }
            };
            *next.lock().expect("offsets") = Some(ranges.iter().map(|(_, to)| *to).collect());
            let read = Arc::clone(&read);
            let bounds = ranges.clone();
            let bound = move |p: usize| bounds[p].1.saturating_sub(bounds[p].0) as usize;
            Some(sc.pipelined_source(partitions, bound, move |p, killed, sink| {
                // Read a chunk of offsets at a time, then handed on (as a Kafka consumer polls a
                // batch of records): reading one record at a time between the consumer's work
                // left each read's cache misses alone, and cost a fifth of word count's rate.
                let mut out = Vec::with_capacity(READ_CHUNK);
                let (mut i, end) = ranges[p];
                while i < end {
                    for j in i..end.min(i + READ_CHUNK as u64) {
                        read(p, j, &mut out);
                    }
                    i = end.min(i + READ_CHUNK as u64);
                    for x in &out {
                        crate::rdd::stop_if_killed(killed);
                        sink(x);
                    }
                    out.clear();
                }
            }))
        }))
    }
}
