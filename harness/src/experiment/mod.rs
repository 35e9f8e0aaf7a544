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

/// Runs the experiment file; returns its summary.
pub fn run(options: &Options, progress: &mut dyn Progress) -> Result<Summary> {
    let text =
        std::fs::read_to_string(&options.file).with_context(|| format!("cannot read {}", options.file.display()))?;
    let file = ExperimentFile::parse(&text)
        .with_context(|| format!("{} is not a valid experiment file", options.file.display()))?;
    let runs = plan::plan(&file).with_context(|| format!("in {}", options.file.display()))?;
    run_file(&Experiment { file: &file, text: &text, runs, quick: false }, &options.out, options.resume, progress)
}

/// A checked experiment, ready to run.
pub struct Experiment<'a> {
    /// The file.
    pub file: &'a ExperimentFile,
    /// Its text (copied beside the results as `experiment.toml`).
    pub text: &'a str,
    /// Its runs, planned.
    pub runs: Vec<PlannedRun>,
    /// Whether the summary is a `--quick` comparison's.
    pub quick: bool,
}

/// Runs a planned experiment into `out`; returns its summary.
pub fn run_file(e: &Experiment<'_>, out: &Path, resume: bool, progress: &mut dyn Progress) -> Result<Summary> {
    let started = out.join("runs");
    if !resume && std::fs::read_dir(&started).is_ok_and(|mut d| d.next().is_some()) {
        bail!(
            "{} already holds runs of an experiment: pass --resume to go on with it, or give another --out",
            out.display()
        );
    }
    std::fs::create_dir_all(&started).with_context(|| format!("creating {}", started.display()))?;
    std::fs::write(out.join("experiment.toml"), e.text).with_context(|| format!("writing into {}", out.display()))?;
    let runs = &e.runs;
    let seconds: f64 = runs.iter().map(|r| f64::from(r.median_of) * planned_seconds(r.options.duration)).sum();
    let loops = if e.file.cost { cost_specs(e.file, runs)? } else { BTreeMap::new() };
    let mut costs = BTreeMap::new();
    for (workload, (spec, records)) in &loops {
        let c = cost_loop(spec, *records)?;
        progress.note(&format!("{workload}: COST loop {:.0} records/s", c.records_per_sec));
        costs.insert(workload.name().to_owned(), c);
    }
    progress.begin(runs.len(), seconds);
    let mut done = Done { out, loops, costs, runs: Vec::new(), results: Vec::new(), maxes: BTreeMap::new() };
    for run in runs {
        progress.start(&run.name, f64::from(run.median_of) * planned_seconds(run.options.duration));
        match done.one(run, resume) {
            (line, true) => progress.skipped(&line),
            (line, false) => progress.finish(&line),
        }
    }
    let first = runs[0].options.to_spec_alone()?;
    let summary = Summary {
        context: Context::now(&first),
        quick: e.quick,
        description: e.file.description.clone(),
        cost: done.costs,
        runs: done.runs,
    };
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
    /// Each workload's COST loop: its spec and records.
    loops: BTreeMap<Workload, (RunSpec, u64)>,
    costs: BTreeMap<String, CostEntry>,
    runs: Vec<SummaryRun>,
    results: Vec<(String, RunResult)>,
    /// The correct `max` runs' throughput per engine and workload.
    maxes: BTreeMap<(Engine, Workload), Vec<f64>>,
}

