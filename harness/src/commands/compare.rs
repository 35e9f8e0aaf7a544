//! `streambench compare`: the main job. Every workload on both engines, each with the same run
//! kinds, durations and warm-ups (a max-rate run, then fixed-rate latency runs at one rate common
//! to both engines and at half of each engine's own max, and a fault run), the COST loop of each
//! workload, the report's sections (`sections.rs`: latency against the batch interval, accuracy
//! against disorder, scaling), then `summary.json`, the plots and `report.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use workloads::spec::SECOND_NS;
use workloads::{registry, Collect, Fault, JobOptions, Profile, RunReport, RunSpec, Workload};

use crate::engine::{judge, measure, Engine};
use crate::options::{parse_seed, workload_parser};
use crate::output::write_json;
use crate::progress::{planned_seconds, Progress};
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
    /// Each run's duration (default 5 s, 1 s with --quick).
    #[arg(long, value_parser = crate::options::parse_duration, env = "STREAMBENCH_COMPARE_DURATION")]
    pub duration: Option<u64>,
    /// Each run's warm-up (default a fifth of the duration, at most 5 s).
    #[arg(long, value_parser = crate::options::parse_duration, env = "STREAMBENCH_COMPARE_WARMUP")]
    pub warmup: Option<u64>,
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
    /// The micro-batch engine's batch intervals in the latency-against-batch-interval section, ns.
    pub batch_intervals: &'static [u64],
    /// The disorder bounds of the accuracy-against-disorder section, ns.
    pub disorders: &'static [u64],
}

