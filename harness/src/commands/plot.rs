//! `streambench plot`: every plot (the report, `runs.csv` and `timeline.csv`) of a comparison or
//! experiment directory, redrawn from its JSON.

use std::path::PathBuf;

use anyhow::Result;

use crate::commands::compare::read_results;
use crate::summary::Summary;

/// `streambench plot`.
#[derive(Debug, clap::Args)]
pub struct PlotArgs {
    /// A directory written by `compare` or `experiment` (with summary.json).
    pub dir: PathBuf,
}

/// Redraws the plots and the report; returns how many plots.
pub fn run(args: &PlotArgs) -> Result<usize> {
    let summary = Summary::read(&args.dir.join("summary.json"))?;
    let results = read_results(&args.dir, &summary)?;
    crate::tidy::write(&args.dir, &summary, &results)?;
    let plots = crate::section_plots::all(&args.dir, &summary, &results)?;
    crate::report::write_report(&args.dir, &summary, &results, &plots)?;
    Ok(plots.len())
}
