//! State: streams whose every RDD is computed from their own previous one
//! (`update_state_by_key`, `map_with_state`, incremental windows; Spark's `StateDStream` and
//! `MapWithStateDStream`). A state RDD is kept in the block managers and checkpointed every
//! checkpoint interval (see `checkpoint_data`).
//!
//! `update_state_by_key` and `map_with_state` (with its `StateSpec` options and
//! `state_snapshots`), on three 1 s batches:
//!
//! ```
//! # use std::collections::BTreeMap;
//! # use std::sync::{Arc, Mutex};
//! # use std::time::Duration;
//! # use microbatch::{Clock, DStream, StreamingConf, StreamingContext};
//! # use microbatch::rdd::ShuffleData;
//! # /// Every batch's records (sorted), by batch time in s.
//! # fn collect<T: ShuffleData + Ord>(d: &DStream<T>) -> Arc<Mutex<BTreeMap<u64, Vec<T>>>> {
//! #     let out = Arc::new(Mutex::new(BTreeMap::new()));
//! #     let sink = Arc::clone(&out);
//! #     d.foreach_batch(move |t, mut records| { records.sort(); sink.lock().unwrap().insert(t / 1_000_000_000, records); }).unwrap();
//! #     out
//! # }
//! # fn s(x: &str) -> String { x.to_owned() }
//! let conf = StreamingConf { executors: 2, clock: Clock::Manual, batches: Some(3), ..StreamingConf::default() };
//! let mut ssc = StreamingContext::new(conf, Duration::from_secs(1)).unwrap();
//! use microbatch::StateSpec;
//! ssc.checkpoint(std::env::temp_dir().join("microbatch-doc-state")).unwrap();
//! let pairs = ssc.queue_stream(vec![vec![(s("a"), 1u64), (s("b"), 1)], vec![(s("a"), 5)], vec![]]).unwrap();
//! // The running sum; a key is dropped (`None`) once a batch brings it nothing.
//! let totals = collect(&pairs.update_state_by_key(|new: &[u64], old: Option<&u64>| {
//!     (!new.is_empty()).then(|| new.iter().sum::<u64>() + old.unwrap_or(&0))
//! }).unwrap());
//! // Each record with its key's running sum; keys idle for 2 s time out.
//! let spec = StateSpec::function(|_t, _k: &String, v: Option<&u64>, state: &mut microbatch::dstream::state::State<u64>| {
//!     let sum = state.get().copied().unwrap_or(0) + v.copied().unwrap_or(0);
//!     if !state.is_timing_out() {
//!         state.update(sum);
//!     }
//!     Some(sum)
//! })
//! .initial_state(vec![(s("a"), 100)])
//! .num_partitions(2)
//! .timeout(Duration::from_secs(2));
//! let mapped = pairs.map_with_state(spec).unwrap();
//! let sums = collect(&mapped);
//! let snapshots = collect(&mapped.state_snapshots());
//! ssc.start().unwrap();
//! ssc.await_termination().unwrap();
//! assert_eq!(totals.lock().unwrap().values().cloned().collect::<Vec<_>>(), [vec![(s("a"), 1), (s("b"), 1)], vec![(s("a"), 6)], vec![]]);
//! assert_eq!(sums.lock().unwrap()[&1], [1, 101]);
//! assert_eq!(sums.lock().unwrap()[&2], [106]);
//! assert_eq!(snapshots.lock().unwrap()[&2], [(s("a"), 106), (s("b"), 1)]);
//! ```

use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustc_hash::FxHashMap;

use crate::dstream::checkpoint_data::register_checkpoint;
use crate::dstream::graph::Graph;
use crate::dstream::{DStream, Time};
use crate::rdd::{records, Data, Partition, Rdd, ShuffleData};
use crate::StreamingError;

/// The stream, reachable from its own compute function (the RDD at `t` reads `t - slide`).
type Cell<T> = Arc<Mutex<Option<DStream<T>>>>;

