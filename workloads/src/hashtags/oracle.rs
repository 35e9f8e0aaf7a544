//! The `hashtags` oracle: every sliding window's counts and top-K, computed from scratch.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::drawn::Drawn;
use crate::hashtags::event::Tweet;
use crate::hashtags::generator::{TweetGenerator, PHASES, TWEET_POOL};
use crate::hashtags::spec::HashtagSpec;
use crate::hashtags::window::HashtagWindow;
use crate::text::hashtags;

/// Tag counts per pane (a slide's worth of event time), by the pane's end: the part of the
/// oracle that reads every tweet, so that the inputs can be counted in parts (in parallel) and
/// merged with [`merge_panes`].
pub type Panes = BTreeMap<u64, FxHashMap<String, u64>>;

/// Counts `tweets`' tags per pane of `spec`'s slide.
pub fn panes<'a>(tweets: impl IntoIterator<Item = Tweet<'a>>, spec: &HashtagSpec) -> Panes {
    let mut panes = Panes::new();
    for tweet in tweets {
        add(&mut panes, tweet.event_time, &tweet.text, spec.slide_ns);
    }
    panes
}

/// Counts the tags of a tweet's `text` at time `t` in its pane of `slide_ns`.
#[inline]
pub fn add(panes: &mut Panes, t: u64, text: &str, slide_ns: u64) {
    let counts = panes.entry((t / slide_ns + 1) * slide_ns).or_default();
    for tag in hashtags(text) {
        match counts.get_mut(tag) {
            Some(c) => *c += 1,
            None => {
                counts.insert(tag.to_owned(), 1);
            }
        }
    }
}

/// The tweets drawn per pane of `slide_ns`, by the pane's end, each tweet filed at
/// `time(i, event_time)`: the pass over every tweet, whose parts merge with
/// [`crate::drawn::merge_into`] and become pane counts with [`drawn_panes`].
pub fn pane_draws(
    g: &TweetGenerator,
    p: u32,
    offsets: std::ops::Range<u64>,
    slide_ns: u64,
    monotone: bool,
    time: impl Fn(u64, u64) -> u64,
) -> BTreeMap<u64, Drawn> {
    let at = |i| time(i, g.schedule().event_time(p, i));
    crate::drawn::by_window(offsets, (PHASES, TWEET_POOL), slide_ns, monotone, at, &|i| Some(g.draw(p, i)))
}

/// The pane counts of per-pane draws: each distinct tweet's tags read once.
pub fn drawn_panes(g: &TweetGenerator, draws: &BTreeMap<u64, Drawn>) -> Panes {
    let mut panes = Panes::new();
    for (&end, drawn) in draws {
        let counts = panes.entry(end).or_default();
        for (phase, index, times) in drawn.each() {
            for tag in hashtags(g.text(phase, index)) {
                match counts.get_mut(tag) {
                    Some(c) => *c += times,
                    None => {
                        counts.insert(tag.to_owned(), times);
                    }
                }
            }
        }
    }
    panes
}

/// Folds `other`'s pane counts into `into`.
pub fn merge_panes(into: &mut Panes, other: Panes) {
    for (end, counts) in other {
        let mine = into.entry(end).or_default();
        for (tag, c) in counts {
            *mine.entry(tag).or_insert(0) += c;
        }
    }
}

/// Every sliding window's result from the pane counts, sorted by window end: a window is the
/// sum of the `window / slide` panes ending at or before its end (kept as a running sum, a pane
/// added as it enters and taken away as it leaves).
pub fn windows_of(panes: &Panes, spec: &HashtagSpec) -> Vec<HashtagWindow> {
    let (slide, span) = (spec.slide_ns, spec.window_ns / spec.slide_ns);
    let (Some(&first), Some(&last)) = (panes.keys().next(), panes.keys().next_back()) else { return Vec::new() };
    let mut running: FxHashMap<&str, u64> = FxHashMap::default();
    let mut out = Vec::new();
    let mut end = first;
    while end <= last + (span - 1) * slide {
        for (tag, c) in panes.get(&end).into_iter().flatten() {
            *running.entry(tag.as_str()).or_insert(0) += c;
        }
        if let Some(leaving) = end.checked_sub(span * slide).and_then(|e| panes.get(&e)) {
            for (tag, c) in leaving {
                let left = running.get_mut(tag.as_str()).expect("a pane's tags are in its windows");
                *left -= c;
                if *left == 0 {
                    running.remove(tag.as_str());
                }
            }
        }
        if !running.is_empty() {
            out.push(HashtagWindow::from_counts(end, running.iter().map(|(t, c)| (*t, *c)), spec.top_k));
        }
        end += slide;
    }
    out
}

/// Every sliding window's result, sorted by window end.
pub fn hashtag_windows<'a>(tweets: impl IntoIterator<Item = Tweet<'a>>, spec: &HashtagSpec) -> Vec<HashtagWindow> {
    windows_of(&panes(tweets, spec), spec)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::spec::SECOND_NS;

    #[test]
    fn hashtag_windows_by_hand() {
        let spec = HashtagSpec { window_ns: 2 * SECOND_NS, slide_ns: SECOND_NS, top_k: 2, ..HashtagSpec::default() };
        let t = |s: f64, text: &'static str| Tweet { event_time: (s * 1e9) as u64, user: 0, text: Cow::Borrowed(text) };
        // 0.5 s: windows ending 1 s and 2 s; 1.5 s: 2 s and 3 s.
        let tweets = [t(0.5, "hi #a #b"), t(1.5, "#b yo #c"), t(1.7, "#c"), t(1.9, "no tags")];
        let w = hashtag_windows(tweets, &spec);
        let s = |tag: &str, c| (tag.to_owned(), c);
        assert_eq!(
            w,
            vec![
                HashtagWindow { window_end: SECOND_NS, total: 2, distinct: 2, top: vec![s("#a", 1), s("#b", 1)] },
                HashtagWindow { window_end: 2 * SECOND_NS, total: 5, distinct: 3, top: vec![s("#b", 2), s("#c", 2)] },
                HashtagWindow { window_end: 3 * SECOND_NS, total: 3, distinct: 2, top: vec![s("#c", 2), s("#b", 1)] },
            ]
        );
    }
}
