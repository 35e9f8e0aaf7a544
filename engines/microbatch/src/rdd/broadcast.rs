//! Broadcast variables: a read-only value every task of every batch reads where it runs
//! (Spark's `sc.broadcast(v)` and `Broadcast.value`), for the small side of a join that a
//! shuffle would only move around, as Spark's broadcast hash join does.
//!
//! Every process builds the same program, so each holds its own copy from the start, as an
//! executor holds a broadcast's blocks once fetched; its tasks share it, never copy it.
//!
//! ```
//! # use std::sync::{Arc, Mutex};
//! # use std::time::Duration;
//! # use microbatch::{Clock, StreamingConf, StreamingContext};
//! let conf = StreamingConf { executors: 2, clock: Clock::Manual, batches: Some(2), ..StreamingConf::default() };
//! let mut ssc = StreamingContext::new(conf, Duration::from_secs(1)).unwrap();
//! // The campaign of each ad: a small table every task looks up, instead of a join's shuffle.
//! let campaigns = ssc.broadcast(vec![7u32, 7, 9]);
//! let ads = ssc.queue_stream(vec![vec![0u32, 2, 1], vec![2]]).unwrap();
//! let per_ad = ads.map(move |ad| campaigns.value()[*ad as usize]).unwrap();
//! let out = Arc::new(Mutex::new(Vec::new()));
//! let sink = Arc::clone(&out);
//! per_ad.foreach_batch(move |_t, mut c| { c.sort(); sink.lock().unwrap().push(c); }).unwrap();
//! ssc.start().unwrap();
//! ssc.await_termination().unwrap();
//! assert_eq!(*out.lock().unwrap(), [vec![7, 7, 9], vec![9]]);
//! ```

use std::sync::Arc;

/// A read-only value shared by every task of a process: [`RddContext::broadcast`](super::RddContext::broadcast).
#[derive(Debug)]
pub struct Broadcast<T: ?Sized> {
    value: Arc<T>,
}

impl<T: ?Sized> Clone for Broadcast<T> {
    fn clone(&self) -> Self {
        Self { value: Arc::clone(&self.value) }
    }
}

impl<T> Broadcast<T> {
    pub(crate) fn new(value: T) -> Self {
        Self { value: Arc::new(value) }
    }
}

impl<T: ?Sized> Broadcast<T> {
    /// The value (Spark's `Broadcast.value`).
    pub fn value(&self) -> &T {
        &self.value
    }
}
