//! The `sensors` COST loop: every sensor's detector in one thread.

use crate::cost::coordinates;
use crate::output::Alert;
use crate::sensors::detector::{SensorWindow, Threshold};
use crate::sensors::generator::SensorGenerator;
use crate::sensors::spec::SensorSpec;

/// The sensor detector over `records` readings; returns the alerts `(sensor, seq, milli)`.
pub fn sensors(gen: &SensorGenerator, spec: &SensorSpec, records: u64) -> Vec<Alert> {
    let partitions = gen.schedule().partitions() as u64;
    let threshold = Threshold::new(spec);
    let mut windows: Vec<Option<SensorWindow>> = vec![None; gen.sensors() as usize];
    let mut alerts = Vec::new();
    for k in 0..records {
        let (p, i) = coordinates(k, partitions);
        let r = gen.event(p, i);
        let w = windows[r.sensor as usize].get_or_insert_with(|| SensorWindow::new(spec.window));
        if w.push(r.milli, threshold) {
            alerts.push(Alert { sensor: r.sensor, seq: r.seq, milli: r.milli });
        }
    }
    alerts
}
