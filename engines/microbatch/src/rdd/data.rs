//! What an RDD holds: partitions of typed records behind `Any`, the ids of RDDs and shuffles,
//! and the functions a lineage node computes with.

use std::any::Any;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A key's values from each side of a `cogroup`.
pub type Grouped<V, W> = (Vec<V>, Vec<W>);
/// A value of a `full_outer_join`: from either side, or both.
pub type Either<V, W> = (Option<V>, Option<W>);

/// Identifies an RDD within a run.
pub type RddId = u64;
/// Identifies a shuffle within a run.
pub type ShuffleId = u64;

/// A computed partition: a `Vec<T>` behind `Any`.
pub type Partition = Arc<dyn Any + Send + Sync>;

/// Values an RDD can hold.
pub trait Data: Clone + Send + Sync + 'static {}
impl<T: Clone + Send + Sync + 'static> Data for T {}

/// Keys and values that cross a shuffle.
pub trait ShuffleData: Data + Serialize + DeserializeOwned {}
impl<T: Data + Serialize + DeserializeOwned> ShuffleData for T {}

/// Computes a partition of a source.
pub type SourceFn = Arc<dyn Fn(usize) -> Partition + Send + Sync>;
/// Turns a parent partition into a partition.
pub type NarrowFn = Arc<dyn Fn(&Partition) -> Partition + Send + Sync>;
/// Turns partition `p` of the shuffle's parent, read in a task's context, into one serialised
/// block per reduce partition (map-side combine): `(cx, parent, p, reducers)`.
pub type MapSideFn = Arc<
    dyn Fn(&mut dyn crate::rdd::TaskContext, &Arc<crate::rdd::RddNode>, usize, usize) -> Vec<Vec<u8>> + Send + Sync,
>;
/// Pushes every record of a partition (`p`), in order, to a sink, reading its parents in the
/// task's context: a stage's narrow transformations record by record.
pub type PipeFn<T> = Arc<dyn Fn(&mut dyn crate::rdd::TaskContext, usize, &mut dyn FnMut(&T)) + Send + Sync>;
/// Computes a whole partition (`p`) in a task's context.
pub type CollectFn = Arc<dyn Fn(&mut dyn crate::rdd::TaskContext, usize) -> Partition + Send + Sync>;
/// Turns every block of a reduce partition (one per map partition, in map-partition order) into
/// the partition.
pub type ReduceFn = Arc<dyn Fn(&[&[u8]]) -> Partition + Send + Sync>;
/// Decodes a received block into a partition.
pub type DecodeFn = Arc<dyn Fn(&[u8]) -> Partition + Send + Sync>;
/// Combines the partitions of several parents (same partitioning) into one.
pub type ZipFn = Arc<dyn Fn(&[Partition]) -> Partition + Send + Sync>;

/// A job's action on one computed partition of its final RDD, run on the executor (the outputs
/// go to the executor's recorder). It returns the bytes to send back to the driver (empty for
/// none: `collect` sends records, `foreach_partition` nothing), or why it failed.
pub type Action = Arc<dyn Fn(usize, &Partition, &mut workloads::Recorder) -> Result<Vec<u8>, String> + Send + Sync>;

/// Runs one job on the executors: every partition of the RDD computed and the action applied;
/// returns what each partition's action sent back.
pub type RunJob<'a> = dyn FnMut(Arc<crate::rdd::RddNode>, Action) -> Result<Vec<Vec<u8>>, String> + 'a;

/// Downcasts a partition to its records.
pub fn records<T: Data>(p: &Partition) -> &Vec<T> {
    p.downcast_ref::<Vec<T>>().expect("partition of the RDD's element type")
}

/// Wraps records as a partition.
pub fn partition<T: Data>(v: Vec<T>) -> Partition {
    Arc::new(v)
}

/// Allocates RDD and shuffle ids.
#[derive(Default, Clone)]
pub(crate) struct Ids(Arc<std::sync::atomic::AtomicU64>);

impl Ids {
    /// Ids from `first` on (received blocks use their own range: they are made by the driver's
    /// process alone, while RDD ids must match in every process).
    pub(crate) fn starting_at(first: u64) -> Self {
        Self(Arc::new(std::sync::atomic::AtomicU64::new(first)))
    }

    /// Ids from `first` on, if they were not there yet (a resumed receiver's blocks follow its
    /// logged ones).
    pub(crate) fn advance_to(&self, first: u64) {
        self.0.fetch_max(first, std::sync::atomic::Ordering::Relaxed);
    }

