//! The three event types. Every event carries its event time in ns from the start of the run.
//! Text stays text: jobs tokenise it themselves, because tokenising is part of the real cost.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// A line of text (`wordcount`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line<'a> {
    /// Event time, ns.
    pub event_time: u64,
    /// The text; words are separated by ASCII whitespace.
    #[serde(borrow)]
    pub text: Cow<'a, str>,
}

/// A tweet (`hashtags`): text in which hashtags are words starting with `#`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tweet<'a> {
    /// Event time, ns.
    pub event_time: u64,
    /// The author.
    pub user: u32,
    /// The text, hashtags included.
    #[serde(borrow)]
    pub text: Cow<'a, str>,
}

/// A labelled injected anomaly (the generator's ground truth).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anomaly {
    /// A single reading far off the baseline.
    Spike,
    /// The sensor repeats one value.
    Stuck,
    /// The reading drifts steadily away from the baseline.
    Drift,
}

/// A sensor reading (`sensors`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensorReading {
    /// Event time, ns.
    pub event_time: u64,
    /// The sensor.
    pub sensor: u32,
    /// The reading's position in its sensor's sequence (0, 1, 2, ...): the order the detector
    /// consumes a sensor's readings in.
    pub seq: u64,
    /// The value in thousandths of a unit (milli-degrees): detectors compute on these integers,
    /// so every implementation decides alike.
    pub milli: i64,
    /// The injected anomaly this reading belongs to, if any (ground truth; detectors must not
    /// look at it).
    pub anomaly: Option<Anomaly>,
}
