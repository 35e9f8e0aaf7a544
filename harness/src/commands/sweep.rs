//! `streambench sweep`: a series of runs over one parameter (rate, batch interval, workers,
//! disorder), plotted.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::engine::{execute, Engine};
use crate::output::write_json;
use crate::plot::{engine_color, line_chart, Axis, Series};
use crate::progress::{planned_seconds, Progress};
use crate::result::RunResult;
use crate::run_args::parse_run_options as run_args;

/// The parameter a sweep varies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Param {
    /// Offered rate (records/s).
    Rate,
    /// The micro-batch interval.
    BatchInterval,
    /// Worker threads.
    Workers,
    /// Event-time disorder bound.
    Disorder,
}

impl Param {
    fn flag(self) -> &'static str {
        match self {
            Param::Rate => "--rate",
            Param::BatchInterval => "--batch-interval",
            Param::Workers => "--workers",
            Param::Disorder => "--disorder",
        }
    }

    fn axis(self) -> &'static str {
        match self {
            Param::Rate => "offered rate (records/s)",
            Param::BatchInterval => "batch interval (ms)",
            Param::Workers => "worker threads",
            Param::Disorder => "disorder bound (ms)",
        }
    }

    /// The parameter's value in a run, as a number for the plot's x axis.
    fn x(self, r: &RunResult) -> f64 {
        match self {
            Param::Rate => r.offered_rate.unwrap_or(r.throughput.records_per_sec),
            Param::BatchInterval => r.config.microbatch.batch_interval_ns as f64 / 1e6,
            Param::Workers => r.config.cluster.workers as f64,
            Param::Disorder => r.config.disorder_ns as f64 / 1e6,
        }
    }
}

/// `streambench sweep`.
#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// The parameter to vary.
    #[arg(long, value_enum)]
    pub param: Param,
    /// Its values, comma-separated (as the run option takes them: 100k, 500ms, 4, ...).
    #[arg(long, value_delimiter = ',', required = true)]
    pub values: Vec<String>,
    /// The engines to sweep (default: the run options' --engine).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub engines: Vec<Engine>,
    /// Where the runs, `sweep.json` and the plot go.
    #[arg(long, default_value = "results/latest/sweep")]
    pub out: PathBuf,
    /// The run options (as for `streambench run`), after `--`.
    #[arg(last = true)]
    pub run: Vec<String>,
}

/// A sweep's record: every run's headline figures.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SweepPoint {
    /// The engine.
    pub engine: String,
    /// The parameter's value as given.
    pub value: String,
    /// The run's JSON, relative to the sweep directory.
    pub file: Option<String>,
    /// Whether the run finished and was correct.
    pub correct: bool,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// Runs the sweep; `progress` hears one line per run.
pub fn sweep(args: &SweepArgs, progress: &mut dyn Progress) -> Result<Vec<SweepPoint>> {
    let first = run_args(&with_engine(&args.run, None), &[])?;
    let engines = if args.engines.is_empty() { vec![first.engine] } else { args.engines.clone() };
    // Validate every run before starting any.
    let mut plan = Vec::new();
    for &engine in &engines {
        for v in &args.values {
            let a = run_args(&with_engine(&args.run, Some(engine)), &[args.param.flag().into(), v.clone()])?;
            let spec = a.to_spec().with_context(|| format!("{} {v} on {}", args.param.flag(), engine.name()))?;
            plan.push((engine, v.clone(), spec));
        }
    }
    std::fs::create_dir_all(args.out.join("runs"))?;
    let mut points = Vec::new();
    let mut results = Vec::new();
    progress.begin(plan.len(), plan.iter().map(|(_, _, s)| planned_seconds(s.duration_ns)).sum());
    for (engine, value, spec) in plan {
        progress.start(&format!("{} {} {value}", engine.name(), args.param.flag()), planned_seconds(spec.duration_ns));
        let file = format!("runs/{}-{}.json", engine.name(), value.replace(['/', ' '], "_"));
        match execute(engine, &spec) {
            Ok(r) => {
                progress.finish(&format!("{} = {value}: {}", args.param.flag(), crate::report::one_line(&r)));
                write_json(Some(&args.out.join(&file)), &r)?;
                points.push(SweepPoint {
                    engine: engine.name().into(),
                    value,
                    file: Some(file),
                    correct: r.correct,
                    error: None,
                });
                results.push(r);
            }
            Err(e) => {
                progress.finish(&format!("{} = {value}: {} FAILED: {e:#}", args.param.flag(), engine.name()));
                points.push(SweepPoint {
                    engine: engine.name().into(),
                    value,
                    file: None,
                    correct: false,
                    error: Some(format!("{e:#}")),
                });
            }
        }
    }
    write_json(Some(&args.out.join("sweep.json")), &serde_json::json!({ "param": args.param, "points": points }))?;
    sweep_plots(&args.out, args.param, &results)?;
    Ok(points)
}

/// The run options with `--engine` replaced by `engine`, when given.
fn with_engine(run: &[String], engine: Option<Engine>) -> Vec<String> {
    match engine {
        Some(e) => {
            let mut out = crate::run_args::without(run, "--engine");
            out.extend(["--engine".to_owned(), e.name().to_owned()]);
            out
        }
        None => run.to_vec(),
    }
}

/// Draws a sweep's two plots: throughput per node and p99 latency against the parameter.
pub fn sweep_plots(dir: &std::path::Path, param: Param, results: &[RunResult]) -> Result<()> {
    let mut engines: Vec<&str> = results.iter().map(|r| r.engine.as_str()).collect();
    engines.sort();
    engines.dedup();
    let series = |f: &dyn Fn(&RunResult) -> Option<f64>, what: &str| -> Vec<Series> {
        engines
            .iter()
            .map(|e| {
                let mut points: Vec<(f64, f64)> = results
                    .iter()
                    .filter(|r| r.engine == *e && r.correct)
                    .filter_map(|r| Some((param.x(r), f(r)?)))
                    .collect();
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                Series { name: format!("{e} {what}"), color: engine_color(e), points, dashed: false }
            })
            .collect()
    };
    let workload = results.first().map(|r| r.workload.as_str()).unwrap_or("");
    std::fs::create_dir_all(dir.join("plots"))?;
    line_chart(
        &dir.join("plots/throughput.svg"),
        &format!("{workload}: throughput per node against {}", param.axis()),
        Axis { label: param.axis(), log: false },
        Axis { label: "records/s per node", log: false },
        &series(&|r| Some(r.throughput.records_per_sec_per_node), "records/s per node"),
        &[],
    )?;
    line_chart(
        &dir.join("plots/latency.svg"),
        &format!("{workload}: input-latency p99 against {}", param.axis()),
        Axis { label: param.axis(), log: false },
        Axis { label: "input-latency p99 (ms, log scale)", log: true },
        &series(&|r| r.latency.input.p99_ms.map(|v| v.max(0.001)), "input p99"),
        &[],
    )?;
    Ok(())
}
