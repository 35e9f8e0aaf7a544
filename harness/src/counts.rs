//! Counted runs: instruction counts per input record (and, for the micro-batch engine, per empty
//! batch), from runs whose work does not depend on timing, counted by cachegrind. The counts
//! file, and the gate that compares two: an instruction count is the same from run to run on
//! any machine load (to well under 0.5 %), so a 3 % change is a real one, where wall-clock
//! throughput on a shared machine moves by tens of percent.

use std::path::Path;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

/// What a counts file holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// How the counts were taken (the tool and its version, the base input size).
    pub context: CountContext,
    /// One entry per engine, workload and metric.
    pub entries: Vec<Count>,
}

/// How the counts were taken.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CountContext {
    /// `valgrind --version`.
    pub tool: String,
    /// The smaller run's input records (the larger reads twice as many).
    pub records: u64,
    /// The streambench version.
    pub version: String,
}

/// One counted figure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Count {
    /// The engine.
    pub engine: String,
    /// The workload.
    pub workload: String,
    /// `instructions_per_record`, or `instructions_per_batch` (an empty micro-batch: its fixed
    /// cost).
    pub metric: String,
    /// The figure: the difference in instructions between the two runs over the difference in
    /// what they did (records, or batches), so the start-up and the shutdown cancel.
    pub value: f64,
    /// The two runs' instruction counts.
    pub instructions: [u64; 2],
    /// The two runs' records (or batches).
    pub units: [u64; 2],
    /// Both runs ran to the end and their outputs equal the oracle.
    pub correct: bool,
    /// Why not, when not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Count {
    /// The key two files are matched on.
    pub fn key(&self) -> String {
        format!("{} {} {}", self.engine, self.workload, self.metric)
    }
}

impl Counts {
    /// Reads a counts file, saying which when it is not one.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a counts file (write one with `streambench counts`)", path.display()))
    }
}

/// How a figure moved against the baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// Fewer instructions beyond the threshold.
    Faster,
    /// More instructions beyond the threshold.
    Slower,
    /// Within the threshold.
    NoChange,
    /// Not comparable: missing from one file, or a run failed or was wrong.
    Incomparable,
}

/// The comparison of two counts files.
#[derive(Debug)]
pub struct Comparison {
    /// One line per figure, for people.
    pub lines: Vec<String>,
    /// The verdicts, by key.
    pub verdicts: Vec<(String, Verdict)>,
}

impl Comparison {
    /// The gate: nothing slower, nothing incomparable.
    pub fn pass(&self) -> bool {
        self.verdicts.iter().all(|(_, v)| matches!(v, Verdict::Faster | Verdict::NoChange))
    }
}

/// Compares `new` with `baseline`: a figure more than `threshold` (a fraction) above the
/// baseline's is slower, more than it below is faster.
pub fn compare(baseline: &Counts, new: &Counts, threshold: f64) -> Comparison {
    let mut keys: Vec<String> = baseline.entries.iter().chain(&new.entries).map(Count::key).collect();
    keys.sort();
    keys.dedup();
    let (mut lines, mut verdicts) = (Vec::new(), Vec::new());
    for key in keys {
        let find = |c: &Counts| c.entries.iter().find(|e| e.key() == key).cloned();
        let (verdict, line) = match (find(baseline), find(new)) {
            (Some(b), Some(n)) if b.correct && n.correct && b.value > 0.0 => {
                let change = n.value / b.value - 1.0;
                let verdict = if change > threshold {
                    Verdict::Slower
                } else if change < -threshold {
                    Verdict::Faster
                } else {
                    Verdict::NoChange
                };
                (verdict, format!("{key}: {:.1} -> {:.1} ({:+.2} %)", b.value, n.value, change * 100.0))
            }
            (Some(b), Some(n)) => {
                let why = [&b, &n].iter().find_map(|c| c.error.clone()).unwrap_or_else(|| "a run was wrong".into());
                (Verdict::Incomparable, format!("{key}: incomparable: {why}"))
            }
            (None, Some(_)) => (Verdict::Incomparable, format!("{key}: incomparable: not in the baseline")),
            (_, None) => (Verdict::Incomparable, format!("{key}: incomparable: not counted in this run")),
        };
        lines.push(format!("{:<12} {line}", format!("{verdict:?}")));
        verdicts.push((key, verdict));
    }
    Comparison { lines, verdicts }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(engine: &str, workload: &str, value: f64, correct: bool) -> Count {
        Count {
            engine: engine.into(),
            workload: workload.into(),
            metric: "instructions_per_record".into(),
            value,
            instructions: [0, 0],
            units: [0, 0],
            correct,
            error: (!correct).then(|| "output differs from the oracle".into()),
        }
    }

    fn counts(entries: Vec<Count>) -> Counts {
        Counts { context: CountContext::default(), entries }
    }

    #[test]
    fn faster_slower_no_change_and_incomparable() {
        let base = counts(vec![
            count("native", "wordcount", 1000.0, true),
            count("native", "hashtags", 1000.0, true),
            count("native", "sensors", 1000.0, true),
            count("microbatch", "wordcount", 1000.0, true),
            count("microbatch", "ysb", 1000.0, true),
        ]);
        let new = counts(vec![
            count("native", "wordcount", 960.0, true),      // 4 % fewer
            count("native", "hashtags", 1031.0, true),      // 3.1 % more
            count("native", "sensors", 1029.0, true),       // 2.9 %: noise
            count("microbatch", "wordcount", 900.0, false), // wrong output
            count("microbatch", "hashtags", 10.0, true),    // not in the baseline
        ]);
        let c = compare(&base, &new, 0.03);
        let v = |k: &str| c.verdicts.iter().find(|(key, _)| key.starts_with(k)).map(|(_, v)| *v).unwrap();
        assert_eq!(v("native wordcount"), Verdict::Faster);
        assert_eq!(v("native hashtags"), Verdict::Slower);
        assert_eq!(v("native sensors"), Verdict::NoChange);
        assert_eq!(v("microbatch wordcount"), Verdict::Incomparable);
        assert_eq!(v("microbatch hashtags"), Verdict::Incomparable);
        assert_eq!(v("microbatch ysb"), Verdict::Incomparable);
        assert!(!c.pass());
        assert!(c.lines.iter().any(|l| l.contains("output differs from the oracle")), "{:?}", c.lines);
        // A file passes against itself; and against a baseline 3 % lower it fails.
        assert!(compare(&base, &base, 0.03).pass());
        let mut lower = base.clone();
        lower.entries.iter_mut().for_each(|e| e.value *= 0.97);
        let c = compare(&lower, &base, 0.03);
        assert!(!c.pass(), "{:?}", c.lines);
        assert!(c.verdicts.iter().all(|(_, v)| *v == Verdict::Slower));
    }

    #[test]
    fn counts_files_round_trip_and_bad_ones_are_named() {
        let dir = std::env::temp_dir().join(format!("sb-counts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("counts.json");
        let c = counts(vec![count("native", "wordcount", 1234.5, true)]);
        std::fs::write(&path, serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(Counts::read(&path).unwrap(), c);
        std::fs::write(&path, "{}").unwrap();
        let err = format!("{:#}", Counts::read(&path).unwrap_err());
        assert!(err.contains("is not a counts file"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
