//! The receivers' write-ahead log (Spark's `spark.streaming.receiver.writeAheadLog.enable`: its
//! `WriteAheadLogBasedBlockHandler`, and the `ReceivedBlockTracker`'s own log of which batch took
//! which block). With it, a received block is written to the checkpoint directory
//! (`receivedData/<receiver>/<block id>`, checksummed, written whole) before it counts as stored,
//! which blocks each batch took is logged before the batch runs (`receivedData/batches/<time>`),
//! and the metadata checkpoint records, per receiver, the first block no finished batch took. A
//! program resumed by `get_or_create` then:
//! - runs the batches since the cut again on the logged blocks each took (stored again on the
//!   live executors, whose memory is new), a batch that started after the last metadata
//!   checkpoint too: a batch run again computes what it did before;
//! - gives the first new batch every logged block no batch took (those stored while the last
//!   batches ran);
//! - tells each receiver how many of its records are logged, so that a reliable source (one that
//!   can send again from an offset) resumes right after them: nothing a receiver stored is lost,
//!   and nothing is read twice.
//!
//! Blocks taken by batches at or before the cut before the last one, and those batches'
//! allocations, are removed (no usable checkpoint needs them), except each receiver's newest
//! block, which keeps its record count.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use workloads::durable::{read_checked, write_checked, write_checked_parts};

use crate::time::Time;

/// One logged block: its id, its records, and the receiver's records through it (the offset a
/// reliable source resumes from, were this the last block).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Logged {
    pub id: u64,
    pub records: u64,
    pub end: u64,
    pub data: Vec<u8>,
}

/// Receiver `receiver`'s log in checkpoint directory `dir`.
pub(crate) fn log_dir(dir: &Path, receiver: usize) -> PathBuf {
    dir.join("receivedData").join(receiver.to_string())
}

/// Every receiver's log in `dir`.
pub(crate) fn root(dir: &Path) -> PathBuf {
    dir.join("receivedData")
}

/// Writes `block` to the log `log`; returns the bytes written. The file holds `block` encoded
/// by bincode: its fields and the data's length, then the data, written from where it is.
pub(crate) fn append(log: &Path, block: &Logged) -> Result<u64, String> {
    let head = (block.id, block.records, block.end, block.data.len() as u64);
    let head = bincode::serialize(&head).map_err(|e| format!("cannot encode a received block: {e}"))?;
    write_checked_parts(&log.join(block.id.to_string()), &[&head, &block.data])?;
    Ok((head.len() + block.data.len()) as u64 + 12)
}

/// The numbered files in `log` (block ids, batch times), in order (a temporary file of a write
/// cut short is not one).
fn ids(log: &Path) -> Vec<(u64, PathBuf)> {
    let mut ids: Vec<(u64, PathBuf)> = std::fs::read_dir(log)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path())))
        .collect();
    ids.sort_by_key(|(id, _)| *id);
    ids
}

/// Every block in `log`, in id order; a damaged one is an error naming it (its records would be
/// lost without a word).
pub(crate) fn read_all(log: &Path) -> Result<Vec<Logged>, String> {
    ids(log)
        .into_iter()
        .map(|(_, path)| {
            read_checked(&path).and_then(|b| {
                bincode::deserialize(&b).map_err(|e| format!("{} does not decode: {e}", path.display()))
            })
        })
        .collect::<Result<_, String>>()
        .map_err(|e| {
            format!("the receivers' write-ahead log is damaged ({e}): its records are lost; delete the checkpoint directory to start afresh")
        })
}

/// Removes the blocks of `log` below `below`, but its newest.
pub(crate) fn clean(log: &Path, below: u64) {
    let ids = ids(log);
    let newest = ids.last().map(|(id, _)| *id);
    for (id, path) in ids {
        if id < below && Some(id) != newest {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The batches' allocations: which logged blocks each batch took, by receiver (the
/// `ReceivedBlockTracker`'s `BatchAllocationEvent`s), one file per batch time.
fn allocations_dir(dir: &Path) -> PathBuf {
    root(dir).join("batches")
}

/// Each batch time's blocks, by receiver: `(receiver, block ids)`.
pub(crate) type Allocations = BTreeMap<Time, Vec<(usize, Vec<u64>)>>;

/// Logs which blocks batches took (`(receiver, batch time, block ids)`), before they run: a
/// program resumed after a driver died gives a batch it ran the same blocks again, even when
/// the metadata checkpoint written after it was not.
pub(crate) fn log_allocations(dir: &Path, took: impl Iterator<Item = (usize, Time, Vec<u64>)>) -> Result<(), String> {
    let mut by_time = Allocations::new();
    for (receiver, t, ids) in took {
        by_time.entry(t).or_default().push((receiver, ids));
    }
    for (t, blocks) in by_time {
        let bytes = bincode::serialize(&blocks).map_err(|e| format!("cannot encode a batch's blocks: {e}"))?;
        write_checked(&allocations_dir(dir).join(t.to_string()), &bytes)?;
    }
    Ok(())
}

/// Every logged allocation in `dir`; a damaged one is an error naming it.
pub(crate) fn allocations(dir: &Path) -> Result<Allocations, String> {
    ids(&allocations_dir(dir))
        .into_iter()
        .map(|(t, path)| {
            read_checked(&path)
                .and_then(|b| bincode::deserialize(&b).map_err(|e| format!("{} does not decode: {e}", path.display())))
                .map(|blocks| (t, blocks))
        })
        .collect::<Result<_, String>>()
        .map_err(|e| {
            format!("the receivers' write-ahead log is damaged ({e}): delete the checkpoint directory to start afresh")
        })
}

/// Removes the allocations of batches before `below`.
pub(crate) fn clean_allocations(dir: &Path, below: Time) {
    for (t, path) in ids(&allocations_dir(dir)) {
        if t < below {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Where a receiver's input resumes: the records its log holds, and the next block id.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Resume {
    /// Records the receiver stored in earlier runs of the program (a reliable source skips them).
    pub from: u64,
    /// The first block id after the logged ones (0: none logged).
    pub next_id: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(id: u64, end: u64) -> Logged {
        Logged { id, records: 1, end, data: bincode::serialize(&vec![id]).unwrap() }
    }

    #[test]
    fn a_log_reads_back_in_order_refuses_damage_and_keeps_its_newest_block_when_cleaned() {
        let dir = workloads::durable::scratch_dir("wal-test");
        let log = log_dir(&dir, 0);
        for (id, end) in [(12, 3), (10, 1), (11, 2)] {
            append(&log, &block(id, end)).unwrap();
        }
        let read: Vec<(u64, u64)> = read_all(&log).unwrap().iter().map(|b| (b.id, b.end)).collect();
        assert_eq!(read, vec![(10, 1), (11, 2), (12, 3)]);
        // Each block decodes whole, its data as written.
        assert!(read_all(&log).unwrap().iter().all(|b| b.data == block(b.id, b.end).data && b.records == 1));
        // A temporary file of a write cut short is not a block.
        std::fs::write(log.join("13.tmp"), b"torn").unwrap();
        assert_eq!(read_all(&log).unwrap().len(), 3);
        // Cleaned below 13: only the newest (12) stays, with its record count.
        clean(&log, 13);
        let read: Vec<(u64, u64)> = read_all(&log).unwrap().iter().map(|b| (b.id, b.end)).collect();
        assert_eq!(read, vec![(12, 3)]);
        // A damaged block is refused, naming the file.
        let path = log.join("12");
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        let err = read_all(&log).unwrap_err();
        assert!(err.contains("is corrupt") && err.contains("delete the checkpoint directory"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
