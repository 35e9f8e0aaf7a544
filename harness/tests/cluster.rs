//! Both engines as a cluster of processes on loopback (micro-batch: the driver in process 0,
//! the other process generating the same lineage and running its executor's tasks): outputs
//! equal the oracle, and a bad hostfile, a port in use or a missing peer fail fast with a message
//! that names the fix.

mod support;

use std::time::{Duration, Instant};

use support::*;
use workloads::{registry, Workload};

const ENGINES: [&str; 2] = ["native", "microbatch"];

#[test]
fn two_processes_equal_the_oracle_for_every_workload_native() {
    two_processes_equal_the_oracle("native");
}

#[test]
fn two_processes_equal_the_oracle_for_every_workload_microbatch() {
    two_processes_equal_the_oracle("microbatch");
}

fn two_processes_equal_the_oracle(engine: &str) {
    let dir = scratch(&format!("cluster-{engine}"));
    // Every workload of the registry, a tenth of its quick COST loop's events (hashtag windows
    // short enough for the records to span several).
    for workload in Workload::ALL {
        let records = (registry::def(workload).sizes().quick_cost / 10).to_string();
        let extra = ["--records", &records, "--collect", "full", "--window", "200ms", "--slide", "50ms"];
        let workload = workload.name();
        let out = dir.join(format!("{workload}.json"));
        let mut args = vec!["cluster", "--processes", "2", "--", "--engine", engine, "--workload", workload];
        args.extend(["--batch-interval", "50ms"]);
        args.extend(["--rate", "max", "--duration", "60s", "--warmup", "0", "--workers", "1", "--seed", "5"]);
        args.extend(extra);
        args.extend(["--out", out.to_str().unwrap()]);
        let o = streambench(&args);
        assert!(o.status.success(), "{engine} {workload}: {}", stderr(&o));
        let r = json(&out);
        assert_eq!(r["correct"], true, "{engine} {workload}: {}", r["verification"]);
        assert_eq!(r["context"]["processes"], 2);
        assert_eq!(r["config"]["cluster"]["processes"], 2);
        let rps = r["throughput"]["records_per_sec"].as_f64().unwrap();
        let per_node = r["throughput"]["records_per_sec_per_node"].as_f64().unwrap();
        assert!((rps / 2.0 - per_node).abs() < 1e-6 * rps.max(1.0));
        let records: u64 = records.parse().unwrap();
        assert_eq!(r["input_records"].as_u64().unwrap(), records, "{workload}: both processes' inputs merged");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_socket_source_in_a_cluster_of_two_processes_equals_the_oracle() {
    // The micro-batch follower process runs the collecting outputs' jobs too (it used to fail
    // decoding results it never gets, and the run hung).
    let dir = scratch("cluster-socket");
    for engine in ENGINES {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut feeder = feed(&["--workload", "hashtags", "--rate", "100k", "--count", "20000", "--listen", &addr]);
        let out = dir.join(format!("{engine}.json"));
        let source = format!("socket://{addr}");
        let mut args = vec!["cluster", "--processes", "2", "--", "--engine", engine, "--workload", "hashtags"];
        args.extend(["--window", "200ms", "--slide", "100ms", "--batch-interval", "50ms", "--warmup", "0"]);
        args.extend(["--source", &source, "--out", out.to_str().unwrap()]);
        let o = streambench(&args);
        assert!(feeder.wait().unwrap().success());
        assert!(o.status.success(), "{engine}: {}", stderr(&o));
        let r = json(&out);
        assert_eq!(r["correct"], true, "{engine}: {}", r["verification"]);
        assert_eq!(r["input_records"], 20_000, "{engine}");
        assert_eq!(r["latency"]["input"]["count"], 20_000, "{engine}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_native_worker_killed_in_a_cluster_of_two_processes_is_restored_exactly() {
    let dir = scratch("cluster-native-fault");
    let out = dir.join("fault.json");
    let snapshots = dir.join("snapshots");
    let o = streambench(&[
        "cluster",
        "--processes",
        "2",
        "--",
        "--engine",
        "native",
        "--workload",
        "wordcount",
        "--rate",
        "20k",
        "--duration",
        "2s",
        "--warmup",
        "500ms",
        "--workers",
        "1",
        "--checkpoint-interval",
        "200ms",
        "--checkpoint-dir",
        snapshots.to_str().unwrap(),
        "--fault",
        "kill-worker:1@1100ms",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = json(&out);
    assert_eq!(r["correct"], true, "{}", r["verification"]);
    assert_eq!(r["input_records"], 40_000);
    let restore = &r["recovery"][0]["restore"];
    assert!(restore["snapshot_epoch_s"].as_f64().is_some(), "both processes' files commit a snapshot: {restore}");
    assert!(restore["replayed_records"].as_u64().unwrap() > 0, "{restore}");
    // Each worker removed its own files.
    assert_eq!(std::fs::read_dir(&snapshots).unwrap().count(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn processes_started_by_hand_merge_into_one_result() {
    for engine in ENGINES {
        started_by_hand(engine);
    }
}

fn started_by_hand(engine: &str) {
    let dir = scratch(&format!("manual-cluster-{engine}"));
    let hostfile = dir.join("hosts");
    std::fs::write(&hostfile, format!("127.0.0.1:{}\n127.0.0.1:{}\n", free_port(), free_port())).unwrap();
    let spawned: Vec<_> = (0..2)
        .map(|i| {
            std::process::Command::new(env!("CARGO_BIN_EXE_streambench"))
                .args(["run", "--engine", engine, "--workload", "wordcount", "--rate", "max", "--records", "30000"])
                .args(["--processes", "2", "--process-id", &i.to_string(), "--hostfile", hostfile.to_str().unwrap()])
                .args(["--out", dir.join(format!("part-{i}.json")).to_str().unwrap()])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in spawned {
        assert!(c.wait().unwrap().success());
    }
    let merged = dir.join("merged.json");
    let o = streambench(&[
        "merge",
        dir.join("part-0.json").to_str().unwrap(),
        dir.join("part-1.json").to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{engine}: {}", stderr(&o));
    let r = json(&merged);
    assert_eq!(r["correct"], true, "{engine}: {}", r["verification"]);
    assert_eq!(r["input_records"], 30000);
    // One share alone is refused.
    let o = streambench(&["merge", dir.join("part-0.json").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("1 of 2 processes"), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn run_process_0(engine: &str, hostfile: &std::path::Path, out: &std::path::Path) -> std::process::Output {
    streambench(&[
        "run",
        "--engine",
        engine,
        "--workload",
        "wordcount",
        "--rate",
        "max",
        "--records",
        "1000",
        "--processes",
        "2",
        "--process-id",
        "0",
        "--hostfile",
        hostfile.to_str().unwrap(),
        "--connect-timeout",
        "2s",
        "--out",
        out.to_str().unwrap(),
    ])
}

#[test]
fn bad_hostfiles_fail_fast_with_the_fix() {
    for engine in ENGINES {
        bad_hostfiles(engine);
    }
}

fn bad_hostfiles(engine: &str) {
    let dir = scratch(&format!("bad-hostfile-{engine}"));
    let out = dir.join("out.json");
    // Missing file.
    let o = run_process_0(engine, &dir.join("nope"), &out);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read hostfile"), "{}", stderr(&o));
    // Too few lines.
    let short = dir.join("short");
    std::fs::write(&short, "127.0.0.1:1\n").unwrap();
    let o = run_process_0(engine, &short, &out);
    assert!(stderr(&o).contains("lists 1 addresses but --processes is 2"), "{}", stderr(&o));
    // Not host:port.
    let bad = dir.join("bad");
    std::fs::write(&bad, "127.0.0.1:1\nlocalhost\n").unwrap();
    let o = run_process_0(engine, &bad, &out);
    assert!(stderr(&o).contains("`localhost`, which is not host:port"), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_port_in_use_fails_at_once() {
    for engine in ENGINES {
        port_in_use(engine);
    }
}

fn port_in_use(engine: &str) {
    let dir = scratch(&format!("port-in-use-{engine}"));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hostfile = dir.join("hosts");
    std::fs::write(&hostfile, format!("{}\n127.0.0.1:{}\n", taken.local_addr().unwrap(), free_port())).unwrap();
    let started = Instant::now();
    let o = run_process_0(engine, &hostfile, &dir.join("out.json"));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot listen on"), "{engine}: {}", stderr(&o));
    assert!(started.elapsed() < Duration::from_secs(10));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_peer_is_an_error_not_a_hang() {
    for engine in ENGINES {
        missing_peer(engine);
    }
}

fn missing_peer(engine: &str) {
    let dir = scratch(&format!("missing-peer-{engine}"));
    let hostfile = dir.join("hosts");
    std::fs::write(&hostfile, format!("127.0.0.1:{}\n127.0.0.1:{}\n", free_port(), free_port())).unwrap();
    let started = Instant::now();
    let o = run_process_0(engine, &hostfile, &dir.join("out.json"));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("could not connect to all 2 processes"), "{engine}: {}", stderr(&o));
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    std::fs::remove_dir_all(&dir).unwrap();
}
