//! `streambench counts`: counted runs of every engine and workload under cachegrind, and the
//! gate that compares them with a baseline (see [`crate::counts`]).
//!
//! A counted run does the same work however the machine is loaded: one worker; the native
//! engine at `max` over a fixed number of records (nothing waits for a clock); the micro-batch
//! engine at a fixed rate on its manual clock (each batch reads exactly what is due by its time,
//! batches back to back). Each figure is the difference between a run of N records and one of
//! 2N, over N, so the start-up and shutdown cancel; the micro-batch engine's fixed cost per
//! batch is the same difference between runs of many near-empty batches (their one line each
//! taken out). Every run writes its raw report
//! and this process verifies it against the oracle.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _, Result};
use workloads::Workload;

use crate::counts::{compare, Comparison, Count, CountContext, Counts};
use crate::engine::Engine;
use crate::options::workload_parser;

/// `streambench counts`.
#[derive(Debug, clap::Args)]
pub struct CountsArgs {
    /// Write the counts file here (printed to stdout when absent).
    #[arg(long, env = "STREAMBENCH_OUT")]
    pub out: Option<PathBuf>,
    /// Compare with this counts file: fail when a figure is more than --threshold above it, or
    /// cannot be compared (missing, or a run failed or was wrong).
    #[arg(long, env = "STREAMBENCH_BASELINE")]
    pub baseline: Option<PathBuf>,
    /// Compare two counts files, BASELINE then NEW, without running anything.
    #[arg(long, num_args = 2, value_names = ["BASELINE", "NEW"], conflicts_with_all = ["baseline", "out"])]
    pub compare: Option<Vec<PathBuf>>,
    /// The relative change treated as no change (0.03: 3 %).
    #[arg(long, default_value_t = 0.03, value_parser = parse_threshold, env = "STREAMBENCH_THRESHOLD")]
    pub threshold: f64,
    /// Input records of the smaller run of each pair (the larger reads twice as many).
    #[arg(long, default_value_t = 200_000, value_parser = parse_records)]
    pub records: u64,
    /// Count only these engines (repeatable; default both).
    #[arg(long, value_enum)]
    pub engine: Vec<Engine>,
    /// Count only these workloads (repeatable; default all).
    #[arg(long, value_parser = workload_parser())]
    pub workload: Vec<Workload>,
}

fn parse_threshold(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if t > 0.0 && t < 1.0 => Ok(t),
        _ => Err(format!("`{s}` is not a threshold: give a fraction between 0 and 1, e.g. 0.03")),
    }
}

fn parse_records(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if n >= 1000 => Ok(n),
        _ => Err(format!("`{s}` is not a record count: give 1000 or more (the default is 200000)")),
    }
}

/// What `counts` did: the counts (when it ran them) and the comparison (when it compared).
pub struct CountsOutcome {
    /// The counts taken.
    pub counts: Option<Counts>,
    /// The comparison with the baseline.
    pub comparison: Option<Comparison>,
}

