//! What an RDD holds: partitions of typed records behind `Any`, the ids of RDDs and shuffles,
//! and the functions a lineage node computes with.

use std::any::Any;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use bincode::Options as _;
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
pub type MapSideFn =
    Arc<dyn Fn(&mut dyn crate::rdd::TaskContext, &Arc<crate::rdd::RddNode>, usize, usize) -> Vec<Pages> + Send + Sync>;
/// Pushes every record of a partition (`p`), in order, to a sink, reading its parents in the
/// task's context: a stage's narrow transformations record by record.
pub type PipeFn<T> = Arc<dyn Fn(&mut dyn crate::rdd::TaskContext, usize, &mut dyn FnMut(&T)) + Send + Sync>;
/// Computes a whole partition (`p`) in a task's context.
pub type CollectFn = Arc<dyn Fn(&mut dyn crate::rdd::TaskContext, usize) -> Partition + Send + Sync>;
/// Turns every page of every block of a reduce partition (blocks in map-partition order, a
/// block's pages in order) into the partition.
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

/// A shuffle block (a map partition's records for one reduce partition) as pages, each a
/// serialised `Vec` of its records (bincode's encoding: the length, then the records), in
/// order. Pages are at most [`PAGE`] bytes (a record never straddles two), so that any page
/// freed can hold any later block's records: blocks sized whole were, at a rising rate, always
/// a little larger than every freed one, and every block was new memory
/// (`results/PERFORMANCE.md` §26). Spark's shuffle files and Flink's network buffers are
/// likewise written in pages (the page cache's, Flink's memory segments).
pub type Pages = Vec<Vec<u8>>;

/// The most bytes of records a page holds.
pub(crate) const PAGE: usize = 4 << 20;

/// Below this much room left, a page is full (a record larger than this grows its page).
const ROOM: usize = 1024;

/// `n` shuffle blocks written record by record into pages, the first page of each sized up front
/// for an even share of `records` records of at most `record_bytes` each (callers give the
/// record's size in memory; encoded as varints it is often half that, and the page is then
/// larger than it needs, at most [`PAGE`]): a `Vec` of the records
/// per block, then each serialised and grown by doubling, had cost 5 % of a shuffling job's
/// instructions in copies.
pub(crate) struct BlockWriter {
    blocks: Vec<Block>,
}

/// A block being written: its full pages, the page being written and its records.
struct Block {
    pages: Pages,
    page: Vec<u8>,
    count: u64,
}

impl Block {
    fn new(capacity: usize) -> Self {
        Self { pages: Vec::new(), page: Self::empty_page(capacity), count: 0 }
    }

    /// A page of at least `capacity` bytes with a head for its record count.
    fn empty_page(capacity: usize) -> Vec<u8> {
        let mut page = buffer(capacity);
        page.extend_from_slice(&0u64.to_le_bytes());
        page
    }

    /// Closes the page being written: its record count into its head.
    fn close(&mut self, next: Vec<u8>) {
        let mut full = std::mem::replace(&mut self.page, next);
        full[..8].copy_from_slice(&self.count.to_le_bytes());
        self.pages.push(full);
        self.count = 0;
    }

    #[cold]
    #[inline(never)]
    fn turn_page(&mut self) {
        self.close(Self::empty_page(PAGE));
    }
}

impl BlockWriter {
    /// `n` empty blocks for `records` records in all.
    pub(crate) fn new(n: usize, records: usize, record_bytes: usize) -> Self {
        let share = records / n.max(1);
        let capacity = (8 + (share + share / 8 + 4) * record_bytes).clamp(4 * ROOM, PAGE);
        Self { blocks: (0..n).map(|_| Block::new(capacity)).collect() }
    }

    /// Appends `record` to block `b`.
    #[inline]
    pub(crate) fn push<T: Serialize + ?Sized>(&mut self, b: usize, record: &T) {
        let block = &mut self.blocks[b];
        if block.page.capacity() - block.page.len() < ROOM {
            block.turn_page();
        }
        shuffle_encoding().serialize_into(&mut block.page, record).expect("serialise a shuffle record");
        block.count += 1;
    }

    /// The blocks, each its pages (none for a block without records).
    pub(crate) fn finish(self) -> Vec<Pages> {
        self.blocks
            .into_iter()
            .map(|mut b| {
                if b.count > 0 {
                    b.close(Vec::new());
                } else {
                    keep(&mut BUFFERS.lock().expect("shuffle buffers"), std::mem::take(&mut b.page));
                }
                b.pages
            })
            .collect()
    }
}

