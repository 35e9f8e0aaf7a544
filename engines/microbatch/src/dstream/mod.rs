//! Discretized streams: a DStream is its parents, its slide and `compute(batch_time)`, which
//! returns the RDD of one batch (memoised, so every output operation of a batch shares it).
//!
//! The operations are split by family, as Spark splits its DStream subclasses:
//! [`transformations`] (per-batch `map`, `filter`, `union`, `transform`, ...), [`pair`] (keyed
//! streams: `reduce_by_key`, `cogroup`, the joins), [`window`] (window operations), [`state`]
//! (`update_state_by_key`, `map_with_state`), [`output`] (output operations) and
//! [`checkpoint_data`] (checkpointed streams). [`graph`] is the DStream graph every stream of a
//! context shares.

pub mod checkpoint_data;
pub mod graph;
pub mod output;
pub mod pair;
pub mod state;
pub mod transformations;
pub mod window;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::dstream::graph::Graph;
use crate::rdd::{Data, Rdd};
pub use crate::time::Time;
use crate::StreamingError;

type Compute<T> = Arc<dyn Fn(Time) -> Option<Rdd<T>> + Send + Sync>;

/// A discretized stream of `T`: a sequence of RDDs, one per slide.
///
/// Every operation has a runnable example in its family's module: [`transformations`],
/// [`pair`], [`window`], [`state`], [`output`], and the input streams in
/// [`crate::input`].
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
}
