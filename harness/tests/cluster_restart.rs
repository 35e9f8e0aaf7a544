//! `kill-process` in a cluster of two processes: the supervisor (`streambench cluster`) SIGKILLs
//! the process at the fault's time and restarts the whole cluster; the micro-batch driver resumes
//! from its metadata checkpoint, the native workers from their last committed snapshot. The
//! result spans both generations and equals the oracle: nothing lost, nothing counted twice.

mod support;

use support::*;

/// Runs wordcount (a running count: every update checked) on 2 processes with `fault`, and
/// returns the result.
fn killed(engine: &str, fault: &str, dir: &std::path::Path) -> serde_json::Value {
    resized(engine, fault, 2, 2, dir)
}

/// As [`killed`], on `before` processes, restarted on `after`.
fn resized(engine: &str, fault: &str, before: u32, after: u32, dir: &std::path::Path) -> serde_json::Value {
    let out = dir.join(format!("{engine}-{}-{before}-{after}.json", fault.replace([':', '@'], "-")));
    let (before, after) = (before.to_string(), after.to_string());
    let o = streambench(&[
        "cluster",
        "--processes",
        &before,
        "--restart-processes",
        &after,
        "--",
        "--engine",
        engine,
        "--workload",
        "wordcount",
        "--rate",
        "50k",
        "--duration",
        "6s",
        "--warmup",
        "1s",
        "--batch-interval",
        "200ms",
        "--checkpoint-interval",
        "1s",
        "--fault",
        fault,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{engine} {fault}: {}", stderr(&o));
    json(&out)
}

fn assert_restarted_exactly(r: &serde_json::Value, what: &str) {
    assert_eq!(r["correct"], true, "{what}: {}", r["verification"]);
    assert_eq!(r["input_records"].as_u64().unwrap() / 1000, 300, "{what}: 6 s at 50k, read once (give or take a few)");
    let d = &r["delivery"];
    assert_eq!(d["generations"], 2, "{what}: {d}");
    assert_eq!(d["torn_frames"].as_u64().unwrap() + d["replayed_mismatches"].as_u64().unwrap(), 0, "{what}: {d}");
    let recovery = &r["recovery"][0];
    let effective = recovery["effective_at_s"].as_f64().unwrap();
    assert!((3.0..3.1).contains(&effective), "{what}: the kill at 3 s took effect at {effective}");
    assert_eq!(recovery["exact"], true, "{what}: {recovery}");
    let first = recovery["first_output_after_s"].as_f64().unwrap();
    assert!(first > 0.0 && first < 10.0, "{what}: outputs again {first} s after the kill");
    // One timeline across the generations: outputs before the kill and after it.
    let timeline = r["timeline"].as_array().unwrap();
    let outputs_in = |from: f64, to: f64| {
        timeline
            .iter()
            .filter(|p| (from..to).contains(&p["t_s"].as_f64().unwrap()))
            .map(|p| p["outputs"].as_u64().unwrap())
            .sum::<u64>()
    };
    assert!(outputs_in(1.0, 3.0) > 0 && outputs_in(4.0, 6.5) > 0, "{what}: {timeline:?}");
}

#[test]
fn a_killed_process_of_the_micro_batch_engine_is_restarted_from_the_metadata_checkpoint() {
    let dir = scratch("restart-microbatch");
    // The executors' process, then the driver's.
    for fault in ["kill-process:1@3s", "kill-process:0@3s"] {
        let r = killed("microbatch", fault, &dir);
        assert_restarted_exactly(&r, fault);
        let d = &r["delivery"];
        assert_eq!(d["guarantee"], "at-least-once");
        // The batches after the last metadata checkpoint ran again: their outputs came twice,
        // and were the same.
        assert!(d["replayed_outputs"].as_u64().unwrap() > 0, "{fault}: {d}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_killed_process_of_the_native_engine_is_restarted_from_its_last_snapshot() {
    let dir = scratch("restart-native");
    let r = killed("native", "kill-process:1@3s", &dir);
    assert_restarted_exactly(&r, "native");
    let d = &r["delivery"];
    assert_eq!(d["guarantee"], "exactly-once");
    assert_eq!(d["replayed_outputs"], 0, "{d}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_micro_batch_engine_resumes_its_checkpoint_at_another_parallelism() {
    let dir = scratch("restart-resized");
    // Two processes' checkpoint resumed on one, and one's on two.
    for (before, after, fault) in [(2, 1, "kill-process:1@3s"), (1, 2, "kill-process:0@3s")] {
        let r = resized("microbatch", fault, before, after, &dir);
        assert_restarted_exactly(&r, &format!("{before} -> {after} processes"));
        assert_eq!(r["config"]["cluster"]["processes"], after);
        assert_eq!(r["config"]["partitions"], before, "the input keeps its partitions");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn kill_process_is_refused_where_a_restart_could_not_resume() {
    let on_two =
        |engine: &'static str| ["cluster", "--processes", "2", "--", "--engine", engine, "--workload", "wordcount"];
    let resized = ["cluster", "--processes", "2", "--restart-processes", "1", "--", "--engine", "native"];
    refused(
        &[&resized[..], &["--workload", "wordcount", "--fault", "kill-process:1@1s"]].concat(),
        "the native engine resumes on as many workers",
    );
    refused(
        &[&on_two("native")[..], &["--fault", "kill-process:1@1s", "--fault", "kill-worker:0@2s"]].concat(),
        "kill-process and kill-worker in one run",
    );
    refused(&[&on_two("microbatch")[..], &["--fault", "kill-process:2@1s"]].concat(), "process 2");
}
