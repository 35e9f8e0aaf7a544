//! `sensors`: a per-sensor detector over the last W readings (mean, standard deviation); a
//! reading more than k sigma from the mean raises an alert. Readings with per-sensor baselines,
//! a daily cycle, noise and injected anomalies whose ground truth the generator knows.

pub mod cost;
pub mod detector;
pub mod event;
pub mod generator;
pub mod oracle;
pub mod spec;

use crate::contract::spec::RunSpec;
use crate::definition::{checksum, write_json, Checksum, CostLoop, EventWriter, Sizes, Wire, WorkloadDef};
use crate::generator::GeneratorError;
use crate::job::{JobSpec, Workload};
use crate::output::Alert;
use crate::verdict::{compare_keyed, Verdict};
use crate::verify::Judge;

pub use detector::{SensorWindow, Threshold};
pub use event::{Anomaly, SensorReading};
pub use generator::SensorGenerator;
pub use spec::SensorSpec;

/// The `sensors` workload.
pub struct Sensors;

/// The sensor spec of `spec`'s job (the registry only hands this workload its own).
fn job(spec: &RunSpec) -> &SensorSpec {
    match &spec.job {
        JobSpec::Sensors(s) => s,
        other => unreachable!("the registry handed a {} job to sensors", other.workload()),
    }
}

/// The run's reading generator.
pub fn generator(spec: &RunSpec) -> SensorGenerator {
    SensorGenerator::new(job(spec), spec.schedule(), spec.seed)
}

impl WorkloadDef for Sensors {
    fn workload(&self) -> Workload {
        Workload::Sensors
    }

    fn sizes(&self) -> Sizes {
        Sizes { cost: 20_000_000, quick_cost: 3_000_000, quick_max: 9_000_000 }
    }

    fn writer(&self, spec: &RunSpec, _wire: Wire) -> Result<EventWriter, GeneratorError> {
        let g = generator(spec);
        Ok(Box::new(move |p, i, out| write_json(&g.event(p, i), out)))
    }

    fn checksum(&self, spec: &RunSpec) -> Result<Checksum, GeneratorError> {
        let g = generator(spec);
        Ok(checksum(spec.partitions() as u64, move |p, i| {
            let e = g.event(p, i);
            e.event_time ^ e.milli as u64 ^ e.seq
        }))
    }

    fn verify(&self, judge: &Judge<'_>) -> Result<Verdict, GeneratorError> {
        let g = generator(judge.spec);
        // A sensor's readings all come from one partition, in order: each sensor is judged
        // apart, a slice of a partition's sensors per piece of work.
        let slice = g.per_partition().div_ceil(16).max(1);
        let pieces: Vec<(u32, u64, u64)> = (0..judge.ends().len() as u32)
            .flat_map(|p| (0..g.per_partition()).step_by(slice as usize).map(move |s| (p, s, judge.ends()[p as usize])))
            .collect();
        let parts = crate::verify::par_map(&pieces, |&(p, s, end)| {
            oracle::partition_alerts(&g, job(judge.spec), p, s..(s + slice).min(g.per_partition()), end)
        });
        let expected: Vec<Alert> = parts.into_iter().flatten().collect();
        Ok(alerts(&judge.report.outputs.alerts, &expected))
    }

    fn cost(&self, spec: &RunSpec) -> Result<CostLoop, GeneratorError> {
        let (g, s) = (generator(spec), job(spec).clone());
        Ok(Box::new(move |records| cost::sensors(&g, &s, records).len() as u64))
    }

    fn precision_recall(&self, judge: &Judge<'_>) -> Result<Option<(f64, f64)>, GeneratorError> {
        let g = generator(judge.spec);
        Ok(Some(oracle::precision_recall_read(&judge.report.outputs.alerts, &g, judge.ends())))
    }
}

/// Alerts: each `(sensor, seq)` once, with the oracle's value.
pub fn alerts(outputs: &[Alert], expected: &[Alert]) -> Verdict {
    let key = |a: &Alert| ((a.sensor, a.seq), a.milli);
    compare_keyed(outputs.iter().map(key), expected.iter().map(key), "alerts")
}
