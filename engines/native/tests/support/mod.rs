//! What the native engine's integration tests share.

use workloads::registry;
use workloads::verify::Running;
use workloads::{Observer, RunReport, RunSpec};

/// Runs `spec` on the native engine and asserts its outputs equal the oracle's, exactly.
pub fn check(spec: &RunSpec) -> RunReport {
    let observer = Observer::new(spec);
    native::run(spec, &observer).expect("native run");
    let report = observer.report();
    let verdict = registry::verify(spec, &report, Running::EveryUpdate).unwrap();
    assert!(verdict.correct, "{} workers: {}", spec.cluster.workers, verdict.message);
    assert!(verdict.checked > 0, "no output was checked");
    report
}
