//! `compare --quick`, `check` and `plot`: every file written, every run correct, the result JSON
//! carries its keys, the CI gate passes on its own summary and fails on a regression or an
//! incorrect run, and every plot is well-formed SVG.

mod support;

use std::path::Path;

use support::*;

fn svg_ok(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{} is not well-formed SVG: {e}", path.display()));
    assert!(text.contains("<svg"), "{}", path.display());
    text
}

#[test]
fn compare_quick_check_and_plot() {
    let dir = scratch("compare");
    let out = dir.join("cmp");
    let o = streambench(&["compare", "--quick", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));

    let summary = json(&out.join("summary.json"));
    let runs = summary["runs"].as_array().unwrap();
    for w in ["wordcount", "hashtags", "sensors"] {
        assert!(summary["cost"][w]["records_per_sec"].as_f64().unwrap() > 0.0);
        for (engine, kind) in
            [("native", "max"), ("native", "common-rate"), ("microbatch", "max"), ("microbatch", "common-rate")]
        {
            let run = runs
                .iter()
                .find(|r| r["workload"] == w && r["kind"] == kind && r["engine"] == engine)
                .unwrap_or_else(|| panic!("{engine} {w} {kind}"));
            assert_eq!(run["correct"], true, "{engine} {w} {kind}: {}", run["error"]);
            assert!(run["cost_ratio"].as_f64().unwrap() > 0.0);
            let result = json(&out.join(run["file"].as_str().unwrap()));
            for key in [
                "engine",
                "workload",
                "config",
                "context",
                "input_records",
                "output_records",
                "throughput",
                "latency",
                "closed_loop",
                "histograms",
                "resources",
                "timeline",
                "correct",
                "recovery",
            ] {
                assert!(result.get(key).is_some(), "{w} {kind}: no `{key}`");
            }
            for family in ["input", "output"] {
                let l = &result["latency"][family];
                assert!(l["count"].is_u64(), "{engine} {w} {kind}: {l}");
                for key in ["p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms"] {
                    // A number from 100 samples on, null below.
                    assert_eq!(
                        l[key].is_number(),
                        l["count"].as_u64().unwrap() >= 100,
                        "{engine} {w} {kind} {family}: {l}"
                    );
                }
            }
            // Every input of a fixed-rate run is a sample (but those in flight at the end).
            if kind == "common-rate" {
                let (n, inputs) =
                    (result["latency"]["input"]["count"].as_u64().unwrap(), result["input_records"].as_u64().unwrap());
                assert!(n > 0 && n <= inputs, "{engine} {w}: {n} samples of {inputs} inputs");
            }
            assert_eq!(result["closed_loop"], kind == "max", "{engine} {w} {kind}");
            assert!(result["resources"]["cpu_seconds"].as_f64().unwrap() > 0.0);
            assert!(result["resources"]["peak_rss_bytes"].as_u64().unwrap() > 0);
            assert!(result["context"]["git_revision"].is_string() && result["context"]["cpus"].as_u64().unwrap() >= 1);
            assert!(result["recovery"].is_null());
            assert!(!result["timeline"].as_array().unwrap().is_empty());
        }
    }
    // With two workers or more, each engine loses one half-way through wordcount and recovers.
    let faulted: Vec<_> = runs.iter().filter(|r| r["kind"] == "fault").collect();
    if summary["context"]["workers"].as_u64().unwrap() >= 2 {
        assert_eq!(faulted.len(), 2, "one fault run per engine");
    }
    for run in faulted {
        assert_eq!(run["correct"], true, "{}", run["error"]);
        let result = json(&out.join(run["file"].as_str().unwrap()));
        let recovery = &result["recovery"][0];
        assert_eq!(recovery["exact"], true, "{recovery}");
        assert_eq!(recovery["restore"].is_object(), run["engine"] == "native", "{recovery}");
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("| wordcount | native |")
            && report.contains("| wordcount | microbatch |")
            && report.contains("CPUs"),
        "{report}"
    );
    let plots: Vec<_> = std::fs::read_dir(out.join("plots")).unwrap().map(|e| e.unwrap().path()).collect();
    for name in
        ["throughput.svg", "latency-cdf-wordcount.svg", "latency-vs-rate-sensors.svg", "timeline-native-hashtags.svg"]
    {
        assert!(plots.iter().any(|p| p.ends_with(name)), "no {name}");
    }
    for p in &plots {
        let text = svg_ok(p);
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        // A timeline shows one run; every other plot compares the engines.
        let engines: &[&str] = match name.strip_prefix("timeline-") {
            Some(rest) if rest.starts_with("native") => &["native"],
            Some(_) => &["microbatch"],
            None => &["native", "microbatch"],
        };
        for e in engines {
            assert!(text.contains(e), "{name} does not name {e}");
        }
        assert!(report.contains(&format!("plots/{name}")));
    }
    assert!(svg_ok(&out.join("plots/throughput.svg")).contains("COST"));

    // The gate passes against the run's own summary.
    let summary_path = out.join("summary.json");
    let o = streambench(&["check", "--baseline", summary_path.to_str().unwrap(), summary_path.to_str().unwrap()]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("no change") && stdout(&o).contains("check passed"), "{}", stdout(&o));

    // ... fails against a baseline with doubled ratios (a 50% regression) ...
    let mut doubled = summary.clone();
    for r in doubled["runs"].as_array_mut().unwrap() {
        let x = r["cost_ratio"].as_f64().unwrap();
        r["cost_ratio"] = serde_json::json!(2.0 * x);
    }
    let doubled_path = dir.join("doubled.json");
    std::fs::write(&doubled_path, serde_json::to_string(&doubled).unwrap()).unwrap();
    let o = streambench(&["check", "--baseline", doubled_path.to_str().unwrap(), summary_path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("slower") && stdout(&o).contains("check FAILED"), "{}", stdout(&o));

    // ... and on a run marked incorrect.
    let mut wrong = summary.clone();
    wrong["runs"][0]["correct"] = serde_json::json!(false);
    wrong["runs"][0]["error"] = serde_json::json!("alerts differ from the oracle");
    let wrong_path = dir.join("wrong.json");
    std::fs::write(&wrong_path, serde_json::to_string(&wrong).unwrap()).unwrap();
    let o = streambench(&["check", "--baseline", summary_path.to_str().unwrap(), wrong_path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("INCORRECT") && stdout(&o).contains("incomparable"), "{}", stdout(&o));

    // `plot` redraws from the stored JSON.
    for p in &plots {
        std::fs::remove_file(p).unwrap();
    }
    let o = streambench(&["plot", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    for p in &plots {
        svg_ok(p);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_run_options_are_refused_before_anything_starts() {
    let cases: [(&[&str], &str); 9] = [
        (&["run", "--engine", "spark", "--workload", "wordcount"], "possible values: microbatch, native"),
        (&["run", "--engine", "native", "--workload", "tweets"], "possible values: wordcount, hashtags, sensors"),
        (&["run", "--engine", "native", "--workload", "wordcount", "--fault", "explode:1@1s"], "kill-worker:W@T"),
        (&["run", "--engine", "native", "--workload", "wordcount", "--workers", "0"], "--workers"),
        (&["run", "--engine", "native", "--workload", "wordcount", "--rate", "0"], "give events per second above 0"),
        (
            &["run", "--engine", "microbatch", "--workload", "hashtags", "--batch-interval", "300ms"],
            "not a multiple of --batch-interval",
        ),
        (
            &[
                "run",
                "--engine",
                "native",
                "--workload",
                "wordcount",
                "--processes",
                "2",
                "--hostfile",
                "/nonexistent/hosts",
            ],
            "cannot read hostfile",
        ),
        (&["run", "--engine", "native", "--workload", "wordcount", "--fault", "kill-worker:5@1s"], "give 0..0"),
        (&["run", "--engine", "native", "--workload", "wordcount", "--checkpoint-interval", "0"], "give 1ms or more"),
    ];
    for (args, expected) in cases {
        let started = std::time::Instant::now();
        let o = streambench(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(err.lines().filter(|l| l.starts_with("error")).count() == 1, "{args:?}: one error line: {err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{args:?} ran before refusing");
    }
}

#[test]
fn the_committed_ci_baseline_is_a_summary_the_gate_reads() {
    // The workflow's gate compares against results/baseline.json: a baseline in an older format
    // would fail every CI run before comparing anything.
    let baseline = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results/baseline.json");
    let b = baseline.to_str().unwrap();
    let o = streambench(&["check", "--baseline", b, b, "--tolerance", "0.4"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("check passed"), "{}", stdout(&o));
}
