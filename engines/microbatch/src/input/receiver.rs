//! `receiverStream` (Spark's `ReceiverInputDStream`): records a receiver thread stores, cut
//! into blocks every block interval, each stored on two executors; each batch holds the blocks
//! stored by its time, one partition per block (see `scheduler::receiver_tracker`).

use std::sync::Arc;

use crate::context::StreamingContext;
use crate::dstream::DStream;
use crate::rdd::{partition, DecodeFn, Ids, Kind, RddNode, ShuffleData};
pub use crate::scheduler::receiver_tracker::Receive;
use crate::scheduler::receiver_tracker::{self, Tracker};
use crate::StreamingError;

/// The first id of received blocks (RDD ids stay far below).
const BLOCK_IDS: u64 = 1 << 62;

impl StreamingContext {
    /// `receiverStream`: records stored by `receive`, which runs on its own thread from
    /// `start()`, calling `store(record)` for each (false, and not stored, once the context stops: return
    /// then).
    /// Records are cut into blocks every block interval, each stored on two executors; each
    /// batch holds the blocks stored by its time, one partition per block. What `receive`
    /// returns says what happens next, as a Spark receiver's `stop` and `restart` do:
    /// [`Receive::Done`] stops the receiver, [`Receive::Restart`] calls `receive` again after
    /// [`StreamingConf::receiver_restart_delay`](crate::StreamingConf) (the message is kept in
    /// [`StreamingContext::receiver_events`]), [`Receive::Fail`] stops the program with the
    /// error after the batch in progress.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use microbatch::{Receive, StreamingConf, StreamingContext};
    /// let conf = StreamingConf { batches: Some(2), ..StreamingConf::default() };
    /// let mut ssc = StreamingContext::new(conf, Duration::from_millis(100)).unwrap();
    /// // A receiver storing 1, 2, 3, then stopping.
    /// let numbers = ssc
    ///     .receiver_stream(|store: &mut dyn FnMut(u64) -> bool| {
    ///         for x in 1..=3 {
    ///             if !store(x) {
    ///                 break;
    ///             }
    ///         }
    ///         Receive::Done
    ///     })
    ///     .unwrap();
    /// numbers.count().unwrap().print().unwrap();
    /// ssc.start().unwrap();
    /// ssc.await_termination().unwrap();
    /// ```
    pub fn receiver_stream<T: ShuffleData>(
        &self,
        mut receive: impl FnMut(&mut dyn FnMut(T) -> bool) -> Receive + Send + 'static,
    ) -> Result<DStream<T>, StreamingError> {
        self.reporting_receiver_stream(move |store, _report, _stored| receive(store))
    }

    /// A reliable receiver (Spark's receivers that acknowledge their source): as
    /// [`StreamingContext::receiver_stream`], but `receive(from, store)` is told how many records
    /// this receiver has stored so far: by earlier calls (after a restart), and, with the
    /// receivers' write-ahead log ([`StreamingConf::receiver_wal`](crate::StreamingConf)), by
    /// earlier runs of the program resumed by [`StreamingContext::get_or_create`], whose logged
    /// blocks it processes again. A source that can send again from an offset resumes at `from`:
    /// then a driver that dies loses no record the receiver stored and reads none twice.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use microbatch::{Receive, StreamingConf, StreamingContext};
    /// let conf = StreamingConf { batches: Some(2), ..StreamingConf::default() };
    /// let mut ssc = StreamingContext::new(conf, Duration::from_millis(100)).unwrap();
    /// // The numbers 0..10, from where the receiver left off.
    /// let numbers = ssc
    ///     .reliable_receiver_stream(|from: u64, store: &mut dyn FnMut(u64) -> bool| {
    ///         for x in from..10 {
    ///             if !store(x) {
    ///                 break;
    ///             }
    ///         }
    ///         Receive::Done
    ///     })
    ///     .unwrap();
    /// numbers.count().unwrap().print().unwrap();
    /// ssc.start().unwrap();
    /// ssc.await_termination().unwrap();
    /// ```
    pub fn reliable_receiver_stream<T: ShuffleData>(
        &self,
        mut receive: impl FnMut(u64, &mut dyn FnMut(T) -> bool) -> Receive + Send + 'static,
    ) -> Result<DStream<T>, StreamingError> {
        self.reporting_receiver_stream(move |store, _report, stored| receive(stored, store))
    }

    /// [`StreamingContext::receiver_stream`] with `report(what)`: a record the receiver
    /// dropped, kept in [`StreamingContext::receiver_events`]; and the records it stored so far
    /// (see [`StreamingContext::reliable_receiver_stream`]).
    pub(crate) fn reporting_receiver_stream<T: ShuffleData>(
        &self,
        receive: impl FnMut(&mut dyn FnMut(T) -> bool, &dyn Fn(String), u64) -> Receive + Send + 'static,
    ) -> Result<DStream<T>, StreamingError> {
        self.graph.check_not_started()?;
        let tracker = Arc::new(Tracker::default());
        let sc = self.graph.sc.clone();
        let receiver = self.graph.trackers.lock().expect("graph").len();
        let block_ids = Ids::starting_at(BLOCK_IDS + ((receiver as u64) << 40));
        self.graph.receivers.lock().expect("graph").push(receiver_tracker::starter(
            receiver,
            block_ids,
            Arc::clone(&tracker),
            self.conf.receiver_restart_delay,
            Box::new(receive),
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
            Some(sc.wrap(Arc::new(RddNode { id: sc.ids.next(), partitions, kind, cached: false, partitioner: None })))
        });
        Ok(stream)
    }

    /// Every receiver's restarts and dropped records so far, with why, in order per receiver
    /// (Spark's `StreamingListener.onReceiverError`).
    pub fn receiver_events(&self) -> Vec<String> {
        self.graph.trackers.lock().expect("graph").iter().flat_map(|t| t.events()).collect()
    }

    /// Whether every receiver's input has ended and every block it stored is in a batch.
    pub fn receivers_drained(&self) -> Arc<dyn Fn() -> bool + Send + Sync> {
        let graph = Arc::downgrade(&self.graph);
        Arc::new(move || graph.upgrade().is_some_and(|g| g.trackers.lock().expect("graph").iter().all(|t| t.drained())))
    }
}
