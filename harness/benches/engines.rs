//! Engines against the COST loop, per workload (every workload of the registry), over a fixed
//! number of events.
//!
//! Run with `cargo bench -p streambench --bench engines` (or `cargo bench` at the workspace root,
//! which also runs the generator bench). Each benchmark processes the same events, generated
//! in-process at `max` rate, and reports elements (input events) per second. Every engine run is
//! verified against the oracle by the harness's own verification (outside the timed part), and
//! every COST loop must produce as many outputs as the verified native run, so a fast wrong
//! answer cannot win.

#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use workloads::spec::SECOND_NS;
use workloads::verify::Running;
use workloads::{registry, Collect, Observer, Profile, RunReport, RunSpec, Workload};

fn spec(workload: Workload, records: u64, workers: usize) -> RunSpec {
    let mut s = RunSpec::new(workload.default_job(), Profile::Max { nominal: 1_000_000.0 }, 3600 * SECOND_NS);
    s.records = Some(records);
    s.cluster.workers = workers;
    // The same events whatever the worker count: a fixed number of partitions.
    s.partitions = Some(2);
    s.collect = Collect::Digest;
    // The micro-batch engine: 100 ms batches, sizes bounded by the rate estimator, stopping
    // once the input is exhausted and the windows have closed.
    s.microbatch.batch_interval_ns = 100_000_000;
    s
}

fn run_native(s: &RunSpec) -> RunReport {
    let observer = Observer::new(s);
    native::run(s, &observer).expect("native run");
    observer.report()
}

fn run_microbatch(s: &RunSpec) -> RunReport {
    let observer = Observer::new(s);
    microbatch::run(s, &observer).expect("micro-batch run");
    observer.report()
}

/// Times `iters` runs of `run`, verifying each against the oracle outside the timed part.
fn timed(iters: u64, s: &RunSpec, running: Running, run: fn(&RunSpec) -> RunReport) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let started = Instant::now();
        let report = run(s);
        total += started.elapsed();
        let verdict = registry::verify(s, &report, running).expect("verification");
        assert!(verdict.correct, "{}: {}", s.job.workload(), verdict.message);
    }
    total
}

fn workload(c: &mut Criterion, workload: Workload) {
    let records = registry::def(workload).sizes().quick_cost;
    let base = spec(workload, records, 1);
    let first = run_native(&base);
    let verdict = registry::verify(&base, &first, Running::EveryUpdate).expect("verification");
    assert!(verdict.correct, "{workload}: {}", verdict.message);
    let expected_outputs = first.outputs.len();
    let mut group = c.benchmark_group(workload.name());
    group.throughput(Throughput::Elements(records));
    let cost = registry::def(workload).cost(&base).expect("cost loop");
    group.bench_function(BenchmarkId::new("cost", 1), |b| b.iter(|| assert_eq!(cost(records), expected_outputs)));
    for workers in [1, 2] {
        let s = spec(workload, records, workers);
        group.bench_function(BenchmarkId::new("native", workers), |b| {
            b.iter_custom(|iters| timed(iters, &s, Running::EveryUpdate, run_native))
        });
    }
    let s = spec(workload, records, 2);
    group.bench_function(BenchmarkId::new("microbatch", 2), |b| {
        b.iter_custom(|iters| timed(iters, &s, Running::Snapshots, run_microbatch))
    });
    group.finish();
}

fn engines(c: &mut Criterion) {
    for w in Workload::ALL {
        workload(c, w);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(8));
    targets = engines
}
criterion_main!(benches);
