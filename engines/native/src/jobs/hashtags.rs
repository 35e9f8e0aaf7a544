//! Trending hashtags: `Source` (tweets, their hashtags extracted), the sliding `WindowCount`
//! per tag (each worker's partial per window), `TopK` per window, `Sink`.

use timely::dataflow::operators::Probe;
use timely::dataflow::Scope;
use workloads::hash::key_hash;
use workloads::hashtags::event::tweet_text;
use workloads::hashtags::{HashtagWindow, TweetGenerator};
use workloads::text::hashtags;
use workloads::{HashtagSpec, RunSpec};

use crate::jobs::{Input, Job};
use crate::operators::keys::KeyBatch;
use crate::operators::sink::sink;
use crate::operators::sliding_count::sliding_count;
use crate::operators::top_k::top_k;

/// The hashtags job of a run.
pub(crate) struct Hashtags {
    gen: TweetGenerator,
    spec: HashtagSpec,
}

impl Hashtags {
    pub(crate) fn new(spec: &RunSpec, s: &HashtagSpec) -> Self {
        Self { gen: workloads::hashtags::generator(spec), spec: s.clone() }
    }
}

impl Job for Hashtags {
    fn build<'s>(&self, scope: Scope<'s, u64>, input: Input<'_>) {
        let gen = self.gen.clone();
        let tags = input.stream(scope, parse_tweet, move |p, i, _due, out| {
            let tweet = gen.event(p, i);
            extract_tags(&tweet.text, tweet.event_time, out);
        });
        let partials = sliding_count(tags, &self.spec, input.control);
        let top = top_k(partials, self.spec.top_k).probe_with(input.probe);
        sink(top, input.control, std::rc::Rc::clone(input.recorder), |r, now, w: HashtagWindow| {
            r.window_latency(w.window_end, now);
            r.hashtag_window(w);
        });
    }
}

/// The records of a tweet: every hashtag with its hash and the tweet's event time.
#[inline]
pub fn extract_tags(text: &str, event_time: u64, out: &mut KeyBatch) {
    for tag in hashtags(text) {
        out.push(key_hash(tag), tag, event_time);
    }
}

/// A socket line: a JSON tweet.
fn parse_tweet(line: &str, now: u64, out: &mut KeyBatch) -> Result<(), String> {
    extract_tags(&tweet_text(line)?, now, out);
    Ok(())
}