/// A stream whose RDD at `t` is `f(t, its RDD at t - slide)` (`None` before the first), kept in
/// memory and checkpointed every checkpoint interval. Needs a checkpoint directory.
pub(crate) fn recursive<T: ShuffleData>(
    graph: &Arc<Graph>,
    slide_ns: u64,
    f: impl Fn(Time, Option<Rdd<T>>) -> Option<Rdd<T>> + Send + Sync + 'static,
) -> Result<DStream<T>, StreamingError> {
    graph.check_not_started()?;
    graph.needs_checkpoint();
    graph.remember(2 * slide_ns);
    let cell: Cell<T> = Arc::default();
    let this = Arc::clone(&cell);
    let stream = DStream::new(Arc::clone(graph), slide_ns, move |t| {
        let prev = t
            .checked_sub(slide_ns)
            .filter(|p| *p > 0)
            .and_then(|p| this.lock().expect("state").as_ref().and_then(|s| s.get(p)));
        f(t, prev).map(|r| r.cache())
    });
    *cell.lock().expect("state") = Some(stream.clone());
    register_checkpoint(graph, &stream);
    Ok(stream)
}

impl<K: ShuffleData + Hash + Eq, V: ShuffleData> DStream<(K, V)> {
    /// `updateStateByKey(f)`: every batch, `f(new values, previous state)` for every key with
    /// state or new values; `None` removes the key. Needs a checkpoint directory.
    pub fn update_state_by_key<S: ShuffleData>(
        &self,
        f: impl Fn(&[V], Option<&S>) -> Option<S> + Send + Sync + 'static,
    ) -> Result<DStream<(K, S)>, StreamingError> {
        self.graph.check_not_started()?;
        let grouped = self.group_by_key()?;
        let sc = self.graph.sc.clone();
        let n = self.graph.partitions;
        let f = Arc::new(f);
        recursive(&self.graph, self.graph.batch_ns, move |t, prev: Option<Rdd<(K, S)>>| {
            // The previous state is partitioned as the new values are (no shuffle), unless it was
            // restored from a checkpoint of a program with another partition count.
            let prev = prev.map_or_else(|| sc.empty(n), |p| p.partition_by_key(n));
            let new: Rdd<(K, Vec<V>)> = grouped.get(t).unwrap_or_else(|| sc.empty(n));
            let f = Arc::clone(&f);
            Some(
                prev.zip_partitions(&new, move |old, fresh| {
                    let mut fresh_map: FxHashMap<&K, &Vec<V>> = fresh.iter().map(|(k, v)| (k, v)).collect();
                    let mut out = Vec::with_capacity(old.len() + fresh.len());
                    for (k, s) in old {
                        let vs = fresh_map.remove(k).map(Vec::as_slice).unwrap_or(&[]);
                        if let Some(s2) = f(vs, Some(s)) {
                            out.push((k.clone(), s2));
                        }
                    }
                    for (k, vs) in fresh {
                        if fresh_map.contains_key(k) {
                            if let Some(s2) = f(vs, None) {
                                out.push((k.clone(), s2));
                            }
                        }
                    }
                    out
                })
                .partitioned(true),
            )
        })
    }