    /// A fresh id.
    pub(crate) fn next(&self) -> u64 {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

/// `n` shuffle blocks written record by record (bincode's encoding of a `Vec<T>`: the length,
/// then the records), each buffer sized up front for an even share of `records` records of about
/// `record_bytes` each: a `Vec` of the records per block, then each serialised and grown by
/// doubling, had cost 5 % of a shuffling job's instructions in copies.
pub(crate) struct BlockWriter {
    blocks: Vec<(Vec<u8>, u64)>,
}

impl BlockWriter {
    /// `n` empty blocks for `records` records in all.
    pub(crate) fn new(n: usize, records: usize, record_bytes: usize) -> Self {
        let share = records / n.max(1);
        let capacity = 8 + (share + share / 8 + 4) * record_bytes;
        let blocks = (0..n)
            .map(|_| {
                let mut b = buffer(capacity);
                b.extend_from_slice(&0u64.to_le_bytes());
                (b, 0)
            })
            .collect();
        Self { blocks }
    }

    /// Appends `record` to block `b`.
    #[inline]
    pub(crate) fn push<T: Serialize + ?Sized>(&mut self, b: usize, record: &T) {
        let (bytes, count) = &mut self.blocks[b];
        bincode::serialize_into(&mut *bytes, record).expect("serialise a shuffle record");
        *count += 1;
    }

    /// The blocks, each a serialised `Vec` of its records.
    pub(crate) fn finish(self) -> Vec<Vec<u8>> {
        self.blocks
            .into_iter()
            .map(|(mut bytes, count)| {
                bytes[..8].copy_from_slice(&count.to_le_bytes());
                bytes
            })
            .collect()
    }
}

/// The buffers of shuffle blocks nothing holds any more (their shuffle forgotten on every
/// executor that had them), written into again by the next blocks, as Spark writes its shuffle
/// files again through the page cache. A new buffer for every block of every batch was memory
/// the kernel had to map and zero: 56 % of the CPU time of micro-batch sensors at max
/// (`results/PERFORMANCE.md` §20). Only buffers that once held live blocks come back, and a
/// block takes one whenever one is kept, so what is kept and live together never exceeds the
/// most that was ever live at once.
static BUFFERS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// Buffers kept at most.
const KEPT: usize = 4096;

/// An empty buffer for a block of about `capacity` bytes, kept or new.
fn buffer(capacity: usize) -> Vec<u8> {
    let kept = take_kept(&mut BUFFERS.lock().expect("shuffle buffers"), capacity);
    let mut b = kept.unwrap_or_default();
    b.clear();
    b.reserve(capacity);
    b
}

/// Of `kept`, the smallest buffer that holds `capacity` bytes, else the largest (to be grown).
fn take_kept(kept: &mut Vec<Vec<u8>>, capacity: usize) -> Option<Vec<u8>> {
    let by_size = |(_, b): &(usize, &Vec<u8>)| b.capacity();
    let fits = kept.iter().enumerate().filter(|(_, b)| b.capacity() >= capacity).min_by_key(by_size);
    let at = fits.or_else(|| kept.iter().enumerate().max_by_key(by_size)).map(|(i, _)| i);
    at.map(|i| kept.swap_remove(i))
}

/// Gives a block's buffer back to be written into again, once nothing else holds the block.
pub(crate) fn give_back(block: Arc<Vec<u8>>) {
    keep(&mut BUFFERS.lock().expect("shuffle buffers"), block);
}

/// Keeps `block`'s buffer in `kept` if nothing else holds the block and fewer than [`KEPT`] are.
fn keep(kept: &mut Vec<Vec<u8>>, block: Arc<Vec<u8>>) {
    if let Ok(b) = Arc::try_unwrap(block) {
        if kept.len() < KEPT {
            kept.push(b);
        }
    }
}

/// The records of `block` (as a [`BlockWriter`] wrote it), each handed to `f` as it is decoded:
/// nothing collected on the way. Returns how many there were.
pub(crate) fn read_block<T: DeserializeOwned>(block: &[u8], mut f: impl FnMut(T)) -> usize {
    use bincode::Options;
    let count = block_len(block);
    // `bincode::serialize`'s own options: fixed-width integers, trailing bytes allowed.
    let options = bincode::DefaultOptions::new().with_fixint_encoding().allow_trailing_bytes();
    let mut records = bincode::Deserializer::from_slice(&block[8..], options);
    for _ in 0..count {
        f(T::deserialize(&mut records).expect("a shuffle block this run wrote"));
    }
    count
}

/// How many records `block` holds.
pub(crate) fn block_len(block: &[u8]) -> usize {
    let head: [u8; 8] = block[..8].try_into().expect("a shuffle block starts with its record count");
    u64::from_le_bytes(head) as usize
}

/// The partition of `key` among `n`.
pub fn partition_of<K: Hash>(key: &K, n: usize) -> usize {
    use std::hash::BuildHasher;
    (workloads::hash::mix64(rustc_hash::FxBuildHasher.hash_one(key)) % n as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_nothing_holds_is_written_into_again() {
        let mut kept = Vec::new();
        let (small, large) = (Arc::new(Vec::<u8>::with_capacity(100)), Arc::new(Vec::<u8>::with_capacity(1000)));
        // Held elsewhere too (the reducer's copy): not kept until the last holder lets go.
        let elsewhere = Arc::clone(&small);
        keep(&mut kept, small);
        assert!(kept.is_empty());
        keep(&mut kept, elsewhere);
        keep(&mut kept, large);
        assert_eq!(kept.len(), 2);
        // The smallest that holds the block, else the largest.
        assert_eq!(take_kept(&mut kept, 50).map(|b| b.capacity()), Some(100));
        keep(&mut kept, Arc::new(Vec::with_capacity(100)));
        assert_eq!(take_kept(&mut kept, 5000).map(|b| b.capacity()), Some(1000));
        assert_eq!(take_kept(&mut kept, 10).map(|b| b.capacity()), Some(100));
        assert_eq!(take_kept(&mut kept, 10), None);
        // A block written into a kept buffer reads back as written.
        let mut w = BlockWriter::new(2, 10, 8);
        (0..10u64).for_each(|x| w.push((x % 2) as usize, &x));
        let blocks = w.finish();
        let mut read = Vec::new();
        read_block(&blocks[1], |x: u64| read.push(x));
        assert_eq!(read, [1, 3, 5, 7, 9]);
    }
}