const MS: u64 = 1_000_000;

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
                batch_intervals: &[10 * MS, 100 * MS],
                disorders: &[0, 100 * MS, SECOND_NS],
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
                batch_intervals: &[10 * MS, 100 * MS, 500 * MS, SECOND_NS, 2 * SECOND_NS],
                disorders: &[0, 100 * MS, SECOND_NS],
            }
        }
    }

    /// The plan with each run lasting `duration_ns` (warm-up: `warmup_ns`, or a fifth of the
    /// duration, at most 5 s).
    pub fn with_duration(mut self, duration_ns: Option<u64>, warmup_ns: Option<u64>) -> Result<Self> {
        if let Some(d) = duration_ns {
            self.duration_ns = d;
            self.warmup_ns = (d / 5).min(5 * SECOND_NS);
        }
        if let Some(w) = warmup_ns {
            self.warmup_ns = w;
        }
        if self.warmup_ns >= self.duration_ns {
            anyhow::bail!("--warmup must be shorter than --duration");
        }
        Ok(self)
    }

    /// How many runs a comparison of `engines` on `workloads` with `workers` makes (if every
    /// max-rate run succeeds).
    pub fn runs(&self, engines: &[Engine], workloads: &[Workload], workers: usize) -> usize {
        let e = engines.len();
        let mut n = 0;
        for &w in workloads {
            n += 3 * e;
            if w == self.fault_workload && workers >= 2 {
                n += e;
            }
            match w {
                Workload::Wordcount => {
                    n += usize::from(engines.contains(&Engine::Microbatch)) * self.batch_intervals.len();
                    n += e * (1 + usize::from(workers >= 2));
                }
                Workload::Hashtags => n += e * self.disorders.len(),
                _ => {}
            }
        }
        n
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

/// Where a run's result goes; `variant` tells runs of one kind apart (`""` for the main ones).
pub(crate) fn file_name(engine: Engine, workload: Workload, kind: RunKind, variant: &str) -> String {
    let sep = if variant.is_empty() { "" } else { "-" };
    format!("runs/{}-{}-{kind}{sep}{variant}.json", engine.name(), workload.name())
}

/// Runs the comparison, writing everything under `args.out`; `progress` hears one line per step.
pub fn compare(args: &CompareArgs, progress: &mut dyn Progress) -> Result<Summary> {
    let plan = Plan::new(args.quick).with_duration(args.duration, args.warmup)?;
    let workers = args
        .workers
        .map(|w| w as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let out = &args.out;
    std::fs::create_dir_all(out.join("runs")).with_context(|| format!("creating {}", out.display()))?;
    let workloads = if args.workloads.is_empty() { Workload::ALL.to_vec() } else { args.workloads.clone() };
    let runs = plan.runs(&args.engines, &workloads, workers);
    progress.begin(runs, runs as f64 * planned_seconds(plan.duration_ns));
    let mut c =
        Comparison { args, plan, workers, progress, costs: BTreeMap::new(), runs: Vec::new(), results: Vec::new() };
    for workload in workloads {
        c.workload(workload)?;
    }
    let Comparison { costs, runs, results, progress, .. } = c;
    let context = Context::now(&run_spec(Workload::ALL[0], Profile::Max { nominal: 1e6 }, &plan, workers, args.seed));
    let summary = Summary { context, quick: args.quick, cost: costs, runs };
    write_json(Some(&out.join("summary.json")), &summary)?;
    crate::tidy::write(out, &summary, &results)?;
    let plots = crate::section_plots::all(out, &summary, &results)?;
    crate::report::write_report(out, &summary, &results, &plots)?;
    progress.note(&format!("wrote {}", out.join("report.md").display()));
    Ok(summary)
}

/// A comparison in progress.
pub(crate) struct Comparison<'a> {
    pub(crate) args: &'a CompareArgs,
    pub(crate) plan: Plan,
    pub(crate) workers: usize,
    pub(crate) progress: &'a mut dyn Progress,
    costs: BTreeMap<String, CostEntry>,
    pub(crate) runs: Vec<SummaryRun>,
    pub(crate) results: Vec<(String, RunResult)>,
}

/// One workload's COST loop, and its spec.
pub(crate) struct Cost {
    spec: RunSpec,
    records: u64,
    pub(crate) entry: CostEntry,
}

impl Comparison<'_> {
    /// Every run of `workload`: the COST loop, each engine at max, then the fixed-rate runs.
    fn workload(&mut self, workload: Workload) -> Result<()> {
        let records = self.plan.cost_records(workload);
        let spec = run_spec(workload, Profile::Max { nominal: 1e6 }, &self.plan, 1, self.args.seed);
        let c = registry::cost(&spec, records)?;
        self.progress.note(&format!("{workload}: COST loop {:.0} records/s", c.records_per_sec));
        let entry = CostEntry { records: c.records, records_per_sec: c.records_per_sec };
        self.costs.insert(workload.name().to_owned(), entry.clone());
        let cost = Cost { spec, records, entry };
        let mut max = BTreeMap::new();
        for engine in self.args.engines.clone() {
            let profile = Profile::Max { nominal: workloads::schedule::DEFAULT_NOMINAL_RATE };
            if let Some(r) = self.one(engine, workload, &cost, RunKind::Max, self.spec(workload, profile), "") {
                if r.correct && r.throughput.records_per_sec > 0.0 {
                    max.insert(engine, r.throughput.records_per_sec);
                }
            }
        }
        let Some(common) = max.values().cloned().reduce(f64::min).map(|m| (m / 2.0).round()) else { return Ok(()) };
        let at = |rate: f64| Profile::Constant { rate };
        for &engine in max.keys() {
            self.one(engine, workload, &cost, RunKind::CommonRate, self.spec(workload, at(common)), "");
        }
        // Every engine at half its own max (for the slower one, the common rate again).
        for (&engine, &m) in &max {
            self.one(engine, workload, &cost, RunKind::HalfMax, self.spec(workload, at((m / 2.0).round())), "");
        }
        // Recovery: each engine at the common rate, one worker (executor) of two losing its
        // memory half-way: the micro-batch engine recomputes the lost partitions from lineage,
        // the native engine restores its last snapshot and replays.
        if workload == self.plan.fault_workload && self.workers >= 2 {
            let fault = Fault::KillWorker { worker: 1, at_ns: self.plan.duration_ns / 2 };
            for &engine in max.keys() {
                let mut spec = self.spec(workload, at(common));
                // Both engines checkpoint at the same interval, so that the native engine has a
                // snapshot to restore and the micro-batch engine a cut to recompute from.
                spec.checkpoint.interval_ns = Some(self.plan.fault_checkpoint_ns);
                spec.faults = vec![fault.clone()];
                self.one(engine, workload, &cost, RunKind::Fault, spec, "");
            }
        }
        let engines: Vec<Engine> = max.keys().copied().collect();
        self.sections(workload, &engines, common, &cost);
        Ok(())
    }

    /// A run of `workload` at `profile` on every worker of the comparison.
    pub(crate) fn spec(&self, workload: Workload, profile: Profile) -> RunSpec {
        run_spec(workload, profile, &self.plan, self.workers, self.args.seed)
    }

    /// One run of `engine` on `spec` (the median of the plan's repeats at max, each after its
    /// own COST loop, by ratio), judged, written and summarised; `None` if it failed.
    pub(crate) fn one(
        &mut self,
        engine: Engine,
        workload: Workload,
        cost: &Cost,
        kind: RunKind,
        mut spec: RunSpec,
        variant: &str,
    ) -> Option<RunResult> {
        let repeats = if spec.profile.is_max() && kind == RunKind::Max { self.plan.max_repeats } else { 1 };
        if spec.profile.is_max() {
            spec.records = self.plan.max_records(workload);
        }
        let sep = if variant.is_empty() { "" } else { " " };
        let name = format!("{} {workload} {kind}{sep}{variant}", engine.name());
        self.progress.start(&name, repeats as f64 * planned_seconds(spec.duration_ns));
        let judged = self
            .measure_median(engine, &spec, cost, repeats)
            .and_then(|(report, context, paired)| judge(engine, &spec, &report, context).map(|r| (r, paired)));
        self.record(engine, workload, kind, variant, judged.map(|(r, paired)| (r, Some(paired))))
    }

    /// Writes and summarises a judged run (or its failure); returns it.
    pub(crate) fn record(
        &mut self,
        engine: Engine,
        workload: Workload,
        kind: RunKind,
        variant: &str,
        judged: Result<(RunResult, Option<CostEntry>)>,
    ) -> Option<RunResult> {
        let file = file_name(engine, workload, kind, variant);
        let (r, paired) = match judged {
            Ok(judged) => judged,
            Err(e) => {
                self.progress.finish(&format!("{kind:>11}: {} {workload}: FAILED: {e:#}", engine.name()));
                self.runs.push(SummaryRun::failed(engine.name(), workload.name(), kind, format!("{e:#}")));
                return None;
            }
        };
        let spread = if kind == RunKind::Max && self.plan.max_repeats > 1 {
            format!(" (median of {})", self.plan.max_repeats)
        } else {
            String::new()
        };
        let label = if variant.is_empty() { kind.to_string() } else { format!("{kind} {variant}") };
        self.progress.finish(&format!("{label:>14}: {}{spread}", crate::report::one_line(&r)));
        if let Err(e) = write_json(Some(&self.args.out.join(&file)), &r) {
            self.progress.note(&format!("cannot write {file}: {e:#}"));
        }
        self.runs.push(SummaryRun::of(
            kind,
            Some(file.clone()),
            &r,
            paired.as_ref().or(self.costs.get(workload.name())),
        ));
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
