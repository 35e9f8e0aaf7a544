//! Seeded, partitioned, offset-addressable generators.
//!
//! Event `i` of partition `p` is a pure function of the seed, `p` and `i` (through the global
//! index `k = i * partitions + p` of [`Schedule`]), so any range can be regenerated exactly, as a
//! consumer re-reads a Kafka offset range after a fault.
//!
//! Generation must never be what limits an engine. Text is therefore drawn from pools built once
//! per generator (lines of Zipf-distributed words; tweets per popularity phase) and indexed by a
//! hash of the global index: an event is a hash, a table look-up and a borrowed `&str`, with no
//! allocation. Sensor readings are computed arithmetically from tables.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use crate::event::{Anomaly, Line, SensorReading, Tweet};
use crate::hash::{below, mix3, mix64, SplitMix};
use crate::schedule::Schedule;
use crate::spec::{HashtagSpec, SensorSpec, WordCountSpec};
use crate::text::{vocabulary, Zipf};

/// Lines in a word-count pool.
pub const LINE_POOL: usize = 1 << 16;
/// Tweets in each popularity phase's pool.
pub const TWEET_POOL: usize = 1 << 13;
/// Popularity phases before the hashtag drift repeats.
pub const PHASES: usize = 16;

const LINE_PICK: u64 = 0x11;
const TWEET_PICK: u64 = 0x22;
const USER_PICK: u64 = 0x33;

/// Why a generator cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum GeneratorError {
    /// The `--input` file cannot be read.
    #[error("cannot read input file {path}: {source}")]
    Input {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The `--input` file has no non-empty line.
    #[error("input file {0} has no non-empty line: give a text file with at least one line of words")]
    EmptyInput(String),
}

/// Generates [`Line`]s: Zipf-distributed words from a synthetic vocabulary, or the lines of a
/// text file replayed in order (cycling when it runs out).
#[derive(Clone, Debug)]
pub struct LineGenerator {
    pool: Arc<[Box<str>]>,
    from_file: bool,
    schedule: Schedule,
    seed: u64,
}

impl LineGenerator {
    /// A generator for `spec` over `schedule`.
    pub fn new(spec: &WordCountSpec, schedule: Schedule, seed: u64) -> Result<Self, GeneratorError> {
        let (pool, from_file) = match &spec.input {
            Some(path) => (read_lines(path)?, true),
            None => (line_pool(spec, seed), false),
        };
        Ok(Self { pool: pool.into(), from_file, schedule, seed })
    }

    /// Event `i` of partition `p`.
    #[inline]
    pub fn event(&self, p: u32, i: u64) -> Line<'_> {
        let k = self.schedule.global_index(p, i);
        let index = if self.from_file {
            (k % self.pool.len() as u64) as usize
        } else {
            below(mix3(self.seed, LINE_PICK, k), self.pool.len() as u64) as usize
        };
        Line { event_time: self.schedule.event_time(p, i), text: Cow::Borrowed(&self.pool[index]) }
    }

    /// The schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }
}

fn read_lines(path: &Path) -> Result<Vec<Box<str>>, GeneratorError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| GeneratorError::Input { path: path.display().to_string(), source })?;
    let lines: Vec<Box<str>> = text.lines().filter(|l| !l.trim().is_empty()).map(Into::into).collect();
    if lines.is_empty() {
        return Err(GeneratorError::EmptyInput(path.display().to_string()));
    }
    Ok(lines)
}

fn line_pool(spec: &WordCountSpec, seed: u64) -> Vec<Box<str>> {
    let vocab = vocabulary(spec.vocabulary);
    let zipf = Zipf::new(spec.vocabulary, spec.zipf);
    let mut rng = SplitMix::new(mix64(seed ^ 0x1e5));
    (0..LINE_POOL)
        .map(|_| {
            let mut line = String::with_capacity(spec.words_per_line * 8);
            for w in 0..spec.words_per_line {
                if w > 0 {
                    line.push(' ');
                }
                line.push_str(&vocab[zipf.sample(rng.unit())]);
            }
            line.into_boxed_str()
        })
        .collect()
}

/// Generates [`Tweet`]s whose hashtag popularity drifts from phase to phase (every
/// `spec.phase_ns` of event time) and bursts (in some phases one tag jumps to the top).
#[derive(Clone, Debug)]
pub struct TweetGenerator {
    phases: Arc<[Vec<Box<str>>]>,
    phase_ns: u64,
    users: u32,
    schedule: Schedule,
    seed: u64,
}

impl TweetGenerator {
    /// A generator for `spec` over `schedule`.
    pub fn new(spec: &HashtagSpec, schedule: Schedule, seed: u64) -> Self {
        Self {
            phases: tweet_phases(spec, seed).into(),
            phase_ns: spec.phase_ns.max(1),
            users: spec.users.max(1),
            schedule,
            seed,
        }
    }

