//! Text: the synthetic vocabulary, Zipf sampling, and the tokenisers every engine shares.
//!
//! Tokenising is part of each job's real cost, so events carry text and jobs split it with the
//! functions here: the oracle, the COST loop and both engines agree on what a word and a hashtag
//! are because they call the same code.

use crate::hash::SplitMix;

const ONSETS: &[&str] = &[
    "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br", "ch", "cl", "dr",
    "fl", "gr", "pl", "sh", "st", "th", "tr",
];
const VOWELS: &[&str] = &["a", "e", "i", "o", "u", "ai", "ea", "ou", "y"];
const CODAS: &[&str] = &["", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ck"];

/// A vocabulary of `size` distinct pronounceable lowercase words, the same for every seed
/// (rank 0 is the most frequent under Zipf sampling). Short words get the low ranks, as in
/// natural language.
pub fn vocabulary(size: usize) -> Vec<String> {
    let mut words = Vec::with_capacity(size);
    let mut seen = rustc_hash::FxHashSet::default();
    let mut rng = SplitMix::new(0x005e_ed0f_b0c4);
    let mut syllables = 1;
    let mut attempts = 0usize;
    while words.len() < size {
        let mut w = String::new();
        for _ in 0..syllables {
            w.push_str(ONSETS[rng.below(ONSETS.len() as u64) as usize]);
            w.push_str(VOWELS[rng.below(VOWELS.len() as u64) as usize]);
        }
        w.push_str(CODAS[rng.below(CODAS.len() as u64) as usize]);
        if seen.insert(w.clone()) {
            words.push(w);
        }
        attempts += 1;
        // Move to longer words as the short ones run out.
        if attempts > 40 * (words.len() + 1) || (syllables == 1 && words.len() >= 300) {
            syllables += 1;
            attempts = 0;
        }
    }
    words
}

/// Samples ranks `0..n` with probability proportional to `1 / (rank + 1)^exponent`.
#[derive(Clone, Debug)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// A Zipf distribution over `n` ranks (`n > 0`) with the given exponent (`>= 0`).
    pub fn new(n: usize, exponent: f64) -> Self {
        let mut cdf = Vec::with_capacity(n);
        let mut total = 0.0;
        for rank in 0..n {
            total += 1.0 / ((rank + 1) as f64).powf(exponent);
            cdf.push(total);
        }
        for c in &mut cdf {
            *c /= total;
        }
        Self { cdf }
    }

    /// The probability of `rank`.
    pub fn probability(&self, rank: usize) -> f64 {
        if rank == 0 {
            self.cdf[0]
        } else {
            self.cdf[rank] - self.cdf[rank - 1]
        }
    }

    /// The rank for a uniform sample `u` in `[0, 1)`.
    pub fn sample(&self, u: f64) -> usize {
        self.cdf.partition_point(|c| *c <= u).min(self.cdf.len() - 1)
    }

    /// The number of ranks.
    pub fn len(&self) -> usize {
        self.cdf.len()
    }

    /// Whether there are no ranks (never true for a constructed distribution).
    pub fn is_empty(&self) -> bool {
        self.cdf.is_empty()
    }
}

/// The words of a line: maximal runs of non-whitespace characters. The one tokeniser of
/// `wordcount`.
#[inline]
pub fn words(line: &str) -> std::str::SplitAsciiWhitespace<'_> {
    line.split_ascii_whitespace()
}

/// The hashtags of a tweet: every word that starts with `#` and has at least one more
/// character, with the `#` kept (`#rust`). The one tokeniser of `hashtags`.
#[inline]
pub fn hashtags(text: &str) -> impl Iterator<Item = &str> {
    text.split_ascii_whitespace().filter(|w| w.len() > 1 && w.as_bytes()[0] == b'#')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_is_distinct_and_deterministic() {
        let a = vocabulary(10_000);
        let b = vocabulary(10_000);
        assert_eq!(a, b);
        let set: std::collections::HashSet<_> = a.iter().collect();
        assert_eq!(set.len(), 10_000);
        assert!(a.iter().all(|w| !w.is_empty() && w.bytes().all(|c| c.is_ascii_lowercase())));
    }

    #[test]
    fn tokenisers() {
        assert_eq!(words("  a bb\tc \n").collect::<Vec<_>>(), ["a", "bb", "c"]);
        assert_eq!(hashtags("see #rust and # or #x#y end#").collect::<Vec<_>>(), ["#rust", "#x#y"]);
    }

    #[test]
    fn zipf_probabilities_sum_to_one_and_fall() {
        let z = Zipf::new(100, 1.1);
        let sum: f64 = (0..100).map(|r| z.probability(r)).sum();
        assert!((sum - 1.0).abs() < 1e-9);
        assert!(z.probability(0) > z.probability(1));
        assert_eq!(z.sample(0.0), 0);
        assert_eq!(z.sample(0.999_999_999), 99);
    }
}
