//! Snapshot files: one per worker and epoch, in a directory per epoch and generation; a
//! snapshot is committed when every worker's file is there, and usable when every file checks
//! out.

use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use workloads::durable::read_checked;

/// One worker's file for one epoch.
#[derive(Serialize, Deserialize)]
pub(crate) struct WorkerFile {
    pub(crate) epoch: u64,
    pub(crate) generation: u32,
    pub(crate) worker: usize,
    /// How many workers took the snapshot.
    pub(crate) workers: usize,
    pub(crate) parts: Vec<(String, Vec<u8>)>,
}

pub(crate) fn epoch_dir(dir: &Path, epoch: u64, generation: u32) -> PathBuf {
    dir.join(format!("epoch-{epoch:020}-g{generation:04}"))
}

pub(crate) fn parse_epoch_dir(name: &str) -> Option<(u64, u32)> {
    let (epoch, generation) = name.strip_prefix("epoch-")?.split_once("-g")?;
    Some((epoch.parse().ok()?, generation.parse().ok()?))
}

pub(crate) fn worker_file(worker: usize) -> String {
    format!("worker-{worker:04}.snap")
}

/// A worker's parts, by name.
pub(crate) type Parts = FxHashMap<String, Vec<u8>>;

/// What a restoring worker gets of a committed snapshot.
pub(crate) enum Snapshot {
    /// Its own parts: the snapshot was taken by as many workers.
    Own(Parts),
    /// Every old worker's parts, to be split again (taken by another number of workers).
    Rescaled(Vec<Parts>),
}

/// Reads worker `me`'s parts (of `workers`) of the snapshot in `path`, after checking every
/// file of it (worker 0's says how many workers took it). `Err(None)`: not committed (a file is
/// missing); `Err(Some(why))`: a file is damaged.
pub(crate) fn read_snapshot(
    path: &Path,
    epoch: u64,
    generation: u32,
    workers: usize,
    me: usize,
) -> Result<Snapshot, Option<String>> {
    let read = |w: usize| -> Result<WorkerFile, Option<String>> {
        let file = path.join(worker_file(w));
        let bytes = read_checked(&file).map_err(Some)?;
        let f: WorkerFile =
            bincode::deserialize(&bytes).map_err(|e| Some(format!("{} does not decode: {e}", file.display())))?;
        if f.epoch != epoch || f.generation != generation || f.worker != w {
            return Err(Some(format!("{} belongs to another snapshot", file.display())));
        }
        Ok(f)
    };
    if !path.join(worker_file(0)).exists() {
        return Err(None);
    }
    let first = read(0)?;
    let taken_by = first.workers;
    if (1..taken_by).any(|w| !path.join(worker_file(w)).exists()) {
        return Err(None);
    }
    let mut files = vec![first];
    for w in 1..taken_by {
        files.push(read(w)?);
    }
    if let Some(f) = files.iter().find(|f| f.workers != taken_by) {
        return Err(Some(format!(
            "{} says {} workers took it, worker 0's {taken_by}",
            worker_file(f.worker),
            f.workers
        )));
    }
    let parts = |f: WorkerFile| f.parts.into_iter().collect::<Parts>();
    if taken_by == workers {
        Ok(Snapshot::Own(parts(files.swap_remove(me))))
    } else {
        Ok(Snapshot::Rescaled(files.into_iter().map(parts).collect()))
    }
}
