//! The `hashtags` spec: sliding-window parameters and the exact meaning of a window's result.

use serde::{Deserialize, Serialize};

use crate::spec::{JobOptions, SECOND_NS};

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

    /// Checks the parameters; the error says what to change.
    pub fn validate(&self) -> Result<(), String> {
        if self.slide_ns == 0 || self.window_ns == 0 || !self.window_ns.is_multiple_of(self.slide_ns) {
            return Err(format!(
                "the hashtag window ({} ms) must be a positive multiple of the slide ({} ms)",
                self.window_ns / 1_000_000,
                self.slide_ns / 1_000_000
            ));
        }
        if self.top_k == 0 || self.tags == 0 {
            return Err("hashtags needs top_k and tags of at least 1".into());
        }
        Ok(())
    }

    /// Applies the command line's job options: `--window` and `--slide`.
    pub fn configure(&mut self, options: &JobOptions) -> Result<(), String> {
        options.refuse_input("hashtags")?;
        if let Some((window, slide)) = options.window {
            (self.window_ns, self.slide_ns) = (window, slide);
        }
        Ok(())
    }

    /// The windows a micro-batch interval must divide, with the flag that sets each.
    pub fn windows(&self) -> Vec<(&'static str, u64)> {
        vec![("--window", self.window_ns), ("--slide", self.slide_ns)]
    }
}
