//! The `hashtags` generator: tweets whose hashtag popularity drifts and bursts.

use std::borrow::Cow;
use std::sync::Arc;

use crate::hash::{below, mix3, mix64, SplitMix};
use crate::hashtags::event::Tweet;
use crate::hashtags::spec::HashtagSpec;
use crate::schedule::Schedule;
use crate::text::{vocabulary, Zipf};

/// Tweets in each popularity phase's pool.
pub const TWEET_POOL: usize = 1 << 13;
/// Popularity phases before the hashtag drift repeats.
pub const PHASES: usize = 16;

const TWEET_PICK: u64 = 0x22;
const USER_PICK: u64 = 0x33;

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
        let (phase, index) = self.draw(p, i);
        Tweet {
            event_time: self.schedule.event_time(p, i),
            user: below(mix3(self.seed, USER_PICK, k), self.users as u64) as u32,
            text: Cow::Borrowed(self.text(phase, index)),
        }
    }

    /// Which tweet event `i` of partition `p` is: its phase and its index in the phase's pool.
    #[inline]
    pub fn draw(&self, p: u32, i: u64) -> (usize, usize) {
        let k = self.schedule.global_index(p, i);
        let phase = ((self.schedule.nominal_time(p, i) / self.phase_ns) % PHASES as u64) as usize;
        (phase, below(mix3(self.seed, TWEET_PICK, k), self.phases[phase].len() as u64) as usize)
    }

    /// The text of tweet `index` of `phase`'s pool.
    pub fn text(&self, phase: usize, index: usize) -> &str {
        &self.phases[phase][index]
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
