//! Sensor anomalies: `Source` (readings), `Detect` per sensor, `Sink`.

use timely::dataflow::operators::Probe;
use timely::dataflow::Scope;
use workloads::output::Alert;
use workloads::sensors::event::reading;
use workloads::sensors::SensorGenerator;
use workloads::{RunSpec, SensorSpec};

use crate::jobs::{Input, Job};
use crate::operators::detect::{detect, ReadingRecord};
use crate::operators::sink::sink;

/// The sensors job of a run.
pub(crate) struct Sensors {
    gen: SensorGenerator,
    spec: SensorSpec,
}

impl Sensors {
    pub(crate) fn new(spec: &RunSpec, s: &SensorSpec) -> Self {
        Self { gen: workloads::sensors::generator(spec), spec: s.clone() }
    }
}

impl Job for Sensors {
    fn build<'s>(&self, scope: Scope<'s, u64>, input: Input<'_>) {
        let gen = self.gen.clone();
        let readings = input.stream(scope, parse_reading, move |p, i, due, out: &mut Vec<ReadingRecord>| {
            let r = gen.event(p, i);
            out.push((r.sensor, r.seq, r.milli, due));
        });
        let alerts = detect(readings, &self.spec, input.control).probe_with(input.probe);
        sink(alerts, input.control, std::rc::Rc::clone(input.recorder), |r, now, (alert, due): (Alert, u64)| {
            r.output_latency(due, now);
            r.alert(alert);
        });
    }
}

/// A socket line: a JSON reading, timed by its arrival.
fn parse_reading(line: &str, now: u64, out: &mut Vec<ReadingRecord>) -> Result<(), String> {
    let r = reading(line)?;
    out.push((r.sensor, r.seq, r.milli, now));
    Ok(())
}
