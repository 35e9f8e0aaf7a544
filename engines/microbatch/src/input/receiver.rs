//! `receiverStream` (Spark's `ReceiverInputDStream`): records a receiver thread stores, cut
//! into blocks every block interval, each stored on two executors; each batch holds the blocks
//! stored by its time, one partition per block (see `scheduler::receiver_tracker`).

use std::sync::Arc;

use crate::context::StreamingContext;
use crate::dstream::DStream;
use crate::rdd::{partition, DecodeFn, Ids, Kind, Rdd, RddNode, ShuffleData};
use crate::scheduler::receiver_tracker::{self, Tracker};
use crate::StreamingError;

/// The first id of received blocks (RDD ids stay far below).
const BLOCK_IDS: u64 = 1 << 62;

impl StreamingContext {
    /// `receiverStream`: records stored by `receive`, which runs on its own thread from
    /// `start()`, calling `store(record)` for each (false once the context stops: return then).
    /// Records are cut into blocks every block interval, each stored on two executors; each
    /// batch holds the blocks stored by its time, one partition per block. An error returned by
    /// `receive` stops the program with it after the batch in progress.
    pub fn receiver_stream<T: ShuffleData>(
        &self,
        receive: impl FnOnce(&mut dyn FnMut(T) -> bool) -> Result<(), String> + Send + 'static,
    ) -> Result<DStream<T>, StreamingError> {
        self.graph.check_not_started()?;
        let tracker = Arc::new(Tracker::default());
        let ids = self.graph.ids.clone();
        let block_ids = Ids::starting_at(BLOCK_IDS + ((self.graph.trackers.lock().expect("graph").len() as u64) << 40));
        self.graph.receivers.lock().expect("graph").push(receiver_tracker::starter(
            block_ids,
            Arc::clone(&tracker),
            receive,
        ));
        let expire = Arc::clone(&tracker);
        self.graph.on_batch_done(Box::new(move |t, remember| expire.expire(t.saturating_sub(remember))));
        let decode: DecodeFn = Arc::new(|bytes: &[u8]| {
            let records: Vec<T> = bincode::deserialize(bytes).expect("a block this run's receiver encoded");
            partition(records)
        });
        self.graph.trackers.lock().expect("graph").push(Arc::clone(&tracker));
        let stream = DStream::new(Arc::clone(&self.graph), self.graph.batch_ns, move |t| {
            let blocks = tracker.allocate(t);
            let partitions = blocks.len();
            let kind = Kind::Blocks(blocks, Arc::clone(&decode));
            Some(Rdd::from_node(Arc::new(RddNode { id: ids.next(), partitions, kind, cached: false })))
        });
        Ok(stream)
    }

    /// Whether every receiver's input has ended and every block it stored is in a batch.
    pub fn receivers_drained(&self) -> Arc<dyn Fn() -> bool + Send + Sync> {
        let graph = Arc::downgrade(&self.graph);
        Arc::new(move || graph.upgrade().is_some_and(|g| g.trackers.lock().expect("graph").iter().all(|t| t.drained())))
    }
}
