//! `streambench baseline`: a workload's single-threaded COST loop, in records per second.

use std::io::Write;

use anyhow::Result;
use workloads::cost::CostResult;
use workloads::{registry, Profile, RunSpec};

use crate::options::EventArgs;

/// `streambench baseline`.
#[derive(Debug, clap::Args)]
pub struct BaselineArgs {
    /// The workload and the seed.
    #[command(flatten)]
    pub events: EventArgs,
    /// How many events the loop processes.
    #[arg(long, default_value_t = 2_000_000, env = "STREAMBENCH_RECORDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub records: u64,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the COST loop and prints its records per second.
pub fn baseline(args: &BaselineArgs, out: &mut impl Write) -> Result<CostResult> {
    let workload = args.events.workload;
    let mut spec = RunSpec::new(workload.default_job(), Profile::Max { nominal: 1_000_000.0 }, 1);
    spec.seed = args.events.seed;
    spec.validate()?;
    let result = registry::cost(&spec, args.records)?;
    if args.json {
        serde_json::to_writer_pretty(
            &mut *out,
            &serde_json::json!({
                "workload": workload.name(),
                "records": result.records,
                "outputs": result.outputs,
                "seconds": result.elapsed.as_secs_f64(),
                "records_per_sec": result.records_per_sec,
            }),
        )?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{workload} COST loop (1 thread): {} records in {:.3} s = {:.0} records/s ({} outputs)",
            result.records,
            result.elapsed.as_secs_f64(),
            result.records_per_sec,
            result.outputs
        )?;
    }
    Ok(result)
}
