//! The metadata checkpoint: after every batch the driver records where a restarted program
//! resumes: the last batch, the last consistent cut of state (every checkpointed stream written
//! at one batch time) and the source offsets of every batch since that cut (Spark's
//! `Checkpoint` with its pending batches). A file is written whole (a temporary, then a rename)
//! with a length and CRC-32 header; a corrupt or partial one is skipped on recovery and the
//! newest good one is used. As Spark's `CheckpointWriter`, the files are written by a thread of
//! their own ([`MetadataWriter`]), in order, so that no batch waits for the disk.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde::{Deserialize, Serialize};

use workloads::durable::{read_checked, write_checked};

use crate::time::Time;

/// One batch's `[from, to)` offsets, per partition of a direct stream.
pub type Ranges = Vec<(u64, u64)>;

/// One metadata checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// The batch interval of the program that wrote it, ns.
    pub batch_ns: u64,
    /// The last batch that finished.
    pub time: Time,
    /// The last cut: every checkpointed stream's RDD at this time is on disk (0: none yet).
    pub cut: Time,
    /// How many streams are checkpointed.
    pub streams: usize,
    /// `(direct stream, batch time, [from, to) per partition)` for every batch from the cut
    /// to `time`.
    pub inputs: Vec<(usize, Time, Ranges)>,
    /// The epoch ms of batch time 0 (0: a manual clock, or a checkpoint from before it was kept).
    #[serde(default)]
    pub zero_ms: u64,
}

fn metadata_dir(dir: &Path) -> PathBuf {
    dir.join("metadata")
}

/// The bytes of state stream `sid`'s cut at `t` (its partition files).
pub fn state_bytes(dir: &Path, sid: usize, t: Time) -> u64 {
    std::fs::read_dir(rdd_dir(dir, sid, t))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// Writes `meta`, then keeps only the files a recovery could still use: those since the cut
/// before the last one (so a cut found corrupt falls back to the previous one). Returns the bytes
/// written.
pub fn write(dir: &Path, meta: &Metadata, previous_cut: Time) -> Result<u64, String> {
    let bytes = serde_json::to_vec(meta).map_err(|e| format!("cannot encode the metadata checkpoint: {e}"))?;
    write_checked(&metadata_dir(dir).join(format!("checkpoint-{}", meta.time / 1_000_000)), &bytes)?;
    for (path, time) in listed(dir) {
        if time < previous_cut {
            let _ = std::fs::remove_file(path);
        }
    }
    for sid in 0..meta.streams {
        let states = dir.join(format!("state-{sid}"));
        for entry in std::fs::read_dir(&states).into_iter().flatten().flatten() {
            let ms: Option<u64> = entry.file_name().to_str().and_then(|n| n.parse().ok());
            if ms.is_some_and(|ms| ms * 1_000_000 < previous_cut) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(bytes.len() as u64)
}

/// The metadata checkpoint writer: the driver queues each batch's metadata; a thread of its own
/// writes the files in order and removes those no recovery could use. [`MetadataWriter::finish`]
/// waits for every file queued (a stop, graceful or not, leaves the last batch's metadata).
pub(crate) struct MetadataWriter {
    queue: Option<mpsc::Sender<(Metadata, Time)>>,
    thread: Option<std::thread::JoinHandle<Result<u64, String>>>,
}

impl MetadataWriter {
    /// A writer into `dir`.
    pub(crate) fn start(dir: PathBuf) -> Result<Self, String> {
        let (queue, queued) = mpsc::channel::<(Metadata, Time)>();
        let thread = std::thread::Builder::new()
            .name("checkpoint-writer".into())
            .spawn(move || {
                let mut bytes = 0;
                for (meta, previous_cut) in queued {
                    let started = std::time::Instant::now();
                    bytes += write(&dir, &meta, previous_cut)?;
                    let ms = started.elapsed().as_secs_f64() * 1e3;
                    tracing::trace!(
                        time_ms = meta.time / 1_000_000,
                        cut_ms = meta.cut / 1_000_000,
                        ms,
                        "metadata checkpoint written"
                    );
                }
                Ok(bytes)
            })
            .map_err(|e| format!("cannot start the checkpoint writer: {e}"))?;
        Ok(Self { queue: Some(queue), thread: Some(thread) })
    }

    /// Queues `meta` (the files before `previous_cut` may go once it is written); an error is the
    /// one the writer stopped at.
    pub(crate) fn write(&mut self, meta: Metadata, previous_cut: Time) -> Result<(), String> {
        match self.queue.as_ref().map(|q| q.send((meta, previous_cut))) {
            Some(Ok(())) => Ok(()),
            _ => self.finish().map(|_| ()),
        }
    }

    /// Waits for every file queued; returns the bytes written, or the error the writer stopped at.
    pub(crate) fn finish(&mut self) -> Result<u64, String> {
        drop(self.queue.take());
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| "the checkpoint writer panicked".to_owned())?,
            None => Err("the checkpoint writer has stopped".to_owned()),
        }
    }
}

/// Metadata files in `dir`, newest first, with their batch times.
fn listed(dir: &Path) -> Vec<(PathBuf, Time)> {
    let mut files: Vec<(PathBuf, Time)> = std::fs::read_dir(metadata_dir(dir))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_owned();
            let ms: u64 = name.strip_prefix("checkpoint-")?.parse().ok()?;
            Some((e.path(), ms * 1_000_000))
        })
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.1));
    files
}

/// The newest usable checkpoint in `dir` (its metadata intact and every state file of its cut
/// complete and intact), and why each newer one was passed over.
pub fn latest(dir: &Path) -> (Option<Metadata>, Vec<String>) {
    let mut skipped = Vec::new();
    for (path, _) in listed(dir) {
        let meta = read_checked(&path).and_then(|b| {
            serde_json::from_slice::<Metadata>(&b).map_err(|e| format!("{} does not decode: {e}", path.display()))
        });
        let usable = meta.and_then(|m| {
            if m.cut > 0 {
                for sid in 0..m.streams {
                    complete_parts(&rdd_dir(dir, sid, m.cut))?;
                }
            }
            Ok(m)
        });
        match usable {
            Ok(m) => return (Some(m), skipped),
            Err(e) => skipped.push(e),
        }
    }
    (None, skipped)
}

/// Where the partitions of stream `stream`'s RDD at `t` are checkpointed.
pub(crate) fn rdd_dir(dir: &Path, stream: usize, t: Time) -> PathBuf {
    dir.join(format!("state-{stream}")).join(format!("{}", t / 1_000_000))
}

/// The number of partitions of a complete checkpointed RDD in `at`, or why it is not usable.
pub(crate) fn complete_parts(at: &Path) -> Result<usize, String> {
    let n: usize = std::fs::read_to_string(at.join("_SUCCESS"))
        .ok()
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("{} is incomplete (no _SUCCESS with its partition count)", at.display()))?;
    for p in 0..n {
        read_checked(&at.join(format!("part-{p:05}")))?;
    }
    Ok(n)
}
