//! The native engine against the oracle: each workload on 1, 2 and 4 workers, with and without
//! disorder, at a fixed rate and at `max`. Outputs must equal the oracle exactly.

mod support;
use support::check;

use workloads::spec::SECOND_NS;
use workloads::{Collect, HashtagSpec, JobSpec, Observer, Profile, RunSpec, SensorSpec, WordCountSpec};

fn spec(job: JobSpec, workers: usize, records: u64) -> RunSpec {
    let mut s = RunSpec::new(job, Profile::Max { nominal: 200_000.0 }, 60 * SECOND_NS);
    s.records = Some(records);
    s.cluster.workers = workers;
    s.seed = 42;
    s
}

#[test]
fn wordcount_running_on_1_2_4_workers() {
    for workers in [1, 2, 4] {
        let report = check(&spec(JobSpec::Wordcount(WordCountSpec::default()), workers, 20_000));
        assert_eq!(report.inputs, 20_000);
        assert_eq!(report.outputs.word_totals.len(), 200_000);
    }
}

#[test]
fn wordcount_running_by_digest() {
    let mut s = spec(JobSpec::Wordcount(WordCountSpec::default()), 2, 50_000);
    s.collect = Collect::Digest;
    let report = check(&s);
    assert!(report.outputs.word_totals.is_empty());
    assert_eq!(report.outputs.digest.updates, 500_000);
}

#[test]
fn wordcount_windowed_on_1_2_4_workers_with_disorder() {
    for workers in [1, 2, 4] {
        let job = JobSpec::Wordcount(WordCountSpec { window_ns: Some(SECOND_NS / 10), ..WordCountSpec::default() });
        let mut s = spec(job, workers, 20_000);
        s.disorder_ns = 30_000_000;
        let report = check(&s);
        assert!(report.outputs.windowed.len() > 1000);
    }
}

#[test]
fn hashtags_on_1_2_4_workers() {
    let job =
        JobSpec::Hashtags(HashtagSpec { window_ns: SECOND_NS / 5, slide_ns: SECOND_NS / 20, ..HashtagSpec::default() });
    for workers in [1, 2, 4] {
        let report = check(&spec(job.clone(), workers, 60_000));
        // 60,000 tweets at 200,000/s nominal: 0.3 s of event time, a window every 50 ms.
        assert!(report.outputs.hashtags.len() >= 9, "{} windows", report.outputs.hashtags.len());
    }
}

#[test]
fn hashtags_with_disorder_equal_the_event_time_oracle() {
    let job =
        JobSpec::Hashtags(HashtagSpec { window_ns: SECOND_NS / 5, slide_ns: SECOND_NS / 20, ..HashtagSpec::default() });
    for workers in [1, 3] {
        let mut s = spec(job.clone(), workers, 60_000);
        s.disorder_ns = 80_000_000;
        check(&s);
    }
}

#[test]
fn sensors_on_1_2_4_workers() {
    let job = JobSpec::Sensors(SensorSpec { sensors: 200, window: 20, ..SensorSpec::default() });
    for workers in [1, 2, 4] {
        let report = check(&spec(job.clone(), workers, 100_000));
        assert!(report.outputs.alerts.len() > 10);
    }
}

#[test]
fn fixed_rate_runs_are_open_loop_and_measured_from_schedule() {
    // 20,000 lines/s for 0.5 s on 2 workers: every due event is read, latencies are recorded.
    let mut s =
        RunSpec::new(JobSpec::Wordcount(WordCountSpec::default()), Profile::Constant { rate: 20_000.0 }, SECOND_NS / 2);
    s.cluster.workers = 2;
    let report = check(&s);
    assert_eq!(report.inputs, 10_000);
    // One output-latency sample per update (100,000 words), one input-latency sample per line.
    assert_eq!(report.output_latency_us.len(), 100_000);
    assert_eq!(report.input_latency_us.len(), 10_000);
    assert_eq!(report.inputs_in_flight, 0);
    assert!(report.finished_ns >= SECOND_NS / 2 - SECOND_NS / 50, "a fixed-rate run lasts its duration");
}

#[test]
fn faults_it_cannot_inject_are_refused_before_the_run() {
    let mut s = spec(JobSpec::Wordcount(WordCountSpec::default()), 1, 10);
    s.faults.push(workloads::Fault::KillProcess { process: 0, at_ns: 0 });
    let err = native::run(&s, &Observer::new(&s)).unwrap_err().to_string();
    assert!(err.contains("kill-process") && err.contains("use kill-worker"), "{err}");
    let mut s = spec(JobSpec::Wordcount(WordCountSpec::default()), 1, 10);
    s.faults.push(workloads::Fault::KillWorker { worker: 0, at_ns: 0 });
    s.source = workloads::Source::Socket("127.0.0.1:9".into());
    let err = native::run(&s, &Observer::new(&s)).unwrap_err().to_string();
    assert!(err.contains("socket source") && err.contains("use the generator"), "{err}");
}
