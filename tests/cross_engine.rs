//! Both engines on one spec, for every workload of the registry (a workload added to it is
//! tested here without a line changed): each run's outputs must equal the oracle of its
//! engine's semantics, exactly, and both engines must have read the same input.
//!
//! - `cross_engine_fixed_rate`: 1, 2 and 4 workers at a fixed rate;
//! - `cross_engine_max_rate`: 2 workers at `max` with a record cap;
//! - `cross_engine_disorder`: 2 workers with event-time disorder;
//! - `a_kill_takes_effect_at_its_time_in_both_engines`: the same fault, at the same time.
//!
//! Every run is also measured the same way: one input-latency sample per input (but those in
//! flight at the end), so both engines have the same number at a fixed rate.

use workloads::spec::SECOND_NS;
use workloads::verdict::{Semantics, Verdict};
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

/// One `StreamingContext` is active per process (Spark's rule): `cargo test` runs this file's
/// tests as threads of one process, so their micro-batch runs take turns.
static ONE_CONTEXT: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn microbatch(s: &RunSpec) -> RunReport {
    let observer = Observer::new(s);
    let _one = ONE_CONTEXT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    microbatch::run(s, &observer).expect("micro-batch run");
    observer.report()
}

/// Runs `s` on both engines; each must equal the oracle and both must read the same input and
/// record one input-latency sample per input. Returns both verdicts (native, micro-batch).
fn both_equal_the_oracle(s: &RunSpec) -> [Verdict; 2] {
    let workload = s.job.workload();
    let (n, m) = (native(s), microbatch(s));
    let verdicts = [("native", &n, Running::EveryUpdate), ("microbatch", &m, Running::Snapshots)].map(
        |(engine, report, running)| {
            let verdict = registry::verify(s, report, running).unwrap();
            assert!(verdict.correct, "{engine} {workload}: {}", verdict.message);
            assert!(verdict.checked > 0, "{engine} {workload}: no output was checked");
            assert_eq!(report.malformed, 0, "{engine} {workload}");
            assert_eq!(
                report.input_latency_us.len() + report.inputs_in_flight,
                report.inputs,
                "{engine} {workload}: every input is one input-latency sample or in flight at the end"
            );
            assert!(!report.output_latency_us.is_empty(), "{engine} {workload}: no output latency");
            verdict
        },
    );
    assert_eq!(n.partition_ends, m.partition_ends, "{workload}: the engines read different input");
    assert_eq!(n.inputs, m.inputs, "{workload}: the engines counted different inputs");
    let (a, b) = (n.input_latency_us.len(), m.input_latency_us.len());
    assert!(
        a.abs_diff(b) <= n.inputs_in_flight + m.inputs_in_flight,
        "{workload}: {a} native and {b} micro-batch input samples"
    );
    verdicts
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
        let [native, microbatch] = both_equal_the_oracle(&s);
        assert_eq!(native.semantics, Semantics::EventTime, "{workload}");
        if s.job.slide_ns().is_some() {
            // Native windows close on event time; micro-batch windows hold what arrived in their
            // batches, which disorder makes differ from event time.
            let (n, m) = (native.event_time_accuracy.unwrap(), microbatch.event_time_accuracy.unwrap());
            assert_eq!(n.equal_share, 1.0, "{workload}: {n:?}");
            assert_eq!(microbatch.semantics, Semantics::ArrivalTime, "{workload}");
            assert!(m.equal_share < 1.0 && m.mean_relative_error > 0.0, "{workload}: {m:?}");
        }
    }
}

#[test]
fn a_kill_takes_effect_at_its_time_in_both_engines() {
    // Word count at a fixed rate on 2 workers, worker 1 killed at 430 ms (mid-batch for 100 ms
    // batches): both engines apply it within 10 ms of its time and still equal the oracle.
    let at_ns = 430 * MS;
    let mut s = spec(Workload::Wordcount, rate(Workload::Wordcount), 2);
    s.faults = vec![workloads::Fault::KillWorker { worker: 1, at_ns }];
    for (engine, report, running) in
        [("native", native(&s), Running::EveryUpdate), ("microbatch", microbatch(&s), Running::Snapshots)]
    {
        let verdict = registry::verify(&s, &report, running).unwrap();
        assert!(verdict.correct, "{engine}: {}", verdict.message);
        let effective = report.faults_applied.get(&0).copied().unwrap_or_else(|| panic!("{engine}: not applied"));
        assert!((at_ns..at_ns + 10 * MS).contains(&effective), "{engine}: took effect at {} ms", effective / MS);
    }
}

#[test]
fn micro_batch_running_counts_are_checked_batch_by_batch() {
    // A snapshot of a middle batch that is off by one is caught, though the final totals are right.
    let s = spec(Workload::Wordcount, rate(Workload::Wordcount), 2);
    let mut report = microbatch(&s);
    assert!(registry::verify(&s, &report, Running::Snapshots).unwrap().correct);
    let batches: Vec<u64> = report.outputs.snapshots.keys().copied().collect();
    assert!(batches.len() > 3, "{batches:?}");
    let middle = batches[batches.len() / 2];
    report.outputs.snapshots.get_mut(&middle).unwrap()[0].count += 1;
    let verdict = registry::verify(&s, &report, Running::Snapshots).unwrap();
    assert!(!verdict.correct && verdict.message.contains(&format!("batch {} ms", middle / MS)), "{}", verdict.message);
}

#[test]
fn micro_batch_running_counts_kept_as_digests_are_checked_batch_by_batch() {
    // Without `Collect::Full` a batch's snapshot is kept as its digest alone; a middle batch
    // whose digest is off is caught all the same.
    let mut s = spec(Workload::Wordcount, rate(Workload::Wordcount), 2);
    s.collect = Collect::Digest;
    let mut report = microbatch(&s);
    assert!(report.outputs.snapshots.is_empty(), "no rows kept");
    let verdict = registry::verify(&s, &report, Running::Snapshots).unwrap();
    assert!(verdict.correct, "{}", verdict.message);
    let batches: Vec<u64> = report.outputs.snapshot_digests.keys().copied().collect();
    assert!(batches.len() > 3, "{batches:?}");
    let middle = batches[batches.len() / 2];
    report.outputs.snapshot_digests.get_mut(&middle).unwrap().sum ^= 1;
    let verdict = registry::verify(&s, &report, Running::Snapshots).unwrap();
    assert!(!verdict.correct && verdict.message.contains(&format!("batch {} ms", middle / MS)), "{}", verdict.message);
}