/// Runs `streambench counts`.
pub fn counts(args: &CountsArgs, progress: &mut dyn FnMut(&str)) -> Result<CountsOutcome> {
    if let Some([baseline, new]) = args.compare.as_deref() {
        let comparison = compare(&Counts::read(baseline)?, &Counts::read(new)?, args.threshold);
        return Ok(CountsOutcome { counts: None, comparison: Some(comparison) });
    }
    // Read the baseline first: a bad one is refused before anything runs.
    let baseline = args.baseline.as_deref().map(Counts::read).transpose()?;
    let tool = valgrind_version()?;
    let engines = if args.engine.is_empty() { vec![Engine::Native, Engine::Microbatch] } else { args.engine.clone() };
    let workloads = if args.workload.is_empty() { Workload::ALL.to_vec() } else { args.workload.clone() };
    let scratch = workloads::durable::scratch_dir("counts");
    let mut entries = Vec::new();
    for engine in &engines {
        for workload in &workloads {
            let count = per_record(*engine, *workload, args.records, &scratch);
            progress(&line(&count));
            entries.push(count);
        }
        if *engine == Engine::Microbatch && workloads.contains(&Workload::Wordcount) {
            let per_record = entries
                .iter()
                .find(|c: &&Count| c.engine == engine.name() && c.workload == "wordcount")
                .map_or(0.0, |c| c.value);
            let count = per_batch(&scratch, per_record);
            progress(&line(&count));
            entries.push(count);
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let counts = Counts {
        context: CountContext { tool, records: args.records, version: env!("CARGO_PKG_VERSION").into() },
        entries,
    };
    crate::output::write_json(args.out.as_deref(), &counts)?;
    let comparison = baseline.map(|b| compare(&b, &counts, args.threshold));
    Ok(CountsOutcome { counts: Some(counts), comparison })
}

fn line(c: &Count) -> String {
    match &c.error {
        None => format!("{} {}: {:.1} {}", c.engine, c.workload, c.value, c.metric.replace('_', " ")),
        Some(e) => format!("{} {}: failed: {e}", c.engine, c.workload),
    }
}

/// The engine's instructions per input record on `workload`: runs of `n` and `2n` records.
fn per_record(engine: Engine, workload: Workload, n: u64, scratch: &Path) -> Count {
    let args = |k: u64| -> Vec<String> {
        let mut a = common(engine, workload);
        match engine {
            // As fast as it goes, over a fixed input.
            Engine::Native => {
                a.extend(strings(&["--rate", "max", "--records", &(k * n).to_string(), "--duration", "3600s"]))
            }
            // n records a second, for k seconds, on the manual clock.
            Engine::Microbatch => {
                a.extend(strings(&["--rate", &n.to_string(), "--duration", &format!("{k}s"), "--manual-clock"]))
            }
        }
        a
    };
    counted(engine, workload, "instructions_per_record", scratch, [args(1), args(2)], |r| r.input_records).0
}

/// Batches of the micro-batch fixed-cost runs (100 ms each).
const BATCHES: [u64; 2] = [50, 450];

/// The micro-batch engine's fixed instructions per batch (the word count job): runs of 50 and
/// 450 batches of 100 ms, each batch with one line (an input keeps the batches coming); the
/// lines' own cost, `per_record` instructions each, is taken out.
fn per_batch(scratch: &Path, per_record: f64) -> Count {
    let args = |batches: u64| -> Vec<String> {
        let mut a = common(Engine::Microbatch, Workload::Wordcount);
        let duration = format!("{}ms", batches * 100);
        a.extend(strings(&["--rate", "10", "--duration", &duration, "--manual-clock", "--batch-interval", "100ms"]));
        a
    };
    let runs = [args(BATCHES[0]), args(BATCHES[1])];
    let batches = |r: &crate::result::RunResult| r.batches.as_ref().map_or(0, |b| b.batches);
    let (mut c, results) =
        counted(Engine::Microbatch, Workload::Wordcount, "instructions_per_batch", scratch, runs, batches);
    if let [Some(a), Some(b)] = &results {
        let (db, dr) = (c.units[1].saturating_sub(c.units[0]), b.input_records.saturating_sub(a.input_records));
        let di = c.instructions[1] as f64 - c.instructions[0] as f64;
        c.value = if db > 0 { (di - dr as f64 * per_record) / db as f64 } else { 0.0 };
    }
    c
}

fn common(engine: Engine, workload: Workload) -> Vec<String> {
    strings(&["--engine", engine.name(), "--workload", workload.name(), "--workers", "1", "--warmup", "0"])
        .into_iter()
        .chain(strings(&["--collect", "digest", "--seed", "1"]))
        .collect()
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// Two counted runs, verified; `units` reads what a run did from its result. The figure is the
/// difference in instructions over the difference in units.
fn counted(
    engine: Engine,
    workload: Workload,
    metric: &str,
    scratch: &Path,
    runs: [Vec<String>; 2],
    units: impl Fn(&crate::result::RunResult) -> u64,
) -> (Count, [Option<crate::result::RunResult>; 2]) {
    let mut count = Count {
        engine: engine.name().into(),
        workload: workload.name().into(),
        metric: metric.into(),
        value: 0.0,
        instructions: [0, 0],
        units: [0, 0],
        correct: false,
        error: None,
    };
    let mut results = [None, None];
    for (i, args) in runs.iter().enumerate() {
        match count_one(args, &scratch.join(format!("{}-{}-{metric}-{i}", engine.name(), workload.name()))) {
            Ok((instructions, result)) if result.correct => {
                count.instructions[i] = instructions;
                count.units[i] = units(&result);
                results[i] = Some(result);
            }
            Ok((_, result)) => {
                count.error = Some(format!("the output differs from the oracle: {}", result.verification));
                return (count, results);
            }
            Err(e) => {
                count.error = Some(format!("{e:#}"));
                return (count, results);
            }
        }
    }
    let du = count.units[1].saturating_sub(count.units[0]);
    if du == 0 {
        count.error = Some(format!("the two runs did as much ({} each)", count.units[0]));
        return (count, results);
    }
    count.value = count.instructions[1].saturating_sub(count.instructions[0]) as f64 / du as f64;
    count.correct = true;
    (count, results)
}

/// Runs `streambench run ARGS` under cachegrind, writing its raw report to `dir`; returns the
/// instructions it executed and its verified result.
fn count_one(args: &[String], dir: &Path) -> Result<(u64, crate::result::RunResult)> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let (out, part) = (dir.join("cachegrind.out"), dir.join("part.json"));
    let exe = std::env::current_exe().context("finding the streambench binary")?;
    let o = Command::new("valgrind")
        .args(["--tool=cachegrind", "--cache-sim=no"])
        .arg(format!("--cachegrind-out-file={}", out.display()))
        .arg(&exe)
        .arg("run")
        .args(args)
        .args(["--unjudged", "--out"])
        .arg(&part)
        .output()
        .context("running valgrind")?;
    if !o.status.success() {
        let err = String::from_utf8_lossy(&o.stderr);
        bail!(
            "streambench run {} failed: {}",
            args.join(" "),
            err.lines().rev().take(3).collect::<Vec<_>>().join(" / ")
        );
    }
    let text = std::fs::read_to_string(&out).with_context(|| format!("reading {}", out.display()))?;
    let instructions = text
        .lines()
        .find_map(|l| l.strip_prefix("summary:"))
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("{} has no `summary:` line", out.display()))?;
    let result = crate::commands::merge::merge(&[part])?;
    Ok((instructions, result))
}

/// `valgrind --version`, or how to install it.
fn valgrind_version() -> Result<String> {
    match Command::new("valgrind").arg("--version").output() {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).trim().to_owned()),
        _ => bail!("counted runs need valgrind (cachegrind): install it, e.g. `apt-get install -y valgrind`"),
    }
}
