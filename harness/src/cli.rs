//! The command line: clap derive, one subcommand per verb (each in `commands/`), every option
//! also settable from the environment (`STREAMBENCH_<OPTION>`).

use clap::{Parser, Subcommand};

use crate::commands;

/// streambench: micro-batch against native streaming, on the same jobs, data and hardware.
#[derive(Debug, Parser)]
#[command(name = "streambench", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Log at this level or filter (`info`, `debug`, `microbatch=debug`, ...; the `RUST_LOG`
    /// syntax) to standard error: runs, batches with their stages and task counts, snapshots,
    /// faults and restores. Default: `RUST_LOG`, else warnings only.
    #[arg(long, global = true, env = "STREAMBENCH_LOG")]
    pub log: Option<String>,
}

impl Cli {
    /// The log filter: `--log`, else `RUST_LOG`, else warnings.
    pub fn log_filter(&self) -> Result<tracing_subscriber::EnvFilter, String> {
        use tracing_subscriber::EnvFilter;
        match &self.log {
            Some(f) => EnvFilter::try_new(f)
                .map_err(|e| format!("--log {f}: {e}; give a level (error, warn, info, debug, trace) or a filter such as microbatch=debug")),
            None => Ok(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"))),
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print generated events as JSON lines.
    Gen(commands::gen::GenArgs),
    /// Run the single-threaded COST loop of a workload and print records per second.
    Baseline(commands::baseline::BaselineArgs),
    /// One measured run of one engine on one workload; writes the result JSON.
    Run(Box<crate::run_args::RunArgs>),
    /// Start N processes of one run on loopback and merge their results (restarting the
    /// cluster after a kill-process fault).
    Cluster(commands::cluster::ClusterArgs),
    /// N seeded fault schedules per engine and workload: outputs lost and duplicated, recovery
    /// percentiles, a plot.
    Chaos(commands::chaos::ChaosArgs),
    /// The main job: every workload on both engines, the COST loop, summary, plots and report.
    Compare(commands::compare::CompareArgs),
    /// Search the highest offered rate at which latency stays bounded.
    Sustainable(commands::sustainable::SustainableArgs),
    /// The runs an experiment file names (a matrix of run options), resumable; summary, CSV,
    /// plots and report.
    Experiment(commands::experiment::ExperimentArgs),
    /// A series of runs over one parameter (rate, batch interval, workers, disorder), plotted.
    Sweep(commands::sweep::SweepArgs),
    /// The CI gate: compare a summary's throughput (as a ratio to COST) with a baseline.
    Check(commands::check::CheckArgs),
    /// The tight CI gate: instructions per record of counted runs under cachegrind, against a
    /// baseline counts file.
    Counts(commands::counts::CountsArgs),
    /// Redraw every plot (and the report) of a comparison directory from its JSON.
    Plot(commands::plot::PlotArgs),
    /// Merge the shares written by the processes of a cluster run, verify and write the result.
    Merge(commands::merge::MergeArgs),
    /// Send generated events over TCP on schedule, for the socket sources.
    Feed(commands::feed::FeedArgs),
}
