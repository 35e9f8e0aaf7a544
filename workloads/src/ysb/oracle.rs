//! The `ysb` oracle: views per campaign per tumbling event-time window, from scratch.

use std::collections::BTreeMap;

use std::sync::Arc;

use crate::drawn::{Draw, Drawn, BLOCK};
use crate::output::WindowedCount;
use crate::ysb::event::{AdEvent, EventType};
use crate::ysb::generator::AdGenerator;

/// A campaign's key in the outputs.
pub fn campaign_key(campaign: u32) -> String {
    campaign.to_string()
}

/// Every `(campaign, window)` count of views, sorted.
pub fn campaign_windows(
    events: impl IntoIterator<Item = AdEvent>,
    table: &[u32],
    window_ns: u64,
) -> Vec<WindowedCount> {
    let mut counts: BTreeMap<(u64, u32), u64> = BTreeMap::new();
    for e in events.into_iter().filter(|e| e.event_type == EventType::View) {
        let end = (e.event_time / window_ns + 1) * window_ns;
        *counts.entry((end, table[e.ad_id as usize])).or_insert(0) += 1;
    }
    counts
        .into_iter()
        .map(|((window_end, campaign), count)| WindowedCount { window_end, word: campaign_key(campaign), count })
        .collect()
}

/// The views per campaign per tumbling window of `window_ns` among events `offsets` of
/// partition `p`, by window end (a campaign's count at its index), each event filed at
/// `time(i, event_time)`.
pub fn campaign_draws(
    g: &AdGenerator,
    p: u32,
    offsets: std::ops::Range<u64>,
    window_ns: u64,
    monotone: bool,
    time: impl Fn(u64, u64) -> u64,
) -> BTreeMap<u64, Drawn> {
    let at = |i| time(i, g.schedule().event_time(p, i));
    crate::drawn::by_window(offsets, (2, g.campaigns()), window_ns, monotone, at, &view_draw(g, p))
}

/// What event `i` of partition `p` draws: its campaign, in pool 0 for a view and pool 1 (which
/// no window reads) otherwise. Every event is counted: a third of the events are views, at
/// random, and a branch on it would mispredict. A block's ads are drawn at once
/// ([`AdGenerator::ads_and_views`]).
struct ViewDraw<'a> {
    g: &'a AdGenerator,
    p: u32,
    table: Arc<[u32]>,
}

fn view_draw(g: &AdGenerator, p: u32) -> ViewDraw<'_> {
    ViewDraw { g, p, table: g.table() }
}

impl ViewDraw<'_> {
    #[inline]
    fn drawn(&self, ad: u32, view: bool) -> Option<(usize, usize)> {
        Some((usize::from(!view), self.table[ad as usize] as usize))
    }
}

impl Draw for ViewDraw<'_> {
    #[inline]
    fn draw(&self, i: u64) -> Option<(usize, usize)> {
        let (ad, view) = self.g.ad_and_view(self.p, i);
        self.drawn(ad, view)
    }

    #[inline]
    fn draw_block(&self, start: u64, out: &mut [Option<(usize, usize)>; BLOCK]) {
        let (mut ads, mut views) = ([0; BLOCK], [false; BLOCK]);
        self.g.ads_and_views(self.p, start, &mut ads, &mut views);
        for ((d, ad), view) in out.iter_mut().zip(ads).zip(views) {
            *d = self.drawn(ad, view);
        }
    }
}

/// [`campaign_draws`] under two filings at once, `(time, monotone)` each: a run judged by
/// arrival and compared with event time draws each event once.
pub fn campaign_draws_both(
    g: &AdGenerator,
    p: u32,
    offsets: std::ops::Range<u64>,
    window_ns: u64,
    first: (impl Fn(u64, u64) -> u64, bool),
    second: (impl Fn(u64, u64) -> u64, bool),
) -> (BTreeMap<u64, Drawn>, BTreeMap<u64, Drawn>) {
    let event_time = |i| g.schedule().event_time(p, i);
    crate::drawn::by_filings_both(offsets, (2, g.campaigns()), window_ns, event_time, first, second, view_draw(g, p))
}

/// The campaign windows of per-window views, sorted by window and campaign.
pub fn drawn_windows(windows: &BTreeMap<u64, Drawn>) -> Vec<WindowedCount> {
    let window = |(&window_end, d): (&u64, &Drawn)| {
        d.each()
            .filter(|(pool, _, _)| *pool == 0)
            .map(move |(_, c, count)| WindowedCount { window_end, word: campaign_key(c as u32), count })
            .collect::<Vec<_>>()
    };
    windows.iter().flat_map(window).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ysb::event::AdType;

    fn event(ad_id: u32, event_type: EventType, event_time: u64) -> AdEvent {
        AdEvent { user_id: 0, page_id: 0, ad_id, ad_type: AdType::Banner, event_type, event_time, ip: 0 }
    }

    #[test]
    fn views_per_campaign_per_window_by_hand() {
        // Ads 0 and 1 are campaign 5, ad 2 campaign 6; windows of 10.
        let table = [5, 5, 6];
        let events = [
            event(0, EventType::View, 1),
            event(1, EventType::View, 9),
            event(2, EventType::Click, 3),
            event(2, EventType::View, 10),
            event(0, EventType::Purchase, 12),
            event(1, EventType::View, 19),
        ];
        let got: Vec<(u64, String, u64)> =
            campaign_windows(events, &table, 10).into_iter().map(|w| (w.window_end, w.word, w.count)).collect();
        let expected = [(10, "5", 2), (20, "5", 1), (20, "6", 1)];
        assert_eq!(got, expected.map(|(e, c, n)| (e, c.to_owned(), n)));
    }
}
