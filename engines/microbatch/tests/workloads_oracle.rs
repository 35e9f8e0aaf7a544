//! The three workloads on the micro-batch engine against the oracle: on 1, 2 and 4 executors at
//! a fixed rate (windows by event time equal windows by arrival when there is no disorder), and
//! at `max` and with disorder, where windows hold what arrived in their batches and are judged
//! by the arrival-time oracle, the difference from the event-time oracle being reported.

use workloads::registry;
use workloads::spec::SECOND_NS;
use workloads::verdict::Verdict;
use workloads::verify::Running;
use workloads::{HashtagSpec, JobSpec, Observer, Profile, RunSpec, SensorSpec, WordCountSpec};

mod support;

const MS: u64 = 1_000_000;

fn check(spec: &RunSpec) -> (workloads::RunReport, Verdict) {
    let observer = Observer::new(spec);
    let one = support::one_context();
    microbatch::run(spec, &observer).expect("micro-batch run");
    drop(one);
    let report = observer.report();
    let verdict = registry::verify(spec, &report, Running::Snapshots).unwrap();
    assert!(verdict.correct, "{} executors: {}", spec.cluster.workers, verdict.message);
    assert!(verdict.checked > 0, "nothing checked");
    (report, verdict)
}

fn spec(job: JobSpec, workers: usize, rate: f64) -> RunSpec {
    let mut s = RunSpec::new(job, Profile::Constant { rate }, 500 * MS);
    s.microbatch.batch_interval_ns = 100 * MS;
    s.cluster.workers = workers;
    s.seed = 3;
    s
}

#[test]
fn wordcount_running_and_per_batch_on_1_2_4_executors() {
    for workers in [1, 2, 4] {
        let (report, _) = check(&spec(JobSpec::Wordcount(WordCountSpec::default()), workers, 20_000.0));
        assert_eq!(report.inputs, 10_000);
        assert_eq!(report.microbatch.batches.len(), 5);
        // Each batch's BatchInfo counts the records it read.
        assert_eq!(report.microbatch.batches.iter().map(|b| b.records).sum::<u64>(), 10_000);
        assert!(report.microbatch.batches.iter().all(|b| b.records > 0));
        let windowed = JobSpec::Wordcount(WordCountSpec { window_ns: Some(100 * MS), ..WordCountSpec::default() });
        check(&spec(windowed, workers, 20_000.0));
    }
}

#[test]
fn hashtags_on_1_2_4_executors() {
    let job = JobSpec::Hashtags(HashtagSpec { window_ns: 300 * MS, slide_ns: 100 * MS, ..HashtagSpec::default() });
    for workers in [1, 2, 4] {
        let (report, verdict) = check(&spec(job.clone(), workers, 20_000.0));
        assert!(report.outputs.hashtags.len() >= 7, "{}", report.outputs.hashtags.len());
        assert!(verdict.message.contains("also equal the event-time oracle"), "{}", verdict.message);
    }
}

#[test]
fn sensors_on_1_2_4_executors() {
    let job = JobSpec::Sensors(SensorSpec { sensors: 100, window: 10, ..SensorSpec::default() });
    for workers in [1, 2, 4] {
        let (report, _) = check(&spec(job.clone(), workers, 20_000.0));
        assert!(!report.outputs.alerts.is_empty());
    }
}

#[test]
fn disorder_is_judged_by_arrival_and_the_event_time_difference_reported() {
    let job = JobSpec::Hashtags(HashtagSpec { window_ns: 200 * MS, slide_ns: 100 * MS, ..HashtagSpec::default() });
    let mut s = spec(job, 2, 20_000.0);
    s.disorder_ns = 80 * MS;
    let (_, verdict) = check(&s);
    assert!(verdict.message.contains("against the event-time oracle: hashtag windows differ"), "{}", verdict.message);
}

#[test]
fn max_rate_is_bounded_by_the_rate_estimator_and_correct_by_arrival() {
    let mut s =
        spec(JobSpec::Wordcount(WordCountSpec { window_ns: Some(100 * MS), ..WordCountSpec::default() }), 2, 1.0);
    s.profile = Profile::Max { nominal: 1e6 };
    s.duration_ns = 600 * MS;
    let (report, _) = check(&s);
    assert!(report.inputs > 0);
    // Every batch that read data says how far: the arrival record covers every partition.
    assert_eq!(report.microbatch.arrivals.len(), s.partitions() as usize);
    let _ = SECOND_NS;
}

#[test]
fn a_lost_executor_is_recomputed_from_lineage_and_nothing_is_lost_or_duplicated() {
    // Executor 1 of 2 (or 2 of 4) loses its memory (cached state, window batches, shuffle
    // blocks) at 250 ms: its partitions are recomputed on the survivors from lineage, re-reading
    // the source offsets, and every output still equals the oracle.
    let jobs = [
        JobSpec::Wordcount(WordCountSpec::default()),
        JobSpec::Hashtags(HashtagSpec { window_ns: 300 * MS, slide_ns: 100 * MS, ..HashtagSpec::default() }),
        JobSpec::Sensors(SensorSpec { sensors: 100, window: 10, ..SensorSpec::default() }),
    ];
    for job in jobs {
        for (workers, victim) in [(2, 1), (4, 2)] {
            let mut s = spec(job.clone(), workers, 20_000.0);
            s.faults = vec![workloads::Fault::KillWorker { worker: victim, at_ns: 250 * MS }];
            check(&s);
        }
    }
}

#[test]
fn a_slow_executor_changes_no_output() {
    let mut s = spec(JobSpec::Wordcount(WordCountSpec::default()), 2, 20_000.0);
    s.faults = vec![workloads::Fault::SlowWorker { worker: 0, at_ns: 100 * MS, for_ns: 200 * MS, factor: 4.0 }];
    let (report, _) = check(&s);
    assert_eq!(report.inputs, 10_000);
}

/// An output whose slide is several batches (a window of 5 batches) computes those batches'
/// ranges when it fires: every one is counted as input, each under its own batch time, at a
/// fixed rate and at `max` (this reported 0 inputs and an incorrect run before).
#[test]
fn windows_of_several_batches_count_every_batch_as_input() {
    let windowed = JobSpec::Wordcount(WordCountSpec { window_ns: Some(500 * MS), ..WordCountSpec::default() });
    let (report, _) = check(&spec(windowed.clone(), 2, 20_000.0));
    assert_eq!(report.inputs, 10_000);
    let mut max = spec(windowed, 2, 1.0);
    max.profile = Profile::Max { nominal: 1e6 };
    max.duration_ns = 3600 * SECOND_NS;
    max.records = Some(50_000);
    let (report, _) = check(&max);
    assert_eq!(report.inputs, 50_000);
}
