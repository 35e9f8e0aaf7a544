//! `TopK`: merges the workers' partial results of each window (exchanged by window) into the
//! window's result, emitted when the frontier passes the window. A key lives on one worker, so
//! the global top K is within the union of the workers' top K. It keeps no state across an
//! epoch: by the time its frontier passes one, it has emitted every window before it, and the
//! partials after it are sent again by a restored `WindowCount`.

use std::collections::BTreeMap;

use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;
use workloads::hash::mix64;
use workloads::hashtags::HashtagWindow;

/// Each window's result from its partials, top `k`.
pub fn top_k<'s>(partials: Stream<'s, u64, Vec<HashtagWindow>>, k: usize) -> Stream<'s, u64, Vec<HashtagWindow>> {
    partials.unary_frontier(Exchange::new(|w: &HashtagWindow| mix64(w.window_end)), "TopK", move |_cap, _info| {
        let mut pending: BTreeMap<u64, (Capability<u64>, HashtagWindow)> = BTreeMap::new();
        move |(input, frontier), output| {
            input.for_each(|cap, data| {
                for partial in data.drain(..) {
                    let (_, merged) = pending.entry(partial.window_end).or_insert_with(|| {
                        let c = cap.retain_least(0).expect("input capability for output 0");
                        (c, HashtagWindow { window_end: partial.window_end, total: 0, distinct: 0, top: Vec::new() })
                    });
                    merged.merge(partial, k);
                }
            });
            while let Some(entry) = pending.first_entry() {
                if frontier.less_equal(entry.get().0.time()) {
                    break;
                }
                let (cap, window) = entry.remove();
                output.session(&cap).give(window);
            }
        }
    })
}
