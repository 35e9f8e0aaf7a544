//! The `hashtags` oracle: every sliding window's counts and top-K, computed from scratch.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::hashtags::event::Tweet;
use crate::hashtags::spec::HashtagSpec;
use crate::hashtags::window::HashtagWindow;
use crate::text::hashtags;

/// Every sliding window's result, sorted by window end.
pub fn hashtag_windows<'a>(tweets: impl IntoIterator<Item = Tweet<'a>>, spec: &HashtagSpec) -> Vec<HashtagWindow> {
    let mut windows: BTreeMap<u64, FxHashMap<String, u64>> = BTreeMap::new();
    for tweet in tweets {
        for tag in hashtags(&tweet.text) {
            for end in spec.window_ends(tweet.event_time) {
                *windows.entry(end).or_default().entry(tag.to_owned()).or_insert(0) += 1;
            }
        }
    }
    windows
        .into_iter()
        .map(|(end, counts)| HashtagWindow::from_counts(end, counts.iter().map(|(t, c)| (t.as_str(), *c)), spec.top_k))
        .collect()
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
