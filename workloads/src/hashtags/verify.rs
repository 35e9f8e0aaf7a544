//! `hashtags` verification: every window's result against the oracle (by arrival time for
//! micro-batch windows); for socket runs, conservation of the tags read.

use crate::hashtags::generator::TweetGenerator;
use crate::hashtags::oracle;
use crate::hashtags::spec::HashtagSpec;
use crate::hashtags::window::HashtagWindow;
use crate::text::hashtags;
use crate::verdict::{accuracy, compare_keyed, Verdict};
use crate::verify::Judge;

/// Judges a hashtags run.
pub fn run(judge: &Judge<'_>, spec: &HashtagSpec, g: &TweetGenerator) -> Verdict {
    let outputs = &judge.report.outputs.hashtags;
    if judge.from_socket() {
        return conservation(judge, spec, g);
    }
    // Pane counts over every core, by event time and (for windows by arrival) by arrival time in
    // the same pass over the tweets; then the windows from them.
    let by_arrival = judge.by_arrival();
    let parts = judge.par_ranges(|p, offsets| {
        let (mut by_event, mut by_batch) = (oracle::Panes::new(), oracle::Panes::new());
        for i in offsets {
            let e = g.event(p, i);
            if by_arrival {
                oracle::add(&mut by_batch, judge.window_time(p, i, e.event_time), &e.text, spec.slide_ns);
            }
            oracle::add(&mut by_event, e.event_time, &e.text, spec.slide_ns);
        }
        (by_event, by_batch)
    });
    let (mut by_event, mut by_batch) = (oracle::Panes::new(), oracle::Panes::new());
    for (e, a) in parts {
        oracle::merge_panes(&mut by_event, e);
        oracle::merge_panes(&mut by_batch, a);
    }
    judge.windows(|arrival| {
        let panes = if arrival && by_arrival { &by_batch } else { &by_event };
        hashtag_windows(outputs, &oracle::windows_of(panes, spec))
    })
}

/// Socket runs: the feed sent the generator's stream of the same seed in global order, but
/// windows are by arrival time there, so only conservation is checked: every tag read is counted
/// in `window / slide` windows, none lost or duplicated.
fn conservation(judge: &Judge<'_>, spec: &HashtagSpec, g: &TweetGenerator) -> Verdict {
    let outputs = &judge.report.outputs.hashtags;
    let tags: u64 = judge.coords().map(|(p, i)| hashtags(&g.event(p, i).text).count() as u64).sum();
    let expected = tags * (spec.window_ns / spec.slide_ns);
    let got: u64 = outputs.iter().map(|w| w.total).sum();
    if got == expected {
        let message =
            format!("ok: {got} tag counts over all windows, as {tags} tags read imply (windows by arrival time)");
        Verdict {
            semantics: crate::verdict::Semantics::ArrivalTime,
            ..Verdict::new(true, outputs.len() as u64, message)
        }
    } else {
        Verdict::failed(
            outputs.len() as u64,
            format!("windows count {got} tags, but {tags} tags read imply {expected}: tags lost or duplicated"),
        )
    }
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
