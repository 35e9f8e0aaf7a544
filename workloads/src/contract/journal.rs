//! A run that outlives its processes: `streambench cluster` restarts the whole cluster after a
//! `kill-process` fault, and the result spans every generation of processes. What a process
//! observed is lost with it unless it was written out, so in such a run each recorder appends
//! what it observed to a journal at its engine's commit points, as a sink writes to an external
//! system: a micro-batch output task when it has written its partition (Spark's output
//! operations: at least once, a batch run again after a restart writes it again), the driver
//! after each batch; a native worker at each snapshot of its sink (Flink's two-phase commit:
//! what follows the snapshot a restart went back to is thrown away and made again).
//!
//! A frame is one `write` of `[length u64][CRC-32 u32][bincode]` to the recorder's own file
//! (`g{generation}-p{process}-r{recorder}.log`), so a SIGKILL leaves every frame written before
//! it in the file (the page cache outlives the process) and at most one torn frame at the end,
//! which the reader recognises and passes over. [`replay`] folds every kept frame into a report.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::contract::report::{RunReport, TimelineBucket};

/// Where a run that spans process restarts keeps its journal, and which generation of
/// processes this is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalSpec {
    /// The journal's directory (shared by every process and generation).
    pub dir: PathBuf,
    /// 0 for the first processes, one more for each restart.
    pub generation: u32,
    /// The run's start, ns since the Unix epoch: the first generation's, which writes it to the
    /// journal ([`write_epoch`]); a restarted generation keeps it, so that one timeline spans
    /// every generation and the time the cluster was down shows as delay.
    pub epoch_unix_ns: Option<u64>,
}

/// What a frame stands for, and so how a frame written again after a restart is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Commit {
    /// What one part of a batch produced. At least once: a batch run again after a restart
    /// commits it again; of the generations that committed every part of it, the earliest's
    /// frames are kept, the others' counted as replayed (a restart at another parallelism
    /// splits a batch into other parts).
    Batch {
        /// Which recorder of the engine (the scheduler, the input listener, an output operation).
        source: u32,
        /// The batch time, ns.
        time_ns: u64,
        /// The partition (0 for what is not per partition).
        part: u32,
        /// How many partitions the batch's part has (1 for what is not per partition): a
        /// generation that committed all of them owns the batch.
        parts: u32,
    },
    /// What a worker observed up to its snapshot at `epoch` (ticks). Kept when the next
    /// generation restored that epoch or a later one; otherwise it never happened (the restart
    /// makes it again).
    Epoch {
        /// The worker (its index in the cluster).
        worker: u32,
        /// The snapshot's epoch, ticks.
        epoch: u64,
    },
}

#[derive(Serialize, Deserialize)]
struct Frame {
    generation: u32,
    commit: Commit,
    /// The index of the first timeline bucket in `report` (the buckets before it are empty).
    first_bucket: usize,
    report: RunReport,
}

/// What [`replay`] did with a journal's frames.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalStats {
    /// Frames read and kept.
    pub frames: u64,
    /// Outputs of batches committed again by a later generation (at-least-once duplicates):
    /// not kept, counted.
    pub replayed_outputs: u64,
    /// Of those, outputs that differ from what the batch's owner wrote for the same part (where
    /// it split the batch into the same parts).
    pub replayed_mismatches: u64,
    /// Outputs committed after the snapshot the next generation restored, thrown away (the
    /// restart wrote them again).
    pub discarded_outputs: u64,
    /// Frames cut short by a kill, passed over (a file, and why).
    pub torn: Vec<String>,
}

/// Appends one recorder's frames to its file.
pub struct JournalWriter {
    file: File,
    generation: u32,
}

impl JournalWriter {
    /// The file of recorder `recorder` of process `process`, created (with the directory).
    pub fn open(spec: &JournalSpec, process: usize, recorder: usize) -> Result<Self, String> {
        let path = spec.dir.join(format!("g{}-p{process}-r{recorder}.log", spec.generation));
        std::fs::create_dir_all(&spec.dir)
            .and_then(|()| std::fs::OpenOptions::new().create(true).append(true).open(&path))
            .map(|file| Self { file, generation: spec.generation })
            .map_err(|e| format!("cannot open the journal {}: {e}", path.display()))
    }

