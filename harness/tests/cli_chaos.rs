//! `streambench chaos`: seeded fault schedules on both engines, every run exact, and the table
//! of what was lost, duplicated and how long recovery took.

mod support;

use support::*;

#[test]
fn chaos_runs_are_exact_and_tabulated() {
    let dir = scratch("chaos");
    let out = dir.join("out");
    let o = streambench(&[
        "chaos",
        "--runs",
        "1",
        "--first-seed",
        "3",
        "--out",
        out.to_str().unwrap(),
        "--",
        "--rate",
        "50k",
        "--duration",
        "10s",
        "--warmup",
        "1s",
        "--workers",
        "2",
        "--batch-interval",
        "200ms",
        "--checkpoint-interval",
        "1s",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = json(&out.join("chaos.json"));
    let rows = s["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{s}");
    for r in rows {
        assert_eq!((r["runs"].as_u64(), r["correct_runs"].as_u64()), (Some(1), Some(1)), "{r}");
        assert_eq!((r["outputs_lost"].as_u64(), r["outputs_duplicated"].as_u64()), (Some(0), Some(0)), "{r}");
        assert_eq!(r["faults"], 2, "a 10 s run holds two faults: {r}");
        assert_eq!(r["recovery_s"].as_array().unwrap().len() as u64 + r["unrecovered"].as_u64().unwrap(), 2);
    }
    // Both engines got the same schedule, the one the seed draws.
    let faults =
        |engine: &str| json(&out.join(format!("runs/{engine},wordcount,chaos=3.json")))["config"]["faults"].clone();
    assert_eq!(faults("native"), faults("microbatch"));
    assert_eq!(faults("native").as_array().unwrap().len(), 2);
    let table = std::fs::read_to_string(out.join("chaos.md")).unwrap();
    assert!(table.contains("| engine | workload | runs | correct | faults | lost | duplicated |"), "{table}");
    assert!(table.contains("streambench chaos --runs 1"), "the table says the command that made it: {table}");
    assert!(out.join("recovery-cdf.svg").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn chaos_refuses_what_it_sets_itself_and_runs_too_short_for_it() {
    refused(&["chaos", "--", "--fault", "kill-worker:0@1s"], "`chaos` sets --fault itself");
    let run = ["run", "--engine", "native", "--workload", "wordcount"];
    let too_short = [&run[..], &["--duration", "3s", "--warmup", "0", "--chaos", "1"]].concat();
    refused(&too_short, "--chaos needs a run long enough");
    let both = [&run[..], &["--chaos", "1", "--fault", "kill-worker:0@1s"]].concat();
    refused(&both, "cannot be used with");
}
