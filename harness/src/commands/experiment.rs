//! `streambench experiment FILE.toml`: the runs an experiment file names (see
//! `experiment/file.rs` for the format), each result under `DIR/runs/` named by its parameters,
//! then the summary, `runs.csv`, `timeline.csv`, the plots and the report. `--resume` goes on with
//! an interrupted experiment, keeping the runs already finished and correct.

use std::path::PathBuf;

use anyhow::Result;

use crate::experiment::{self, Options};
use crate::progress::Progress;
use crate::summary::Summary;

/// `streambench experiment`.
#[derive(Debug, clap::Args)]
pub struct ExperimentArgs {
    /// The experiment file (TOML; `experiments/` holds the report's).
    pub file: PathBuf,
    /// Where the runs, summary, CSV files, plots and report go.
    #[arg(long, default_value = "results/latest/experiment", env = "STREAMBENCH_OUT")]
    pub out: PathBuf,
    /// Go on with the experiment in `--out`: runs already finished and correct, with the same
    /// configuration, are kept, not made again.
    #[arg(long)]
    pub resume: bool,
    /// Check the file and list its runs, in the order they would run, without running any.
    #[arg(long)]
    pub list: bool,
}

/// The runs of an experiment file, checked, one line each (`--list`).
pub fn list(args: &ExperimentArgs) -> Result<Vec<String>> {
    let file = experiment::file::ExperimentFile::read(&args.file)?;
    let runs = experiment::plan::plan(&file)?;
    Ok(runs
        .iter()
        .map(|r| {
            let rate = match r.derived {
                Some(experiment::plan::Derived::HalfMax) => " (rate: half this engine's max)",
                Some(experiment::plan::Derived::Common) => " (rate: half the smaller max)",
                None => "",
            };
            format!("{:<14} {}{rate}", r.kind.name(), r.name)
        })
        .collect())
}

/// Runs the experiment.
pub fn experiment(args: &ExperimentArgs, progress: &mut dyn Progress) -> Result<Summary> {
    experiment::run(&Options { file: args.file.clone(), out: args.out.clone(), resume: args.resume }, progress)
}
