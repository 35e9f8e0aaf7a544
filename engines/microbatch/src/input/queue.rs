//! `queueStream`: a queue of batches, for tests.

use std::sync::Arc;

use crate::context::StreamingContext;
use crate::dstream::DStream;
use crate::rdd::Data;
use crate::StreamingError;

impl StreamingContext {
    /// `queueStream`: batch `k` (at time `(k + 1) * interval`) is `batches[k]`, in one
    /// partition per executor; later batches are empty.
    pub fn queue_stream<T: Data>(&self, batches: Vec<Vec<T>>) -> Result<DStream<T>, StreamingError> {
        self.graph.check_not_started()?;
        let batches = Arc::new(batches);
        let sc = self.graph.sc.clone();
        let interval = self.graph.batch_ns;
        let parts = self.conf.executors;
        Ok(DStream::new(Arc::clone(&self.graph), interval, move |t| {
            let k = (t / interval).checked_sub(1)? as usize;
            let batch = batches.get(k).cloned().unwrap_or_default();
            Some(sc.source(parts, move |p| batch.iter().skip(p).step_by(parts).cloned().collect()))
        }))
    }
}
