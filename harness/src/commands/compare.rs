//! `streambench compare`: the main job. Every workload on both engines (a max-rate run, then
//! fixed-rate latency runs at one rate common to both engines and at half of each engine's own
//! max), the COST loop of each workload, then `summary.json`, the plots and `report.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use workloads::spec::SECOND_NS;
use workloads::{registry, Collect, Fault, JobOptions, Profile, RunReport, RunSpec, Workload};

use crate::engine::{judge, measure, Engine};
use crate::options::{parse_seed, workload_parser};
use crate::output::write_json;
use crate::result::{Context, RunResult};
use crate::run_kind::RunKind;
use crate::summary::{CostEntry, Summary, SummaryRun};

/// `streambench compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Short runs (1 s, 100 ms batches; about 70 s in all): a smoke test and the CI job's
    /// input.
    #[arg(long, env = "STREAMBENCH_QUICK")]
    pub quick: bool,
    /// Where the summary, runs, plots and report go.
    #[arg(long, default_value = "results/latest", env = "STREAMBENCH_OUT")]
    pub out: PathBuf,
    /// The engines to compare.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = Engine::ALL, env = "STREAMBENCH_ENGINES")]
    pub engines: Vec<Engine>,
    /// The workloads to run (default: every workload).
    #[arg(long, value_parser = workload_parser(), value_delimiter = ',', env = "STREAMBENCH_WORKLOADS")]
    pub workloads: Vec<Workload>,
    /// Worker threads per engine (default: the machine's CPUs).
    #[arg(long, env = "STREAMBENCH_WORKERS", value_parser = clap::value_parser!(u64).range(1..))]
    pub workers: Option<u64>,
    /// The generator seed.
    #[arg(long, default_value_t = 1, value_parser = parse_seed, env = "STREAMBENCH_SEED")]
    pub seed: u64,
}

/// Durations and sizes of a comparison.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Whether this is a quick comparison.
    pub quick: bool,
    /// Each run's duration, ns.
    pub duration_ns: u64,
    /// Each run's warm-up, ns.
    pub warmup_ns: u64,
    /// Hashtag window and slide, ns.
    pub window: (u64, u64),
    /// The micro-batch engine's batch interval, ns.
    pub batch_interval_ns: u64,
    /// Both engines' checkpoint interval in the fault runs (a multiple of the batch interval), ns.
    pub fault_checkpoint_ns: u64,
    /// The workload of the fault runs.
    pub fault_workload: Workload,
    /// Max-rate runs per engine and workload, each right after its own COST loop; the run
    /// with the median ratio to its COST loop is kept (what the CI gate compares).
    pub max_repeats: usize,
}

impl Plan {
    /// The plan of a default or `--quick` comparison.
    pub fn new(quick: bool) -> Self {
        let fault_workload = Workload::Wordcount;
        if quick {
            Plan {
                quick,
                duration_ns: SECOND_NS,
                warmup_ns: SECOND_NS / 4,
                window: (SECOND_NS / 2, SECOND_NS / 10),
                batch_interval_ns: SECOND_NS / 10,
                fault_checkpoint_ns: SECOND_NS / 5,
                fault_workload,
                max_repeats: 3,
            }
        } else {
            Plan {
                quick,
                duration_ns: 5 * SECOND_NS,
                warmup_ns: SECOND_NS,
                window: (10 * SECOND_NS, SECOND_NS),
                batch_interval_ns: SECOND_NS,
                fault_checkpoint_ns: SECOND_NS,
                fault_workload,
                max_repeats: 1,
            }
        }
    }

    /// Events per COST loop of `workload`.
    pub fn cost_records(&self, workload: Workload) -> u64 {
        let sizes = registry::def(workload).sizes();
        if self.quick {
            sizes.quick_cost
        } else {
            sizes.cost
        }
    }

    /// The cap on the events of a max-rate run of `workload` (bounds the oracle's work).
    pub fn max_records(&self, workload: Workload) -> Option<u64> {
        self.quick.then(|| registry::def(workload).sizes().quick_max)
    }
}

