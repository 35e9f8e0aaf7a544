//! `streambench chaos`: N seeded fault schedules (`--chaos SEED`: kills and stragglers at random
//! times and workers) per engine and workload, each run judged against the oracle; a table of
//! outputs lost and duplicated and the recovery-time percentiles over every fault, and a plot of
//! the recovery times' distribution per engine.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use workloads::Workload;

use crate::engine::Engine;
use crate::options::workload_parser;
use crate::output::write_json;
use crate::progress::Progress;
use crate::result::RunResult;

/// `streambench chaos`.
#[derive(Debug, clap::Args)]
pub struct ChaosArgs {
    /// Schedules (runs) per engine and workload.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub runs: u64,
    /// The first schedule's seed (the others follow it).
    #[arg(long, default_value_t = 1)]
    pub first_seed: u64,
    /// The engines.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "native,microbatch")]
    pub engines: Vec<Engine>,
    /// The workloads.
    #[arg(long, value_parser = workload_parser(), value_delimiter = ',', default_value = "wordcount")]
    pub workloads: Vec<Workload>,
    /// Where the runs, `chaos.json`, `chaos.md` and the plot go.
    #[arg(long, default_value = "results/latest/chaos")]
    pub out: PathBuf,
    /// The runs' options (as for `streambench run`, without --engine, --workload, --fault,
    /// --chaos and --out), after `--`.
    #[arg(last = true)]
    pub run: Vec<String>,
}

/// One engine and workload's schedules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChaosRow {
    /// The engine.
    pub engine: String,
    /// The workload.
    pub workload: String,
    /// Runs (one schedule each).
    pub runs: u64,
    /// Runs whose outputs equal the oracle.
    pub correct_runs: u64,
    /// Faults injected, over every run.
    pub faults: u64,
    /// Expected outputs that did not come, over every run.
    pub outputs_lost: u64,
    /// Outputs that came more than once, over every run.
    pub outputs_duplicated: u64,
    /// Recovery times (s) of the faults that were followed by a recovery, ascending.
    pub recovery_s: Vec<f64>,
    /// Faults after which the run did not get back into its band before the next fault (or the
    /// end of the run).
    pub unrecovered: u64,
    /// Median, 90th percentile and largest recovery time, s (`null` without any).
    pub recovery_p50_s: Option<f64>,
    /// See `recovery_p50_s`.
    pub recovery_p90_s: Option<f64>,
    /// See `recovery_p50_s`.
    pub recovery_max_s: Option<f64>,
}

/// What `chaos` measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChaosSummary {
    /// The command that made it.
    pub command: String,
    /// One row per engine and workload.
    pub rows: Vec<ChaosRow>,
}

/// Runs the schedules and writes `DIR/runs/*.json`, `chaos.json`, `chaos.md` and
/// `recovery-cdf.svg`.
pub fn chaos(args: &ChaosArgs, progress: &mut dyn Progress) -> Result<ChaosSummary> {
    for taken in ["--engine", "--workload", "--fault", "--chaos", "--out"] {
        if args.run.iter().any(|a| a == taken || a.starts_with(&format!("{taken}="))) {
            bail!("`chaos` sets {taken} itself: leave it out of the run options");
        }
    }
    let plan: Vec<(Engine, Workload, u64)> = args
        .engines
        .iter()
        .flat_map(|&e| args.workloads.iter().flat_map(move |&w| (0..args.runs).map(move |k| (e, w, k))))
        .map(|(e, w, k)| (e, w, args.first_seed + k))
        .collect();
    // Every run's options, checked before the first starts.
    let specs = plan
        .iter()
        .map(|&(e, w, seed)| {
            let extra = [
                "--engine".to_owned(),
                e.name().to_owned(),
                "--workload".into(),
                w.name().to_owned(),
                "--chaos".into(),
                seed.to_string(),
            ];
            let run = crate::run_args::parse_run_options(&args.run, &extra)?;
            Ok((run.to_spec()?, run))
        })
        .collect::<Result<Vec<_>>>()?;
    let runs = args.out.join("runs");
    std::fs::create_dir_all(&runs).with_context(|| format!("creating {}", runs.display()))?;
    let seconds: f64 = specs.iter().map(|(s, _)| s.duration_ns as f64 / 1e9).sum();
    progress.begin(plan.len(), seconds);
    let mut results = Vec::with_capacity(plan.len());
    for (&(engine, workload, seed), (spec, _)) in plan.iter().zip(&specs) {
        let name = format!("{},{},chaos={seed}", engine.name(), workload.name());
        progress.start(&name, spec.duration_ns as f64 / 1e9);
        let r = crate::engine::execute(engine, spec).with_context(|| format!("run {name}"))?;
        write_json(Some(&runs.join(format!("{name}.json"))), &r)?;
        progress.finish(&format!(
            "{name}: {} faults, {}, {} lost, {} duplicated",
            spec.faults.len(),
            if r.correct { "correct" } else { "INCORRECT" },
            r.outputs_lost,
            r.outputs_duplicated
        ));
        results.push((engine, workload, r));
    }
    let rows = args
        .engines
        .iter()
        .flat_map(|&e| args.workloads.iter().map(move |&w| (e, w)))
        .map(|(e, w)| row(e, w, results.iter().filter(|r| r.0 == e && r.1 == w).map(|r| &r.2)))
        .collect();
    let summary = ChaosSummary { command: crate::report::command(&std::env::args().collect::<Vec<_>>()), rows };
    write_json(Some(&args.out.join("chaos.json")), &summary)?;
    std::fs::write(args.out.join("chaos.md"), table(&summary))?;
    plot(&args.out.join("recovery-cdf.svg"), &summary)?;
    progress.note(&format!("wrote {}", args.out.join("chaos.md").display()));
    Ok(summary)
}

