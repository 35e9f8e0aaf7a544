//! Keyed records and the container they travel in: a batch of keys kept as four flat arrays
//! (hashes, times, where each key ends, and the keys' bytes one after another). A tokeniser
//! appends a word's bytes, not a string made for it; the exchange copies about 26 bytes a word
//! rather than a 40-byte record; and to another process the same arrays are written as they are
//! and read back in one pass, rather than encoded record by record with bincode, which sizes
//! every record once and writes it again (what crossing a process costs: see
//! `results/PERFORMANCE.md` §12 and §22).

use std::cell::RefCell;
use std::thread::LocalKey;

use timely::container::{Accountable, DrainContainer, PushInto, SizableContainer};
use timely::dataflow::channels::pact::ExchangeCore;
use timely::dataflow::channels::ContainerBytes;

use crate::operators::recycle::{self, Recycle, Recycling};

/// A key on its way to be counted: `(hash, key, time_ns)`, where the time is its input's due
/// time (the latency reference of a running count) or its event time (for windows).
pub type KeyRecord<'a> = (u64, &'a str, u64);

/// How many keys a batch holds before the exchange sends it on (about timely's 8 KiB buffer
/// at this workload's six-byte words).
const KEYS_PER_BATCH: usize = 320;

/// A batch of [`KeyRecord`]s, in four flat arrays.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyBatch {
    hashes: Vec<u64>,
    times: Vec<u64>,
    /// Where each key ends in `keys`.
    ends: Vec<u32>,
    keys: String,
}

impl KeyBatch {
    /// Appends a key.
    #[inline]
    pub fn push(&mut self, hash: u64, key: &str, time: u64) {
        self.keys.push_str(key);
        self.hashes.push(hash);
        self.times.push(time);
        self.ends.push(self.keys.len() as u32);
    }

    /// How many keys it holds.
    #[inline]
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// It holds no key.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The keys, in order.
    pub fn iter(&self) -> Keys<'_> {
        Keys { keys: &self.keys, start: 0, rest: self.hashes.iter().zip(&self.times).zip(&self.ends) }
    }

    fn clear(&mut self) {
        self.hashes.clear();
        self.times.clear();
        self.ends.clear();
        self.keys.clear();
    }

    /// Room for `records` more keys (of six bytes each, this workload's mean word).
    fn reserve(&mut self, records: usize) {
        self.hashes.reserve(records);
        self.times.reserve(records);
        self.ends.reserve(records);
        self.keys.reserve(8 * records);
    }
}

/// The keys of a [`KeyBatch`], in order.
pub struct Keys<'a> {
    keys: &'a str,
    start: usize,
    #[allow(clippy::type_complexity)]
    rest:
        std::iter::Zip<std::iter::Zip<std::slice::Iter<'a, u64>, std::slice::Iter<'a, u64>>, std::slice::Iter<'a, u32>>,
}

impl<'a> Iterator for Keys<'a> {
    type Item = KeyRecord<'a>;
    #[inline]
    fn next(&mut self) -> Option<KeyRecord<'a>> {
        let ((hash, time), end) = self.rest.next()?;
        let (start, end) = (self.start, *end as usize);
        self.start = end;
        Some((*hash, &self.keys[start..end], *time))
    }
}

impl Accountable for KeyBatch {
    #[inline]
    fn record_count(&self) -> i64 {
        self.len() as i64
    }
    #[inline]
    fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }
}

impl DrainContainer for KeyBatch {
    type Item<'a> = KeyRecord<'a>;
    type DrainIter<'a> = Keys<'a>;
    /// The keys, left in the batch (timely's contract: a drained container is in an undefined
    /// state; whoever fills it again empties it first, as `ensure_capacity` and `refill` do).
    #[inline]
    fn drain(&mut self) -> Keys<'_> {
        self.iter()
    }
}

impl SizableContainer for KeyBatch {
    #[inline]
    fn at_capacity(&self) -> bool {
        self.len() >= KEYS_PER_BATCH
    }
    #[inline]
    fn ensure_capacity(&mut self, stash: &mut Option<Self>) {
        // As `Vec`'s: the stash (a batch handed back, in any state) is taken only by an empty one.
        if self.hashes.capacity() == 0 {
            if let Some(mut s) = stash.take() {
                s.clear();
                *self = s;
            }
        }
        if self.hashes.capacity() < KEYS_PER_BATCH {
            self.reserve(KEYS_PER_BATCH - self.len());
        }
    }
}

impl<'a> PushInto<KeyRecord<'a>> for KeyBatch {
    #[inline]
    fn push_into(&mut self, (hash, key, time): KeyRecord<'a>) {
        self.push(hash, key, time)
    }
}

/// What a source emits: a container it writes records into, and hands on whole, a chunk at a
/// time, while the chunk is still in cache (an operator between the source and the exchange
/// would leave every chunk of an activation to be partitioned cold: -19 %,
/// `results/PERFORMANCE.md` §12).
pub trait Batch: timely::Container + SizableContainer + Clone + Send {
    /// Empties the batch (after it was handed on) with room for `records` more.
    fn refill(&mut self, records: usize);
}

impl<D: Clone + Send + 'static> Batch for Vec<D> {
    fn refill(&mut self, records: usize) {
        self.clear();
        self.reserve(records);
    }
}

impl Batch for KeyBatch {
    fn refill(&mut self, records: usize) {
        self.clear();
        self.reserve(records);
    }
}

/// `n` rounded up to a multiple of 8 (timely aligns what it sends to 8 bytes).
fn padded(n: usize) -> usize {
    (n + 7) & !7
}

impl ContainerBytes for KeyBatch {
    fn from_bytes(bytes: timely::bytes::arc::Bytes) -> Self {
        decode(&bytes[..])
    }

