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
    let sensors: Vec<(u32, u64)> = locals.map(|local| g.sensor_read(p, local, end)).collect();
    let mut alerts = Vec::new();
    if let Some(mut windows) = (0..sensors.len()).map(|_| Bounded::new(spec.window, k)).collect::<Option<Vec<_>>>() {
        let mut in_range = true;
        g.sweep(&sensors, |s, first, millis| {
            in_range &= windows[s]
                .run(millis, |j, milli| alerts.push(Alert { sensor: sensors[s].0, seq: first + j as u64, milli }));
        });
        if in_range {
            return sorted(alerts);
        }
        alerts.clear();
    }
    let mut windows = vec![SensorWindow::new(spec.window); sensors.len()];
    g.sweep(&sensors, |s, first, millis| {
        for (j, &milli) in millis.iter().enumerate() {
            if windows[s].push(milli, k) {
                alerts.push(Alert { sensor: sensors[s].0, seq: first + j as u64, milli });
            }
        }
    });
    sorted(alerts)
}

/// `alerts` by sensor (in the order of the partition's sensors) and sequence number.
fn sorted(mut alerts: Vec<Alert>) -> Vec<Alert> {
    alerts.sort_unstable_by_key(|a| (a.sensor, a.seq));
    alerts
}

/// Values a [`Bounded`] detector takes are below this in magnitude (the generator's are below
/// 46,000) and its windows at most [`MAX_WINDOW`] long, so every sum and square fits in 64 bits.
const LIMIT: u64 = 1 << 16;
const MAX_WINDOW: usize = 1 << 14;

/// [`SensorWindow`]'s test, exactly, on the values the generator gives: sums in 64 bits and the
/// test's two sides widened once (the general detector takes any `i64`, in 128 bits throughout).
/// The oracle's own, so that an engine's detector is checked by other arithmetic.
struct Bounded {
    ring: Box<[i64]>,
    next: usize,
    len: usize,
    sum: i64,
    sum_sq: i64,
    num2: u64,
    den2: u64,
}

impl Bounded {
    /// A detector of `size` readings with threshold `k`, if both are in its range.
    fn new(size: usize, k: Threshold) -> Option<Self> {
        let (num2, den2) = k.squares()?;
        (size <= MAX_WINDOW).then(|| Self {
            ring: vec![0; size].into_boxed_slice(),
            next: 0,
            len: 0,
            sum: 0,
            sum_sq: 0,
            num2,
            den2,
        })
    }

    /// [`SensorWindow::push`] of each of `xs` in turn, `alert(j, xs[j])` for each alert. False
    /// (and the detector unusable) when a value is out of range.
    fn run(&mut self, xs: &[i64], mut alert: impl FnMut(usize, i64)) -> bool {
        let size = self.ring.len();
        let w = size as i64;
        let (mut next, mut sum, mut sum_sq) = (self.next, self.sum, self.sum_sq);
        let mut j = 0;
        // Filling the window: no test yet.
        while self.len < size && j < xs.len() {
            let x = xs[j];
            if x.unsigned_abs() >= LIMIT {
                return false;
            }
            self.ring[next] = x;
            next = if next + 1 == size { 0 } else { next + 1 };
            (sum, sum_sq, self.len, j) = (sum + x, sum_sq + x * x, self.len + 1, j + 1);
        }
        for (j, &x) in xs.iter().enumerate().skip(j) {
            if x.unsigned_abs() >= LIMIT {
                return false;
            }
            // |w x|, |S| < 2^30; w Q, S^2 < 2^60; the variance is never negative.
            let dev = (w * x - sum).unsigned_abs();
            let var = (w * sum_sq - sum * sum) as u64;
            if u128::from(dev * dev) * u128::from(self.den2) > u128::from(var) * u128::from(self.num2) {
                alert(j, x);
            }
            let old = std::mem::replace(&mut self.ring[next], x);
            next = if next + 1 == size { 0 } else { next + 1 };
            sum += x - old;
            sum_sq += x * x - old * old;
        }
        (self.next, self.sum, self.sum_sq) = (next, sum, sum_sq);
        true
    }
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
    use crate::hash::SplitMix;
    use crate::schedule::{Profile, Schedule};

    /// The alerts' indices of `xs` pushed through the general detector one by one, and through
    /// the bounded one in uneven runs.
    fn both(size: usize, k: Threshold, xs: &[i64]) -> (Vec<usize>, Vec<usize>) {
        let mut general = SensorWindow::new(size);
        let expected = (0..xs.len()).filter(|&j| general.push(xs[j], k)).collect();
        let (mut bounded, mut got, mut at) = (Bounded::new(size, k).unwrap(), Vec::new(), 0);
        for run in [1, 7, 999, 3, usize::MAX].into_iter().cycle() {
            let run = run.min(xs.len() - at);
            assert!(bounded.run(&xs[at..at + run], |j, _| got.push(at + j)));
            at += run;
            if at == xs.len() {
                return (got, expected);
            }
        }
        unreachable!()
    }

    #[test]
    fn the_bounded_detector_equals_the_general_one_within_its_range_and_refuses_what_is_not() {
        let k = Threshold::new(&SensorSpec { k: 1.5, ..SensorSpec::default() });
        let edge = LIMIT as i64 - 1;
        let mut rng = SplitMix::new(3);
        // Anywhere in range, with runs of one value (no variance) among them.
        let xs: Vec<i64> =
            (0..20_000).map(|j| if j % 100 < 10 { 5 } else { rng.below(2 * edge as u64 + 1) as i64 - edge }).collect();
        let (got, expected) = both(5, k, &xs);
        assert!(expected.len() > 100, "{} alerts", expected.len());
        assert_eq!(got, expected);
        // The largest window full of the largest values either way: every sum at its bound.
        let xs: Vec<i64> = (0..3 * MAX_WINDOW).map(|j| if (j / 3) % 2 == 0 { edge } else { -edge }).collect();
        let (got, expected) = both(MAX_WINDOW, k, &xs);
        assert_eq!(got, expected);
        assert!(!Bounded::new(5, k).unwrap().run(&[1, 2, LIMIT as i64], |_, _| {}));
        assert!(Bounded::new(MAX_WINDOW + 1, k).is_none());
    }

    #[test]
    fn a_window_the_bounded_detector_cannot_hold_is_judged_by_the_general_one() {
        let spec = SensorSpec { sensors: 2, window: MAX_WINDOW + 1, k: 2.0, ..SensorSpec::default() };
        let schedule = Schedule::new(Profile::Constant { rate: 100_000.0 }, 1, 0, 1).unwrap();
        let g = SensorGenerator::new(&spec, schedule, 5);
        let end = 2 * 40_000;
        let expected = sensor_alerts((0..end).map(|i| g.event(0, i)), &spec);
        assert!(!expected.is_empty());
        assert_eq!(partition_alerts(&g, &spec, 0, 0..2, end), expected);
    }

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
