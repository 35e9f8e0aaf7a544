//! The workloads by name, and a workload with its parameters: the one place, with
//! the registry, that lists every workload. Adding a workload adds a variant to
//! [`Workload`] and [`JobSpec`] and an arm to each `match` here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::hashtags::spec::HashtagSpec;
use crate::sensors::spec::SensorSpec;
use crate::spec::JobOptions;
use crate::wordcount::spec::WordCountSpec;
use crate::ysb::spec::YsbSpec;

/// The workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// Running word count (and its tumbling-window variant).
    Wordcount,
    /// Sliding-window hashtag counts and top-K.
    Hashtags,
    /// Per-sensor k-sigma anomaly detection.
    Sensors,
    /// The Yahoo Streaming Benchmark's ad-campaign job.
    Ysb,
}

impl Workload {
    /// Every workload, in report order.
    pub const ALL: [Workload; 4] = [Workload::Wordcount, Workload::Hashtags, Workload::Sensors, Workload::Ysb];

    /// The workload's name on the command line and in results.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Wordcount => "wordcount",
            Workload::Hashtags => "hashtags",
            Workload::Sensors => "sensors",
            Workload::Ysb => "ysb",
        }
    }

    /// The workload's position in [`Workload::ALL`].
    pub fn index(self) -> usize {
        Workload::ALL.iter().position(|w| *w == self).expect("every workload is in ALL")
    }

    /// The workload with its default parameters.
    pub fn default_job(self) -> JobSpec {
        match self {
            Workload::Wordcount => JobSpec::Wordcount(WordCountSpec::default()),
            Workload::Hashtags => JobSpec::Hashtags(HashtagSpec::default()),
            Workload::Sensors => JobSpec::Sensors(SensorSpec::default()),
            Workload::Ysb => JobSpec::Ysb(YsbSpec::default()),
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown workload name.
#[derive(Debug, thiserror::Error)]
#[error("unknown workload `{0}`: choose one of {names}", names = Workload::ALL.map(Workload::name).join(", "))]
pub struct UnknownWorkload(pub String);

impl FromStr for Workload {
    type Err = UnknownWorkload;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Workload::ALL.into_iter().find(|w| w.name() == s).ok_or_else(|| UnknownWorkload(s.to_owned()))
    }
}

/// A workload with its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "workload", rename_all = "snake_case")]
pub enum JobSpec {
    /// `wordcount`.
    Wordcount(WordCountSpec),
    /// `hashtags`.
    Hashtags(HashtagSpec),
    /// `sensors`.
    Sensors(SensorSpec),
    /// `ysb`.
    Ysb(YsbSpec),
}

impl JobSpec {
    /// The default spec of `workload`.
    pub fn default_for(workload: Workload) -> Self {
        workload.default_job()
    }

    /// Which workload this is.
    pub fn workload(&self) -> Workload {
        match self {
            JobSpec::Wordcount(_) => Workload::Wordcount,
            JobSpec::Hashtags(_) => Workload::Hashtags,
            JobSpec::Sensors(_) => Workload::Sensors,
            JobSpec::Ysb(_) => Workload::Ysb,
        }
    }

    /// Checks the parameters; the error says what to change.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            JobSpec::Wordcount(s) => s.validate(),
            JobSpec::Hashtags(s) => s.validate(),
            JobSpec::Sensors(s) => s.validate(),
            JobSpec::Ysb(s) => s.validate(),
        }
    }

    /// Applies the command line's job options; refuses one the workload cannot take.
    pub fn configure(&mut self, options: &JobOptions) -> Result<(), String> {
        match self {
            JobSpec::Wordcount(s) => s.configure(options),
            JobSpec::Hashtags(s) => s.configure(options),
            JobSpec::Sensors(s) => s.configure(options),
            JobSpec::Ysb(s) => s.configure(options),
        }
    }

    /// How far apart the job's windows end (a tumbling window's length, a sliding window's
    /// slide); `None` for a job without windows. The first window containing an input ends at the
    /// next multiple of it.
    pub fn slide_ns(&self) -> Option<u64> {
        match self {
            JobSpec::Wordcount(s) => s.window_ns,
            JobSpec::Hashtags(s) => Some(s.slide_ns),
            JobSpec::Sensors(_) => None,
            JobSpec::Ysb(s) => Some(s.window_ns),
        }
    }

    /// The event-time windows of the job, with the flag that sets each: a micro-batch
    /// interval must divide every one.
    pub fn windows(&self) -> Vec<(&'static str, u64)> {
        match self {
            JobSpec::Wordcount(s) => s.windows(),
            JobSpec::Hashtags(s) => s.windows(),
            JobSpec::Sensors(s) => s.windows(),
            JobSpec::Ysb(s) => s.windows(),
        }
    }
}
