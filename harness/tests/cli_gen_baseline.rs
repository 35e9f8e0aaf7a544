//! `streambench gen` and `streambench baseline` from the command line, their errors, and output to a
//! pipe.

use std::process::{Command, Output};

fn streambench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_streambench")).args(args).output().expect("run streambench")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn gen_prints_the_same_json_lines_every_time() {
    let a = streambench(&["gen", "--workload", "hashtags", "--count", "5", "--seed", "7"]);
    let b = streambench(&["gen", "--workload", "hashtags", "--count", "5", "--seed", "7"]);
    assert!(a.status.success(), "{}", stderr(&a));
    assert_eq!(stdout(&a), stdout(&b));
    let lines: Vec<serde_json::Value> = stdout(&a).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 5);
    assert!(lines.iter().all(|l| l["text"].is_string() && l["event_time"].is_u64() && l["user"].is_u64()));
    let other = streambench(&["gen", "--workload", "hashtags", "--count", "5", "--seed", "8"]);
    assert_ne!(stdout(&a), stdout(&other));
}

#[test]
fn gen_partitions_and_workloads() {
    let o = streambench(&["gen", "--workload", "sensors", "--count", "3", "--partitions", "2", "--partition", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let sensors: Vec<u64> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["sensor"].as_u64().unwrap())
        .collect();
    assert!(sensors.iter().all(|s| s % 2 == 1), "partition 1 of 2 carries odd sensors: {sensors:?}");
    let o = streambench(&["gen", "--workload", "wordcount", "--count", "2"]);
    let first: serde_json::Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert_eq!(first["text"].as_str().unwrap().split(' ').count(), 10);
}

#[test]
fn gen_refuses_bad_input_naming_the_fix() {
    let o = streambench(&["gen", "--workload", "tweets", "--count", "5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("wordcount, hashtags, sensors"), "{}", stderr(&o));
    let o = streambench(&["gen", "--workload", "wordcount", "--count", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--count"), "{}", stderr(&o));
    for seed in ["-3", "abc", "1.5"] {
        let o = streambench(&["gen", "--workload", "wordcount", "--count", "1", "--seed", seed]);
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains("is not a seed: give a whole number"), "{}", stderr(&o));
        assert!(stdout(&o).is_empty());
    }
    let o = streambench(&["gen", "--workload", "wordcount", "--count", "1", "--partition", "2", "--partitions", "2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("give 0..1"), "{}", stderr(&o));
}

#[test]
fn baseline_prints_records_per_second() {
    for w in ["wordcount", "hashtags", "sensors"] {
        let o = streambench(&["baseline", "--workload", w, "--records", "200000", "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["workload"], w);
        assert_eq!(v["records"], 200000);
        assert!(v["records_per_sec"].as_f64().unwrap() > 0.0);
        assert!(v["outputs"].as_u64().unwrap() > 0, "{w} produced no output");
    }
    let o = streambench(&["baseline", "--workload", "wordcount", "--records", "1000"]);
    assert!(stdout(&o).contains("records/s"), "{}", stdout(&o));
    let o = streambench(&["baseline", "--workload", "nope"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_reader_that_goes_away_early_is_no_crash() {
    // `streambench run ... | head`: the JSON goes to a pipe whose reader has gone.
    let mut child = Command::new(env!("CARGO_BIN_EXE_streambench"))
        .args(["run", "--engine", "native", "--workload", "wordcount", "--rate", "10k", "--duration", "300ms"])
        .args(["--warmup", "0s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run streambench");
    drop(child.stdout.take());
    let o = child.wait_with_output().expect("wait for streambench");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}
