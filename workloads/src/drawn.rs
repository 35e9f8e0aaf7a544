//! How often each text of a generator's pools was drawn. Word-count lines and tweets are drawn
//! from fixed pools, so an oracle counts the draws and tokenises each distinct text once,
//! whatever the number of times it was drawn: the same totals as tokenising every event, at the
//! cost of a counter increment per event.

use std::collections::BTreeMap;

/// Events [`Draw::draw_block`] draws at once.
pub const BLOCK: usize = 64;

/// Which text each event is: `(pool, index)`, or `None` for an event that counts nowhere. A
/// closure `Fn(u64) -> Option<(usize, usize)>` is one; a type of its own may draw a block of
/// events at once, faster than one by one.
pub trait Draw {
    /// What event `i` drew.
    fn draw(&self, i: u64) -> Option<(usize, usize)>;

    /// What events `start..start + BLOCK` drew, in order (a block may run past the events a
    /// caller counts: it reads only the ones it asked for).
    #[inline]
    fn draw_block(&self, start: u64, out: &mut [Option<(usize, usize)>; BLOCK]) {
        for (j, d) in out.iter_mut().enumerate() {
            *d = self.draw(start + j as u64);
        }
    }
}

impl<F: Fn(u64) -> Option<(usize, usize)>> Draw for F {
    #[inline]
    fn draw(&self, i: u64) -> Option<(usize, usize)> {
        self(i)
    }
}

/// Draw counts over `pools` pools of `pool` texts each, a pool's counters allocated when it is
/// first drawn from.
#[derive(Clone, Debug)]
pub struct Drawn {
    pool: usize,
    counts: Vec<Option<Box<[u64]>>>,
}

impl Drawn {
    /// No draws yet from `pools` pools of `pool` texts.
    pub fn new(pools: usize, pool: usize) -> Self {
        Self { pool, counts: vec![None; pools] }
    }

    /// Counts a draw of text `index` of pool `pool`.
    #[inline]
    pub fn add(&mut self, pool: usize, index: usize) {
        let size = self.pool;
        self.counts[pool].get_or_insert_with(|| vec![0; size].into_boxed_slice())[index] += 1;
    }

    /// Counts what events `offsets` drew (`draw` as in [`by_window`]), a block at a time: the
    /// block's draws first, pure arithmetic whose chains the processor overlaps, then their
    /// counters, whose increments would otherwise wait on each other between the draws.
    #[inline]
    pub fn add_drawn(&mut self, offsets: std::ops::Range<u64>, draw: &impl Draw) {
        let mut drawn = [None; BLOCK];
        let mut k = offsets.start;
        while k < offsets.end {
            let n = ((offsets.end - k) as usize).min(BLOCK);
            draw.draw_block(k, &mut drawn);
            for &(p, index) in drawn[..n].iter().flatten() {
                self.add(p, index);
            }
            k += n as u64;
        }
    }

    /// Adds `other`'s draws (over the same pools).
    pub fn merge(&mut self, other: Drawn) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            match (mine.as_mut(), theirs) {
                (_, None) => {}
                (None, Some(t)) => *mine = Some(t),
                (Some(m), Some(t)) => m.iter_mut().zip(t.iter()).for_each(|(a, b)| *a += b),
            }
        }
    }

    /// Every text drawn at least once: `(pool, index, times)`.
    pub fn each(&self) -> impl Iterator<Item = (usize, usize, u64)> + '_ {
        self.counts.iter().enumerate().flat_map(|(pool, c)| {
            c.iter().flat_map(move |c| c.iter().enumerate().filter(|(_, n)| **n > 0).map(move |(i, n)| (pool, i, *n)))
        })
    }
}