    /// Appends what a recorder observed since its last commit as `commit`, in one write, and
    /// empties it (the timeline keeps its length, its buckets emptied: the ones before the first
    /// with anything in it are left out of the frame).
    pub(crate) fn append(&mut self, commit: Commit, observed: &mut RunReport) -> Result<(), String> {
        let tl = &mut observed.timeline;
        let first_bucket = tl.iter().position(|b| !is_empty(b)).unwrap_or(tl.len());
        let timeline = tl[first_bucket..].iter_mut().map(|b| std::mem::replace(b, TimelineBucket::new())).collect();
        let mut report = std::mem::replace(observed, RunReport::empty(observed.timeline_ns));
        observed.timeline = std::mem::replace(&mut report.timeline, timeline);
        let frame = Frame { generation: self.generation, commit, first_bucket, report };
        let body = bincode::serialize(&frame).map_err(|e| format!("cannot encode a journal frame: {e}"))?;
        let mut data = Vec::with_capacity(body.len() + 12);
        data.extend_from_slice(&(body.len() as u64).to_le_bytes());
        data.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        data.extend_from_slice(&body);
        self.file.write_all(&data).map_err(|e| format!("cannot write the journal: {e}"))
    }
}

fn is_empty(b: &TimelineBucket) -> bool {
    b.inputs == 0 && b.outputs == 0 && b.output_latency_us.is_empty() && b.input_latency_us.is_empty()
}

const EPOCH_FILE: &str = "epoch";

/// Writes the run's start (ns since the Unix epoch) to the journal, once: the first process to
/// call it wins.
pub fn write_epoch(dir: &Path, unix_ns: u64) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{EPOCH_FILE}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, unix_ns.to_string())?;
    // A hard link does not replace an existing file: the first start stays.
    let linked = std::fs::hard_link(&tmp, dir.join(EPOCH_FILE));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// The run's start written by [`write_epoch`], if any.
pub fn read_epoch(dir: &Path) -> Option<u64> {
    std::fs::read_to_string(dir.join(EPOCH_FILE)).ok()?.trim().parse().ok()
}

/// Notes that `generation` started from the snapshot at `epoch` (ticks; `None`: from the
/// beginning): frames of the generation before it committed after that epoch are thrown away.
pub fn write_restored(dir: &Path, generation: u32, epoch: Option<u64>) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let text = epoch.map_or_else(|| "none".to_owned(), |e| e.to_string());
    std::fs::write(dir.join(format!("restored-g{generation}")), text)
}

fn read_restored(dir: &Path, generation: u32) -> Option<Option<u64>> {
    let text = std::fs::read_to_string(dir.join(format!("restored-g{generation}"))).ok()?;
    Some(text.trim().parse().ok())
}

/// The start of a journaled run, in a process whose clock reads `now`: now in the first
/// generation (written to the journal), the first generation's start in a restarted one.
pub(crate) fn epoch(spec: &JournalSpec, now: std::time::Instant) -> Result<std::time::Instant, String> {
    match spec.epoch_unix_ns {
        Some(at) => {
            let ago = std::time::Duration::from_nanos(unix_now_ns().saturating_sub(at));
            Ok(now.checked_sub(ago).unwrap_or(now))
        }
        None => write_epoch(&spec.dir, unix_now_ns())
            .map(|()| now)
            .map_err(|e| format!("cannot write the run's start to the journal: {e}")),
    }
}

