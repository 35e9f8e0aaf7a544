//! Experiments as files: `file.rs` reads and checks a TOML experiment, `plan.rs` takes each
//! group's matrix product less the excluded runs and validates every run, and this module runs
//! them, each result under `runs/` named by its parameters, skipping on `--resume` the runs
//! already finished and correct with the same configuration, then writes the summary, the tidy
//! CSV files, the plots and the report.

pub mod file;
pub mod plan;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use workloads::{registry, Profile, RunSpec, Workload};

use crate::commands::cluster::{cluster, ClusterArgs};
use crate::engine::{execute, Engine};
use crate::output::write_json;
use crate::progress::{planned_seconds, Progress};
use crate::result::{Context, RunResult};
use crate::run_args::parse_run_options;
use crate::run_kind::RunKind;
use crate::summary::{CostEntry, Summary, SummaryRun};
use file::ExperimentFile;
use plan::{Derived, PlannedRun};

/// How an experiment runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// The experiment file.
    pub file: PathBuf,
    /// Where its runs, summary, CSV, plots and report go.
    pub out: PathBuf,
    /// Skip the runs already finished and correct with the same configuration.
    pub resume: bool,
}

/// Runs the experiment; returns its summary.
pub fn run(options: &Options, progress: &mut dyn Progress) -> Result<Summary> {
    let file = ExperimentFile::read(&options.file)?;
    let runs = plan::plan(&file).with_context(|| format!("in {}", options.file.display()))?;
    let out = &options.out;
    let started = out.join("runs");
    if !options.resume && std::fs::read_dir(&started).is_ok_and(|mut d| d.next().is_some()) {
        bail!(
            "{} already holds runs of an experiment: pass --resume to go on with it, or give another --out",
            out.display()
        );
    }
    std::fs::create_dir_all(&started).with_context(|| format!("creating {}", started.display()))?;
    std::fs::copy(&options.file, out.join("experiment.toml"))
        .with_context(|| format!("copying {} to {}", options.file.display(), out.display()))?;
    let seconds: f64 = runs.iter().map(|r| planned_seconds(r.options.duration)).sum();
    let costs = if file.cost { cost_loops(&runs, file.cost_records, progress)? } else { BTreeMap::new() };
    progress.begin(runs.len(), seconds);
    let mut done = Done { out, costs, runs: Vec::new(), results: Vec::new(), maxes: BTreeMap::new() };
    for run in &runs {
        progress.start(&run.name, planned_seconds(run.options.duration));
        let line = done.one(run, options.resume);
        progress.finish(&line);
    }
    let first = runs[0].options.to_spec_alone()?;
    let summary = Summary { context: Context::now(&first), quick: false, cost: done.costs, runs: done.runs };
    write_json(Some(&out.join("summary.json")), &summary)?;
    crate::tidy::write(out, &summary, &done.results)?;
    let plots = crate::section_plots::all(out, &summary, &done.results)?;
    crate::report::write_report(out, &summary, &done.results, &plots)?;
    progress.note(&format!("wrote {}", out.join("report.md").display()));
    Ok(summary)
}

/// The runs done so far.
struct Done<'a> {
    out: &'a Path,
    costs: BTreeMap<String, CostEntry>,
    runs: Vec<SummaryRun>,
    results: Vec<(String, RunResult)>,
    /// The correct `max` runs' throughput per engine and workload.
    maxes: BTreeMap<(Engine, Workload), Vec<f64>>,
}

