//! `streambench sustainable`: the highest offered rate at which latency stays bounded, found by
//! a binary search below the max-rate run's capacity.

use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::engine::execute;
use crate::output::write_json;
use crate::progress::{planned_seconds, Progress};
use crate::result::RunResult;
use crate::run_args::parse_run_options as run_args;

/// `streambench sustainable`.
#[derive(Debug, clap::Args)]
pub struct SustainableArgs {
    /// Probes of the binary search after the max-rate run.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub probes: u32,
    /// Write every probe's figures here as JSON.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The run options (as for `streambench run`; --rate is set by the search), after `--`.
    #[arg(last = true, required = true)]
    pub run: Vec<String>,
}

/// Whether a run's latency stayed bounded: the median input-latency p99 of the last quarter of
/// the measured timeline is at most twice that of the first quarter plus a slack of 20 ms and half
/// a batch interval (micro-batch latency is a batch interval by construction), and the run was
/// correct.
pub fn bounded(r: &RunResult) -> bool {
    let warm = r.config.warmup_ns as f64 / 1e9;
    let end = r.config.duration_ns as f64 / 1e9;
    let pts: Vec<f64> =
        r.timeline.iter().filter(|t| t.t_s >= warm && t.t_s < end).filter_map(|t| t.input_p99_ms).collect();
    if !r.correct || pts.len() < 4 {
        return false;
    }
    let q = pts.len() / 4;
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (first, last) = (median(&pts[..q.max(1)]), median(&pts[pts.len() - q.max(1)..]));
    let slack =
        20.0 + r.config.microbatch.batch_interval_ns as f64 / 2e6 * f64::from(u8::from(r.engine == "microbatch"));
    last <= 2.0 * first + slack
}

/// One probe of the search: `(rate, bounded, input-latency p99 ms)`.
pub type Probe = (f64, bool, Option<f64>);

/// Searches the highest sustainable rate; returns it and every probe.
pub fn sustainable(args: &SustainableArgs, progress: &mut dyn Progress) -> Result<(f64, Vec<Probe>)> {
    let max_args = run_args(&args.run, &["--rate".into(), "max".into()])?;
    let spec = max_args.to_spec()?;
    let probes = args.probes as usize + 1;
    progress.begin(probes, probes as f64 * planned_seconds(spec.duration_ns));
    progress.start("capacity at max", planned_seconds(spec.duration_ns));
    let capacity = execute(max_args.engine, &spec)?;
    if !capacity.correct {
        bail!("the max-rate run was incorrect: {}", capacity.verification);
    }
    let cap = capacity.throughput.records_per_sec;
    progress.finish(&format!("capacity at max rate: {cap:.0} records/s"));
    let (mut lo, mut hi) = (0.0, cap * 1.1);
    let mut probes = Vec::new();
    for _ in 0..args.probes {
        let rate = ((lo + hi) / 2.0).round().max(1.0);
        let a = run_args(&args.run, &["--rate".into(), format!("{rate}")])?;
        progress.start(&format!("{rate:.0} records/s"), planned_seconds(spec.duration_ns));
        let r = execute(a.engine, &a.to_spec()?)?;
        let ok = bounded(&r);
        progress.finish(&format!(
            "{rate:.0} records/s: input p99 {} ms, {}",
            r.latency.input.show(|l| l.p99_ms),
            if ok { "bounded" } else { "growing" }
        ));
        probes.push((rate, ok, r.latency.input.p99_ms));
        if ok {
            lo = rate;
        } else {
            hi = rate;
        }
    }
    if let Some(path) = &args.out {
        write_json(
            Some(path),
            &serde_json::json!({ "capacity": cap, "sustainable": lo, "probes": probes.iter().map(|p| serde_json::json!({"rate": p.0, "bounded": p.1, "p99_ms": p.2})).collect::<Vec<_>>() }),
        )?;
    }
    Ok((lo, probes))
}
