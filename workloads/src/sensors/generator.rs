//! The `sensors` generator: per-sensor baselines, a daily cycle, noise and labelled anomalies.

use std::sync::Arc;

use crate::hash::{mix3, mix3_mixed, mix64};
use crate::schedule::Schedule;
use crate::sensors::event::{Anomaly, SensorReading};
use crate::sensors::spec::SensorSpec;

const SINE_TABLE: usize = 4096;
const BASELINE: u64 = 0xba5e;
const NOISE: u64 = 0x0015e;
const EPISODE: u64 = 0xe915;

/// Generates [`SensorReading`]s: per-sensor baselines, a daily cycle, noise, and labelled
/// injected anomalies (spikes, stuck values, drifts).
///
/// Partition `p` carries the sensors `s` with `s % partitions == p`, round robin: event `i` is
/// reading `i / n` of the partition's `(i % n)`-th sensor. A sensor's readings therefore come
/// from one partition, in order, which is the order the detector consumes them in.
#[derive(Clone, Debug)]
pub struct SensorGenerator {
    sine: Arc<[i64]>,
    per_partition: u64,
    spec: SensorSpec,
    schedule: Schedule,
    seed: u64,
}

/// A sensor's baseline: its level, the daily cycle's amplitude and phase.
struct Baseline {
    level: i64,
    amplitude: i64,
    offset: u64,
}

/// One sensor in [`SensorGenerator::sweep`]: its readings, its noise stream, where the next
/// reading lies in its day.
struct Track {
    sensor: u32,
    read: u64,
    stream: u64,
    day: u64,
    base: Baseline,
}

/// The stream of `sensor`'s noise hash.
fn noise_stream(sensor: u32) -> u64 {
    NOISE ^ ((sensor as u64) << 8)
}

/// An injected anomaly: its kind, its readings `start..start + len`, its signed magnitude.
#[derive(Clone, Copy)]
struct Episode {
    kind: Anomaly,
    start: u64,
    len: u64,
    magnitude: i64,
}

/// Readings of one sensor per simulated day.
pub const READINGS_PER_DAY: u64 = 86_400;
/// Readings in an anomaly block: each block holds at most one injected episode.
pub const ANOMALY_BLOCK: u64 = 1000;
/// The noise's standard deviation, in milli-units.
pub const NOISE_SD_MILLI: i64 = 300;

impl SensorGenerator {
    /// A generator for `spec` over `schedule`.
    pub fn new(spec: &SensorSpec, schedule: Schedule, seed: u64) -> Self {
        let sine = (0..SINE_TABLE)
            .map(|j| ((j as f64 / SINE_TABLE as f64) * std::f64::consts::TAU).sin().mul_add(1000.0, 0.0) as i64)
            .collect::<Vec<_>>();
        let partitions = schedule.partitions() as u64;
        let per_partition = (spec.sensors as u64).div_ceil(partitions).max(1);
        Self { sine: sine.into(), per_partition, spec: spec.clone(), schedule, seed }
    }

    /// The total number of sensors (the spec's count rounded up to fill every partition).
    pub fn sensors(&self) -> u32 {
        (self.per_partition * self.schedule.partitions() as u64) as u32
    }

    /// Event `i` of partition `p`.
    #[inline]
    pub fn event(&self, p: u32, i: u64) -> SensorReading {
        let local = i % self.per_partition;
        let sensor = (local * self.schedule.partitions() as u64 + p as u64) as u32;
        let seq = i / self.per_partition;
        let (milli, anomaly) = self.value(sensor, seq);
        SensorReading { event_time: self.schedule.event_time(p, i), sensor, seq, milli, anomaly }
    }

    /// Readings of each sensor a partition carries (its sensors are `p + k * partitions` for
    /// `k` below this).
    pub fn per_partition(&self) -> u64 {
        self.per_partition
    }

    /// The sensor partition `p` carries at local index `local`, and how many of its readings
    /// the partition's first `end` events hold.
    pub fn sensor_read(&self, p: u32, local: u64, end: u64) -> (u32, u64) {
        let sensor = (local * self.schedule.partitions() as u64 + p as u64) as u32;
        (sensor, if end > local { (end - local).div_ceil(self.per_partition) } else { 0 })
    }

    /// The first `read` readings of each `(sensor, read)` of `sensors`, an anomaly block at a
    /// time: `f(k, first, millis)` for `sensors[k]`'s readings `first..first + millis.len()`.
    /// The values [`SensorGenerator::event`] gives them, with each sensor's baseline drawn once,
    /// each block's episode once, and a sequence number's share of the noise hash once for all.
    pub fn sweep(&self, sensors: &[(u32, u64)], mut f: impl FnMut(usize, u64, &[i64])) {
        let mut tracks: Vec<Track> = sensors
            .iter()
            .map(|&(sensor, read)| {
                let base = self.baseline(sensor);
                Track { sensor, read, stream: noise_stream(sensor), day: base.offset, base }
            })
            .collect();
        let reads = sensors.iter().map(|s| s.1).max().unwrap_or(0);
        let (mut mixed, mut millis) = (vec![0; ANOMALY_BLOCK as usize], vec![0; ANOMALY_BLOCK as usize]);
        for block in 0..reads.div_ceil(ANOMALY_BLOCK) {
            let first = block * ANOMALY_BLOCK;
            for (j, m) in mixed.iter_mut().enumerate() {
                *m = mix64(first + j as u64);
            }
            for (k, t) in tracks.iter_mut().enumerate() {
                let n = t.read.saturating_sub(first).min(ANOMALY_BLOCK) as usize;
                if n == 0 {
                    continue;
                }
                let mut day = t.day;
                for (m, &h) in millis[..n].iter_mut().zip(&mixed) {
                    *m = self.normal_at(&t.base, day, mix3_mixed(self.seed, t.stream, h));
                    day = if day + 1 == READINGS_PER_DAY { 0 } else { day + 1 };
                }
                t.day = day;
                if let Some(e) = self.episode(t.sensor, block) {
                    for seq in e.start..(e.start + e.len).min(first + n as u64) {
                        let m = &mut millis[(seq - first) as usize];
                        *m = self.anomalous(&t.base, t.sensor, seq, *m, e);
                    }
                }
                f(k, first, &millis[..n]);
            }
        }
    }

