//! `streambench check`: the CI gate. Compares a summary's max-rate throughput, as a ratio to the
//! COST loop of the same comparison, with a committed baseline's.

use anyhow::Result;

use crate::summary::{check, CheckOutcome, Summary};

/// `streambench check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The committed baseline (a summary of an earlier comparison).
    #[arg(long, env = "STREAMBENCH_BASELINE")]
    pub baseline: std::path::PathBuf,
    /// The summary to check.
    pub summary: std::path::PathBuf,
    /// The relative change in COST ratio treated as noise.
    #[arg(long, default_value_t = 0.15, env = "STREAMBENCH_TOLERANCE", value_parser = parse_tolerance)]
    pub tolerance: f64,
}

fn parse_tolerance(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if (0.0..1.0).contains(&t) => Ok(t),
        _ => Err(format!("`{s}` is not a tolerance: give a fraction from 0 to 1, e.g. 0.15")),
    }
}

/// Reads both summaries and checks one against the other.
pub fn run(args: &CheckArgs) -> Result<CheckOutcome> {
    let baseline = Summary::read(&args.baseline)?;
    let summary = Summary::read(&args.summary)?;
    Ok(check(&baseline, &summary, args.tolerance))
}
