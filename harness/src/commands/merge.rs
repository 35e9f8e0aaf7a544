//! `streambench merge`: the shares written by the processes of a cluster run, merged, verified
//! and written as one result.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};

use crate::commands::run::Partial;
use crate::engine::judge;
use crate::result::{Context, RunResult};

/// `streambench merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The files the processes wrote with `run --processes N --out FILE`.
    #[arg(required = true)]
    pub parts: Vec<PathBuf>,
    /// Write the merged result here (printed to stdout when absent).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Merges the shares of a cluster run written by its processes, verifies the whole and builds its
/// result. The shares must come from one run (same engine and spec, each process once).
pub fn merge(parts: &[PathBuf]) -> Result<RunResult> {
    let m = shares(parts)?;
    judge(m.engine, &m.spec, &m.report, Context::now(&m.spec))
}

/// The shares of a cluster run written by its processes, merged into one (its spec process
/// 0's), unverified.
pub fn shares(parts: &[PathBuf]) -> Result<Partial> {
    let mut merged: Option<Partial> = None;
    let mut seen = std::collections::BTreeSet::new();
    for path in parts {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let p: Partial = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a process's share of a cluster run", path.display()))?;
        if !seen.insert(p.spec.cluster.process_id) {
            bail!("{} is a second share of process {}", path.display(), p.spec.cluster.process_id);
        }
        match merged.as_mut() {
            None => merged = Some(p),
            Some(m) => {
                let mut a = m.spec.clone();
                let mut b = p.spec.clone();
                a.cluster.process_id = 0;
                b.cluster.process_id = 0;
                if m.engine != p.engine || a != b {
                    bail!("{} comes from another run (engine or configuration differ)", path.display());
                }
                m.report.merge(p.report);
            }
        }
    }
    let Some(m) = merged else { bail!("no share to merge: give the files the cluster's processes wrote") };
    let processes = m.spec.cluster.processes;
    if seen.len() != processes {
        bail!("got the shares of {} of {processes} processes: give one file per process", seen.len());
    }
    let mut m = m;
    m.spec.cluster.process_id = 0;
    Ok(m)
}