/// The draws of events `offsets` per tumbling window of `span` (a window's or a pane's), by
/// window end, each event filed at `time(i)`: `draw(i)` says which text event `i` is, as
/// `(pool, index)`, or `None` for an event that counts nowhere. Consecutive events mostly share
/// a window, so its counters are looked up (and a time divided) only when the window changes.
/// When `time` never decreases along the offsets (`monotone`), a window is a run of offsets,
/// found by a search that reads a few times per window, and the events between are only drawn.
pub fn by_window(
    offsets: std::ops::Range<u64>,
    (pools, pool): (usize, usize),
    span: u64,
    monotone: bool,
    time: impl Fn(u64) -> u64,
    draw: &impl Draw,
) -> BTreeMap<u64, Drawn> {
    let mut filed: BTreeMap<u64, Drawn> = BTreeMap::new();
    if monotone {
        let mut i = offsets.start;
        while i < offsets.end {
            let end = (time(i) / span + 1) * span;
            let next = first_where(i + 1, offsets.end, |k| time(k) >= end);
            let mut counts = filed.remove(&end).unwrap_or_else(|| Drawn::new(pools, pool));
            counts.add_drawn(i..next, draw);
            filed.insert(end, counts);
            i = next;
        }
        return filed;
    }
    // The window being counted: its end and its draws.
    let mut current: Option<(u64, Drawn)> = None;
    for i in offsets {
        let t = time(i);
        let counts = match &mut current {
            Some((end, d)) if t < *end && t >= *end - span => d,
            _ => {
                if let Some((end, d)) = current.take() {
                    merge_into(&mut filed, end, d);
                }
                let end = (t / span + 1) * span;
                &mut current.insert((end, filed.remove(&end).unwrap_or_else(|| Drawn::new(pools, pool)))).1
            }
        };
        if let Some((p, index)) = draw.draw(i) {
            counts.add(p, index);
        }
    }
    if let Some((end, d)) = current {
        merge_into(&mut filed, end, d);
    }
    filed
}

/// [`by_window`] under two filings at once, `(time, monotone)` each (a run judged by arrival
/// time and compared with event time too): every event is drawn once. When both times never
/// decrease, the offsets go in runs over which neither window changes, each run's draws counted
/// once and added under both windows; otherwise it is two passes of [`by_window`].
pub fn by_windows_both(
    offsets: std::ops::Range<u64>,
    (pools, pool): (usize, usize),
    span: u64,
    (first, first_monotone): (impl Fn(u64) -> u64, bool),
    (second, second_monotone): (impl Fn(u64) -> u64, bool),
    draw: impl Draw,
) -> (BTreeMap<u64, Drawn>, BTreeMap<u64, Drawn>) {
    if !(first_monotone && second_monotone) {
        let a = by_window(offsets.clone(), (pools, pool), span, first_monotone, &first, &draw);
        return (a, by_window(offsets, (pools, pool), span, second_monotone, &second, &draw));
    }
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    let mut i = offsets.start;
    while i < offsets.end {
        let (end_a, end_b) = ((first(i) / span + 1) * span, (second(i) / span + 1) * span);
        let next_a = first_where(i + 1, offsets.end, |k| first(k) >= end_a);
        let next = first_where(i + 1, next_a, |k| second(k) >= end_b);
        let mut run = Drawn::new(pools, pool);
        run.add_drawn(i..next, &draw);
        merge_into(&mut a, end_a, run.clone());
        merge_into(&mut b, end_b, run);
        i = next;
    }
    (a, b)
}

/// [`by_windows_both`] with filings of an event's offset and its time (`event_time(i)`).
pub fn by_filings_both(
    offsets: std::ops::Range<u64>,
    pools: (usize, usize),
    span: u64,
    event_time: impl Fn(u64) -> u64,
    (first, first_monotone): (impl Fn(u64, u64) -> u64, bool),
    (second, second_monotone): (impl Fn(u64, u64) -> u64, bool),
    draw: impl Draw,
) -> (BTreeMap<u64, Drawn>, BTreeMap<u64, Drawn>) {
    let (at_first, at_second) = (|i| first(i, event_time(i)), |i| second(i, event_time(i)));
    by_windows_both(offsets, pools, span, (at_first, first_monotone), (at_second, second_monotone), draw)
}

