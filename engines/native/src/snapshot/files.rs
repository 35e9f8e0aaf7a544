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

/// Reads worker `me`'s parts of the snapshot in `path`, after checking every worker's file.
/// `Err(None)`: not committed (a file is missing); `Err(Some(why))`: a file is damaged.
pub(crate) fn read_snapshot(
    path: &Path,
    epoch: u64,
    generation: u32,
    workers: usize,
    me: usize,
) -> Result<FxHashMap<String, Vec<u8>>, Option<String>> {
    if (0..workers).any(|w| !path.join(worker_file(w)).exists()) {
        return Err(None);
    }
    let mut mine = None;
    for w in 0..workers {
        let bytes = read_checked(&path.join(worker_file(w))).map_err(Some)?;
        let file: WorkerFile = bincode::deserialize(&bytes)
            .map_err(|e| Some(format!("{} does not decode: {e}", path.join(worker_file(w)).display())))?;
        if file.epoch != epoch || file.generation != generation || file.worker != w {
            return Err(Some(format!("{} belongs to another snapshot", path.join(worker_file(w)).display())));
        }
        if w == me {
            mine = Some(file.parts.into_iter().collect());
        }
    }
    Ok(mine.expect("me < workers"))
}
