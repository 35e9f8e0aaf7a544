//! The `sensors` oracle: the alert set, and precision and recall against the ground truth.

use std::collections::BTreeMap;

use crate::output::Alert;
use crate::sensors::detector::{SensorWindow, Threshold};
use crate::sensors::event::SensorReading;
use crate::sensors::generator::SensorGenerator;
use crate::sensors::spec::SensorSpec;

/// Every alert, sorted by sensor and sequence number.
pub fn sensor_alerts(readings: impl IntoIterator<Item = SensorReading>, spec: &SensorSpec) -> Vec<Alert> {
    let mut by_sensor: BTreeMap<u32, Vec<SensorReading>> = BTreeMap::new();
    for r in readings {
        by_sensor.entry(r.sensor).or_default().push(r);
    }
    let k = Threshold::new(spec);
    let mut alerts = Vec::new();
    for (sensor, mut rs) in by_sensor {
        rs.sort_by_key(|r| r.seq);
        let mut window = SensorWindow::new(spec.window);
        for r in rs {
            if window.push(r.milli, k) {
                alerts.push(Alert { sensor, seq: r.seq, milli: r.milli });
            }
        }
    }
    alerts
}

/// The alerts of the sensors partition `p` carries at local indices `locals`, over the
/// partition's first `end` events: each sensor's readings in order through one detector.
pub fn partition_alerts(
    g: &SensorGenerator,
    spec: &SensorSpec,
    p: u32,
    locals: std::ops::Range<u64>,
    end: u64,
) -> Vec<Alert> {
    let k = Threshold::new(spec);
    let mut alerts = Vec::new();
    for local in locals {
        let (sensor, read) = g.sensor_read(p, local, end);
        let mut window = SensorWindow::new(spec.window);
        for (seq, milli, _) in g.readings(sensor, 0..read) {
            if window.push(milli, k) {
                alerts.push(Alert { sensor, seq, milli });
            }
        }
    }
    alerts
}

/// Precision and recall of `alerts` against the labelled anomalies among the first `ends[p]`
/// events of each partition `p`, counted a block's episode at a time.
pub fn precision_recall_read(alerts: &[Alert], g: &SensorGenerator, ends: &[u64]) -> (f64, f64) {
    let mut labelled = 0;
    let mut read = rustc_hash::FxHashMap::default();
    for (p, &end) in ends.iter().enumerate() {
        for local in 0..g.per_partition() {
            let (sensor, n) = g.sensor_read(p as u32, local, end);
            labelled += g.labelled(sensor, n);
            read.insert(sensor, n);
        }
    }
    let is_labelled =
        |a: &&Alert| read.get(&a.sensor).is_some_and(|&n| a.seq < n) && g.anomaly(a.sensor, a.seq).is_some();
    let hits = alerts.iter().filter(is_labelled).count() as f64;
    let precision = if alerts.is_empty() { 1.0 } else { hits / alerts.len() as f64 };
    let recall = if labelled == 0 { 1.0 } else { hits / labelled as f64 };
    (precision, recall)
}

/// Precision and recall of `alerts` against the generator's labelled anomalies in `readings`.
pub fn precision_recall(alerts: &[Alert], readings: impl IntoIterator<Item = SensorReading>) -> (f64, f64) {
    let labelled: rustc_hash::FxHashSet<(u32, u64)> =
        readings.into_iter().filter(|r| r.anomaly.is_some()).map(|r| (r.sensor, r.seq)).collect();
    let hits = alerts.iter().filter(|a| labelled.contains(&(a.sensor, a.seq))).count() as f64;
    let precision = if alerts.is_empty() { 1.0 } else { hits / alerts.len() as f64 };
    let recall = if labelled.is_empty() { 1.0 } else { hits / labelled.len() as f64 };
    (precision, recall)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensor_alerts_by_hand() {
        let spec = SensorSpec { window: 3, k: 1.0, ..SensorSpec::default() };
        let r = |sensor, seq, milli| SensorReading { event_time: 0, sensor, seq, milli, anomaly: None };
        // Sensor 1 (given out of order): 0, 10, 20, then 100 (mean 10, sd 8.2: alert), then
        // 15 (window 10,20,100: mean 43.3, sd 40.3: no alert). Sensor 2: flat then equal: none.
        let readings = [
            r(1, 3, 100),
            r(1, 0, 0),
            r(2, 0, 5),
            r(1, 1, 10),
            r(2, 1, 5),
            r(1, 2, 20),
            r(2, 2, 5),
            r(2, 3, 5),
            r(1, 4, 15),
        ];
        assert_eq!(sensor_alerts(readings, &spec), vec![Alert { sensor: 1, seq: 3, milli: 100 }]);
    }
}