/// The unix time now, ns.
pub fn unix_now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// Reads every frame of the journal in `dir` and folds the kept ones into `report`: of the
/// frames of one [`Commit::Batch`], the earliest generation's; of [`Commit::Epoch`] frames,
/// those at or before the snapshot the next generation restored (all of the last generation's).
pub fn replay(dir: &Path, report: &mut RunReport) -> Result<JournalStats, String> {
    let mut stats = JournalStats::default();
    let mut frames = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read the journal {}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    names.sort();
    for path in names {
        read_frames(&path, &mut frames, &mut stats)?;
    }
    // Earliest generation first, then in the order written.
    frames.sort_by_key(|f| f.generation);
    let last = frames.iter().map(|f| f.generation).max().unwrap_or(0);
    let restored: BTreeMap<u32, Option<u64>> =
        (1..=last).filter_map(|g| read_restored(dir, g).map(|r| (g, r))).collect();
    let owners = owners(&frames);
    // Each part's outputs by generation: a part committed again is compared with the owner's
    // same part (a generation killed mid-batch committed only some of its parts).
    let mut digests: BTreeMap<Commit, BTreeMap<u32, u64>> = BTreeMap::new();
    for f in &frames {
        if let Commit::Batch { .. } = f.commit {
            let d = digests.entry(f.commit).or_default().entry(f.generation).or_insert(0);
            *d = d.wrapping_add(outputs_digest(&f.report));
        }
    }
    let mut seen = BTreeSet::new();
    for frame in frames {
        let outputs = frame.report.outputs.len();
        let keep = match frame.commit {
            Commit::Batch { source, time_ns, .. } => match owners.get(&(source, time_ns)) {
                Some(&owner) if owner != frame.generation => {
                    stats.replayed_outputs += outputs;
                    // Compared where the owner split the batch into the same parts.
                    let by_generation = &digests[&frame.commit];
                    if by_generation.get(&owner).is_some_and(|d| *d != by_generation[&frame.generation]) {
                        stats.replayed_mismatches += outputs;
                    }
                    false
                }
                Some(_) => true,
                // No generation committed every part (the run ended mid-batch): each part once.
                None => {
                    let first = seen.insert(frame.commit);
                    if !first {
                        stats.replayed_outputs += outputs;
                    }
                    first
                }
            },
            Commit::Epoch { epoch, .. } => {
                frame.generation == last
                    || restored.get(&(frame.generation + 1)).copied().flatten().is_some_and(|r| epoch <= r)
            }
        };
        if !keep {
            if matches!(frame.commit, Commit::Epoch { .. }) {
                stats.discarded_outputs += outputs;
            }
            continue;
        }
        stats.frames += 1;
        let mut part = frame.report;
        let mut timeline: Vec<TimelineBucket> = (0..frame.first_bucket).map(|_| TimelineBucket::new()).collect();
        timeline.append(&mut part.timeline);
        part.timeline = timeline;
        report.merge(part);
    }
    Ok(stats)
}

/// For each batch of each source, the earliest generation that committed every part of it.
fn owners(frames: &[Frame]) -> BTreeMap<(u32, u64), u32> {
    let mut parts: BTreeMap<(u32, u64, u32), (u32, BTreeSet<u32>)> = BTreeMap::new();
    for f in frames {
        if let Commit::Batch { source, time_ns, part, parts: n } = f.commit {
            let e = parts.entry((source, time_ns, f.generation)).or_insert((n, BTreeSet::new()));
            e.1.insert(part);
        }
    }
    let mut owners = BTreeMap::new();
    // In key order: earlier generations first.
    for ((source, time_ns, generation), (n, seen)) in parts {
        if seen.len() as u32 >= n {
            owners.entry((source, time_ns)).or_insert(generation);
        }
    }
    owners
}

/// Reads `path`'s frames; a frame cut short at the end of the file is noted and passed over, a
/// damaged one before the end is an error.
fn read_frames(path: &Path, frames: &mut Vec<Frame>, stats: &mut JournalStats) -> Result<(), String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut at = 0;
    while at < data.len() {
        let torn = |why: &str| format!("{}: {why} at byte {at}", path.display());
        if data.len() - at < 12 {
            stats.torn.push(torn("a frame header cut short"));
            break;
        }
        let len = u64::from_le_bytes(data[at..at + 8].try_into().expect("8 bytes")) as usize;
        let crc = u32::from_le_bytes(data[at + 8..at + 12].try_into().expect("4 bytes"));
        let Some(body) = data.get(at + 12..at + 12 + len) else {
            stats.torn.push(torn("a frame cut short"));
            break;
        };
        if crc32fast::hash(body) != crc {
            let why = torn("a frame whose checksum does not match");
            if at + 12 + len == data.len() {
                stats.torn.push(why);
                break;
            }
            return Err(format!("{why}: the journal is damaged"));
        }
        frames
            .push(bincode::deserialize(body).map_err(|e| format!("{}: a frame does not decode: {e}", path.display()))?);
        at += 12 + len;
    }
    Ok(())
}