/// The spec of one run of a comparison.
pub fn run_spec(workload: Workload, profile: Profile, plan: &Plan, workers: usize, seed: u64) -> RunSpec {
    let mut job = workload.default_job();
    job.configure(&JobOptions { window: Some(plan.window), ..JobOptions::default() })
        .expect("a comparison's job options fit every workload");
    let mut spec = RunSpec::new(job, profile, plan.duration_ns);
    spec.warmup_ns = plan.warmup_ns;
    spec.microbatch.batch_interval_ns = plan.batch_interval_ns;
    spec.seed = seed;
    spec.cluster.workers = workers;
    spec.collect = Collect::Digest;
    spec
}

fn file_name(engine: Engine, workload: Workload, kind: RunKind) -> String {
    format!("runs/{}-{}-{kind}.json", engine.name(), workload.name())
}

/// Runs the comparison, writing everything under `args.out`; `progress` hears one line per step.
pub fn compare(args: &CompareArgs, progress: &mut dyn FnMut(&str)) -> Result<Summary> {
    let plan = Plan::new(args.quick);
    let workers = args
        .workers
        .map(|w| w as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let out = &args.out;
    std::fs::create_dir_all(out.join("runs")).with_context(|| format!("creating {}", out.display()))?;
    let mut c =
        Comparison { args, plan, workers, progress, costs: BTreeMap::new(), runs: Vec::new(), results: Vec::new() };
    let workloads = if args.workloads.is_empty() { Workload::ALL.to_vec() } else { args.workloads.clone() };
    for workload in workloads {
        c.workload(workload)?;
    }
    let Comparison { costs, runs, results, progress, .. } = c;
    let context = Context::now(&run_spec(Workload::ALL[0], Profile::Max { nominal: 1e6 }, &plan, workers, args.seed));
    let summary = Summary { context, quick: args.quick, cost: costs, runs };
    write_json(Some(&out.join("summary.json")), &summary)?;
    let plots = crate::plot::compare_plots(out, &summary, &results)?;
    crate::report::write_report(out, &summary, &results, &plots)?;
    progress(&format!("wrote {}", out.join("report.md").display()));
    Ok(summary)
}

/// A comparison in progress.
struct Comparison<'a> {
    args: &'a CompareArgs,
    plan: Plan,
    workers: usize,
    progress: &'a mut dyn FnMut(&str),
    costs: BTreeMap<String, CostEntry>,
    runs: Vec<SummaryRun>,
    results: Vec<(String, RunResult)>,
}

/// One workload's COST loop, and its spec.
struct Cost {
    spec: RunSpec,
    records: u64,
    entry: CostEntry,
}

