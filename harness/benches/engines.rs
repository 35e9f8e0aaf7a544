//! Engines against the COST loop, per workload, over a fixed number of events.
//!
//! Run with `cargo bench -p streambench --bench engines` (or `cargo bench` at the workspace root,
//! which also runs the generator bench). Each benchmark processes the same events, generated
//! in-process at `max` rate, and reports elements (input events) per second. Every timed closure
//! checks its output against the expected result computed once beforehand, so a fast wrong
//! answer cannot win. Micro-batch hashtag windows at `max` hold what arrived in each batch, so
//! they are checked by conservation of tag counts rather than window by window.

#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use workloads::contract::AnyGenerator;
use workloads::output::{Alert, HashtagWindow};
use workloads::spec::SECOND_NS;
use workloads::verify::UpdateDigest;
use workloads::{cost, oracle, Collect, JobSpec, Observer, Profile, RunSpec, Workload};

fn spec(workload: Workload, records: u64, workers: usize) -> RunSpec {
    let mut s = RunSpec::new(JobSpec::default_for(workload), Profile::Max { nominal: 1_000_000.0 }, 3600 * SECOND_NS);
    s.records = Some(records);
    s.cluster.workers = workers;
    // The same events whatever the worker count: a fixed number of partitions.
    s.partitions = Some(2);
    s.collect = Collect::Digest;
    s
}

fn run_native(s: &RunSpec) -> workloads::RunReport {
    let observer = Observer::new(s);
    native::run(s, &observer).expect("native run");
    observer.report()
}

/// The micro-batch engine on the same events: 100 ms batches, sizes bounded by the rate
/// estimator, stopping once the input is exhausted and the windows have closed.
fn run_microbatch(s: &RunSpec) -> workloads::RunReport {
    let mut s = s.clone();
    s.batch_interval_ns = 100_000_000;
    let observer = Observer::new(&s);
    microbatch::run(&s, &observer).expect("micro-batch run");
    observer.report()
}

fn final_totals(outputs: &[workloads::output::WordTotal]) -> std::collections::BTreeMap<String, u64> {
    let mut m = std::collections::BTreeMap::new();
    for o in outputs {
        let e = m.entry(o.word.clone()).or_insert(0);
        *e = (*e).max(o.count);
    }
    m
}

fn sorted_windows(mut w: Vec<HashtagWindow>) -> Vec<HashtagWindow> {
    w.sort();
    w
}

fn sorted_alerts(mut a: Vec<Alert>) -> Vec<Alert> {
    a.sort();
    a
}

fn wordcount(c: &mut Criterion) {
    let records = 300_000;
    let base = spec(Workload::Wordcount, records, 1);
    let AnyGenerator::Lines(g) = base.generator().unwrap() else { unreachable!() };
    let totals = oracle::word_totals((0..records).map(|k| g.event((k % 2) as u32, k / 2)));
    let expected = UpdateDigest::expected(&totals);
    let mut group = c.benchmark_group("wordcount");
    group.throughput(Throughput::Elements(records));
    group
        .bench_function(BenchmarkId::new("cost", 1), |b| b.iter(|| assert_eq!(cost::wordcount(&g, records), expected)));
    for workers in [1, 2] {
        let s = spec(Workload::Wordcount, records, workers);
        group.bench_function(BenchmarkId::new("native", workers), |b| {
            b.iter(|| assert_eq!(run_native(&s).outputs.digest, expected))
        });
    }
    let s = spec(Workload::Wordcount, records, 2);
    group.bench_function(BenchmarkId::new("microbatch", 2), |b| {
        b.iter(|| assert_eq!(final_totals(&run_microbatch(&s).outputs.word_totals), totals))
    });
    group.finish();
}

fn hashtags(c: &mut Criterion) {
    let records = 2_000_000;
    let base = spec(Workload::Hashtags, records, 1);
    let JobSpec::Hashtags(hs) = &base.job else { unreachable!() };
    let AnyGenerator::Tweets(g) = base.generator().unwrap() else { unreachable!() };
    let expected = sorted_windows(oracle::hashtag_windows((0..records).map(|k| g.event((k % 2) as u32, k / 2)), hs));
    let mut group = c.benchmark_group("hashtags");
    group.throughput(Throughput::Elements(records));
    group.bench_function(BenchmarkId::new("cost", 1), |b| {
        b.iter(|| assert_eq!(sorted_windows(cost::hashtags_job(&g, hs, records)), expected))
    });
    for workers in [1, 2] {
        let s = spec(Workload::Hashtags, records, workers);
        group.bench_function(BenchmarkId::new("native", workers), |b| {
            b.iter(|| assert_eq!(sorted_windows(run_native(&s).outputs.hashtags), expected))
        });
    }
    // Micro-batch windows hold what arrived in each batch, so they are checked by conservation:
    // every tag read is counted in window / slide windows, none lost or duplicated.
    let tag_counts: u64 = expected.iter().map(|w| w.total).sum();
    let s = spec(Workload::Hashtags, records, 2);
    group.bench_function(BenchmarkId::new("microbatch", 2), |b| {
        b.iter(|| assert_eq!(run_microbatch(&s).outputs.hashtags.iter().map(|w| w.total).sum::<u64>(), tag_counts))
    });
    group.finish();
}

fn sensors(c: &mut Criterion) {
    let records = 4_000_000;
    let base = spec(Workload::Sensors, records, 1);
    let JobSpec::Sensors(ss) = &base.job else { unreachable!() };
    let AnyGenerator::Sensors(g) = base.generator().unwrap() else { unreachable!() };
    let expected = sorted_alerts(oracle::sensor_alerts((0..records).map(|k| g.event((k % 2) as u32, k / 2)), ss));
    let mut group = c.benchmark_group("sensors");
    group.throughput(Throughput::Elements(records));
    group.bench_function(BenchmarkId::new("cost", 1), |b| {
        b.iter(|| assert_eq!(sorted_alerts(cost::sensors(&g, ss, records)), expected))
    });
    for workers in [1, 2] {
        let s = spec(Workload::Sensors, records, workers);
        group.bench_function(BenchmarkId::new("native", workers), |b| {
            b.iter(|| assert_eq!(sorted_alerts(run_native(&s).outputs.alerts), expected))
        });
    }
    let s = spec(Workload::Sensors, records, 2);
    group.bench_function(BenchmarkId::new("microbatch", 2), |b| {
        b.iter(|| assert_eq!(sorted_alerts(run_microbatch(&s).outputs.alerts), expected))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(8));
    targets = wordcount, hashtags, sensors
}
criterion_main!(benches);