/// An order-independent fingerprint of a frame's outputs (a wrapping sum of a hash of each), to
/// tell a replayed batch that wrote the same from one that did not.
fn outputs_digest(report: &RunReport) -> u64 {
    use crate::hash::{key_hash, mix64};
    let o = &report.outputs;
    let mut h = mix64(o.digest.updates).wrapping_add(o.digest.sum);
    let mut add = |x: u64| h = h.wrapping_add(mix64(x));
    for (t, d) in &o.snapshot_digests {
        add(mix64(d.updates ^ t.rotate_left(17)).wrapping_add(d.sum));
    }
    for (t, rows) in &o.snapshots {
        for w in rows {
            add(key_hash(&w.word) ^ w.count ^ t.rotate_left(23));
        }
    }
    for w in &o.word_totals {
        add(key_hash(&w.word) ^ w.count.rotate_left(11));
    }
    for w in &o.windowed {
        add(key_hash(&w.word) ^ w.count ^ w.window_end.rotate_left(7));
    }
    for a in &o.alerts {
        add(u64::from(a.sensor) ^ a.seq.rotate_left(29) ^ (a.milli as u64).rotate_left(47));
    }
    for w in &o.hashtags {
        add(w.window_end.rotate_left(13) ^ w.total ^ w.distinct.rotate_left(37));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::WordTotal;

    fn spec(dir: &Path, generation: u32) -> JournalSpec {
        JournalSpec { dir: dir.to_path_buf(), generation, epoch_unix_ns: None }
    }

    /// A report of `n` snapshot rows of batch `t`, and `inputs` inputs in timeline bucket 3.
    fn observed(t: u64, n: u64, inputs: u64) -> RunReport {
        let mut r = RunReport::empty(100_000_000);
        let rows: Vec<WordTotal> = (0..n).map(|i| WordTotal { word: format!("w{i}"), count: i + t }).collect();
        // As a recorder keeping every output does: the rows and their digest.
        let digest = r.outputs.snapshot_digests.entry(t).or_default();
        rows.iter().for_each(|w| digest.add(crate::hash::key_hash(&w.word), w.count));
        r.outputs.snapshots.insert(t, rows);
        r.inputs = inputs;
        r.timeline = (0..4).map(|_| TimelineBucket::new()).collect();
        r.timeline[3].inputs = inputs;
        r
    }

    fn batch(t: u64) -> Commit {
        Commit::Batch { source: 2, time_ns: t, part: 0, parts: 1 }
    }

    #[test]
    fn a_batch_committed_again_by_a_restart_is_kept_once_and_counted_as_replayed() {
        let dir = crate::durable::scratch_dir("journal-batch");
        let mut first = JournalWriter::open(&spec(&dir, 0), 0, 0).unwrap();
        first.append(batch(1), &mut observed(1, 3, 10)).unwrap();
        first.append(batch(2), &mut observed(2, 3, 10)).unwrap();
        let mut second = JournalWriter::open(&spec(&dir, 1), 0, 0).unwrap();
        // Batch 2 again, the same; batch 3 anew.
        second.append(batch(2), &mut observed(2, 3, 10)).unwrap();
        second.append(batch(3), &mut observed(3, 3, 10)).unwrap();
        let mut report = RunReport::empty(100_000_000);
        let stats = replay(&dir, &mut report).unwrap();
        assert_eq!((stats.frames, stats.replayed_outputs, stats.replayed_mismatches), (3, 3, 0));
        assert_eq!(report.outputs.snapshots.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(report.outputs.snapshots.values().all(|rows| rows.len() == 3));
        assert_eq!(report.inputs, 30);
        // The timeline keeps its positions across frames.
        assert_eq!(report.timeline.len(), 4);
        assert_eq!(report.timeline[3].inputs, 30);
        // A replay that wrote something else is told apart.
        second.append(batch(1), &mut observed(1, 2, 10)).unwrap();
        let stats = replay(&dir, &mut RunReport::empty(100_000_000)).unwrap();
        assert_eq!((stats.replayed_outputs, stats.replayed_mismatches), (5, 2));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_batch_split_into_other_parts_after_a_restart_is_owned_by_the_generation_that_wrote_it_whole() {
        let part = |p, n| Commit::Batch { source: 2, time_ns: 5, part: p, parts: n };
        // Generation 0 (two parts of batch 5) wrote `first_parts` of it before the kill;
        // generation 1 (four parts) ran it again whole. The frames kept, the outputs replayed.
        let replayed = |first_parts: u32| {
            let dir = crate::durable::scratch_dir("journal-parts");
            let mut first = JournalWriter::open(&spec(&dir, 0), 0, 0).unwrap();
            for p in 0..first_parts {
                first.append(part(p, 2), &mut observed(5, 2, 1)).unwrap();
            }
            let mut second = JournalWriter::open(&spec(&dir, 1), 0, 0).unwrap();
            for p in 0..4 {
                second.append(part(p, 4), &mut observed(5, 1, 1)).unwrap();
            }
            let mut report = RunReport::empty(100_000_000);
            let stats = replay(&dir, &mut report).unwrap();
            assert_eq!(report.outputs.snapshots[&5].len(), 4, "the batch once");
            std::fs::remove_dir_all(&dir).unwrap();
            (stats.frames, stats.replayed_outputs)
        };
        // Whole in generation 0: it owns the batch.
        assert_eq!(replayed(2), (2, 4));
        // Only part 0 before the kill: generation 1 owns it.
        assert_eq!(replayed(1), (4, 2));
    }

    #[test]
    fn a_part_committed_before_a_kill_mid_batch_is_compared_with_the_same_part_run_again() {
        let part = |p| Commit::Batch { source: 2, time_ns: 5, part: p, parts: 2 };
        // Generation 0 wrote part 0 of batch 5 (part 1 never came: the kill); generation 1 ran
        // both parts, part 0 as `again` (rows of part 1 are other words than part 0's).
        let mismatches = |again: RunReport| {
            let dir = crate::durable::scratch_dir("journal-part-again");
            JournalWriter::open(&spec(&dir, 0), 0, 0).unwrap().append(part(0), &mut observed(5, 2, 1)).unwrap();
            let mut second = JournalWriter::open(&spec(&dir, 1), 0, 0).unwrap();
            second.append(part(0), &mut { again }).unwrap();
            second.append(part(1), &mut observed(6, 3, 1)).unwrap();
            let stats = replay(&dir, &mut RunReport::empty(100_000_000)).unwrap();
            std::fs::remove_dir_all(&dir).unwrap();
            (stats.replayed_outputs, stats.replayed_mismatches)
        };
        assert_eq!(mismatches(observed(5, 2, 1)), (2, 0), "the same part, the same outputs");
        assert_eq!(mismatches(observed(5, 1, 1)), (2, 2), "part 0 computed otherwise");
    }

    #[test]
    fn what_followed_the_snapshot_a_restart_went_back_to_is_thrown_away() {
        let dir = crate::durable::scratch_dir("journal-epoch");
        let epoch = |e| Commit::Epoch { worker: 0, epoch: e };
        let mut first = JournalWriter::open(&spec(&dir, 0), 0, 0).unwrap();
        for e in [10, 20, 30] {
            first.append(epoch(e), &mut observed(e, 2, 5)).unwrap();
        }
        // The restart went back to epoch 20: what came after it is made again.
        write_restored(&dir, 1, Some(20)).unwrap();
        let mut second = JournalWriter::open(&spec(&dir, 1), 0, 0).unwrap();
        second.append(epoch(30), &mut observed(31, 2, 5)).unwrap();
        let mut report = RunReport::empty(100_000_000);
        let stats = replay(&dir, &mut report).unwrap();
        assert_eq!((stats.frames, stats.discarded_outputs, stats.replayed_outputs), (3, 2, 0));
        assert_eq!(report.outputs.snapshots.keys().copied().collect::<Vec<_>>(), vec![10, 20, 31]);
        // A restart from the beginning keeps nothing of the generation before.
        write_restored(&dir, 1, None).unwrap();
        let mut report = RunReport::empty(100_000_000);
        assert_eq!(replay(&dir, &mut report).unwrap().discarded_outputs, 6);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_frame_cut_short_by_a_kill_is_passed_over_and_a_damaged_one_refused() {
        let dir = crate::durable::scratch_dir("journal-torn");
        let mut w = JournalWriter::open(&spec(&dir, 0), 0, 0).unwrap();
        w.append(batch(1), &mut observed(1, 2, 1)).unwrap();
        w.append(batch(2), &mut observed(2, 2, 1)).unwrap();
        let path = dir.join("g0-p0-r0.log");
        let whole = std::fs::read(&path).unwrap();
        std::fs::write(&path, &whole[..whole.len() - 5]).unwrap();
        let mut report = RunReport::empty(100_000_000);
        let stats = replay(&dir, &mut report).unwrap();
        assert_eq!((stats.frames, stats.torn.len()), (1, 1));
        assert!(stats.torn[0].contains("cut short"), "{:?}", stats.torn);
        let mut damaged = whole.clone();
        damaged[20] ^= 0xff;
        std::fs::write(&path, &damaged).unwrap();
        let e = replay(&dir, &mut RunReport::empty(100_000_000)).unwrap_err();
        assert!(e.contains("the journal is damaged"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_first_start_written_stays() {
        let dir = crate::durable::scratch_dir("journal-epoch-file");
        write_epoch(&dir, 5).unwrap();
        write_epoch(&dir, 7).unwrap();
        assert_eq!(read_epoch(&dir), Some(5));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
