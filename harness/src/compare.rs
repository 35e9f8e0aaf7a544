//! `streambench compare`: the main job. Every workload on both engines (a max-rate run, then
//! fixed-rate latency runs at one rate common to both engines and at half of each engine's own
//! max), the COST loop of each workload, then `summary.json`, the plots and `report.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use workloads::spec::SECOND_NS;
use workloads::{cost, Collect, JobSpec, Profile, RunSpec, Workload};

use crate::result::{Context, RunResult};
use crate::run::{write_json, Engine};
use crate::summary::{CostEntry, Summary, SummaryRun};
use workloads::RunReport;

/// `streambench compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Short runs (1 s, 100 ms batches; under 40 s in all): a smoke test and the CI job's
    /// input.
    #[arg(long, env = "STREAMBENCH_QUICK")]
    pub quick: bool,
    /// Where the summary, runs, plots and report go.
    #[arg(long, default_value = "results/latest", env = "STREAMBENCH_OUT")]
    pub out: PathBuf,
    /// The engines to compare.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = Engine::ALL, env = "STREAMBENCH_ENGINES")]
    pub engines: Vec<Engine>,
    /// The workloads to run.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [crate::cli::WorkloadArg::Wordcount, crate::cli::WorkloadArg::Hashtags, crate::cli::WorkloadArg::Sensors], env = "STREAMBENCH_WORKLOADS")]
    pub workloads: Vec<crate::cli::WorkloadArg>,
    /// Worker threads per engine (default: the machine's CPUs).
    #[arg(long, env = "STREAMBENCH_WORKERS", value_parser = clap::value_parser!(u64).range(1..))]
    pub workers: Option<u64>,
    /// The generator seed.
    #[arg(long, default_value_t = 1, value_parser = crate::cli::parse_seed, env = "STREAMBENCH_SEED")]
    pub seed: u64,
}

/// Durations and sizes of a comparison.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
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
    /// Events per COST loop, per workload.
    pub cost_records: [u64; 3],
    /// A cap on the events of a max-rate run, per workload (bounds the oracle's work).
    pub max_records: [Option<u64>; 3],
    /// Max-rate runs per engine and workload, each right after its own COST loop; the run
    /// with the median ratio to its COST loop is kept (what the CI gate compares).
    pub max_repeats: usize,
}

impl Plan {
    /// The plan of a default or `--quick` comparison.
    pub fn new(quick: bool) -> Self {
        if quick {
            Plan {
                duration_ns: SECOND_NS,
                warmup_ns: SECOND_NS / 4,
                window: (SECOND_NS / 2, SECOND_NS / 10),
                batch_interval_ns: SECOND_NS / 10,
                fault_checkpoint_ns: SECOND_NS / 5,
                cost_records: [300_000, 1_000_000, 3_000_000],
                max_records: [Some(900_000), Some(3_000_000), Some(9_000_000)],
                max_repeats: 3,
            }
        } else {
            Plan {
                duration_ns: 5 * SECOND_NS,
                warmup_ns: SECOND_NS,
                window: (10 * SECOND_NS, SECOND_NS),
                batch_interval_ns: SECOND_NS,
                fault_checkpoint_ns: SECOND_NS,
                cost_records: [2_000_000, 6_000_000, 20_000_000],
                max_records: [None; 3],
                max_repeats: 1,
            }
        }
    }
}

/// The spec of one run of a comparison.
pub fn run_spec(workload: Workload, profile: Profile, plan: &Plan, workers: usize, seed: u64) -> RunSpec {
    let mut job = JobSpec::default_for(workload);
    if let JobSpec::Hashtags(s) = &mut job {
        (s.window_ns, s.slide_ns) = plan.window;
    }
    let mut spec = RunSpec::new(job, profile, plan.duration_ns);
    spec.warmup_ns = plan.warmup_ns;
    spec.batch_interval_ns = plan.batch_interval_ns;
    spec.seed = seed;
    spec.cluster.workers = workers;
    spec.collect = Collect::Digest;
    spec
}

