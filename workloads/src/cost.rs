//! The COST baseline: each job as a single-threaded plain loop over the same generated events,
//! with the same job logic and no engine. Every engine figure is quoted as a ratio to it.

use std::time::{Duration, Instant};

use crate::contract::{AnyGenerator, RunSpec};
use crate::hash::key_hash;
use crate::logic::{SensorWindow, SlidingTopK, StrMap, Threshold};
use crate::output::HashtagWindow;
use crate::spec::JobSpec;
use crate::text::{hashtags, words};
use crate::verify::UpdateDigest;

/// What a COST loop did.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CostResult {
    /// Input records processed.
    pub records: u64,
    /// Outputs produced (updates, window results or alerts).
    pub outputs: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Records per second.
    pub records_per_sec: f64,
}

/// The running word count over `records` lines; returns the digest of its updates.
pub fn wordcount(gen: &crate::generator::LineGenerator, records: u64) -> UpdateDigest {
    let partitions = gen.schedule().partitions() as u64;
    let mut counts: StrMap<u64> = StrMap::default();
    let mut digest = UpdateDigest::default();
    for k in 0..records {
        let line = gen.event((k % partitions) as u32, k / partitions);
        for w in words(&line.text) {
            let hash = key_hash(w);
            let count = counts.get_or_insert_with(hash, w, || 0);
            *count += 1;
            digest.add(hash, *count);
        }
    }
    digest
}

/// The sliding-window hashtag job over `records` tweets; returns every window's result.
pub fn hashtags_job(
    gen: &crate::generator::TweetGenerator,
    spec: &crate::spec::HashtagSpec,
    records: u64,
) -> Vec<HashtagWindow> {
    let schedule = gen.schedule();
    let partitions = schedule.partitions() as u64;
    let disorder = schedule.disorder_ns();
    let mut windows = SlidingTopK::new(spec);
    let mut out = Vec::new();
    let mut last_fire = 0;
    for k in 0..records {
        let (p, i) = ((k % partitions) as u32, k / partitions);
        let tweet = gen.event(p, i);
        for tag in hashtags(&tweet.text) {
            windows.add(key_hash(tag), tag, tweet.event_time, 1);
        }
        // The watermark: nothing later in the stream has an event time below this.
        let watermark = schedule.nominal_time(p, i).saturating_sub(disorder);
        if watermark >= last_fire + spec.slide_ns {
            windows.fire(watermark, |w| out.push(w));
            last_fire = watermark;
        }
    }
    windows.fire(u64::MAX, |w| out.push(w));
    out
}

/// The sensor detector over `records` readings; returns the alerts `(sensor, seq, milli)`.
pub fn sensors(
    gen: &crate::generator::SensorGenerator,
    spec: &crate::spec::SensorSpec,
    records: u64,
) -> Vec<crate::output::Alert> {
    let partitions = gen.schedule().partitions() as u64;
    let threshold = Threshold::new(spec);
    let mut windows: Vec<Option<SensorWindow>> = vec![None; gen.sensors() as usize];
    let mut alerts = Vec::new();
    for k in 0..records {
        let r = gen.event((k % partitions) as u32, k / partitions);
        let w = windows[r.sensor as usize].get_or_insert_with(|| SensorWindow::new(spec.window));
        if w.push(r.milli, threshold) {
            alerts.push(crate::output::Alert { sensor: r.sensor, seq: r.seq, milli: r.milli });
        }
    }
    alerts
}

/// Runs the COST loop of `spec`'s workload over `records` events and times it.
pub fn run(spec: &RunSpec, records: u64) -> Result<CostResult, crate::generator::GeneratorError> {
    let gen = spec.generator()?;
    let start = Instant::now();
    let outputs = match (&gen, &spec.job) {
        (AnyGenerator::Lines(g), JobSpec::Wordcount(_)) => wordcount(g, records).updates,
        (AnyGenerator::Tweets(g), JobSpec::Hashtags(s)) => hashtags_job(g, s, records).len() as u64,
        (AnyGenerator::Sensors(g), JobSpec::Sensors(s)) => sensors(g, s, records).len() as u64,
        _ => unreachable!("RunSpec::generator matches the job"),
    };
    let elapsed = start.elapsed();
    Ok(CostResult { records, outputs, elapsed, records_per_sec: records as f64 / elapsed.as_secs_f64().max(1e-9) })
}
