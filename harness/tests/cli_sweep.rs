//! `sweep` writes one run per value and its plots; `sustainable` finds a rate below capacity.

mod support;

use support::*;

#[test]
fn sweep_over_workers_and_sustainable_rate() {
    let dir = scratch("sweep");
    let out = dir.join("sweep");
    let o = streambench(&[
        "sweep",
        "--param",
        "workers",
        "--values",
        "1,2",
        "--out",
        out.to_str().unwrap(),
        "--",
        "--engine",
        "native",
        "--workload",
        "sensors",
        "--rate",
        "max",
        "--duration",
        "1s",
        "--warmup",
        "200ms",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let sweep = json(&out.join("sweep.json"));
    let points = sweep["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    for p in points {
        assert_eq!(p["correct"], true);
        let r = json(&out.join(p["file"].as_str().unwrap()));
        assert_eq!(r["config"]["cluster"]["workers"].as_u64().unwrap().to_string(), p["value"].as_str().unwrap());
    }
    for plot in ["throughput.svg", "latency.svg"] {
        let text = std::fs::read_to_string(out.join("plots").join(plot)).unwrap();
        roxmltree::Document::parse(&text).unwrap();
        assert!(text.contains("native"));
    }
    // A bad value is refused before any run starts.
    let o = streambench(&[
        "sweep",
        "--param",
        "rate",
        "--values",
        "10k,0",
        "--out",
        out.to_str().unwrap(),
        "--",
        "--engine",
        "native",
        "--workload",
        "sensors",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("give events per second above 0"), "{}", stderr(&o));

    let probes = dir.join("sustainable.json");
    let o = streambench(&[
        "sustainable",
        "--probes",
        "2",
        "--out",
        probes.to_str().unwrap(),
        "--",
        "--engine",
        "native",
        "--workload",
        "sensors",
        "--duration",
        "1s",
        "--warmup",
        "200ms",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("sustainable rate:"), "{}", stdout(&o));
    let s = json(&probes);
    assert!(s["sustainable"].as_f64().unwrap() <= s["capacity"].as_f64().unwrap() * 1.1);
    assert_eq!(s["probes"].as_array().unwrap().len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}