fn file_name(engine: Engine, workload: Workload, kind: &str) -> String {
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
    let mut costs = BTreeMap::new();
    let mut runs = Vec::new();
    let mut results: Vec<(String, RunResult)> = Vec::new();
    for (w, workload) in args.workloads.iter().map(|w| Workload::from(*w)).enumerate() {
        let _ = w;
        let index = Workload::ALL.iter().position(|x| *x == workload).unwrap_or(0);
        let records = plan.cost_records[index];
        let cost_spec = run_spec(workload, Profile::Max { nominal: 1e6 }, &plan, 1, args.seed);
        let c = cost::run(&cost_spec, records)?;
        progress(&format!("{workload}: COST loop {:.0} records/s", c.records_per_sec));
        let cost = CostEntry { records: c.records, records_per_sec: c.records_per_sec };
        costs.insert(workload.name().to_owned(), cost.clone());

        // One run of `engine` (the median of `repeats`, each after its own COST loop, by ratio).
        let mut one = |engine: Engine, kind: &str, profile: Profile, repeats: usize, faults: Vec<workloads::Fault>| {
            let mut spec = run_spec(workload, profile, &plan, workers, args.seed);
            if !faults.is_empty() {
                // Both engines checkpoint at the same interval, so that the native engine has a
                // snapshot to restore and the micro-batch engine a cut to recompute from.
                spec.checkpoint.interval_ns = Some(plan.fault_checkpoint_ns);
            }
            spec.faults = faults;
            if spec.profile.is_max() {
                spec.records = plan.max_records[index];
            }
            let file = file_name(engine, workload, kind);
            // Every repeat is measured; the median one (by ratio to its COST loop) is judged.
            let mut samples: Vec<(f64, RunReport, Context, CostEntry)> = Vec::new();
            for _ in 0..repeats {
                let paired = if repeats > 1 {
                    match cost::run(&cost_spec, records) {
                        Ok(c) => CostEntry { records: c.records, records_per_sec: c.records_per_sec },
                        Err(_) => cost.clone(),
                    }
                } else {
                    cost.clone()
                };
                match crate::run::measure(engine, &spec) {
                    Ok((report, context)) => {
                        let rps = crate::result::throughput(&spec, &report).0 / spec.cluster.processes as f64;
                        samples.push((rps / paired.records_per_sec, report, context, paired));
                    }
                    Err(e) => {
                        progress(&format!("{kind:>11}: {} {workload}: FAILED: {e:#}", engine.name()));
                        runs.push(SummaryRun::failed(engine.name(), workload.name(), kind, format!("{e:#}")));
                        return None;
                    }
                }
            }
            samples.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (_, report, context, paired) = samples.swap_remove(samples.len() / 2);
            let r = match crate::run::judge(engine, &spec, &report, context) {
                Ok(r) => r,
                Err(e) => {
                    progress(&format!("{kind:>11}: {} {workload}: FAILED: {e:#}", engine.name()));
                    runs.push(SummaryRun::failed(engine.name(), workload.name(), kind, format!("{e:#}")));
                    return None;
                }
            };
            let spread = if repeats > 1 { format!(" (median of {repeats})") } else { String::new() };
            progress(&format!("{kind:>11}: {}{spread}", crate::report::one_line(&r)));
            if let Err(e) = write_json(Some(&out.join(&file)), &r) {
                progress(&format!("cannot write {file}: {e:#}"));
            }
            runs.push(SummaryRun::of(kind, Some(file.clone()), &r, Some(&paired)));
            results.push((file, r.clone()));
            Some(r)
        };
        let no_faults = Vec::new;
        let mut max = BTreeMap::new();
        for &engine in &args.engines {
            let profile = Profile::Max { nominal: workloads::schedule::DEFAULT_NOMINAL_RATE };
            if let Some(r) = one(engine, "max", profile, plan.max_repeats, no_faults()) {
                if r.correct && r.throughput.records_per_sec > 0.0 {
                    max.insert(engine, r.throughput.records_per_sec);
                }
            }
        }
        let Some(common) = max.values().cloned().reduce(f64::min).map(|m| (m / 2.0).round()) else { continue };
        for &engine in max.keys() {
            one(engine, "common-rate", Profile::Constant { rate: common }, 1, no_faults());
        }
        for (&engine, &m) in &max {
            let half = (m / 2.0).round();
            if (half - common).abs() > 0.05 * common {
                one(engine, "half-max", Profile::Constant { rate: half }, 1, no_faults());
            }
        }
        // Recovery: each engine at the common rate, one worker (executor) of two losing its
        // memory half-way: the micro-batch engine recomputes the lost partitions from lineage,
        // the native engine restores its last snapshot and replays.
        if workload == Workload::Wordcount && workers >= 2 {
            let fault = workloads::Fault::KillWorker { worker: 1, at_ns: plan.duration_ns / 2 };
            for &engine in max.keys() {
                one(engine, "fault", Profile::Constant { rate: common }, 1, vec![fault.clone()]);
            }
        }
    }
    let context =
        Context::now(&run_spec(Workload::Wordcount, Profile::Max { nominal: 1e6 }, &plan, workers, args.seed));
    let summary = Summary { context, quick: args.quick, cost: costs, runs };
    write_json(Some(&out.join("summary.json")), &summary)?;
    let plots = crate::plot::compare_plots(out, &summary, &results)?;
    crate::report::write_report(out, &summary, &results, &plots)?;
    progress(&format!("wrote {}", out.join("report.md").display()));
    Ok(summary)
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
