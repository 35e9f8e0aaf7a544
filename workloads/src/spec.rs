//! Job specs: each workload's parameters and the exact meaning of its output.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Nanoseconds in a second.
pub const SECOND_NS: u64 = 1_000_000_000;

/// The three workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// Running word count (and its tumbling-window variant).
    Wordcount,
    /// Sliding-window hashtag counts and top-K.
    Hashtags,
    /// Per-sensor k-sigma anomaly detection.
    Sensors,
}

impl Workload {
    /// Every workload, in report order.
    pub const ALL: [Workload; 3] = [Workload::Wordcount, Workload::Hashtags, Workload::Sensors];

    /// The workload's name on the command line and in results.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Wordcount => "wordcount",
            Workload::Hashtags => "hashtags",
            Workload::Sensors => "sensors",
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
#[error("unknown workload `{0}`: choose one of wordcount, hashtags, sensors")]
pub struct UnknownWorkload(pub String);

impl FromStr for Workload {
    type Err = UnknownWorkload;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Workload::ALL.into_iter().find(|w| w.name() == s).ok_or_else(|| UnknownWorkload(s.to_owned()))
    }
}

/// `wordcount`: a running count per word; every output `(word, total)` is a prefix count and
/// final totals equal the oracle's. With `window_ns`, instead counts per word per tumbling
/// event-time window (Spark's per-batch `reduceByKey` when the window is the batch interval).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WordCountSpec {
    /// Distinct words in the synthetic vocabulary.
    pub vocabulary: usize,
    /// Words per generated line.
    pub words_per_line: usize,
    /// Zipf exponent of word frequencies.
    pub zipf: f64,
    /// Replay this text file's lines instead of generating them.
    pub input: Option<PathBuf>,
    /// Tumbling window length in ns for the windowed variant; `None` for the running count.
    pub window_ns: Option<u64>,
}

impl Default for WordCountSpec {
    fn default() -> Self {
        Self { vocabulary: 10_000, words_per_line: 10, zipf: 1.1, input: None, window_ns: None }
    }
}

/// `hashtags`: over sliding event-time windows (length `window_ns`, a new window every
/// `slide_ns`), the count of every tag and the `top_k` tags, by count descending and then tag
/// ascending. A window is named by its end `e` (a multiple of the slide) and holds event times in
/// `[e - window_ns, e)`; a result is produced for every window holding at least one tag.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HashtagSpec {
    /// Window length, ns.
    pub window_ns: u64,
    /// Window slide, ns (divides the length).
    pub slide_ns: u64,
    /// Tags reported per window.
    pub top_k: usize,
    /// Distinct hashtags.
    pub tags: usize,
    /// Zipf exponent of base tag popularity.
    pub zipf: f64,
    /// Words the tweet bodies are drawn from.
    pub body_vocabulary: usize,
    /// Event time between popularity phases (the drift), ns.
    pub phase_ns: u64,
    /// Probability that a phase has a burst tag.
    pub burst_probability: f64,
    /// Distinct users.
    pub users: u32,
}

impl Default for HashtagSpec {
    fn default() -> Self {
        Self {
            window_ns: 10 * SECOND_NS,
            slide_ns: SECOND_NS,
            top_k: 10,
            tags: 1000,
            zipf: 1.1,
            body_vocabulary: 10_000,
            phase_ns: 2 * SECOND_NS,
            burst_probability: 0.5,
            users: 100_000,
        }
    }
}

impl HashtagSpec {
    /// The ends of the windows that hold event time `t`, in ascending order.
    #[inline]
    pub fn window_ends(&self, t: u64) -> impl Iterator<Item = u64> {
        let first = (t / self.slide_ns + 1) * self.slide_ns;
        let (count, slide) = (self.window_ns / self.slide_ns, self.slide_ns);
        (0..count).map(move |j| first + j * slide)
    }
}

/// `sensors`: each sensor's detector keeps its last `window` readings (in `seq` order); a reading
/// arriving when the window is full is an alert when it lies more than `k` standard deviations
/// (population) from the window's mean. Computed exactly on the integer milli-values:
/// `(W x - S)^2 * den^2 > num^2 * (W Q - S^2)` with `S`, `Q` the window's sum and sum of squares
/// and `k = num / den`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SensorSpec {
    /// Sensors (rounded up to a multiple of the partition count).
    pub sensors: u32,
    /// Readings in the detector's window.
    pub window: usize,
    /// The alert threshold in standard deviations.
    pub k: f64,
    /// Probability that a sensor has an injected anomaly in a block of readings.
    pub anomaly_rate: f64,
}

impl Default for SensorSpec {
    fn default() -> Self {
        Self { sensors: 1000, window: 100, k: 3.0, anomaly_rate: 0.2 }
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
}

impl JobSpec {
    /// The default spec of `workload`.
    pub fn default_for(workload: Workload) -> Self {
        match workload {
            Workload::Wordcount => JobSpec::Wordcount(WordCountSpec::default()),
            Workload::Hashtags => JobSpec::Hashtags(HashtagSpec::default()),
            Workload::Sensors => JobSpec::Sensors(SensorSpec::default()),
        }
    }

    /// Which workload this is.
    pub fn workload(&self) -> Workload {
        match self {
            JobSpec::Wordcount(_) => Workload::Wordcount,
            JobSpec::Hashtags(_) => Workload::Hashtags,
            JobSpec::Sensors(_) => Workload::Sensors,
        }
    }

    /// Checks the parameters; the error says what to change.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            JobSpec::Wordcount(s) => {
                if s.vocabulary == 0 || s.words_per_line == 0 {
                    return Err("wordcount needs a vocabulary and words per line of at least 1".into());
                }
                if s.window_ns == Some(0) {
                    return Err("the word-count window must be longer than 0".into());
                }
            }
            JobSpec::Hashtags(s) => {
                if s.slide_ns == 0 || s.window_ns == 0 || s.window_ns % s.slide_ns != 0 {
                    return Err(format!(
                        "the hashtag window ({} ms) must be a positive multiple of the slide ({} ms)",
                        s.window_ns / 1_000_000,
                        s.slide_ns / 1_000_000
                    ));
                }
                if s.top_k == 0 || s.tags == 0 {
                    return Err("hashtags needs top_k and tags of at least 1".into());
                }
            }
            JobSpec::Sensors(s) => {
                if s.window < 2 || s.sensors == 0 || !(s.k > 0.0 && s.k.is_finite()) {
                    return Err("sensors needs a window of at least 2 readings, at least 1 sensor and k > 0".into());
                }
            }
        }
        Ok(())
    }
}
