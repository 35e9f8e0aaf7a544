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
    let context = Context::now(spec);
    let observer = Observer::new(spec);
    let status = live_status(&observer);
    let meter = crate::resources::Meter::start();
    let ran = engine.run(spec, &observer);
    let resources = meter.stop();
    if let Some((stop, thread)) = status {
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = thread.join();
    }
    ran?;
    let mut report = observer.report();
    report.resources = resources;
    Ok((report, context))
}

type StatusThread = (std::sync::Arc<std::sync::atomic::AtomicBool>, std::thread::JoinHandle<()>);

/// On a terminal, a status line (elapsed, records/s, current p99) refreshed every second;
/// nothing otherwise.
fn live_status(observer: &Observer) -> Option<StatusThread> {
    use std::io::{IsTerminal, Write};
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (flag, observer) = (std::sync::Arc::clone(&stop), observer.clone());
    let thread = std::thread::spawn(move || {
        let started = std::time::Instant::now();
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(std::time::Duration::from_millis(250));
            if let Some((_, rps, p99)) = observer.live() {
                let mut e = std::io::stderr();
                let _ = write!(
                    e,
                    "\r{:>6.1} s  {:>12.0} records/s  p99 {:>9.2} ms ",
                    started.elapsed().as_secs_f64(),
                    rps,
                    p99
                );
                let _ = e.flush();
            }
        }
        let _ = write!(std::io::stderr(), "\r{:60}\r", "");
    });
    Some((stop, thread))
}

/// Verifies a (merged) report and builds its result.
pub fn judge(engine: Engine, spec: &RunSpec, report: &RunReport, context: Context) -> Result<RunResult> {
    let started = std::time::Instant::now();
    let verdict = registry::verify(spec, report, engine.running())?;
    let quality = registry::precision_recall(spec, report)?.map(|(precision, recall)| Quality { precision, recall });
    let verification_s = started.elapsed().as_secs_f64();
    Ok(RunResult { verification_s, ..summarize(engine.name(), spec, report, &verdict, quality, context) })
}
