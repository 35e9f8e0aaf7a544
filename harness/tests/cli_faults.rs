//! Fault injection and rate profiles through `streambench run`: the result records each
//! fault's recovery on both engines, the outputs still equal the oracle, a fault that cannot be
//! injected is refused with the fix named, and step and burst rates reach both engines.

mod support;
use support::*;

#[test]
fn a_killed_executor_is_recovered_and_its_recovery_recorded() {
    let dir = scratch("fault-kill");
    let out = dir.join("run.json");
    let o = streambench(&[
        "run",
        "--engine",
        "microbatch",
        "--workload",
        "wordcount",
        "--rate",
        "50k",
        "--duration",
        "2s",
        "--warmup",
        "500ms",
        "--workers",
        "2",
        "--batch-interval",
        "100ms",
        "--checkpoint-interval",
        "500ms",
        "--fault",
        "kill-worker:1@1s",
        "--fault",
        "slow-worker:0@1500ms+200ms*3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = json(&out);
    assert_eq!(r["correct"], true, "{}", r["verification"]);
    let recovery = r["recovery"].as_array().expect("one entry per fault");
    assert_eq!(recovery.len(), 2);
    assert_eq!(recovery[0]["fault"], "kill-worker:1@1000ms");
    assert_eq!(recovery[1]["fault"], "slow-worker:0@1500ms+200ms*3");
    for f in recovery {
        assert_eq!(f["exact"], true);
        assert!(f["band_p99_ms"].as_f64().unwrap() > 0.0, "{f}");
        assert!(f["first_output_after_s"].as_f64().unwrap() < 0.5, "{f}");
        assert!(f["peak_p99_ms"].as_f64().unwrap() > 0.0, "{f}");
    }
}

#[test]
fn faults_that_cannot_be_injected_are_refused_before_the_run() {
    // A process alone cannot restart a cluster: `streambench cluster` applies kill-process.
    for engine in ["microbatch", "native"] {
        let run = ["run", "--engine", engine, "--workload", "wordcount", "--fault", "kill-process:0@1s"];
        refused(&run, "kill-process is applied by `streambench cluster`");
    }
    let o = streambench(&[
        "run",
        "--engine",
        "microbatch",
        "--workload",
        "wordcount",
        "--workers",
        "2",
        "--fault",
        "kill-worker:2@1s",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("fault names worker 2, but the run has only 2: give 0..1"), "{}", stderr(&o));
}

#[test]
fn a_killed_native_worker_is_restored_from_a_snapshot_and_its_recovery_recorded() {
    let dir = scratch("native-fault-kill");
    for workload in ["wordcount", "hashtags", "sensors"] {
        let out = dir.join(format!("{workload}.json"));
        let o = streambench(&[
            "run",
            "--engine",
            "native",
            "--workload",
            workload,
            "--rate",
            "20k",
            "--duration",
            "2s",
            "--warmup",
            "500ms",
            "--workers",
            "2",
            "--checkpoint-interval",
            "200ms",
            "--fault",
            "kill-worker:1@1100ms",
            "--fault",
            "slow-worker:0@1500ms+200ms*3",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{workload}: {}", stderr(&o));
        let r = json(&out);
        assert_eq!(r["correct"], true, "{workload}: {}", r["verification"]);
        assert_eq!(r["input_records"], 40_000, "{workload}: replayed records are not inputs twice");
        let recovery = r["recovery"].as_array().expect("one entry per fault");
        assert_eq!(recovery.len(), 2);
        let kill = &recovery[0];
        assert_eq!(kill["fault"], "kill-worker:1@1100ms");
        assert_eq!(kill["exact"], true);
        if workload == "wordcount" {
            // Every line has outputs (the others' windows and alerts are sparse in 2 s).
            assert!(kill["first_output_after_s"].as_f64().unwrap() < 0.2, "{kill}");
            assert!(kill["restore"]["rewritten_outputs"].as_u64().unwrap() > 0, "{kill}");
        }
        // Snapshots every 200 ms of event time: the last committed one before 1.1 s.
        let restore = &kill["restore"];
        let epoch = restore["snapshot_epoch_s"].as_f64().expect("a snapshot was restored");
        assert!((0.6..=1.1).contains(&epoch), "{workload}: {restore}");
        assert!(restore["replayed_records"].as_u64().unwrap() > 0, "{workload}: {restore}");
        assert!(restore["restore_ms"].as_f64().unwrap() > 0.0, "{workload}: {restore}");
        assert!(recovery[1]["restore"].is_null(), "a slow worker restores nothing");
        // Epochs 0.2 s to 1.8 s: those before the restored one and those after it, all counted
        // (a restore once dropped the count of those taken before it).
        assert!(r["verification_s"].as_f64().unwrap() > 0.0, "the verification's time is recorded");
        let taken = r["checkpoints"]["taken"].as_u64().unwrap();
        assert!(taken >= 8, "{workload}: {}", r["checkpoints"]);
    }
}

#[test]
fn step_and_burst_rates_reach_both_engines() {
    let dir = scratch("rates");
    for engine in ["native", "microbatch"] {
        for (rate, expected) in [("steps:20k@0s,60k@500ms", 40_000), ("bursts:10k,90k,500ms,100ms", 26_000)] {
            let out = dir.join(format!("{engine}.json"));
            let o = streambench(&[
                "run",
                "--engine",
                engine,
                "--workload",
                "wordcount",
                "--rate",
                rate,
                "--duration",
                "1s",
                "--warmup",
                "0",
                "--batch-interval",
                "100ms",
                "--out",
                out.to_str().unwrap(),
            ]);
            assert!(o.status.success(), "{engine} {rate}: {}", stderr(&o));
            let r = json(&out);
            assert_eq!(r["correct"], true, "{engine} {rate}: {}", r["verification"]);
            assert_eq!(r["input_records"], expected, "{engine} {rate}");
        }
    }
}
