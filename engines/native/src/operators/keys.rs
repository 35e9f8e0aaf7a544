//! Keyed records and the container they are exchanged in. Between the workers of one process a
//! batch of keys moves as it is; to another process it is written as four flat arrays (hashes,
//! times, key lengths, and the keys' bytes one after another) and read back in one pass, rather
//! than encoded record by record with bincode, which sizes every record once and writes it
//! again (what crossing a process costs: see `results/PERFORMANCE.md`).

use compact_str::CompactString;
use timely::container::CapacityContainerBuilder;
use timely::container::{Accountable, DrainContainer, PushInto, SizableContainer};
use timely::dataflow::channels::pact::ExchangeCore;
use timely::dataflow::channels::ContainerBytes;

/// A key on its way to be counted: `(hash, key, time_ns)`, where the time is its input's due
/// time (the latency reference of a running count) or its event time (for windows).
pub type KeyRecord = (u64, CompactString, u64);

/// A batch of [`KeyRecord`]s: a `Vec` in memory, four flat arrays on the wire.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyBatch(pub Vec<KeyRecord>);

impl std::ops::Deref for KeyBatch {
    type Target = Vec<KeyRecord>;
    fn deref(&self) -> &Vec<KeyRecord> {
        &self.0
    }
}

impl std::ops::DerefMut for KeyBatch {
    fn deref_mut(&mut self) -> &mut Vec<KeyRecord> {
        &mut self.0
    }
}

impl Accountable for KeyBatch {
    #[inline]
    fn record_count(&self) -> i64 {
        self.0.record_count()
    }
    #[inline]
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl DrainContainer for KeyBatch {
    type Item<'a> = KeyRecord;
    type DrainIter<'a> = std::vec::Drain<'a, KeyRecord>;
    #[inline]
    fn drain(&mut self) -> Self::DrainIter<'_> {
        self.0.drain(..)
    }
}

impl SizableContainer for KeyBatch {
    #[inline]
    fn at_capacity(&self) -> bool {
        self.0.at_capacity()
    }
    #[inline]
    fn ensure_capacity(&mut self, stash: &mut Option<Self>) {
        // As `Vec`'s: the stash (an emptied batch handed back) is taken only by an empty batch.
        let mut inner = if self.0.capacity() == 0 { stash.take().map(|s| s.0) } else { None };
        self.0.ensure_capacity(&mut inner);
    }
}

impl PushInto<KeyRecord> for KeyBatch {
    #[inline]
    fn push_into(&mut self, item: KeyRecord) {
        self.0.push(item)
    }
}

/// What a source emits: a container whose records it writes into as a `Vec`, and hands on
/// whole, a chunk at a time, while the chunk is still in cache (an operator between the source
/// and the exchange would leave every chunk of an activation to be partitioned cold: -19 %,
/// `results/PERFORMANCE.md` §12).
pub trait Batch: timely::Container + SizableContainer + Clone + Send {
    /// The record.
    type Record;
    /// The records, to write into.
    fn records(&mut self) -> &mut Vec<Self::Record>;

    /// Empties the batch (after it was handed on) with room for `records` more.
    fn refill(&mut self, records: usize) {
        let r = self.records();
        r.clear();
        r.reserve(records);
    }
}

impl<D: Clone + Send + 'static> Batch for Vec<D> {
    type Record = D;
    #[inline]
    fn records(&mut self) -> &mut Vec<D> {
        self
    }
}

impl Batch for KeyBatch {
    type Record = KeyRecord;
    #[inline]
    fn records(&mut self) -> &mut Vec<KeyRecord> {
        &mut self.0
    }
}

/// `n` rounded up to a multiple of 8 (timely aligns what it sends to 8 bytes).
fn padded(n: usize) -> usize {
    (n + 7) & !7
}

impl ContainerBytes for KeyBatch {
    fn from_bytes(bytes: timely::bytes::arc::Bytes) -> Self {
        Self(decode(&bytes[..]))
    }

