//! Trending hashtags as a Spark user writes them: tags, `count_by_value_and_window`, the top k
//! by `transform`.

use compact_str::CompactString;
use std::time::Duration;
use workloads::hashtags::event::tweet_text;
use workloads::hashtags::HashtagWindow;
use workloads::{HashtagSpec, RunSpec};

use crate::dstream::DStream;
use crate::jobs::direct::DirectSource;
use crate::jobs::socket::SocketSource;
use crate::jobs::Job;
use crate::rdd::Rdd;
use crate::StreamingError;

impl Job for HashtagSpec {
    fn direct(&self, spec: &RunSpec, source: &DirectSource<'_>) -> Result<(), StreamingError> {
        let g = workloads::hashtags::generator(spec);
        let tweets = source.stream(move |p, i, out: &mut Vec<String>| out.push(g.event(p, i).text.into_owned()))?;
        hashtags(&tweets, self)
    }

    fn socket(&self, _spec: &RunSpec, source: &SocketSource<'_>) -> Result<(), StreamingError> {
        let events = source.events(tweet_text)?;
        hashtags(&events.flat_map(|p| p.event().cloned())?, self)?;
        source.account(&events)
    }
}

fn hashtags(tweets: &DStream<String>, s: &HashtagSpec) -> Result<(), StreamingError> {
    // A tweet's tags on the stack (a generated tweet has a few): no allocation per tweet.
    let tags = tweets.flat_map(|t: &String| {
        workloads::text::hashtags(t).map(CompactString::from).collect::<smallvec::SmallVec<[_; 4]>>()
    })?;
    let k = s.top_k;
    let top = tags
        .count_by_value_and_window(Duration::from_nanos(s.window_ns), Duration::from_nanos(s.slide_ns))?
        .transform(move |counts, t| top_k(counts, t, k))?;
    top.foreach_partition_recorded(|_t, _p, windows, r| {
        let now = r.now_ns();
        for w in windows.iter().filter(|w| w.total > 0) {
            r.output_latency(w.window_end, now);
            r.hashtag_window(w.clone());
        }
    })?;
    Ok(())
}

/// The top `k` of a window's `(tag, count)` pairs: each partition's partial result (total,
/// distinct, local top k) is combined into one, as the tags are partitioned by key.
fn top_k(counts: Rdd<(CompactString, u64)>, t: u64, k: usize) -> Rdd<HashtagWindow> {
    let partials = counts.map_partitions(move |pairs| {
        vec![((), HashtagWindow::from_counts(t, pairs.iter().map(|(tag, c)| (tag.as_str(), *c)), k))]
    });
    partials
        .combine_by_key(
            |w: &HashtagWindow| w.clone(),
            move |acc, w| acc.merge(w.clone(), k),
            move |acc, w| acc.merge(w, k),
            1,
        )
        .map_partitions(|merged| merged.iter().map(|(_, w)| w.clone()).collect())
}
