//! `streambench experiment`: a small matrix runs, every run lands under `runs/` named by its
//! parameters, rates derive from the `max` runs, `runs.csv` and `timeline.csv` read back equal to
//! the JSON, a second start is refused without `--resume`, and `--resume` keeps the finished runs
//! and makes only the missing one again.

mod support;

use std::collections::BTreeMap;

use support::*;

const FILE: &str = r#"
description = "a test"
cost-records = 100000

[options]
workload = "wordcount"
duration = "1s"
warmup = "250ms"
batch-interval = "100ms"
workers = 2

[matrix]
engine = ["microbatch", "native"]

[[group]]
name = "max"
kind = "max"
options = { rate = "max", records = 150000 }

[[group]]
name = "half"
options = { rate = "half-max" }
"#;

/// `runs.csv` as rows of column -> cell.
fn rows(path: &std::path::Path) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows =
        r.records().map(|rec| header.iter().cloned().zip(rec.unwrap().iter().map(str::to_owned)).collect()).collect();
    (header, rows)
}

fn close(cell: &str, value: f64) -> bool {
    let got: f64 = cell.parse().unwrap_or_else(|_| panic!("`{cell}` is not a number"));
    (got - value).abs() <= 1e-6 * value.abs().max(1.0)
}

#[test]
fn an_experiment_runs_writes_tidy_csv_and_resumes_without_repeating_a_run() {
    let dir = scratch("experiment");
    let file = dir.join("e.toml");
    std::fs::write(&file, FILE).unwrap();
    let out = dir.join("out");
    let (f, o) = (file.to_str().unwrap(), out.to_str().unwrap());
    let first = streambench(&["experiment", f, "--out", o]);
    assert!(first.status.success(), "{}", stderr(&first));

    let names = ["max,engine=microbatch", "max,engine=native", "half,engine=microbatch", "half,engine=native"];
    let summary = json(&out.join("summary.json"));
    let runs = summary["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    for (run, name) in runs.iter().zip(names) {
        assert_eq!(run["file"], format!("runs/{name}.json"));
        assert_eq!(run["correct"], true, "{name}: {}", run["error"]);
    }
    // Half of each engine's own max.
    for engine in ["microbatch", "native"] {
        let max = runs.iter().find(|r| r["engine"] == engine && r["kind"] == "max").unwrap();
        let half = runs.iter().find(|r| r["engine"] == engine && r["kind"] == "half-max").unwrap();
        let want = (max["records_per_sec"].as_f64().unwrap() / 2.0).round();
        assert_eq!(half["offered_rate"].as_f64().unwrap(), want, "{engine}");
    }

    // Each max run against a COST loop run right before it, not against the one at the start.
    let first_loop = summary["cost"]["wordcount"]["records_per_sec"].as_f64().unwrap();
    for run in runs.iter().filter(|r| r["kind"] == "max") {
        let paired = run["cost_records_per_sec"].as_f64().expect("a COST loop of its own");
        assert_ne!(paired, first_loop, "{}", run["engine"]);
        let ratio = run["records_per_sec_per_node"].as_f64().unwrap() / paired;
        assert!(close(&run["cost_ratio"].to_string(), ratio), "{}", run["engine"]);
    }

    // runs.csv: one row per run, the documented columns, the JSON's figures.
    let (header, table) = rows(&out.join("runs.csv"));
    for column in [
        "file",
        "kind",
        "engine",
        "workload",
        "offered_rate",
        "workers",
        "batch_interval_ms",
        "records_per_sec",
        "records_per_cpu_second",
        "input_count",
        "input_p99_ms",
        "output_count",
        "output_p99_ms",
        "correct",
        "semantics",
        "recovery_s",
    ] {
        assert!(header.iter().any(|h| h == column), "runs.csv has no `{column}`: {header:?}");
    }
    assert_eq!(table.len(), 4);
    for row in &table {
        let result = json(&out.join(&row["file"]));
        assert_eq!(row["engine"], result["engine"].as_str().unwrap());
        assert_eq!(row["correct"], "true");
        assert!(close(&row["records_per_sec"], result["throughput"]["records_per_sec"].as_f64().unwrap()));
        assert_eq!(row["input_count"], result["latency"]["input"]["count"].to_string());
        assert_eq!(row["workers"], "2");
        assert!(close(&row["batch_interval_ms"], 100.0));
        match result["offered_rate"].as_f64() {
            Some(rate) => assert!(close(&row["offered_rate"], rate)),
            None => assert_eq!(row["offered_rate"], ""),
        }
    }
    // timeline.csv: every run's intervals.
    let (_, timeline) = rows(&out.join("timeline.csv"));
    for row in &table {
        let points = json(&out.join(&row["file"]))["timeline"].as_array().unwrap().len();
        assert!(points > 0);
        assert_eq!(timeline.iter().filter(|t| t["file"] == row["file"]).count(), points, "{}", row["file"]);
    }
    assert!(out.join("report.md").exists());

    // A second start is refused; --resume keeps the finished runs and makes the missing one.
    let again = streambench(&["experiment", f, "--out", o]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("--resume"), "{}", stderr(&again));
    let kept: Vec<String> =
        names.iter().map(|n| std::fs::read_to_string(out.join(format!("runs/{n}.json"))).unwrap()).collect();
    std::fs::remove_file(out.join("runs/half,engine=native.json")).unwrap();
    let resumed = streambench(&["experiment", f, "--out", o, "--resume"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let err = stderr(&resumed);
    assert_eq!(err.matches("(finished before, kept)").count(), 3, "{err}");
    for (name, before) in names.iter().zip(&kept).take(3) {
        assert_eq!(
            &std::fs::read_to_string(out.join(format!("runs/{name}.json"))).unwrap(),
            before,
            "{name} was made again"
        );
    }
    let remade = json(&out.join("runs/half,engine=native.json"));
    assert_eq!(remade["correct"], true);
    assert_eq!(json(&out.join("summary.json"))["runs"].as_array().unwrap().len(), 4);
}

#[test]
fn a_bad_experiment_file_is_refused_before_any_run() {
    let dir = scratch("experiment-bad");
    let file = dir.join("bad.toml");
    std::fs::write(&file, FILE.replace("workers = 2", "workers = 2\nbatch-intervals = \"1s\"")).unwrap();
    let out = dir.join("out");
    let o = streambench(&["experiment", file.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("`batch-intervals` is not a run option") && err.contains("batch-interval,"), "{err}");
    assert!(!out.join("runs").exists(), "a run started");
    std::fs::write(&file, FILE.replace("\"microbatch\", \"native\"", "\"microbatch\", \"flink\"")).unwrap();
    let o = streambench(&["experiment", file.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let err = stderr(&o);
    assert!(!o.status.success() && err.contains("flink") && err.contains("possible values"), "{err}");
    assert!(!out.join("runs").exists(), "a run started");
}

#[test]
fn every_experiment_file_of_the_repository_is_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../experiments");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let o = streambench(&["experiment", "--list", path.to_str().unwrap()]);
            assert!(o.status.success(), "{}: {}", path.display(), stderr(&o));
            files += 1;
        }
    }
    assert!(files >= 4, "experiments/ holds {files} files");
}

#[test]
fn log_debug_shows_batches_stages_and_snapshots_and_the_default_is_quiet() {
    let run = |engine: &str, log: Option<&str>| {
        let mut args = vec!["run", "--engine", engine, "--workload", "wordcount", "--rate", "20k", "--duration", "2s"];
        args.extend([
            "--warmup",
            "500ms",
            "--workers",
            "2",
            "--batch-interval",
            "500ms",
            "--checkpoint-interval",
            "500ms",
        ]);
        if let Some(l) = log {
            args.extend(["--log", l]);
        }
        let o = streambench(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        stderr(&o)
    };
    let quiet = run("microbatch", None);
    assert!(!quiet.contains("finished batch") && !quiet.contains("INFO"), "{quiet}");
    let micro = run("microbatch", Some("debug"));
    for needle in [
        "run started",
        "finished batch",
        "batch_time_ms=1000",
        "map_tasks=",
        "result_tasks=",
        "stage",
        "time.busy",
        "verified",
    ] {
        assert!(micro.contains(needle), "no `{needle}` in {micro}");
    }
    let native = run("native", Some("native=debug"));
    assert!(
        native.contains("snapshot{epoch=") && native.contains("snapshot written") && !native.contains("run started"),
        "{native}"
    );
    let bad = streambench(&["--log", "microbatch=[", "baseline", "--workload", "wordcount"]);
    assert!(!bad.status.success() && stderr(&bad).contains("--log"), "{}", stderr(&bad));
}
