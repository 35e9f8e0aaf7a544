//! Generator throughput: events per second on one core, per workload.
//!
//! Run with `cargo bench -p workloads --bench generators`. Isolates generation (hash, pool look-up,
//! event-time computation) from any job logic: each iteration generates a fixed block of events
//! and folds a field of each into a checksum so nothing is optimised away. The target is at least
//! 10 million events per second per core, so that generation never limits an engine.

#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use workloads::hashtags::TweetGenerator;
use workloads::sensors::SensorGenerator;
use workloads::wordcount::LineGenerator;
use workloads::{HashtagSpec, Profile, Schedule, SensorSpec, WordCountSpec};

const EVENTS: u64 = 1 << 20;

fn schedule() -> Schedule {
    Schedule::new(Profile::Constant { rate: 1_000_000.0 }, 2, 0, 1).unwrap()
}

fn generators(c: &mut Criterion) {
    let mut group = c.benchmark_group("generate");
    group.throughput(Throughput::Elements(EVENTS));
    let lines = LineGenerator::new(&WordCountSpec::default(), schedule(), 1).unwrap();
    group.bench_function(BenchmarkId::new("wordcount", EVENTS), |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for i in 0..EVENTS {
                let e = lines.event((i & 1) as u32, i >> 1);
                sum = sum.wrapping_add(e.event_time ^ e.text.len() as u64);
            }
            assert!(sum != 0);
            black_box(sum)
        })
    });
    let tweets = TweetGenerator::new(&HashtagSpec::default(), schedule(), 1);
    group.bench_function(BenchmarkId::new("hashtags", EVENTS), |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for i in 0..EVENTS {
                let e = tweets.event((i & 1) as u32, i >> 1);
                sum = sum.wrapping_add(e.event_time ^ e.text.len() as u64 ^ e.user as u64);
            }
            assert!(sum != 0);
            black_box(sum)
        })
    });
    let sensors = SensorGenerator::new(&SensorSpec::default(), schedule(), 1);
    group.bench_function(BenchmarkId::new("sensors", EVENTS), |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for i in 0..EVENTS {
                let e = sensors.event((i & 1) as u32, i >> 1);
                sum = sum.wrapping_add(e.event_time ^ e.milli as u64 ^ e.seq);
            }
            assert!(sum != 0);
            black_box(sum)
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(3));
    targets = generators
}
criterion_main!(benches);
