//! `streambench compare`: the main job, an experiment file. `experiments/compare.toml` (or
//! `compare-quick.toml` with `--quick`) names every run: each workload on both engines at max,
//! at a rate common to both engines and at half of each engine's own max, the fault run, and the
//! runs of the report's sections (latency against the batch interval, accuracy against disorder,
//! scaling); compare's options edit the file before it runs (the file as it ran is written beside
//! the results), and the experiment writes `summary.json`, the CSV files, the plots and
//! `report.md`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use toml::{Table, Value};
use workloads::spec::SECOND_NS;
use workloads::Workload;

use crate::engine::Engine;
use crate::experiment::file::ExperimentFile;
use crate::experiment::{plan, run_file, Experiment};
use crate::options::{parse_seed, workload_parser};
use crate::progress::Progress;
use crate::result::RunResult;
use crate::summary::Summary;

/// The file `compare` runs.
pub const DEFAULT: &str = include_str!("../../../experiments/compare.toml");
/// The file `compare --quick` runs.
pub const QUICK: &str = include_str!("../../../experiments/compare-quick.toml");

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
    /// Each run's duration (default 5 s, 1 s with --quick; a fault comes half-way).
    #[arg(long, value_parser = crate::options::parse_duration, env = "STREAMBENCH_COMPARE_DURATION")]
    pub duration: Option<u64>,
    /// Each run's warm-up (default a fifth of the duration, at most 5 s).
    #[arg(long, value_parser = crate::options::parse_duration, env = "STREAMBENCH_COMPARE_WARMUP")]
    pub warmup: Option<u64>,
    /// Go on with the comparison in `--out`, keeping the runs already finished and correct.
    #[arg(long)]
    pub resume: bool,
}

/// The comparison's experiment file as compare's options make it: its text.
pub fn experiment_text(args: &CompareArgs) -> Result<String> {
    let mut doc: Table = toml::from_str(if args.quick { QUICK } else { DEFAULT }).context("the embedded comparison")?;
    let options = doc.entry("options").or_insert_with(|| Value::Table(Table::new()));
    let options = options.as_table_mut().context("[options] is a table")?;
    let workers =
        args.workers.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get() as u64).unwrap_or(1));
    options.insert("workers".into(), Value::Integer(workers as i64));
    options.insert("seed".into(), Value::String(args.seed.to_string()));
    let duration = match args.duration {
        Some(d) => d,
        None => duration_of_key(options, "duration")?,
    };
    let warmup = match (args.warmup, args.duration) {
        (Some(w), _) => w,
        (None, Some(d)) => (d / 5).min(5 * SECOND_NS),
        (None, None) => duration_of_key(options, "warmup")?,
    };
    if warmup >= duration {
        bail!("--warmup must be shorter than --duration");
    }
    options.insert("duration".into(), Value::String(format!("{}ms", duration / 1_000_000)));
    options.insert("warmup".into(), Value::String(format!("{}ms", warmup / 1_000_000)));
    // What compare's options leave out, as exclude rules over every group.
    let mut rules = Vec::new();
    let engines: Vec<&str> = args.engines.iter().map(|e| e.name()).collect();
    for e in Engine::ALL.iter().map(|e| e.name()).filter(|e| !engines.contains(e)) {
        rules.push(rule("engine", e));
    }
    if !args.workloads.is_empty() {
        for w in Workload::ALL.iter().filter(|w| !args.workloads.contains(w)) {
            rules.push(rule("workload", w.name()));
        }
    }
    if workers < 2 {
        // A fault needs a survivor, and a process per worker needs two workers.
        rules.push(rule("fault", "kill-worker:1@50%"));
        rules.push(rule("processes", 2));
    }
    if !rules.is_empty() {
        let exclude = doc.entry("exclude").or_insert_with(|| Value::Array(Vec::new()));
        exclude.as_array_mut().context("exclude is a list")?.extend(rules);
    }
    let header = format!(
        "# The comparison as `streambench compare` ran it (experiments/{}, edited by its options).\n",
        if args.quick { "compare-quick.toml" } else { "compare.toml" }
    );
    Ok(header + &toml::to_string(&doc).context("writing the comparison's file")?)
}