/// The row of one engine and workload from its runs.
fn row<'a>(engine: Engine, workload: Workload, runs: impl Iterator<Item = &'a RunResult>) -> ChaosRow {
    let (mut n, mut correct, mut faults, mut lost, mut duplicated, mut unrecovered) = (0, 0, 0, 0, 0, 0);
    let mut recovery = Vec::new();
    for r in runs {
        n += 1;
        correct += u64::from(r.correct);
        lost += r.outputs_lost;
        duplicated += r.outputs_duplicated;
        for f in r.recovery.iter().flatten() {
            faults += 1;
            match f.recovery_s {
                Some(s) => recovery.push(s),
                None => unrecovered += 1,
            }
        }
    }
    recovery.sort_by(f64::total_cmp);
    let at = |q: f64| (!recovery.is_empty()).then(|| recovery[((recovery.len() - 1) as f64 * q).round() as usize]);
    ChaosRow {
        engine: engine.name().to_owned(),
        workload: workload.name().to_owned(),
        runs: n,
        correct_runs: correct,
        faults,
        outputs_lost: lost,
        outputs_duplicated: duplicated,
        recovery_p50_s: at(0.5),
        recovery_p90_s: at(0.9),
        recovery_max_s: at(1.0),
        recovery_s: recovery,
        unrecovered,
    }
}

/// The table, in Markdown, with the command that made it.
fn table(s: &ChaosSummary) -> String {
    let mut out = format!("# Chaos\n\n`{}`\n\n", s.command);
    out.push_str("| engine | workload | runs | correct | faults | lost | duplicated | recovery p50 | p90 | max | not recovered |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    let secs = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.2} s"));
    for r in &s.rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.engine,
            r.workload,
            r.runs,
            r.correct_runs,
            r.faults,
            r.outputs_lost,
            r.outputs_duplicated,
            secs(r.recovery_p50_s),
            secs(r.recovery_p90_s),
            secs(r.recovery_max_s),
            r.unrecovered
        );
    }
    out
}

/// The recovery times' distribution, one line per engine and workload.
fn plot(path: &std::path::Path, s: &ChaosSummary) -> Result<()> {
    use crate::plot::{engine_color, line_chart, Axis, Series};
    let series: Vec<Series> = s
        .rows
        .iter()
        .filter(|r| !r.recovery_s.is_empty())
        .map(|r| Series {
            name: format!("{} {}", r.engine, r.workload),
            color: engine_color(&r.engine),
            points: r
                .recovery_s
                .iter()
                .enumerate()
                .map(|(i, &v)| (v, (i + 1) as f64 / r.recovery_s.len() as f64))
                .collect(),
            dashed: r.workload != s.rows[0].workload,
        })
        .collect();
    if series.is_empty() {
        return Ok(());
    }
    line_chart(
        path,
        "Recovery after chaos faults",
        Axis { label: "recovery time (s)", log: false },
        Axis { label: "share of faults recovered", log: false },
        &series,
        &[],
    )
}