impl Comparison<'_> {
    /// Every run of `workload`: the COST loop, each engine at max, then the fixed-rate runs.
    fn workload(&mut self, workload: Workload) -> Result<()> {
        let records = self.plan.cost_records(workload);
        let spec = run_spec(workload, Profile::Max { nominal: 1e6 }, &self.plan, 1, self.args.seed);
        let c = registry::cost(&spec, records)?;
        (self.progress)(&format!("{workload}: COST loop {:.0} records/s", c.records_per_sec));
        let entry = CostEntry { records: c.records, records_per_sec: c.records_per_sec };
        self.costs.insert(workload.name().to_owned(), entry.clone());
        let cost = Cost { spec, records, entry };
        let mut max = BTreeMap::new();
        for engine in self.args.engines.clone() {
            let profile = Profile::Max { nominal: workloads::schedule::DEFAULT_NOMINAL_RATE };
            if let Some(r) = self.one(engine, workload, &cost, RunKind::Max, profile, Vec::new()) {
                if r.correct && r.throughput.records_per_sec > 0.0 {
                    max.insert(engine, r.throughput.records_per_sec);
                }
            }
        }
        let Some(common) = max.values().cloned().reduce(f64::min).map(|m| (m / 2.0).round()) else { return Ok(()) };
        for &engine in max.keys() {
            self.one(engine, workload, &cost, RunKind::CommonRate, Profile::Constant { rate: common }, Vec::new());
        }
        for (&engine, &m) in &max {
            let half = (m / 2.0).round();
            if (half - common).abs() > 0.05 * common {
                self.one(engine, workload, &cost, RunKind::HalfMax, Profile::Constant { rate: half }, Vec::new());
            }
        }
        // Recovery: each engine at the common rate, one worker (executor) of two losing its
        // memory half-way: the micro-batch engine recomputes the lost partitions from lineage,
        // the native engine restores its last snapshot and replays.
        if workload == self.plan.fault_workload && self.workers >= 2 {
            let fault = Fault::KillWorker { worker: 1, at_ns: self.plan.duration_ns / 2 };
            for &engine in max.keys() {
                let profile = Profile::Constant { rate: common };
                self.one(engine, workload, &cost, RunKind::Fault, profile, vec![fault.clone()]);
            }
        }
        Ok(())
    }

    /// One run of `engine` (the median of the plan's repeats at max, each after its own COST
    /// loop, by ratio), judged, written and summarised; `None` if it failed.
    fn one(
        &mut self,
        engine: Engine,
        workload: Workload,
        cost: &Cost,
        kind: RunKind,
        profile: Profile,
        faults: Vec<Fault>,
    ) -> Option<RunResult> {
        let mut spec = run_spec(workload, profile, &self.plan, self.workers, self.args.seed);
        if !faults.is_empty() {
            // Both engines checkpoint at the same interval, so that the native engine has a
            // snapshot to restore and the micro-batch engine a cut to recompute from.
            spec.checkpoint.interval_ns = Some(self.plan.fault_checkpoint_ns);
        }
        spec.faults = faults;
        let repeats = if spec.profile.is_max() { self.plan.max_repeats } else { 1 };
        if spec.profile.is_max() {
            spec.records = self.plan.max_records(workload);
        }
        let file = file_name(engine, workload, kind);
        let judged = self
            .measure_median(engine, &spec, cost, repeats)
            .and_then(|(report, context, paired)| judge(engine, &spec, &report, context).map(|r| (r, paired)));
        let (r, paired) = match judged {
            Ok(judged) => judged,
            Err(e) => {
                (self.progress)(&format!("{kind:>11}: {} {workload}: FAILED: {e:#}", engine.name()));
                self.runs.push(SummaryRun::failed(engine.name(), workload.name(), kind, format!("{e:#}")));
                return None;
            }
        };
        let spread = if repeats > 1 { format!(" (median of {repeats})") } else { String::new() };
        (self.progress)(&format!("{kind:>11}: {}{spread}", crate::report::one_line(&r)));
        if let Err(e) = write_json(Some(&self.args.out.join(&file)), &r) {
            (self.progress)(&format!("cannot write {file}: {e:#}"));
        }
        self.runs.push(SummaryRun::of(kind, Some(file.clone()), &r, Some(&paired)));
        self.results.push((file, r.clone()));
        Some(r)
    }

    /// Measures `repeats` runs of `spec`, each (when more than one) after its own COST loop;
    /// returns the median one by ratio to its COST loop, with that loop.
    fn measure_median(
        &mut self,
        engine: Engine,
        spec: &RunSpec,
        cost: &Cost,
        repeats: usize,
    ) -> Result<(RunReport, Context, CostEntry)> {
        let mut samples: Vec<(f64, RunReport, Context, CostEntry)> = Vec::new();
        for _ in 0..repeats {
            let paired = match repeats {
                1 => cost.entry.clone(),
                _ => registry::cost(&cost.spec, cost.records)
                    .map(|c| CostEntry { records: c.records, records_per_sec: c.records_per_sec })
                    .unwrap_or_else(|_| cost.entry.clone()),
            };
            let (report, context) = measure(engine, spec)?;
            let rps = crate::result::throughput(spec, &report).0 / spec.cluster.processes as f64;
            samples.push((rps / paired.records_per_sec, report, context, paired));
        }
        samples.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (_, report, context, paired) = samples.swap_remove(samples.len() / 2);
        Ok((report, context, paired))
    }
}

/// The result files of a comparison directory, read back (for `plot`).
pub fn read_results(dir: &Path, summary: &Summary) -> Result<Vec<(String, RunResult)>> {
    let mut out = Vec::new();
    for file in summary.runs.iter().filter_map(|r| r.file.clone()) {
        let path = dir.join(&file);
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        out.push((file, serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?));
    }
    Ok(out)
}
