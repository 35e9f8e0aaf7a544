//! The engines as the harness drives them, and the one measuring path every run takes: run on
//! this process with a fresh observer, then judge the report against the oracle and build the
//! result.

use anyhow::Result;
use serde::{Deserialize, Serialize};
use workloads::verify::Running;
use workloads::{registry, Observer, RunReport, RunSpec};

use crate::result::{summarize, Context, Quality, RunResult};

/// An engine on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// The micro-batch (discretized stream) engine.
    Microbatch,
    /// The native (pipelined timely) engine.
    Native,
}

impl Engine {
    /// Both engines, in report order.
    pub const ALL: [Engine; 2] = [Engine::Microbatch, Engine::Native];

    /// The engine's name.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Microbatch => "microbatch",
            Engine::Native => "native",
        }
    }

    /// How its running counts report.
    pub fn running(self) -> Running {
        match self {
            Engine::Microbatch => Running::Snapshots,
            Engine::Native => Running::EveryUpdate,
        }
    }

    /// Runs `spec` to completion on this process, reporting to `observer`.
    pub fn run(self, spec: &RunSpec, observer: &Observer) -> Result<()> {
        match self {
            Engine::Native => native::run(spec, observer).map_err(Into::into),
            Engine::Microbatch => microbatch::run(spec, observer).map_err(Into::into),
        }
    }
}

/// Runs `spec` on `engine` in this process, verifies the outputs and builds the result.
pub fn execute(engine: Engine, spec: &RunSpec) -> Result<RunResult> {
    let (report, context) = measure(engine, spec)?;
    judge(engine, spec, &report, context)
}

/// Runs `spec` on `engine` without judging its outputs: the report (with what the run cost this
/// process) and where it ran.
pub fn measure(engine: Engine, spec: &RunSpec) -> Result<(RunReport, Context)> {
    let rate = match spec.profile {
        workloads::Profile::Constant { rate } => format!("{rate}"),
        ref p if p.is_max() => "max".to_owned(),
        _ => "varying".to_owned(),
    };
    let _run = tracing::info_span!("run", engine = engine.name(), workload = %spec.job.workload(), rate, workers = spec.cluster.workers, process = spec.cluster.process_id).entered();
    tracing::info!(duration_s = spec.duration_ns as f64 / 1e9, faults = spec.faults.len(), "run started");
    let context = Context::now(spec);
    let observer = Observer::new(spec);
    let status = live_status(&observer, spec.duration_ns);
    let meter = crate::resources::Meter::start();
    let ran = engine.run(spec, &observer);
    let resources = meter.stop();
    if let Some((stop, thread)) = status {
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = thread.join();
    }
    ran?;
    if let Some(e) = observer.journal_errors().first() {
        anyhow::bail!("{e}: the run's outputs could not all be written where a restart finds them");
    }
    let mut report = observer.report();
    report.resources = resources;
    tracing::info!(cpu_seconds = report.resources.cpu_seconds(), "run finished");
    Ok((report, context))
}

type StatusThread = (std::sync::Arc<std::sync::atomic::AtomicBool>, std::thread::JoinHandle<()>);

/// Whether a run shows its live status (`streambench run` turns it on; a series of runs shows
/// its own progress instead).
static LIVE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Shows (or not) each run's live status from now on.
pub fn show_live_status(on: bool) {
    LIVE.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// When turned on: on a terminal, a bar over the run's duration with records/s and the current
/// p99, refreshed four times a second; otherwise a plain line every 10 s.
fn live_status(observer: &Observer, duration_ns: u64) -> Option<StatusThread> {
    use std::sync::atomic::Ordering::Relaxed;
    if !LIVE.load(Relaxed) {
        return None;
    }
    let target = indicatif::ProgressDrawTarget::stderr();
    let plain = target.is_hidden();
    let seconds = (duration_ns / 1_000_000_000).max(1);
    let bar = indicatif::ProgressBar::with_draw_target(Some(seconds), target);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} s  {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (flag, observer) = (std::sync::Arc::clone(&stop), observer.clone());
    let thread = std::thread::spawn(move || {
        let started = std::time::Instant::now();
        let mut printed = 0;
        // The inputs recorded as of the last line, and when: records/s is over the time since.
        let mut last = (started, 0u64);
        while !flag.load(Relaxed) {
            std::thread::sleep(std::time::Duration::from_millis(250));
            let elapsed = started.elapsed().as_secs();
            let due = if plain { elapsed >= printed + 10 } else { last.0.elapsed().as_secs_f64() >= 1.0 };
            let Some((recorded, p99)) = observer.live().filter(|_| due) else { continue };
            let rps = recorded.saturating_sub(last.1) as f64 / last.0.elapsed().as_secs_f64();
            last = (std::time::Instant::now(), recorded);
            let line = format!("{rps:>12.0} records/s  p99 {p99:>9.2} ms");
            if plain {
                printed = elapsed - elapsed % 10;
                eprintln!("{elapsed:>5} s {line}");
            } else {
                bar.set_position(elapsed.min(seconds));
                bar.set_message(line);
            }
        }
        bar.finish_and_clear();
    });
    Some((stop, thread))
}

/// Verifies a (merged) report and builds its result.
pub fn judge(engine: Engine, spec: &RunSpec, report: &RunReport, context: Context) -> Result<RunResult> {
    let started = std::time::Instant::now();
    let verdict = registry::verify(spec, report, engine.running())?;
    let quality = registry::precision_recall(spec, report)?.map(|(precision, recall)| Quality { precision, recall });
    let verification_s = started.elapsed().as_secs_f64();
    tracing::info!(engine = engine.name(), workload = %spec.job.workload(), correct = verdict.correct, verification_s, "verified");
    Ok(RunResult { verification_s, ..summarize(engine.name(), spec, report, &verdict, quality, context) })
}