    /// How many of `sensor`'s first `readings` readings are labelled anomalies (a block's
    /// episode at a time, no reading drawn).
    pub fn labelled(&self, sensor: u32, readings: u64) -> u64 {
        (0..readings.div_ceil(ANOMALY_BLOCK))
            .filter_map(|block| self.episode(sensor, block))
            .map(|e| e.start.min(readings).abs_diff((e.start + e.len).min(readings)))
            .sum()
    }

    /// The label of `sensor`'s reading `seq`.
    pub fn anomaly(&self, sensor: u32, seq: u64) -> Option<Anomaly> {
        self.episode(sensor, seq / ANOMALY_BLOCK).filter(|e| (e.start..e.start + e.len).contains(&seq)).map(|e| e.kind)
    }

    fn baseline(&self, sensor: u32) -> Baseline {
        let b = mix3(self.seed, BASELINE, sensor as u64);
        Baseline {
            level: 15_000 + (b & 0x3fff) as i64,   // 15 to ~31 units
            amplitude: 2 + ((b >> 16) & 3) as i64, // 2 to 5 units
            offset: (b >> 24) % READINGS_PER_DAY,
        }
    }

    fn normal(&self, base: &Baseline, sensor: u32, seq: u64) -> i64 {
        self.normal_at(base, (seq + base.offset) % READINGS_PER_DAY, mix3(self.seed, noise_stream(sensor), seq))
    }

    /// A normal reading at `day` readings into the sensor's day, from the noise hash `n`.
    #[inline]
    fn normal_at(&self, base: &Baseline, day: u64, n: u64) -> i64 {
        let angle = day * SINE_TABLE as u64 / READINGS_PER_DAY;
        let cycle = base.amplitude * self.sine[angle as usize];
        // Irwin-Hall of four 16-bit uniforms: mean 2^17 - 2, sd 2^16 / sqrt(3).
        let sum = (n & 0xffff) + ((n >> 16) & 0xffff) + ((n >> 32) & 0xffff) + (n >> 48);
        let centred = sum as i64 - 2 * 0xffff;
        // Scale so that the standard deviation is NOISE_SD_MILLI (65535/sqrt(3) ~ 37837).
        let noise = centred * NOISE_SD_MILLI / 37_837;
        base.level + cycle + noise
    }

    /// The injected episode of `sensor`'s block `block`, if it has one.
    fn episode(&self, sensor: u32, block: u64) -> Option<Episode> {
        let e = mix3(self.seed, EPISODE ^ ((sensor as u64) << 8), block);
        if crate::hash::unit(e) >= self.spec.anomaly_rate {
            return None;
        }
        let kind = match (e >> 8) % 3 {
            0 => Anomaly::Spike,
            1 => Anomaly::Stuck,
            _ => Anomaly::Drift,
        };
        let len = match kind {
            Anomaly::Spike => 1,
            Anomaly::Stuck => 30,
            Anomaly::Drift => 50,
        };
        let start = block * ANOMALY_BLOCK + (e >> 16) % (ANOMALY_BLOCK - len);
        let sign = if (e >> 40) & 1 == 0 { 1 } else { -1 };
        Some(Episode { kind, start, len, magnitude: sign * (4_000 + ((e >> 41) % 4_000) as i64) })
    }

    fn value(&self, sensor: u32, seq: u64) -> (i64, Option<Anomaly>) {
        self.value_with(&self.baseline(sensor), sensor, seq, self.episode(sensor, seq / ANOMALY_BLOCK))
    }

    #[inline]
    fn value_with(&self, base: &Baseline, sensor: u32, seq: u64, episode: Option<Episode>) -> (i64, Option<Anomaly>) {
        let normal = self.normal(base, sensor, seq);
        match episode.filter(|e| seq >= e.start && seq < e.start + e.len) {
            Some(e) => (self.anomalous(base, sensor, seq, normal, e), Some(e.kind)),
            None => (normal, None),
        }
    }

    /// Reading `seq` of `sensor`, whose normal value is `normal`, inside episode `e`.
    #[cold]
    fn anomalous(&self, base: &Baseline, sensor: u32, seq: u64, normal: i64, e: Episode) -> i64 {
        match e.kind {
            Anomaly::Spike => normal + e.magnitude,
            Anomaly::Stuck => self.normal(base, sensor, e.start),
            Anomaly::Drift => normal + e.magnitude * (seq - e.start + 1) as i64 / e.len as i64,
        }
    }

    /// The schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }
}