/// The pages of shuffle blocks nothing holds any more (their shuffle forgotten on every
/// executor that had them), written into again by the next blocks, as Spark writes its shuffle
/// files again through the page cache. A new buffer for every block of every batch was memory
/// the kernel had to map and zero: 56 % of the CPU time of micro-batch sensors at max
/// (`results/PERFORMANCE.md` §20, §26). Only pages that once held live blocks come back, and a
/// block takes one whenever one is kept, so what is kept and live together never exceeds the
/// most that was ever live at once.
static BUFFERS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// Pages kept at most.
const KEPT: usize = 4096;

/// An empty page of at least `capacity` bytes: a kept one that holds it, or a new one.
fn buffer(capacity: usize) -> Vec<u8> {
    match take_kept(&mut BUFFERS.lock().expect("shuffle buffers"), capacity) {
        Some(mut b) if b.capacity() >= capacity => {
            b.clear();
            b
        }
        // Too small: let it go rather than grow it (growing copies what it held).
        _ => Vec::with_capacity(capacity),
    }
}

/// Of `kept`, the smallest buffer that holds `capacity` bytes, else the largest (which the
/// caller lets go: a new block never takes more buffers than are kept and live).
fn take_kept(kept: &mut Vec<Vec<u8>>, capacity: usize) -> Option<Vec<u8>> {
    let by_size = |(_, b): &(usize, &Vec<u8>)| b.capacity();
    let fits = kept.iter().enumerate().filter(|(_, b)| b.capacity() >= capacity).min_by_key(by_size);
    let at = fits.or_else(|| kept.iter().enumerate().max_by_key(by_size)).map(|(i, _)| i);
    at.map(|i| kept.swap_remove(i))
}

/// Gives a block's pages back to be written into again, once nothing else holds the block.
pub(crate) fn give_back(block: Arc<Pages>) {
    give_back_into(&mut BUFFERS.lock().expect("shuffle buffers"), block);
}

/// Keeps `block`'s pages in `kept` if nothing else holds the block.
fn give_back_into(kept: &mut Vec<Vec<u8>>, block: Arc<Pages>) {
    if let Ok(pages) = Arc::try_unwrap(block) {
        pages.into_iter().for_each(|page| keep(kept, page));
    }
}

/// Keeps `page` in `kept` if fewer than [`KEPT`] are.
fn keep(kept: &mut Vec<Vec<u8>>, page: Vec<u8>) {
    if kept.len() < KEPT && page.capacity() > 0 {
        kept.push(page);
    }
}

/// The partitions reduce tasks made, held after their task until their consumers are done with
/// them (this the only holder), so that a later reduce of the same record type decodes into
/// their memory: a new partition every batch was, like a new shuffle buffer, memory the kernel
/// had to map and zero (`results/PERFORMANCE.md` §20). Memory freed and taken again a batch
/// interval later has by then gone back to the kernel (the allocator purges after a second).
static HELD: Mutex<Vec<Partition>> = Mutex::new(Vec::new());

/// Partitions held at most (the oldest let go first).
const HELD_AT_MOST: usize = 64;

/// An empty vector for a reduce partition of `n` records: a held partition's, if one of this
/// type holds them and nothing else holds it, else a new one.
pub(crate) fn reduce_buffer<T: Data>(n: usize) -> Vec<T> {
    let mut held = HELD.lock().expect("held partitions");
    let free = |p: &Partition| Arc::strong_count(p) == 1 && records::<T>(p).capacity() >= n;
    let reused = match held.iter().position(|p| p.is::<Vec<T>>() && free(p)) {
        Some(at) => held.remove(at).downcast::<Vec<T>>().ok().and_then(|v| Arc::try_unwrap(v).ok()),
        None => None,
    };
    drop(held);
    match reused {
        Some(mut v) => {
            v.clear();
            v
        }
        None => Vec::with_capacity(n + n / 4),
    }
}

/// Holds a reduce task's partition (see [`reduce_buffer`]).
pub(crate) fn hold(p: &Partition) {
    let mut held = HELD.lock().expect("held partitions");
    if held.len() == HELD_AT_MOST {
        held.remove(0);
    }
    held.push(Arc::clone(p));
}

