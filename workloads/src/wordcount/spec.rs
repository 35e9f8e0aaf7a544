//! The `wordcount` spec: its parameters and the exact meaning of its output.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::spec::JobOptions;

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

impl WordCountSpec {
    /// Checks the parameters; the error says what to change.
    pub fn validate(&self) -> Result<(), String> {
        if self.vocabulary == 0 || self.words_per_line == 0 {
            return Err("wordcount needs a vocabulary and words per line of at least 1".into());
        }
        if self.window_ns == Some(0) {
            return Err("the word-count window must be longer than 0".into());
        }
        Ok(())
    }

    /// Applies the command line's job options: `--input` and `--wordcount-window`.
    pub fn configure(&mut self, options: &JobOptions) -> Result<(), String> {
        if let Some(input) = &options.input {
            self.input = Some(input.clone());
        }
        if options.wordcount_window_ns.is_some() {
            self.window_ns = options.wordcount_window_ns;
        }
        Ok(())
    }

    /// The windows a micro-batch interval must divide, with the flag that sets each.
    pub fn windows(&self) -> Vec<(&'static str, u64)> {
        self.window_ns.map(|w| ("--wordcount-window", w)).into_iter().collect()
    }
}
