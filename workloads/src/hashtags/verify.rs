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
    // The tweets each pane drew, over every core, by event time and (for windows by arrival) by
    // arrival time in the same pass; then each distinct tweet's tags once, and the windows.
    let by_arrival = judge.by_arrival();
    let parts = judge.par_ranges(|p, offsets| {
        let by_event = (|_, t| t, judge.times_monotone(p, false, offsets.end));
        if by_arrival {
            let filed = (|i, t| judge.window_time(p, i, t), judge.times_monotone(p, true, offsets.end));
            let (event_time, draw) = (|i| g.schedule().event_time(p, i), |i| Some(g.draw(p, i)));
            let pools = (PHASES, TWEET_POOL);
            let (by_batch, by_event) =
                by_filings_both(offsets, pools, spec.slide_ns, event_time, filed, by_event, draw);
            (by_event, by_batch)
        } else {
            (oracle::pane_draws(g, p, offsets, spec.slide_ns, by_event.1, by_event.0), Default::default())
        }
    });
    let (event_draws, batch_draws): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
    let (event_draws, batch_draws) = (merge_all(event_draws), merge_all(batch_draws));
    let (by_event, by_batch) = (oracle::drawn_panes(g, &event_draws), oracle::drawn_panes(g, &batch_draws));
    judge.windows(|arrival| {
        let panes = if arrival && by_arrival { &by_batch } else { &by_event };
        hashtag_windows(outputs, &oracle::windows_of(panes, spec))
    })
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
