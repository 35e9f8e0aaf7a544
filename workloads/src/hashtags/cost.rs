//! The `hashtags` COST loop: sliding windows as panes in one thread, fired by the watermark.

use crate::cost::coordinates;
use crate::hash::key_hash;
use crate::hashtags::generator::TweetGenerator;
use crate::hashtags::spec::HashtagSpec;
use crate::hashtags::window::{HashtagWindow, SlidingTopK};
use crate::text::hashtags;

/// The sliding-window hashtag job over `records` tweets; returns every window's result.
pub fn hashtags_job(gen: &TweetGenerator, spec: &HashtagSpec, records: u64) -> Vec<HashtagWindow> {
    let schedule = gen.schedule();
    let partitions = schedule.partitions() as u64;
    let disorder = schedule.disorder_ns();
    let mut windows = SlidingTopK::new(spec);
    let mut out = Vec::new();
    let mut last_fire = 0;
    for k in 0..records {
        let (p, i) = coordinates(k, partitions);
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
