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

use crate::scheduler::write_ahead_log;
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
    /// With the receivers' write-ahead log: per receiver, the first block id no batch up to
    /// `time` took (0: none taken).
    #[serde(default)]
    pub received_through: Vec<u64>,
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

/// Metadata files kept: the newest [`KEPT`] (Spark's `CheckpointWriter` keeps 10), and the newest
/// of the cut before theirs, so that a cut found corrupt falls back to the one before it.
pub const KEPT: usize = 10;

/// The metadata files on disk, oldest first (`(path, batch time, cut)`), and the cut before which
/// state files are gone.
struct Kept {
    files: std::collections::VecDeque<(PathBuf, Time, Time)>,
    states_before: Time,
}

impl Kept {
    /// What `dir` holds already (a restarted program writes on after it).
    fn existing(dir: &Path) -> Self {
        let cut_of = |path: &Path| {
            read_checked(path).ok().and_then(|b| serde_json::from_slice::<Metadata>(&b).ok()).map_or(0, |m| m.cut)
        };
        let files = listed(dir).into_iter().rev().map(|(path, time)| (path.clone(), time, cut_of(&path))).collect();
        Self { files, states_before: 0 }
    }
}

/// What the writer may remove once a metadata file is written: state files of cuts before
/// `previous_cut`, and, per receiver, logged blocks below `logged_below` (those taken by batches
/// up to `previous_cut`) and the logged allocations of those batches.
pub(crate) struct Removable {
    pub previous_cut: Time,
    pub logged_below: Vec<u64>,
}