impl Done<'_> {
    /// Makes (or, resuming, finds) one run and records it; returns its line and whether it was
    /// kept from before.
    fn one(&mut self, run: &PlannedRun, resume: bool) -> (String, bool) {
        let file = format!("runs/{}.json", run.name);
        let path = self.out.join(&file);
        let (engine, workload) = (run.engine(), run.workload());
        let outcome = self.rate(run).and_then(|rate| {
            let options = parse_run_options(&run.args_at(rate), &[])?;
            let planned = options.to_spec_alone()?;
            if resume {
                if let Some(r) = finished(&path, &planned, options.processes) {
                    return Ok((r, None, true));
                }
            }
            // A run at max is measured against a COST loop run right before it, not against one
            // run minutes earlier on a machine whose speed has moved since.
            let paired = run.kind == RunKind::Max && self.loops.contains_key(&workload) && options.processes == 1;
            if run.median_of > 1 || paired {
                let (r, paired) = self.median(run, &planned)?;
                write_json(Some(&path), &r)?;
                return Ok((r, Some(paired), false));
            }
            let r = if options.processes > 1 {
                let mut run_args = crate::run_args::without(&run.args_at(rate), "--processes");
                run_args.extend(["--out".to_owned(), path.display().to_string()]);
                cluster(&ClusterArgs {
                    processes: options.processes,
                    restart_processes: None,
                    timeout: 3600 * 1_000_000_000,
                    run: run_args,
                })?
            } else {
                let r = execute(engine, &planned)?;
                write_json(Some(&path), &r)?;
                r
            };
            Ok((r, None, false))
        });
        match outcome {
            Ok((r, paired, skipped)) => {
                if run.kind == RunKind::Max && r.correct {
                    self.maxes.entry((engine, workload)).or_default().push(r.throughput.records_per_sec);
                }
                let cost = paired.as_ref().or(self.costs.get(workload.name()));
                self.runs.push(SummaryRun::of(run.kind, Some(file.clone()), &r, cost));
                let what = match (skipped, run.median_of) {
                    (true, _) => " (finished before, kept)".to_owned(),
                    (false, 1) => String::new(),
                    (false, n) => format!(" (median of {n})"),
                };
                let line = format!("{}: {}{what}", run.name, crate::report::one_line(&r));
                self.results.push((file, r));
                (line, skipped)
            }
            Err(e) => {
                self.runs.push(SummaryRun::failed(engine.name(), workload.name(), run.kind, format!("{e:#}")));
                (format!("{}: FAILED: {e:#}", run.name), false)
            }
        }
    }

    /// `run.median_of` runs of `spec` (at least one), each right after its own COST loop; the
    /// one with the median ratio to its loop, with that loop.
    fn median(&self, run: &PlannedRun, spec: &RunSpec) -> Result<(RunResult, CostEntry)> {
        let mut samples = Vec::new();
        for _ in 0..run.median_of.max(1) {
            let paired = match self.loops.get(&run.workload()) {
                Some((cost, records)) => cost_loop(cost, *records)?,
                None => CostEntry { records: 0, records_per_sec: f64::NAN },
            };
            let r = execute(run.engine(), spec)?;
            samples.push((r.throughput.records_per_sec_per_node / paired.records_per_sec, r, paired));
        }
        samples.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (_, r, paired) = samples.swap_remove(samples.len() / 2);
        Ok((r, paired))
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

/// The COST loop of every workload of the runs: the first run's parameters on one thread at
/// max, and its records.
fn cost_specs(file: &ExperimentFile, runs: &[PlannedRun]) -> Result<BTreeMap<Workload, (RunSpec, u64)>> {
    let mut loops = BTreeMap::new();
    for run in runs {
        let workload = run.workload();
        if loops.contains_key(&workload) {
            continue;
        }
        let mut spec = run.options.to_spec_alone()?;
        spec.profile = Profile::Max { nominal: workloads::schedule::DEFAULT_NOMINAL_RATE };
        spec.cluster.workers = 1;
        spec.faults.clear();
        let records = file.cost_records(workload)?.unwrap_or(registry::def(workload).sizes().cost);
        loops.insert(workload, (spec, records));
    }
    Ok(loops)
}

/// One COST loop.
fn cost_loop(spec: &RunSpec, records: u64) -> Result<CostEntry> {
    let c = registry::cost(spec, records)?;
    Ok(CostEntry { records: c.records, records_per_sec: c.records_per_sec })
}