/// The records of `block` (as a [`BlockWriter`] wrote it), each handed to `f` as it is decoded:
/// nothing collected on the way. Returns how many there were.
pub(crate) fn read_block<T: DeserializeOwned>(block: &[u8], mut f: impl FnMut(T)) -> usize {
    let count = block_len(block);
    let mut records = bincode::Deserializer::from_slice(&block[8..], shuffle_encoding());
    for _ in 0..count {
        f(T::deserialize(&mut records).expect("a shuffle block this run wrote"));
    }
    count
}

/// How a shuffle block's records are encoded: integers as varints (small ones in a byte, signed
/// ones zigzagged), so that a block holds about half the bytes of fixed-width integers, as Spark
/// compresses its shuffle output by default (`spark.shuffle.compress`); trailing bytes allowed (a
/// page is read record by record).
fn shuffle_encoding() -> impl bincode::Options + Copy {
    use bincode::Options;
    bincode::DefaultOptions::new().with_varint_encoding().allow_trailing_bytes()
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
        let small = Arc::new(vec![Vec::<u8>::with_capacity(100)]);
        let large = Arc::new(vec![Vec::<u8>::with_capacity(1000), Vec::with_capacity(200)]);
        // Held elsewhere too (the reducer's copy): not kept until the last holder lets go.
        let elsewhere = Arc::clone(&small);
        give_back_into(&mut kept, small);
        assert!(kept.is_empty());
        give_back_into(&mut kept, elsewhere);
        give_back_into(&mut kept, large);
        assert_eq!(kept.len(), 3, "every page of a block nothing holds");
        // The smallest that holds the page, else the largest.
        assert_eq!(take_kept(&mut kept, 50).map(|b| b.capacity()), Some(100));
        keep(&mut kept, Vec::with_capacity(100));
        assert_eq!(take_kept(&mut kept, 5000).map(|b| b.capacity()), Some(1000));
        assert_eq!(take_kept(&mut kept, 10).map(|b| b.capacity()), Some(100));
        assert_eq!(take_kept(&mut kept, 10).map(|b| b.capacity()), Some(200));
        assert_eq!(take_kept(&mut kept, 10), None);
        // A block written into a kept buffer reads back as written.
        let mut w = BlockWriter::new(2, 10, 8);
        (0..10u64).for_each(|x| w.push((x % 2) as usize, &x));
        let blocks = w.finish();
        let mut read = Vec::new();
        blocks[1].iter().for_each(|page| _ = read_block(page, |x: u64| read.push(x)));
        assert_eq!(read, [1, 3, 5, 7, 9]);
        // Small integers in a byte each, after the page's count.
        assert_eq!(blocks[1].iter().map(Vec::len).sum::<usize>(), 8 + 5);
    }

    #[test]
    fn a_block_is_written_in_pages_that_read_back_in_order_and_none_for_no_records() {
        // Sized up front for far fewer records than come: pages are turned, none grows.
        let mut w = BlockWriter::new(3, 100, 8);
        // Varints of up to 5 bytes: each block two and a half pages of records.
        let n = PAGE as u64;
        (0..n).for_each(|x| w.push(if x % 2 == 0 { 0 } else { 2 }, &x));
        let blocks = w.finish();
        assert!(blocks[0].len() >= 2, "{} pages", blocks[0].len());
        assert!(blocks[0].iter().all(|page| page.len() <= PAGE), "no page grew past a page");
        assert!(blocks[1].is_empty(), "a block without records has no page");
        for (b, rest) in [(0, 0), (2, 1)] {
            let mut read = Vec::new();
            let count: usize = blocks[b].iter().map(|page| read_block(page, |x: u64| read.push(x))).sum();
            assert_eq!(count, blocks[b].iter().map(|page| block_len(page)).sum::<usize>());
            assert!(read.iter().copied().eq((0..n).filter(|x| x % 2 == rest)), "block {b} in order");
        }
    }

    #[test]
    fn a_reduce_partition_nothing_else_holds_is_decoded_into_again() {
        // A record type of this test's own, so no other test's partitions are taken.
        #[derive(Clone)]
        struct Only(#[allow(dead_code)] u64);
        let p = partition(Vec::<Only>::with_capacity(1000));
        hold(&p);
        // Its consumer still holds it: a new vector.
        assert!(reduce_buffer::<Only>(10).capacity() < 1000);
        let memory = records::<Only>(&p).as_ptr();
        drop(p);
        let again = reduce_buffer::<Only>(10);
        assert_eq!((again.as_ptr(), again.is_empty()), (memory, true));
        // Not when it is too small for the records.
        hold(&partition(again));
        let larger = reduce_buffer::<Only>(5000);
        assert_ne!(larger.as_ptr(), memory);
    }
}