impl Done<'_> {
    /// Makes (or, resuming, finds) one run and records it; returns its line.
    fn one(&mut self, run: &PlannedRun, resume: bool) -> String {
        let file = format!("runs/{}.json", run.name);
        let path = self.out.join(&file);
        let (engine, workload) = (run.engine(), run.workload());
        let outcome = self.rate(run).and_then(|rate| {
            let options = parse_run_options(&run.args_at(rate), &[])?;
            let planned = options.to_spec_alone()?;
            if resume {
                if let Some(r) = finished(&path, &planned, options.processes) {
                    return Ok((r, true));
                }
            }
            let r = if options.processes > 1 {
                let mut run_args = without_option(&run.args_at(rate), options.processes);
                run_args.extend(["--out".to_owned(), path.display().to_string()]);
                cluster(&ClusterArgs { processes: options.processes, timeout: 3600 * 1_000_000_000, run: run_args })?
            } else {
                let r = execute(engine, &planned)?;
                write_json(Some(&path), &r)?;
                r
            };
            Ok((r, false))
        });
        match outcome {
            Ok((r, skipped)) => {
                if run.kind == RunKind::Max && r.correct {
                    self.maxes.entry((engine, workload)).or_default().push(r.throughput.records_per_sec);
                }
                let cost = self.costs.get(workload.name());
                self.runs.push(SummaryRun::of(run.kind, Some(file.clone()), &r, cost));
                let what = if skipped { "finished before, kept" } else { "" };
                let line = format!("{}: {} {what}", run.name, crate::report::one_line(&r));
                self.results.push((file, r));
                line.trim_end().to_owned()
            }
            Err(e) => {
                self.runs.push(SummaryRun::failed(engine.name(), workload.name(), run.kind, format!("{e:#}")));
                format!("{}: FAILED: {e:#}", run.name)
            }
        }
    }

    /// A derived run's rate, from the `max` runs made so far (the median of several).
    fn rate(&self, run: &PlannedRun) -> Result<Option<f64>> {
        let median = |e: Engine| -> Option<f64> {
            let mut v = self.maxes.get(&(e, run.workload()))?.clone();
            v.sort_by(f64::total_cmp);
            Some(v[v.len() / 2])
        };
        let missing =
            |e: Engine| anyhow::anyhow!("no `max` run of {} on {} finished correctly", e.name(), run.workload());
        match run.derived {
            None => Ok(None),
            Some(Derived::HalfMax) => Ok(Some(median(run.engine()).ok_or_else(|| missing(run.engine()))? / 2.0)),
            Some(Derived::Common) => {
                let engines: Vec<Engine> =
                    self.maxes.keys().filter(|(_, w)| *w == run.workload()).map(|(e, _)| *e).collect();
                let smallest = engines.iter().filter_map(|&e| median(e)).reduce(f64::min);
                Ok(Some(smallest.ok_or_else(|| missing(run.engine()))? / 2.0))
            }
        }
    }
}

/// `args` without `--processes N`.
fn without_option(args: &[String], processes: u64) -> Vec<String> {
    let n = processes.to_string();
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--processes" && args.get(i + 1) == Some(&n) {
            i += 2;
            continue;
        }
        out.push(args[i].clone());
        i += 1;
    }
    out
}

/// The result at `path`, if it is a finished, correct run of `planned` (on `processes`).
fn finished(path: &Path, planned: &RunSpec, processes: u64) -> Option<RunResult> {
    let text = std::fs::read_to_string(path).ok()?;
    let r: RunResult = serde_json::from_str(&text).ok()?;
    let mut want = planned.clone();
    want.cluster.processes = processes as usize;
    (r.correct && same_run(&r.config, &want)).then_some(r)
}

/// Whether two specs are the same run, wherever its processes found each other.
fn same_run(a: &RunSpec, b: &RunSpec) -> bool {
    let plain = |s: &RunSpec| {
        let mut s = s.clone();
        s.cluster.hostfile = None;
        s.cluster.addresses.clear();
        s.cluster.process_id = 0;
        s
    };
    plain(a) == plain(b)
}

/// The COST loop of every workload of the runs (the first run's parameters, one thread).
fn cost_loops(
    runs: &[PlannedRun],
    records: Option<u64>,
    progress: &mut dyn Progress,
) -> Result<BTreeMap<String, CostEntry>> {
    let mut costs = BTreeMap::new();
    for run in runs {
        let workload = run.workload();
        if costs.contains_key(workload.name()) {
            continue;
        }
        let mut spec = run.options.to_spec_alone()?;
        spec.profile = Profile::Max { nominal: workloads::schedule::DEFAULT_NOMINAL_RATE };
        spec.cluster.workers = 1;
        spec.faults.clear();
        let c = registry::cost(&spec, records.unwrap_or(registry::def(workload).sizes().cost))?;
        progress.note(&format!("{workload}: COST loop {:.0} records/s", c.records_per_sec));
        costs.insert(workload.name().to_owned(), CostEntry { records: c.records, records_per_sec: c.records_per_sec });
    }
    Ok(costs)
}