    /// Event `i` of partition `p`.
    #[inline]
    pub fn event(&self, p: u32, i: u64) -> Tweet<'_> {
        let k = self.schedule.global_index(p, i);
        let phase = ((self.schedule.nominal_time(p, i) / self.phase_ns) % PHASES as u64) as usize;
        let pool = &self.phases[phase];
        let index = below(mix3(self.seed, TWEET_PICK, k), pool.len() as u64) as usize;
        Tweet {
            event_time: self.schedule.event_time(p, i),
            user: below(mix3(self.seed, USER_PICK, k), self.users as u64) as u32,
            text: Cow::Borrowed(&pool[index]),
        }
    }

    /// The schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }
}

/// The tag vocabulary: `#` followed by a word.
pub fn tag_vocabulary(tags: usize) -> Vec<String> {
    // Skip the most common words so tags differ from the body's frequent words.
    vocabulary(tags + 200).into_iter().skip(200).map(|w| format!("#{w}")).collect()
}

fn tweet_phases(spec: &HashtagSpec, seed: u64) -> Vec<Vec<Box<str>>> {
    let vocab = vocabulary(spec.body_vocabulary);
    let body = Zipf::new(spec.body_vocabulary, 1.1);
    let tags = tag_vocabulary(spec.tags);
    let base = Zipf::new(spec.tags, spec.zipf);
    let mut rng = SplitMix::new(mix64(seed ^ 0x7a65));
    // Each tag's popularity takes a multiplicative random walk from phase to phase.
    let mut drift = vec![1.0f64; spec.tags];
    (0..PHASES)
        .map(|_| {
            for d in &mut drift {
                // A factor in [0.6, 1.66]: symmetric on a log scale.
                *d = (*d * (0.6f64).powf(2.0 * rng.unit() - 1.0)).clamp(0.05, 20.0);
            }
            let mut weights: Vec<f64> = (0..spec.tags).map(|t| base.probability(t) * drift[t]).collect();
            if rng.unit() < spec.burst_probability {
                let top = weights.iter().cloned().fold(0.0, f64::max);
                let t = rng.below(spec.tags as u64) as usize;
                weights[t] = 3.0 * top;
            }
            let total: f64 = weights.iter().sum();
            let mut cdf = Vec::with_capacity(weights.len());
            let mut acc = 0.0;
            for w in &weights {
                acc += w / total;
                cdf.push(acc);
            }
            (0..TWEET_POOL)
                .map(|_| {
                    let words = 5 + rng.below(8) as usize;
                    let n_tags = match rng.below(10) {
                        0..=2 => 0,
                        3..=6 => 1,
                        7..=8 => 2,
                        _ => 3,
                    };
                    let mut parts: Vec<&str> = (0..words).map(|_| vocab[body.sample(rng.unit())].as_str()).collect();
                    for _ in 0..n_tags {
                        let u = rng.unit();
                        let t = cdf.partition_point(|c| *c <= u).min(cdf.len() - 1);
                        let at = rng.below(parts.len() as u64 + 1) as usize;
                        parts.insert(at, tags[t].as_str());
                    }
                    parts.join(" ").into_boxed_str()
                })
                .collect()
        })
        .collect()
}

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

    fn normal(&self, sensor: u32, seq: u64) -> i64 {
        let b = mix3(self.seed, BASELINE, sensor as u64);
        let baseline = 15_000 + (b & 0x3fff) as i64; // 15 to ~31 units
        let amplitude = 2 + ((b >> 16) & 3) as i64; // 2 to 5 units
        let offset = (b >> 24) % READINGS_PER_DAY;
        let angle = ((seq + offset) % READINGS_PER_DAY) * SINE_TABLE as u64 / READINGS_PER_DAY;
        let cycle = amplitude * self.sine[angle as usize];
        // Irwin-Hall of four 16-bit uniforms: mean 2^17 - 2, sd 2^16 / sqrt(3).
        let n = mix3(self.seed, NOISE ^ ((sensor as u64) << 8), seq);
        let sum = (n & 0xffff) + ((n >> 16) & 0xffff) + ((n >> 32) & 0xffff) + (n >> 48);
        let centred = sum as i64 - 2 * 0xffff;
        // Scale so that the standard deviation is NOISE_SD_MILLI (65535/sqrt(3) ~ 37837).
        let noise = centred * NOISE_SD_MILLI / 37_837;
        baseline + cycle + noise
    }

    fn value(&self, sensor: u32, seq: u64) -> (i64, Option<Anomaly>) {
        let normal = self.normal(sensor, seq);
        let block = seq / ANOMALY_BLOCK;
        let e = mix3(self.seed, EPISODE ^ ((sensor as u64) << 8), block);
        if crate::hash::unit(e) >= self.spec.anomaly_rate {
            return (normal, None);
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
        if seq < start || seq >= start + len {
            return (normal, None);
        }
        let sign = if (e >> 40) & 1 == 0 { 1 } else { -1 };
        let magnitude = 4_000 + ((e >> 41) % 4_000) as i64;
        let milli = match kind {
            Anomaly::Spike => normal + sign * magnitude,
            Anomaly::Stuck => self.normal(sensor, start),
            Anomaly::Drift => normal + sign * magnitude * (seq - start + 1) as i64 / len as i64,
        };
        (milli, Some(kind))
    }

    /// The schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }
}
