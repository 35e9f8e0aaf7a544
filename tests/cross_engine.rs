//! Both engines on one spec, for every workload of the registry (a workload added to it is
//! tested here without a line changed): each run's outputs must equal the oracle of its
//! engine's semantics, exactly, and both engines must have read the same input.
//!
//! - `cross_engine_fixed_rate`: 1, 2 and 4 workers at a fixed rate;
//! - `cross_engine_max_rate`: 2 workers at `max` with a record cap;
//! - `cross_engine_disorder`: 2 workers with event-time disorder.

use workloads::spec::SECOND_NS;
use workloads::verify::Running;
use workloads::{registry, Collect, JobOptions, Observer, Profile, RunReport, RunSpec, Workload};

const MS: u64 = 1_000_000;

/// A fixed rate that gives `workload` outputs to check within a second: a tenth of its quick
/// COST loop's events per second.
fn rate(workload: Workload) -> Profile {
    Profile::Constant { rate: registry::def(workload).sizes().quick_cost as f64 / 10.0 }
}

/// A small spec of `workload`: short windows (500 ms sliding by 100 ms), 100 ms batches.
fn spec(workload: Workload, profile: Profile, workers: usize) -> RunSpec {
    let mut job = workload.default_job();
    job.configure(&JobOptions { window: Some((500 * MS, 100 * MS)), ..JobOptions::default() }).unwrap();
    let mut s = RunSpec::new(job, profile, SECOND_NS);
    s.cluster.workers = workers;
    s.microbatch.batch_interval_ns = 100 * MS;
    s.collect = Collect::Full;
    s
}

fn native(s: &RunSpec) -> RunReport {
    let observer = Observer::new(s);
    native::run(s, &observer).expect("native run");
    observer.report()
}

fn microbatch(s: &RunSpec) -> RunReport {
    let observer = Observer::new(s);
    microbatch::run(s, &observer).expect("micro-batch run");
    observer.report()
}

/// Runs `s` on both engines; each must equal the oracle and both must read the same input.
fn both_equal_the_oracle(s: &RunSpec) {
    let workload = s.job.workload();
    let (n, m) = (native(s), microbatch(s));
    for (engine, report, running) in [("native", &n, Running::EveryUpdate), ("microbatch", &m, Running::Snapshots)] {
        let verdict = registry::verify(s, report, running).unwrap();
        assert!(verdict.correct, "{engine} {workload}: {}", verdict.message);
        assert!(verdict.checked > 0, "{engine} {workload}: no output was checked");
        assert_eq!(report.malformed, 0, "{engine} {workload}");
    }
    assert_eq!(n.partition_ends, m.partition_ends, "{workload}: the engines read different input");
    assert_eq!(n.inputs, m.inputs, "{workload}: the engines counted different inputs");
}

#[test]
fn cross_engine_fixed_rate() {
    for workload in Workload::ALL {
        for workers in [1, 2, 4] {
            both_equal_the_oracle(&spec(workload, rate(workload), workers));
        }
    }
}

#[test]
fn cross_engine_max_rate() {
    for workload in Workload::ALL {
        let mut s = spec(workload, Profile::Max { nominal: 1e6 }, 2);
        s.records = Some(registry::def(workload).sizes().quick_cost);
        both_equal_the_oracle(&s);
    }
}

#[test]
fn cross_engine_disorder() {
    for workload in Workload::ALL {
        let mut s = spec(workload, rate(workload), 2);
        s.disorder_ns = 200 * MS;
        both_equal_the_oracle(&s);
    }
}
