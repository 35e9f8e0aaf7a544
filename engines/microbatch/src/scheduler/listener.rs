//! Streaming listeners (Spark's `StreamingListener`): what hears every finished batch.

use workloads::contract::BatchInfo;

/// A listener's view of each finished batch.
pub type Listener = Box<dyn FnMut(&BatchInfo) + Send>;