    /// `mapWithState(spec)`: the spec's function is called for every record, in order, with
    /// the key's [`State`], and its results form the stream; `state_snapshots()` gives every
    /// key's state after each batch. Needs a checkpoint directory.
    pub fn map_with_state<S: ShuffleData, U: Data>(
        &self,
        spec: StateSpec<K, V, S, U>,
    ) -> Result<MapWithStateDStream<K, S, U>, StreamingError> {
        self.graph.check_not_started()?;
        let n = spec.partitions.unwrap_or(self.graph.partitions);
        if n == 0 {
            return Err(StreamingError::Invalid("a state spec needs at least 1 partition".into()));
        }
        let sc = self.graph.sc.clone();
        let parent = self.clone();
        let (func, timeout) = (Arc::clone(&spec.func), spec.timeout_ns);
        let initial: Vec<(K, S)> = spec.initial.unwrap_or_default();
        let interval = self.graph.batch_ns;
        let states: DStream<StateRecord<K, S>> = recursive(&self.graph, interval, move |t, prev| {
            let prev = prev.unwrap_or_else(|| {
                let initial = initial.clone();
                sc.source::<(K, S)>(1, move |_| initial.clone()).partition_by_key(n).map_partitions(move |kv| {
                    kv.iter().map(|(k, s)| StateRecord::State(k.clone(), s.clone(), t)).collect()
                })
            });
            let new = parent.get(t).unwrap_or_else(|| sc.empty(n)).partition_by_key(n);
            let func = Arc::clone(&func);
            Some(sc.zip_all(vec![prev.node, new.node], move |parts: &[Partition]| {
                // A key's state is taken out for its function and put back: no copy per record.
                let mut map: FxHashMap<K, (Option<S>, Time)> = FxHashMap::default();
                for r in records::<StateRecord<K, S>>(&parts[0]) {
                    if let StateRecord::State(k, s, at) = r {
                        map.insert(k.clone(), (Some(s.clone()), *at));
                    }
                }
                let mut out = Vec::new();
                for (k, v) in records::<(K, V)>(&parts[1]) {
                    let slot = match map.get_mut(k) {
                        Some(slot) => slot,
                        None => map.entry(k.clone()).or_insert((None, t)),
                    };
                    let mut state = State { value: slot.0.take(), updated: false, timing_out: false };
                    if let Some(u) = func(t, k, Some(v), &mut state) {
                        out.push(StateRecord::Mapped(encode(&u)));
                    }
                    // Receiving data refreshes the key's timeout.
                    *slot = (state.value, t);
                }
                map.retain(|_, (s, _)| s.is_some());
                if let Some(timeout) = timeout {
                    let idle: Vec<K> =
                        map.iter().filter(|(_, (_, at))| at + timeout <= t).map(|(k, _)| k.clone()).collect();
                    for k in idle {
                        let (s, _) = map.remove(&k).expect("an idle key");
                        let mut state = State { value: s, updated: false, timing_out: true };
                        if let Some(u) = func(t, &k, None, &mut state) {
                            out.push(StateRecord::Mapped(encode(&u)));
                        }
                    }
                }
                out.extend(map.into_iter().filter_map(|(k, (s, at))| Some(StateRecord::State(k, s?, at))));
                out
            }))
        })?;
        let mapped = states.map_partitions(|rs| {
            rs.iter()
                .filter_map(|r| match r {
                    StateRecord::Mapped(u) => Some(decode::<U>(u)),
                    StateRecord::State(..) => None,
                })
                .collect()
        })?;
        let snapshots = states.map_partitions(|rs| {
            rs.iter()
                .filter_map(|r| match r {
                    StateRecord::State(k, s, _) => Some((k.clone(), s.clone())),
                    StateRecord::Mapped(_) => None,
                })
                .collect()
        })?;
        Ok(MapWithStateDStream { mapped, snapshots })
    }
}

/// What a `map_with_state` partition holds: every key's state (with the batch time it was last
/// updated, for timeouts) and the batch's mapped records. Mapped records are kept as values
/// behind `Arc<dyn Any>` so `U` need not be serialisable: only states are checkpointed.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(bound(
    serialize = "K: serde::Serialize, S: serde::Serialize",
    deserialize = "K: serde::de::DeserializeOwned, S: serde::de::DeserializeOwned"
))]
pub enum StateRecord<K, S> {
    /// A key's state and when it was last updated.
    State(K, S, Time),
    /// A mapped record of this batch (not checkpointed: a restored batch has none).
    Mapped(#[serde(skip)] Opaque),
}

/// A value of any type, for [`StateRecord::Mapped`].
#[derive(Clone, Default)]
pub struct Opaque(Option<Arc<dyn std::any::Any + Send + Sync>>);

fn encode<U: Data>(u: &U) -> Opaque {
    Opaque(Some(Arc::new(u.clone())))
}

fn decode<U: Data>(o: &Opaque) -> U {
    o.0.as_ref().and_then(|a| a.downcast_ref::<U>()).cloned().expect("a mapped record of the stream's type")
}

/// A key's state as `map_with_state`'s function sees it (Spark's `State`).
#[derive(Debug)]
pub struct State<S> {
    value: Option<S>,
    updated: bool,
    timing_out: bool,
}

impl<S> State<S> {
    /// Whether the key has state.
    pub fn exists(&self) -> bool {
        self.value.is_some()
    }

