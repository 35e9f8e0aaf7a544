//! `WindowCount` (sliding): per sliding event-time window, each worker's partial result (its
//! tags' total, distinct count and top K), emitted when the frontier passes the window's end.
//! Exchanged by key, so a key lives on one worker. Its snapshot part is the panes (`window`).

use std::rc::Rc;

use timely::dataflow::operators::generic::Operator;
use timely::dataflow::Stream;
use workloads::hashtags::{HashtagSpec, HashtagWindow, SlidingTopK};

use crate::operators::keys::{by_key, KeyBatch};
use crate::operators::{time_of, waker};
use crate::snapshot::Control;
use crate::time::TICK_NS;

/// The partial results of `keys` per sliding window of `spec`.
pub fn sliding_count<'s>(
    keys: Stream<'s, u64, KeyBatch>,
    spec: &HashtagSpec,
    control: &Rc<Control>,
) -> Stream<'s, u64, Vec<HashtagWindow>> {
    let spec = spec.clone();
    let state = Rc::clone(control);
    let add = |windows: &mut SlidingTopK, data: &mut KeyBatch| {
        for (hash, key, t) in data.iter() {
            windows.add(hash, key, t, 1);
        }
    };
    let scope = keys.scope();
    keys.unary_frontier(by_key(), "WindowCount", move |cap, info| {
        let mut cap = Some(cap);
        let mut windows = state.part("window").unwrap_or_else(|| SlidingTopK::new(&spec));
        let mut epochs = state.aligner(&["window"], waker(&scope, &info));
        move |(input, frontier), output| {
            input.for_each(|c, data| {
                epochs.admit_exchanged(time_of(&c), || (), data, |d| add(&mut windows, d));
            });
            let Some(c) = cap.as_mut() else { return };
            // A window is emitted at its end (or the capability, if later).
            let mut fire = |windows: &mut SlidingTopK, done_ns: u64| {
                windows.fire(done_ns, |w| {
                    let at = (w.window_end / TICK_NS).max(*c.time());
                    output.session(&c.delayed(&at)).give(w);
                })
            };
            epochs.settle_exchanged(
                frontier.frontier(),
                &mut windows,
                |windows, epoch| {
                    // Only windows emitted before the epoch: those that end before it.
                    fire(windows, epoch * TICK_NS - 1);
                    state.put(epoch, "window", &*windows);
                },
                |windows, (), data| add(windows, data),
            );
            let f = frontier.frontier().first().copied();
            fire(&mut windows, f.map(|f| f * TICK_NS).unwrap_or(u64::MAX));
            match f {
                None => cap = None,
                Some(f) => {
                    if *c.time() < f {
                        c.downgrade(&f);
                    }
                }
            }
        }
    })
}
