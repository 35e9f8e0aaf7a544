//! The report's sections beyond the main runs of `compare`: the micro-batch engine's latency
//! against its batch interval (the native engine's common-rate run is its line), event-time
//! accuracy against disorder for both engines, and scaling with workers (1, 2) and processes
//! (2 x 1, on loopback, through `streambench cluster`).

use workloads::{Profile, RunSpec, Workload};

use crate::commands::cluster::{cluster, ClusterArgs};
use crate::commands::compare::{Comparison, Cost};
use crate::engine::Engine;
use crate::run_kind::RunKind;

const MS: u64 = 1_000_000;

impl Comparison<'_> {
    /// The section runs of `workload` (word count: batch intervals and scaling; hashtags:
    /// disorder) on `engines`, fixed-rate ones at `common` records/s.
    pub(crate) fn sections(&mut self, workload: Workload, engines: &[Engine], common: f64, cost: &Cost) {
        let at = Profile::Constant { rate: common };
        match workload {
            Workload::Wordcount => {
                if engines.contains(&Engine::Microbatch) {
                    for &b in self.plan.batch_intervals {
                        let mut spec = self.spec(workload, at.clone());
                        spec.microbatch.batch_interval_ns = b;
                        self.one(Engine::Microbatch, workload, cost, RunKind::BatchInterval, spec, &ms(b));
                    }
                }
                let max = Profile::Max { nominal: workloads::schedule::DEFAULT_NOMINAL_RATE };
                for &engine in engines {
                    let mut spec = self.spec(workload, max.clone());
                    spec.cluster.workers = 1;
                    self.one(engine, workload, cost, RunKind::Scaling, spec.clone(), "1x1");
                    if self.workers >= 2 {
                        spec.records = self.plan.max_records(workload);
                        self.processes(engine, workload, &spec, 2);
                    }
                }
            }
            Workload::Hashtags => {
                for &d in self.plan.disorders {
                    for &engine in engines {
                        let mut spec = self.spec(workload, at.clone());
                        spec.disorder_ns = d;
                        self.one(engine, workload, cost, RunKind::Disorder, spec, &ms(d));
                    }
                }
            }
            _ => {}
        }
    }

    /// `spec` (one worker per process) on `processes` processes of `engine` on loopback.
    fn processes(&mut self, engine: Engine, workload: Workload, spec: &RunSpec, processes: u64) {
        let variant = format!("{processes}x1");
        let mut run = run_options(engine, spec);
        // The merged result goes to the run's file (`record` writes it again, with the rest).
        let file =
            self.args.out.join(crate::commands::compare::file_name(engine, workload, RunKind::Scaling, &variant));
        run.extend(["--out".to_owned(), file.display().to_string()]);
        let args = ClusterArgs { processes, timeout: 600 * 1_000 * MS, run };
        let name = format!("{} {workload} scaling {variant}", engine.name());
        self.progress.start(&name, crate::progress::planned_seconds(spec.duration_ns));
        let judged = cluster(&args).map(|r| (r, None));
        self.record(engine, workload, RunKind::Scaling, &variant, judged);
    }
}

fn ms(ns: u64) -> String {
    format!("{}ms", ns / MS)
}

/// The `streambench run` options of `spec` on `engine` (the options a comparison sets).
fn run_options(engine: Engine, spec: &RunSpec) -> Vec<String> {
    let rate = match spec.profile {
        Profile::Constant { rate } => format!("{rate}"),
        _ => "max".to_owned(),
    };
    let mut out: Vec<String> = [
        "--engine",
        engine.name(),
        "--workload",
        spec.job.workload().name(),
        "--rate",
        &rate,
        "--duration",
        &ms(spec.duration_ns),
        "--warmup",
        &ms(spec.warmup_ns),
        "--workers",
        &spec.cluster.workers.to_string(),
        "--seed",
        &spec.seed.to_string(),
        "--batch-interval",
        &ms(spec.microbatch.batch_interval_ns),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let [(_, w), (_, s)] = spec.job.windows()[..] {
        out.extend(["--window".into(), ms(w), "--slide".into(), ms(s)]);
    }
    if let Some(r) = spec.records {
        out.extend(["--records".into(), r.to_string()]);
    }
    out
}