fn rule(key: &str, value: impl Into<Value>) -> Value {
    Value::Table(Table::from_iter([(key.to_owned(), value.into())]))
}

fn duration_of_key(options: &Table, key: &str) -> Result<u64> {
    let text = options.get(key).and_then(Value::as_str).with_context(|| format!("the comparison sets no {key}"))?;
    crate::options::parse_duration(text).map_err(anyhow::Error::msg)
}

/// Runs the comparison, writing everything under `args.out`.
pub fn compare(args: &CompareArgs, progress: &mut dyn Progress) -> Result<Summary> {
    let text = experiment_text(args)?;
    let file = ExperimentFile::parse(&text).context("the comparison's experiment file")?;
    let runs = plan::plan(&file).context("the comparison's runs")?;
    run_file(&Experiment { file: &file, text: &text, runs, quick: args.quick }, &args.out, args.resume, progress)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run_kind::RunKind;

    fn args(quick: bool) -> CompareArgs {
        CompareArgs {
            quick,
            out: PathBuf::from("unused"),
            engines: Engine::ALL.to_vec(),
            workloads: Vec::new(),
            workers: Some(2),
            seed: 1,
            duration: None,
            warmup: None,
            resume: false,
        }
    }

    fn runs(args: &CompareArgs) -> Vec<plan::PlannedRun> {
        plan::plan(&ExperimentFile::parse(&experiment_text(args).unwrap()).unwrap()).unwrap()
    }

    fn count(runs: &[plan::PlannedRun], kind: RunKind) -> usize {
        runs.iter().filter(|r| r.kind == kind).count()
    }

    #[test]
    fn the_comparison_is_every_workload_on_both_engines_with_the_report_sections() {
        for (quick, intervals) in [(false, 5), (true, 2)] {
            let r = runs(&args(quick));
            let workloads = Workload::ALL.len();
            assert_eq!(count(&r, RunKind::Max), 2 * workloads, "quick {quick}");
            assert_eq!(count(&r, RunKind::CommonRate), 2 * workloads);
            assert_eq!(count(&r, RunKind::HalfMax), 2 * workloads);
            assert_eq!(count(&r, RunKind::Fault), 2);
            assert_eq!(count(&r, RunKind::BatchInterval), intervals);
            assert_eq!(count(&r, RunKind::Scaling), 4);
            assert_eq!(count(&r, RunKind::Disorder), 6);
            let fault = r.iter().find(|r| r.kind == RunKind::Fault).unwrap();
            let half = fault.options.duration / 2;
            assert_eq!(fault.options.faults, vec![workloads::Fault::KillWorker { worker: 1, at_ns: half }]);
            assert!(r.iter().filter(|r| r.kind == RunKind::Max).all(|r| r.median_of == if quick { 3 } else { 1 }));
        }
    }

    #[test]
    fn compare_options_edit_the_file_before_it_runs() {
        let mut a = args(false);
        (a.engines, a.workloads, a.workers) = (vec![Engine::Native], vec![Workload::Hashtags], Some(1));
        (a.seed, a.duration) = (7, Some(20 * SECOND_NS));
        let r = runs(&a);
        assert!(!r.is_empty());
        for run in &r {
            assert_eq!((run.engine(), run.workload()), (Engine::Native, Workload::Hashtags), "{}", run.name);
            let o = &run.options;
            assert_eq!(
                (o.duration, o.warmup, o.seed, o.workers, o.processes),
                (20 * SECOND_NS, 4 * SECOND_NS, 7, 1, 1)
            );
        }
        assert_eq!(count(&r, RunKind::Fault), 0);
        assert_eq!(count(&r, RunKind::Disorder), 3);
        a.warmup = Some(20 * SECOND_NS);
        assert!(experiment_text(&a).unwrap_err().to_string().contains("--warmup"));
    }
}
