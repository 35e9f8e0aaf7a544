//! The command line: clap derive, one subcommand per verb, every option also settable from the
//! environment (`STREAMBENCH_<OPTION>`).

use clap::{Parser, Subcommand, ValueEnum};
use workloads::Workload;

/// streambench: micro-batch against native streaming, on the same jobs, data and hardware.
#[derive(Debug, Parser)]
#[command(name = "streambench", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print generated events as JSON lines.
    Gen(GenArgs),
    /// Run the single-threaded COST loop of a workload and print records per second.
    Baseline(BaselineArgs),
    /// One measured run of one engine on one workload; writes the result JSON.
    Run(Box<crate::run::RunArgs>),
    /// Start N processes of one run on loopback and merge their results.
    Cluster(crate::cluster::ClusterArgs),
    /// The main job: every workload on both engines, the COST loop, summary, plots and report.
    Compare(crate::compare::CompareArgs),
    /// Search the highest offered rate at which latency stays bounded.
    Sustainable(crate::sweep::SustainableArgs),
    /// A series of runs over one parameter (rate, batch interval, workers, disorder), plotted.
    Sweep(crate::sweep::SweepArgs),
    /// The CI gate: compare a summary's throughput (as a ratio to COST) with a baseline.
    Check(crate::summary::CheckArgs),
    /// Redraw every plot (and the report) of a comparison directory from its JSON.
    Plot(PlotArgs),
    /// Merge the shares written by the processes of a cluster run, verify and write the result.
    Merge(MergeArgs),
    /// Send generated events over TCP on schedule, for the socket sources.
    Feed(crate::feed::FeedArgs),
}

/// A workload on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WorkloadArg {
    /// Running word count over lines of Zipf-distributed words.
    Wordcount,
    /// Sliding-window hashtag counts and top 10.
    Hashtags,
    /// Per-sensor k-sigma anomaly detection.
    Sensors,
}

impl From<WorkloadArg> for Workload {
    fn from(w: WorkloadArg) -> Self {
        match w {
            WorkloadArg::Wordcount => Workload::Wordcount,
            WorkloadArg::Hashtags => Workload::Hashtags,
            WorkloadArg::Sensors => Workload::Sensors,
        }
    }
}

/// `streambench gen`.
#[derive(Debug, clap::Args)]
pub struct GenArgs {
    /// The workload whose events to print.
    #[arg(long, value_enum, env = "STREAMBENCH_WORKLOAD")]
    pub workload: WorkloadArg,
    /// How many events.
    #[arg(long, env = "STREAMBENCH_COUNT", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,
    /// The generator seed.
    #[arg(long, default_value_t = 1, env = "STREAMBENCH_SEED", allow_hyphen_values = true, value_parser = parse_seed)]
    pub seed: u64,
    /// Which partition to print (0-based).
    #[arg(long, default_value_t = 0, env = "STREAMBENCH_PARTITION")]
    pub partition: u32,
    /// How many partitions the stream is cut into.
    #[arg(long, default_value_t = 1, env = "STREAMBENCH_PARTITIONS", value_parser = clap::value_parser!(u32).range(1..))]
    pub partitions: u32,
    /// The offered rate that lays out event times (events/s, all partitions).
    #[arg(long, default_value_t = 100_000.0, env = "STREAMBENCH_RATE")]
    pub rate: f64,
    /// Event-time disorder bound (e.g. 500ms).
    #[arg(long, default_value = "0", value_parser = parse_duration, env = "STREAMBENCH_DISORDER")]
    pub disorder: u64,
    /// Replay this text file's lines (wordcount).
    #[arg(long, env = "STREAMBENCH_INPUT")]
    pub input: Option<std::path::PathBuf>,
}

/// `streambench baseline`.
#[derive(Debug, clap::Args)]
pub struct BaselineArgs {
    /// The workload.
    #[arg(long, value_enum, env = "STREAMBENCH_WORKLOAD")]
    pub workload: WorkloadArg,
    /// How many events the loop processes.
    #[arg(long, default_value_t = 2_000_000, env = "STREAMBENCH_RECORDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub records: u64,
    /// The generator seed.
    #[arg(long, default_value_t = 1, env = "STREAMBENCH_SEED", allow_hyphen_values = true, value_parser = parse_seed)]
    pub seed: u64,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Parses a duration such as `10s`, `250ms` or `0`.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    workloads::contract::parse_duration_ns(s)
        .ok_or_else(|| format!("`{s}` is not a duration: write a number with a unit, e.g. 10s, 250ms, 2m"))
}

/// Parses a seed: a whole number from 0 to 2^64 - 1.
pub fn parse_seed(s: &str) -> Result<u64, String> {
    s.parse().map_err(|_| format!("`{s}` is not a seed: give a whole number from 0 to {}", u64::MAX))
}

/// `streambench merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The files the processes wrote with `run --processes N --out FILE`.
    #[arg(required = true)]
    pub parts: Vec<std::path::PathBuf>,
    /// Write the merged result here (printed to stdout when absent).
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

/// `streambench plot`.
#[derive(Debug, clap::Args)]
pub struct PlotArgs {
    /// A directory written by `compare` (with summary.json).
    pub dir: std::path::PathBuf,
}