/// The first `k` in `lo..hi` where `holds(k)` (`hi` if none), for a `holds` that stays true once
/// it is: doubling steps from `lo`, then a binary search (few reads when the answer is near).
fn first_where(mut lo: u64, hi: u64, holds: impl Fn(u64) -> bool) -> u64 {
    let (mut probe, mut step) = (lo, 1u64);
    while probe < hi && !holds(probe) {
        lo = probe + 1;
        probe = probe.saturating_add(step);
        step = step.saturating_mul(2);
    }
    let mut high = probe.min(hi);
    while lo < high {
        let mid = lo + (high - lo) / 2;
        if holds(mid) {
            high = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// The draws of parts counted apart, filed under the same keys, summed.
pub fn merge_all(parts: impl IntoIterator<Item = BTreeMap<u64, Drawn>>) -> BTreeMap<u64, Drawn> {
    let mut all = BTreeMap::new();
    for (key, drawn) in parts.into_iter().flatten() {
        merge_into(&mut all, key, drawn);
    }
    all
}

/// Adds `drawn` to the draws filed under `key`.
pub fn merge_into(filed: &mut BTreeMap<u64, Drawn>, key: u64, drawn: Drawn) {
    match filed.get_mut(&key) {
        Some(mine) => mine.merge(drawn),
        None => {
            filed.insert(key, drawn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_filings_in_one_pass_equal_two_passes() {
        // Event `i` is text `i % 5`; one filing every 7 offsets, the other every 3 (both
        // monotone), then one that goes back (not monotone: two passes).
        let draw = |i: u64| Some((0, (i % 5) as usize));
        let flat =
            |m: BTreeMap<u64, Drawn>| m.into_iter().map(|(k, d)| (k, d.each().collect::<Vec<_>>())).collect::<Vec<_>>();
        type Filing = (fn(u64) -> u64, bool);
        let cases: [Filing; 3] = [(|i| i / 7 * 10, true), (|i| i / 3 * 10, true), (|i| (i % 4) * 10, false)];
        for (first, m1) in cases {
            for (second, m2) in cases {
                let (a, b) = by_windows_both(3..100, (1, 5), 20, (first, m1), (second, m2), draw);
                assert_eq!(flat(a), flat(by_window(3..100, (1, 5), 20, m1, first, &draw)));
                assert_eq!(flat(b), flat(by_window(3..100, (1, 5), 20, m2, second, &draw)));
            }
        }
    }

    #[test]
    fn draws_count_and_merge() {
        let (mut a, mut b) = (Drawn::new(3, 4), Drawn::new(3, 4));
        a.add(0, 1);
        a.add(0, 1);
        a.add(2, 3);
        b.add(0, 1);
        b.add(1, 0);
        a.merge(b);
        assert_eq!(a.each().collect::<Vec<_>>(), vec![(0, 1, 3), (1, 0, 1), (2, 3, 1)]);
    }

    #[test]
    fn windows_found_as_runs_of_offsets_equal_those_found_event_by_event() {
        // Times that never decrease, with runs of equal times, and windows with no event.
        let time = |i: u64| (i / 3) * 7 + if i > 500 { 1_000 } else { 0 };
        let draw = |i: u64| (!i.is_multiple_of(5)).then_some(((i % 2) as usize, (i % 4) as usize));
        let flat =
            |d: &BTreeMap<u64, Drawn>| d.iter().map(|(e, d)| (*e, d.each().collect::<Vec<_>>())).collect::<Vec<_>>();
        for span in [1, 10, 64, 5_000] {
            for range in [0..1_000, 17..18, 499..777, 5..5] {
                let runs = by_window(range.clone(), (2, 4), span, true, time, &draw);
                let each = by_window(range.clone(), (2, 4), span, false, time, &draw);
                assert_eq!(flat(&runs), flat(&each), "span {span}, {range:?}");
            }
        }
        assert_eq!(first_where(0, 100, |k| k >= 37), 37);
        assert_eq!(first_where(10, 100, |_| true), 10);
        assert_eq!(first_where(10, 100, |_| false), 100);
    }
}