    fn length_in_bytes(&self) -> usize {
        let n = self.0.len();
        let keys: usize = self.0.iter().map(|r| r.1.len()).sum();
        16 + 16 * n + padded(4 * n) + padded(keys)
    }

    fn into_bytes<W: std::io::Write>(&self, writer: &mut W) {
        let mut out = Vec::with_capacity(self.length_in_bytes());
        encode(&self.0, &mut out);
        writer.write_all(&out).expect("writing a batch of keys to timely's buffer");
    }
}

/// Writes `records` as: their count and the keys' total length, the hashes, the times, the
/// key lengths, the keys' bytes (each array padded to 8 bytes).
fn encode(records: &[KeyRecord], out: &mut Vec<u8>) {
    let keys: usize = records.iter().map(|r| r.1.len()).sum();
    out.extend_from_slice(&(records.len() as u64).to_le_bytes());
    out.extend_from_slice(&(keys as u64).to_le_bytes());
    records.iter().for_each(|r| out.extend_from_slice(&r.0.to_le_bytes()));
    records.iter().for_each(|r| out.extend_from_slice(&r.2.to_le_bytes()));
    records.iter().for_each(|r| out.extend_from_slice(&(r.1.len() as u32).to_le_bytes()));
    out.resize(padded(out.len()), 0);
    records.iter().for_each(|r| out.extend_from_slice(r.1.as_bytes()));
    out.resize(padded(out.len()), 0);
}

/// Reads what [`encode`] wrote. Bytes that are not what it wrote give the records they can
/// (timely hands back only what this process's peer encoded, so this does not happen).
fn decode(bytes: &[u8]) -> Vec<KeyRecord> {
    let word = |at: usize| bytes.get(at..at + 8).map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
    let n = (word(0) as usize).min(bytes.len() / 16);
    let (hashes, times, lens) = (16, 16 + 8 * n, 16 + 16 * n);
    let mut key = padded(lens + 4 * n);
    let mut records = Vec::with_capacity(n);
    for i in 0..n {
        let len =
            bytes.get(lens + 4 * i..lens + 4 * i + 4).map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap_or([0; 4])));
        let Some(text) = bytes.get(key..key + len as usize) else { break };
        let text = std::str::from_utf8(text).map_or_else(|_| CompactString::from_utf8_lossy(text), CompactString::from);
        records.push((word(hashes + 8 * i), text, word(times + 8 * i)));
        key += len as usize;
    }
    records
}

/// The exchange of key batches by each key's hash.
pub fn by_key() -> ExchangeCore<CapacityContainerBuilder<KeyBatch>, impl for<'a> FnMut(&'a KeyRecord) -> u64 + 'static>
{
    ExchangeCore::<CapacityContainerBuilder<KeyBatch>, _>::new(|r: &KeyRecord| r.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_of_keys_reads_back_as_written_and_its_length_is_what_is_written() {
        let records: Vec<KeyRecord> = vec![
            (1, "a".into(), 10),
            (u64::MAX, "".into(), 0),
            (7, "a key longer than twenty-four bytes, on the heap".into(), u64::MAX),
            (3, "ünïcödé".into(), 42),
        ];
        let batch = KeyBatch(records.clone());
        let mut written = Vec::new();
        batch.into_bytes(&mut written);
        assert_eq!(written.len(), batch.length_in_bytes());
        assert_eq!(written.len() % 8, 0);
        assert_eq!(decode(&written), records);
        let empty = KeyBatch::default();
        let mut written = Vec::new();
        empty.into_bytes(&mut written);
        assert_eq!((written.len(), decode(&written)), (empty.length_in_bytes(), Vec::new()));
    }

    #[test]
    fn bytes_cut_short_give_the_records_they_hold_and_no_panic() {
        let records: Vec<KeyRecord> = (0..5).map(|i| (i, format!("key{i}").into(), i * 10)).collect();
        let mut written = Vec::new();
        encode(&records, &mut written);
        for cut in 0..written.len() {
            assert!(decode(&written[..cut]).len() <= records.len());
        }
    }
}
