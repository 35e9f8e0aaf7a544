//! Generator throughput: events per second on one core, per workload (every workload of the
//! registry).
//!
//! Run with `cargo bench -p workloads --bench generators`. Isolates generation (hash, pool look-up,
//! event-time computation) from any job logic: each iteration generates a fixed block of events
//! and folds fields of each into a checksum (the workload's `WorkloadDef::checksum`, one call per
//! block) so nothing is optimised away. The target is at least 10 million events per second per
//! core, so that generation never limits an engine.

#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use workloads::{registry, Profile, RunSpec, Workload};

const EVENTS: u64 = 1 << 20;

fn generators(c: &mut Criterion) {
    let mut group = c.benchmark_group("generate");
    group.throughput(Throughput::Elements(EVENTS));
    for workload in Workload::ALL {
        let mut spec = RunSpec::new(workload.default_job(), Profile::Constant { rate: 1_000_000.0 }, 1);
        spec.partitions = Some(2);
        let checksum = registry::def(workload).checksum(&spec).expect("a generator");
        group.bench_function(BenchmarkId::new(workload.name(), EVENTS), |b| {
            b.iter(|| {
                let sum = checksum(black_box(EVENTS));
                assert!(sum != 0);
                black_box(sum)
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(3));
    targets = generators
}
criterion_main!(benches);
