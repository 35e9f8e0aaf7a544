//! `gen` and `baseline`: the commands that need no engine.

use std::io::Write;

use anyhow::{bail, Context, Result};
use workloads::contract::AnyGenerator;
use workloads::{cost, JobSpec, Profile, RunSpec, WordCountSpec, Workload};

use crate::cli::{BaselineArgs, GenArgs};

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
    let workload = Workload::from(args.workload);
    let mut job = JobSpec::default_for(workload);
    if let Some(input) = &args.input {
        match &mut job {
            JobSpec::Wordcount(s) => *s = WordCountSpec { input: Some(input.clone()), ..s.clone() },
            _ => bail!("--input replays lines and works only with --workload wordcount"),
        }
    }
    let mut spec = RunSpec::new(job, Profile::Constant { rate: args.rate }, 1);
    spec.seed = args.seed;
    spec.partitions = Some(args.partitions);
    spec.disorder_ns = args.disorder;
    spec.validate()?;
    let gen = spec.generator()?;
    let p = args.partition;
    let mut w = std::io::BufWriter::new(out);
    for i in 0..args.count {
        match &gen {
            AnyGenerator::Lines(g) => serde_json::to_writer(&mut w, &g.event(p, i))?,
            AnyGenerator::Tweets(g) => serde_json::to_writer(&mut w, &g.event(p, i))?,
            AnyGenerator::Sensors(g) => serde_json::to_writer(&mut w, &g.event(p, i))?,
        }
        w.write_all(b"\n")?;
    }
    w.flush().context("writing events")?;
    Ok(())
}

/// Runs the COST loop and prints its records per second.
pub fn baseline(args: &BaselineArgs, out: &mut impl Write) -> Result<cost::CostResult> {
    let workload = Workload::from(args.workload);
    let mut spec = RunSpec::new(JobSpec::default_for(workload), Profile::Max { nominal: 1_000_000.0 }, 1);
    spec.seed = args.seed;
    spec.validate()?;
    let result = cost::run(&spec, args.records)?;
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
