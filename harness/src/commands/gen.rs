//! `streambench gen`: generated events as JSON lines.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use workloads::{registry, JobOptions, Profile, RunSpec, Wire};

use crate::options::{parse_duration, EventArgs};

/// `streambench gen`.
#[derive(Debug, clap::Args)]
pub struct GenArgs {
    /// The workload and the seed.
    #[command(flatten)]
    pub events: EventArgs,
    /// How many events.
    #[arg(long, env = "STREAMBENCH_COUNT", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,
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
    pub input: Option<PathBuf>,
}

/// Prints `args.count` events of one partition as JSON lines to `out`.
pub fn gen(args: &GenArgs, out: &mut impl Write) -> Result<()> {
    if args.partition >= args.partitions {
        bail!(
            "--partition {} is out of range: give 0..{} for {} partitions",
            args.partition,
            args.partitions - 1,
            args.partitions
        );
    }
    let mut job = args.events.workload.default_job();
    job.configure(&JobOptions { input: args.input.clone(), ..JobOptions::default() }).map_err(anyhow::Error::msg)?;
    let mut spec = RunSpec::new(job, Profile::Constant { rate: args.rate }, 1);
    spec.seed = args.events.seed;
    spec.partitions = Some(args.partitions);
    spec.disorder_ns = args.disorder;
    spec.validate()?;
    let write = registry::def(args.events.workload).writer(&spec, Wire::Json)?;
    let p = args.partition;
    let mut w = std::io::BufWriter::new(out);
    let mut line = Vec::with_capacity(256);
    for i in 0..args.count {
        line.clear();
        write(p, i, &mut line);
        line.push(b'\n');
        w.write_all(&line)?;
    }
    w.flush().context("writing events")?;
    Ok(())
}