/// Writes `meta`, then removes the files no recovery could use: metadata beyond those [`Kept`],
/// and, when the cut has moved, the state files of cuts before `previous_cut` and the logged
/// blocks before it. Returns the bytes written. The directory is listed only when the cut moves,
/// not every batch.
fn write(dir: &Path, meta: &Metadata, removable: &Removable, kept: &mut Kept) -> Result<u64, String> {
    let previous_cut = removable.previous_cut;
    let bytes = serde_json::to_vec(meta).map_err(|e| format!("cannot encode the metadata checkpoint: {e}"))?;
    let path = metadata_dir(dir).join(format!("checkpoint-{}", meta.time / 1_000_000));
    write_checked(&path, &bytes)?;
    kept.files.retain(|f| f.0 != path);
    kept.files.push_back((path, meta.time, meta.cut));
    let fallback = kept.files.iter().rposition(|f| f.2 < meta.cut);
    let newest = kept.files.len().saturating_sub(KEPT);
    let mut i = 0;
    kept.files.retain(|(path, _, _)| {
        let keep = i >= newest || Some(i) == fallback;
        if !keep {
            let _ = std::fs::remove_file(path);
        }
        i += 1;
        keep
    });
    if previous_cut > kept.states_before {
        for sid in 0..meta.streams {
            let states = dir.join(format!("state-{sid}"));
            for entry in std::fs::read_dir(&states).into_iter().flatten().flatten() {
                let ms: Option<u64> = entry.file_name().to_str().and_then(|n| n.parse().ok());
                if ms.is_some_and(|ms| ms * 1_000_000 < previous_cut) {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        for (receiver, below) in removable.logged_below.iter().enumerate() {
            write_ahead_log::clean(&write_ahead_log::log_dir(dir, receiver), *below);
        }
        write_ahead_log::clean_allocations(dir, previous_cut);
        kept.states_before = previous_cut;
    }
    Ok(bytes.len() as u64)
}

/// The metadata checkpoint writer: the driver queues each batch's metadata; a thread of its own
/// writes the files in order and removes those no recovery could use. [`MetadataWriter::finish`]
/// waits for every file queued (a stop, graceful or not, leaves the last batch's metadata).
pub(crate) struct MetadataWriter {
    queue: Option<mpsc::Sender<(Metadata, Removable)>>,
    thread: Option<std::thread::JoinHandle<Result<u64, String>>>,
}

impl MetadataWriter {
    /// A writer into `dir`.
    pub(crate) fn start(dir: PathBuf) -> Result<Self, String> {
        let (queue, queued) = mpsc::channel::<(Metadata, Removable)>();
        let thread = std::thread::Builder::new()
            .name("checkpoint-writer".into())
            .spawn(move || {
                let mut bytes = 0;
                let mut kept = Kept::existing(&dir);
                for (meta, removable) in queued {
                    let started = std::time::Instant::now();
                    bytes += write(&dir, &meta, &removable, &mut kept)?;
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

    /// Queues `meta` (the files `removable` names may go once it is written); an error is the
    /// one the writer stopped at.
    pub(crate) fn write(&mut self, meta: Metadata, removable: Removable) -> Result<(), String> {
        if self.queue.as_ref().is_some_and(|q| q.send((meta, removable)).is_ok()) {
            return Ok(());
        }
        self.finish().map(|_| ())
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
pub(crate) fn complete_parts(at: &Path) -> Result<(usize, Option<usize>), String> {
    let text = std::fs::read_to_string(at.join("_SUCCESS")).unwrap_or_default();
    let mut words = text.split_whitespace();
    let n: usize = words
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("{} is incomplete (no _SUCCESS with its partition count)", at.display()))?;
    for p in 0..n {
        read_checked(&at.join(format!("part-{p:05}")))?;
    }
    // "hash-partitioned": its records are where a hash partitioner of `n` puts their keys.
    Ok((n, (words.next() == Some(HASH_PARTITIONED)).then_some(n)))
}

const HASH_PARTITIONED: &str = "hash-partitioned";

/// What a complete checkpointed RDD's `_SUCCESS` says: its partition count, and whether it is
/// hash-partitioned by key (its `partitioner`).
pub(crate) fn success_line(partitions: usize, partitioner: Option<usize>) -> String {
    match partitioner {
        Some(n) if n == partitions => format!("{partitions} {HASH_PARTITIONED}"),
        _ => partitions.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(batch: u64, cut: u64) -> Metadata {
        let ms = 1_000_000;
        Metadata {
            batch_ns: 100 * ms,
            time: batch * 100 * ms,
            cut: cut * 100 * ms,
            streams: 1,
            inputs: Vec::new(),
            zero_ms: 0,
            received_through: Vec::new(),
        }
    }

    /// A complete cut of one partition at `batch`.
    fn state(dir: &Path, batch: u64) {
        let at = rdd_dir(dir, 0, batch * 100_000_000);
        std::fs::create_dir_all(&at).unwrap();
        write_checked(&at.join("part-00000"), b"state").unwrap();
        std::fs::write(at.join("_SUCCESS"), "1").unwrap();
    }

    #[test]
    fn the_writer_keeps_ten_files_and_the_previous_cuts_newest_and_a_bad_cut_falls_back_to_it() {
        let dir = std::env::temp_dir().join(format!("sb-kept-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut writer = MetadataWriter::start(dir.clone()).unwrap();
        // Cuts at batches 10, 20 and 30; batch b's metadata names the last cut at or before it.
        let mut previous = 0;
        for b in 1..=39u64 {
            let cut = b / 10 * 10;
            if cut > 0 && b % 10 == 0 {
                state(&dir, cut);
                previous = cut.saturating_sub(10);
            }
            let removable = Removable { previous_cut: previous * 100_000_000, logged_below: Vec::new() };
            writer.write(meta(b, cut), removable).unwrap();
        }
        writer.finish().unwrap();
        let times: Vec<u64> = listed(&dir).iter().map(|(_, t)| t / 100_000_000).collect();
        assert_eq!(times.len(), KEPT + 1, "{times:?}");
        assert_eq!(times[..KEPT], (30..=39).rev().collect::<Vec<u64>>()[..], "the newest ten");
        assert_eq!(times[KEPT], 29, "the newest file of the cut before (20)");
        // The cuts before the previous one are gone; the last two stay.
        let cut = |b: u64| rdd_dir(&dir, 0, b * 100_000_000).exists();
        assert_eq!([cut(10), cut(20), cut(30)], [false, true, true]);
        assert_eq!(latest(&dir).0.map(|m| (m.time, m.cut)), Some((39 * 100_000_000, 30 * 100_000_000)));
        // The newest cut found corrupt: recovery falls back to the previous cut's newest file.
        std::fs::write(rdd_dir(&dir, 0, 30 * 100_000_000).join("part-00000"), b"garbage").unwrap();
        let (found, passed) = latest(&dir);
        assert_eq!(found.map(|m| (m.time, m.cut)), Some((29 * 100_000_000, 20 * 100_000_000)), "{passed:?}");
        assert_eq!(passed.len(), KEPT);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