    fn length_in_bytes(&self) -> usize {
        let n = self.len();
        16 + 16 * n + padded(4 * n) + padded(self.keys.len())
    }

    fn into_bytes<W: std::io::Write>(&self, writer: &mut W) {
        let mut out = Vec::with_capacity(self.length_in_bytes());
        encode(self, &mut out);
        writer.write_all(&out).expect("writing a batch of keys to timely's buffer");
    }
}

/// Writes `batch` as: its count and the keys' total length, the hashes, the times, where each
/// key ends, the keys' bytes (each array padded to 8 bytes).
fn encode(batch: &KeyBatch, out: &mut Vec<u8>) {
    out.extend_from_slice(&(batch.len() as u64).to_le_bytes());
    out.extend_from_slice(&(batch.keys.len() as u64).to_le_bytes());
    batch.hashes.iter().for_each(|h| out.extend_from_slice(&h.to_le_bytes()));
    batch.times.iter().for_each(|t| out.extend_from_slice(&t.to_le_bytes()));
    batch.ends.iter().for_each(|e| out.extend_from_slice(&e.to_le_bytes()));
    out.resize(padded(out.len()), 0);
    out.extend_from_slice(batch.keys.as_bytes());
    out.resize(padded(out.len()), 0);
}

/// Reads what [`encode`] wrote. Bytes that are not what it wrote give the keys they can, up to
/// the first that is cut short, out of order or not UTF-8 (timely hands back only what this
/// process's peer encoded, so this does not happen).
fn decode(bytes: &[u8]) -> KeyBatch {
    let word = |at: usize| bytes.get(at..at + 8).map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
    let n = (word(0) as usize).min(bytes.len() / 16);
    let (hashes, times, ends) = (16, 16 + 8 * n, 16 + 16 * n);
    let start = padded(ends + 4 * n);
    let len = (word(8) as usize).min(bytes.len().saturating_sub(start));
    let keys = bytes.get(start..start + len).unwrap_or_default();
    let keys = match std::str::from_utf8(keys) {
        Ok(keys) => keys,
        Err(e) => std::str::from_utf8(&keys[..e.valid_up_to()]).unwrap_or_default(),
    };
    let mut batch = KeyBatch::default();
    batch.reserve(n);
    let mut from = 0;
    for i in 0..n {
        let Some(end) = bytes.get(ends + 4 * i..ends + 4 * i + 4) else { break };
        let end = u32::from_le_bytes(end.try_into().unwrap_or([0; 4])) as usize;
        let Some(key) = keys.get(from..end) else { break };
        batch.push(word(hashes + 8 * i), key, word(times + 8 * i));
        from = end;
    }
    batch
}

thread_local! {
    static KEY_BATCHES: RefCell<Vec<KeyBatch>> = RefCell::default();
}

impl Recycle for KeyBatch {
    fn pool() -> &'static LocalKey<RefCell<Vec<Self>>> {
        &KEY_BATCHES
    }
    #[inline]
    fn has_room(&self) -> bool {
        self.hashes.capacity() > 0
    }
}

/// The exchange of key batches by each key's hash.
pub fn by_key() -> ExchangeCore<Recycling<KeyBatch>, impl for<'a> FnMut(&KeyRecord<'a>) -> u64 + 'static> {
    recycle::exchange(|r: &KeyRecord<'_>| r.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(records: &[KeyRecord<'_>]) -> KeyBatch {
        let mut b = KeyBatch::default();
        records.iter().for_each(|&(hash, key, time)| b.push(hash, key, time));
        b
    }

    #[test]
    fn a_batch_of_keys_reads_back_as_written_and_its_length_is_what_is_written() {
        let records: Vec<KeyRecord<'_>> = vec![
            (1, "a", 10),
            (u64::MAX, "", 0),
            (7, "a key longer than twenty-four bytes, on the heap", u64::MAX),
            (3, "ünïcödé", 42),
        ];
        let batch = batch(&records);
        assert_eq!(batch.iter().collect::<Vec<_>>(), records);
        let mut written = Vec::new();
        batch.into_bytes(&mut written);
        assert_eq!(written.len(), batch.length_in_bytes());
        assert_eq!(written.len() % 8, 0);
        assert_eq!(decode(&written), batch);
        let empty = KeyBatch::default();
        let mut written = Vec::new();
        empty.into_bytes(&mut written);
        assert_eq!((written.len(), decode(&written)), (empty.length_in_bytes(), KeyBatch::default()));
    }

    #[test]
    fn bytes_cut_short_give_the_records_they_hold_and_no_panic() {
        let keys: Vec<String> = (0..5).map(|i| format!("kéy{i}")).collect();
        let records: Vec<KeyRecord<'_>> =
            keys.iter().enumerate().map(|(i, k)| (i as u64, k.as_str(), 10 * i as u64)).collect();
        let mut written = Vec::new();
        encode(&batch(&records), &mut written);
        for cut in 0..written.len() {
            let read = decode(&written[..cut]);
            assert!(read.len() <= records.len());
            assert!(read.iter().zip(&records).all(|(r, w)| r == *w), "cut at {cut}");
        }
    }

    #[test]
    fn a_batch_handed_back_is_emptied_before_it_is_written_into_again() {
        let mut stash = Some(batch(&[(1, "left", 1), (2, "over", 2)]));
        let mut b = KeyBatch::default();
        b.ensure_capacity(&mut stash);
        assert!(b.is_empty() && stash.is_none());
        b.push(3, "new", 3);
        assert_eq!(b.iter().collect::<Vec<_>>(), vec![(3, "new", 3)]);
        b.refill(4);
        assert!(b.is_empty());
    }
}
