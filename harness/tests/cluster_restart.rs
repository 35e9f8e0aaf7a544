//! `kill-process` in a cluster of two processes: the supervisor (`streambench cluster`) SIGKILLs
//! the process at the fault's time and restarts the whole cluster; the micro-batch driver resumes
//! from its metadata checkpoint, the native workers from their last committed snapshot. The
//! result spans both generations and equals the oracle: nothing lost, nothing counted twice.
//! On a socket source the micro-batch receivers' write-ahead log (`--receiver-wal`) and a
//! resumable feed make the same hold: a restarted driver loses no received line.

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
    let run = ["--engine", engine, "--workload", "wordcount", "--rate", "50k", "--duration", "6s", "--warmup", "1s"];
    let settings = ["--batch-interval", "200ms", "--checkpoint-interval", "1s", "--fault", fault];
    let cluster = ["--processes", before.as_str(), "--restart-processes", after.as_str()];
    cluster_run(&cluster, &[&run[..], &settings].concat(), &out, &format!("{engine} {fault}"))
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
    // One timeline across the generations: outputs before the kill and after it (until the
    // run's end: a restart slowed by a loaded machine catches up after the nominal 6 s).
    let timeline = r["timeline"].as_array().unwrap();
    let outputs_in = |from: f64, to: f64| {
        timeline
            .iter()
            .filter(|p| (from..to).contains(&p["t_s"].as_f64().unwrap()))
            .map(|p| p["outputs"].as_u64().unwrap())
            .sum::<u64>()
    };
    assert!(outputs_in(1.0, 3.0) > 0 && outputs_in(4.0, f64::INFINITY) > 0, "{what}: {timeline:?}");
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

/// A checkpoint of two processes resumed on one, and one's on two, by `engine`.
fn resumes_at_another_parallelism(engine: &str) {
    let dir = scratch(&format!("restart-resized-{engine}"));
    for (before, after, fault) in [(2, 1, "kill-process:1@3s"), (1, 2, "kill-process:0@3s")] {
        let r = resized(engine, fault, before, after, &dir);
        assert_restarted_exactly(&r, &format!("{engine}: {before} -> {after} processes"));
        assert_eq!(r["config"]["cluster"]["processes"], after);
        assert_eq!(r["config"]["partitions"], before, "the input keeps its partitions");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_micro_batch_engine_resumes_its_checkpoint_at_another_parallelism() {
    resumes_at_another_parallelism("microbatch");
}

#[test]
fn the_native_engine_resumes_its_snapshot_at_another_parallelism_its_state_split_by_key() {
    resumes_at_another_parallelism("native");
}

#[test]
fn kill_process_is_refused_where_a_restart_could_not_resume() {
    let on_two =
        |engine: &'static str| ["cluster", "--processes", "2", "--", "--engine", engine, "--workload", "wordcount"];
    refused(
        &[&on_two("native")[..], &["--fault", "kill-process:1@1s", "--fault", "kill-worker:0@2s"]].concat(),
        "kill-process and kill-worker in one run",
    );
    refused(&[&on_two("microbatch")[..], &["--fault", "kill-process:2@1s"]].concat(), "process 2");
    // A socket source: only the micro-batch engine with its receivers' write-ahead log.
    let socket = ["--source", "socket://127.0.0.1:9", "--fault", "kill-process:1@1s"];
    refused(&[&on_two("microbatch")[..], &socket].concat(), "--receiver-wal and a feed started with --resumable");
    refused(&[&on_two("native")[..], &socket].concat(), "the native engine's socket source keeps no log");
    refused(
        &["run", "--engine", "native", "--workload", "wordcount", "--source", "socket://127.0.0.1:9", "--receiver-wal"],
        "leave it out for the native engine",
    );
    refused(
        &["run", "--engine", "microbatch", "--workload", "wordcount", "--receiver-wal"],
        "--receiver-wal logs what a receiver stores: give --source socket://HOST:PORT",
    );
}

#[test]
fn a_restarted_micro_batch_driver_loses_no_received_socket_line_with_the_write_ahead_log() {
    let dir = scratch("restart-socket-wal");
    // The driver's process (which runs the receiver) killed 2 s into 3 s of lines, then the
    // executors' process 2 s in: each time the restarted receiver asks the feed for the lines
    // after those its log holds, and the batches since the cut run again on the logged blocks.
    for fault in ["kill-process:0@2s", "kill-process:1@2s"] {
        let count = 150_000;
        let addr = format!("127.0.0.1:{}", free_port());
        let n = count.to_string();
        let mut feeder = feed(&[
            "--workload",
            "wordcount",
            "--rate",
            "50k",
            "--count",
            &n,
            "--listen",
            &addr,
            "--resumable",
            "--accept-timeout",
            "5s",
        ]);
        let out = dir.join(format!("{}.json", fault.replace([':', '@'], "-")));
        let source = format!("socket://{addr}");
        let run = ["--engine", "microbatch", "--workload", "wordcount", "--source", &source, "--receiver-wal"];
        // No warm-up: a line the first batches reflect is sampled too (with one, lines reflected
        // before it ends are left out of the latency, and how many depends on when the feed starts).
        let settings =
            ["--duration", "30s", "--warmup", "0", "--batch-interval", "200ms", "--checkpoint-interval", "1s"];
        let r = cluster_run(&["--processes", "2"], &[&run[..], &settings, &["--fault", fault]].concat(), &out, fault);
        assert!(feeder.wait().unwrap().success(), "{fault}: the feed served every connection");
        assert_eq!(r["correct"], true, "{fault}: {}", r["verification"]);
        assert_eq!(r["input_records"], count, "{fault}: every line read once");
        assert_eq!(r["latency"]["input"]["count"], count, "{fault}: every line's input latency");
        let d = &r["delivery"];
        assert_eq!(d["generations"], 2, "{fault}: {d}");
        assert_eq!(d["replayed_mismatches"], 0, "{fault}: {d}");
        let effective = r["recovery"][0]["effective_at_s"].as_f64().unwrap();
        assert!((2.0..2.1).contains(&effective), "{fault}: the kill at 2 s took effect at {effective}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
