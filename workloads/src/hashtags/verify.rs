//! `hashtags` verification: every window's result against the oracle (by arrival time for
//! micro-batch windows and socket runs).

use crate::drawn::{by_filings_both, merge_all};
use crate::hashtags::generator::TweetGenerator;
use crate::hashtags::generator::{PHASES, TWEET_POOL};
use crate::hashtags::oracle;
use crate::hashtags::spec::HashtagSpec;
use crate::hashtags::window::HashtagWindow;
use crate::verdict::{accuracy, compare_keyed, Verdict};
use crate::verify::Judge;

/// Judges a hashtags run.
pub fn run(judge: &Judge<'_>, spec: &HashtagSpec, g: &TweetGenerator) -> Verdict {
    let outputs = &judge.report.outputs.hashtags;
    // The tweets each pane drew, over every core, by the windows' times and (for windows by
    // arrival) by event time in the same pass; then each distinct tweet's tags once, and the
    // windows.
    let expected = |both: bool| {
        let parts = judge.par_ranges(|p, offsets| {
            let filed = (|i, t| judge.window_time(p, i, t), judge.times_monotone(p, true, offsets.end));
            if both {
                let by_event = (|_, t| t, judge.times_monotone(p, false, offsets.end));
                let (event_time, draw) = (|i| g.schedule().event_time(p, i), |i| Some(g.draw(p, i)));
                let pools = (PHASES, TWEET_POOL);
                let (a, e) = by_filings_both(offsets, pools, spec.slide_ns, event_time, filed, by_event, draw);
                (a, Some(e))
            } else {
                (oracle::pane_draws(g, p, offsets, spec.slide_ns, filed.1, filed.0), None)
            }
        });
        let (first, event_time): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
        let windows = |parts: Vec<_>| oracle::windows_of(&oracle::drawn_panes(g, &merge_all(parts)), spec);
        (windows(first), both.then(|| windows(event_time.into_iter().flatten().collect())))
    };
    judge.windows_in_one_pass(expected, |e| hashtag_windows(outputs, e))
}

/// Hashtag windows: each window once, with the oracle's total, distinct count and top-K.
pub fn hashtag_windows(outputs: &[HashtagWindow], expected: &[HashtagWindow]) -> Verdict {
    let key = |w: &HashtagWindow| (w.window_end, (w.total, w.distinct, w.top.clone()));
    let accuracy = accuracy(outputs.iter().map(key), expected.iter().map(key), |v| v.0 as f64);
    Verdict {
        event_time_accuracy: Some(accuracy),
        ..compare_keyed(outputs.iter().map(key), expected.iter().map(key), "hashtag windows")
    }
}
