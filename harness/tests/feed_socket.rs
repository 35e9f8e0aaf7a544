//! `streambench feed` into both engines' socket sources (native: a timely source; micro-batch:
//! a receiver storing replicated blocks): nothing lost, nothing duplicated, and malformed lines
//! counted rather than fatal.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::*;
use workloads::Workload;

fn feed_loses_nothing(engine: &str) {
    let dir = scratch(&format!("feed-{engine}"));
    // Windows short enough that the 0.3 s of lines span several: each line must be filed under
    // the windows of when it was read, as the engine did.
    let cases: [(Workload, &[&str]); 5] = [
        (Workload::Wordcount, &[]),
        (Workload::Wordcount, &["--wordcount-window", "100ms"]),
        (Workload::Hashtags, &["--window", "200ms", "--slide", "100ms"]),
        (Workload::Sensors, &[]),
        (Workload::Ysb, &[]),
    ];
    for (workload, job) in cases {
        let count = 30_000;
        let windowed = !job.is_empty() || workload == Workload::Ysb;
        let workload = workload.name();
        let addr = format!("127.0.0.1:{}", free_port());
        let n = count.to_string();
        let mut feeder =
            feed(&["--workload", workload, "--rate", "100k", "--count", &n, "--seed", "9", "--listen", &addr]);
        let out = dir.join(format!("{workload}-{}.json", job.len()));
        let mut args = vec!["run", "--engine", engine, "--batch-interval", "50ms", "--workload", workload];
        args.extend(["--workers", "2", "--seed", "9", "--duration", "30s", "--warmup", "0", "--collect", "full"]);
        let source = format!("socket://{addr}");
        args.extend(["--source", &source, "--out", out.to_str().unwrap()]);
        args.extend(job);
        let o = streambench(&args);
        assert!(feeder.wait().unwrap().success());
        assert!(o.status.success(), "{engine} {workload}: {}", stderr(&o));
        let r = json(&out);
        assert_eq!(r["input_records"], count, "{engine} {workload}");
        assert_eq!(r["malformed"], 0);
        assert_eq!(r["correct"], true, "{engine} {workload} {job:?}: {}", r["verification"]);
        let semantics = if windowed { "arrival-time" } else { "event-time" };
        assert_eq!(r["semantics"], semantics, "{engine} {workload} {job:?}");
        // Every line's input latency, window jobs too (nothing is left in flight at the end).
        let input = &r["latency"]["input"];
        assert_eq!(input["count"], count, "{engine} {workload} {job:?}: {input}");
        if engine == "microbatch" && !windowed {
            // Up to a batch interval's wait, measured from each line's arrival (window results
            // are measured from the window's end instead).
            assert!(input["p50_ms"].as_f64().unwrap() > 1.0, "{engine} {workload}: {input}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn feed_into_the_native_socket_source_loses_nothing() {
    feed_loses_nothing("native");
}

#[test]
fn feed_into_the_micro_batch_socket_receiver_loses_nothing() {
    feed_loses_nothing("microbatch");
}

#[test]
fn malformed_socket_lines_are_counted_and_reported() {
    for engine in ["native", "microbatch"] {
        malformed_lines_are_counted(engine);
    }
}

fn malformed_lines_are_counted(engine: &str) {
    for workload in Workload::ALL.map(Workload::name) {
        // Good lines as `feed --json` sends them, then a broken JSON line, one not UTF-8 and a
        // blank one; for ysb also a well-formed event of an ad the campaign table does not hold.
        let gen = streambench(&["gen", "--workload", workload, "--count", "100"]);
        assert!(gen.status.success(), "{}", stderr(&gen));
        let good: Vec<String> = stdout(&gen).lines().map(str::to_owned).collect();
        let unknown_ad = (workload == "ysb").then(|| {
            let mut e: serde_json::Value = serde_json::from_str(&good[0]).unwrap();
            e["ad_id"] = serde_json::json!(u32::MAX);
            e.to_string()
        });
        let bad = 2 + u64::from(unknown_ad.is_some());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let writer = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            for line in &good[..50] {
                writeln!(s, "{line}").unwrap();
            }
            writeln!(s, "{{\"broken").unwrap();
            s.write_all(b"\xff\xfe not utf-8\n\n").unwrap();
            if let Some(line) = unknown_ad {
                writeln!(s, "{line}").unwrap();
            }
            for line in &good[50..] {
                writeln!(s, "{line}").unwrap();
            }
        });
        let o = streambench(&[
            "run",
            "--engine",
            engine,
            "--batch-interval",
            "100ms",
            "--workload",
            workload,
            "--source",
            &format!("socket://{addr}"),
            "--duration",
            "30s",
            "--warmup",
            "0",
            "--window",
            "1s",
            "--slide",
            "500ms",
        ]);
        writer.join().unwrap();
        assert!(o.status.success(), "{engine} {workload}: {}", stderr(&o));
        let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(r["input_records"], 100 + bad + 1, "{engine} {workload}");
        assert_eq!(r["malformed"], bad, "{engine} {workload}");
        let examples = r["malformed_examples"].to_string();
        assert!(examples.contains("not a JSON") && examples.contains("not UTF-8"), "{workload}: {examples}");
        if bad == 3 {
            assert!(examples.contains("is not in the campaign table"), "{engine}: {examples}");
        }
        // The sender's events are its well-formed lines: judged without the skipped ones.
        assert_eq!(r["correct"], true, "{engine} {workload}: {}", r["verification"]);
    }
}

/// Word count from a feed at 100k lines/s for 1.5 s into `engine`, its worker (executor) 0
/// slowed `factor` times from 300 ms for 500 ms (none with factor 1): the input latency's max.
fn socket_latency_max_ms(engine: &str, factor: u32) -> f64 {
    let dir = scratch(&format!("stall-{engine}-{factor}"));
    let addr = format!("127.0.0.1:{}", free_port());
    let mut feeder = Command::new(env!("CARGO_BIN_EXE_streambench"))
        .args(["feed", "--workload", "wordcount", "--rate", "100k", "--count", "150000", "--listen", &addr])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = dir.join("result.json");
    let mut args: Vec<String> = ["run", "--engine", engine, "--workload", "wordcount", "--batch-interval", "100ms"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(["--source".into(), format!("socket://{addr}"), "--duration".into(), "30s".into()]);
    args.extend(["--warmup".into(), "0".into(), "--out".into(), out.to_str().unwrap().to_owned()]);
    if factor > 1 {
        args.extend(["--fault".into(), format!("slow-worker:0@300ms+500ms*{factor}")]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = streambench(&args);
    assert!(feeder.wait().unwrap().success());
    assert!(o.status.success(), "{engine}: {}", stderr(&o));
    let r = json(&out);
    assert_eq!(r["correct"], true, "{engine}: {}", r["verification"]);
    let max = r["latency"]["input"]["max_ms"].as_f64().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    max
}

#[test]
fn a_stalled_socket_consumer_shows_as_input_latency() {
    // Lines are stamped when the receiver reads them, before any queue: while the consumer is
    // slowed, lines wait in the queue, and their latency says so.
    for engine in ["native", "microbatch"] {
        let (steady, stalled) = (socket_latency_max_ms(engine, 1), socket_latency_max_ms(engine, 200));
        assert!(stalled > 150.0 && stalled > 2.0 * steady, "{engine}: max {stalled:.1} ms stalled, {steady:.1} ms not");
    }
}