    /// The state, if any.
    pub fn get(&self) -> Option<&S> {
        self.value.as_ref()
    }

    /// The state to change in place (counts as an update; `None` when there is none or the key
    /// is timing out). Saves the copy `get` then `update` makes of a large state.
    pub fn get_mut(&mut self) -> Option<&mut S> {
        if self.timing_out {
            return None;
        }
        self.updated |= self.value.is_some();
        self.value.as_mut()
    }

    /// Sets the state. A key that is timing out is removed whatever its function does, as in
    /// Spark (where updating it is an error): the update is ignored.
    pub fn update(&mut self, s: S) {
        if !self.timing_out {
            self.value = Some(s);
            self.updated = true;
        }
    }

    /// Removes the key's state.
    pub fn remove(&mut self) {
        self.value = None;
    }

    /// Whether this call is the key's timeout (no new value; the state goes after it).
    pub fn is_timing_out(&self) -> bool {
        self.timing_out
    }

    /// Whether the function updated the state in this call.
    pub fn is_updated(&self) -> bool {
        self.updated
    }
}

/// The function `map_with_state` calls: `(batch time, key, new value, state) -> mapped`.
pub type StateFn<K, V, S, U> = Arc<dyn Fn(Time, &K, Option<&V>, &mut State<S>) -> Option<U> + Send + Sync>;

/// Spark's `StateSpec`: the function, and optionally initial state, partitions and timeout.
pub struct StateSpec<K, V, S, U> {
    func: StateFn<K, V, S, U>,
    initial: Option<Vec<(K, S)>>,
    partitions: Option<usize>,
    timeout_ns: Option<u64>,
}

impl<K, V, S, U> StateSpec<K, V, S, U> {
    /// `StateSpec.function(f)`.
    pub fn function(f: impl Fn(Time, &K, Option<&V>, &mut State<S>) -> Option<U> + Send + Sync + 'static) -> Self {
        Self { func: Arc::new(f), initial: None, partitions: None, timeout_ns: None }
    }

    /// State every key starts from.
    pub fn initial_state(mut self, initial: Vec<(K, S)>) -> Self {
        self.initial = Some(initial);
        self
    }

    /// Partitions of the state.
    pub fn num_partitions(mut self, partitions: usize) -> Self {
        self.partitions = Some(partitions);
        self
    }

    /// Keys that receive no record for `idle` are called once more with `is_timing_out()` and
    /// no value, then removed (checked at batch times).
    pub fn timeout(mut self, idle: Duration) -> Self {
        self.timeout_ns = Some(idle.as_nanos() as u64);
        self
    }
}

/// The stream `map_with_state` returns: the mapped records (it dereferences to them) and the
/// state snapshots.
pub struct MapWithStateDStream<K, S, U> {
    mapped: DStream<U>,
    snapshots: DStream<(K, S)>,
}

impl<K: Data, S: Data, U: Data> MapWithStateDStream<K, S, U> {
    /// `stateSnapshots()`: every key's state after each batch.
    pub fn state_snapshots(&self) -> DStream<(K, S)> {
        self.snapshots.clone()
    }
}

impl<K, S, U> std::ops::Deref for MapWithStateDStream<K, S, U> {
    type Target = DStream<U>;

    fn deref(&self) -> &DStream<U> {
        &self.mapped
    }
}
