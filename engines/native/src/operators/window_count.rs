//! `WindowCount` (tumbling): per tumbling event-time window, the count of each key, emitted
//! when the frontier passes the window's end. Its snapshot part is the open windows (`window`).

use std::collections::BTreeMap;
use std::rc::Rc;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::{Operator, OutputBuilderSession};
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;
use workloads::keyed::StrMap;
use workloads::output::WindowedCount;

use crate::operators::keys::{by_key, KeyBatch};
use crate::operators::{time_of, waker};
use crate::snapshot::Control;
use crate::time::TICK_NS;

/// Counts `keys` per tumbling window of `window_ns` (by each record's event time).
pub fn tumbling_count<'s>(
    keys: Stream<'s, u64, KeyBatch>,
    window_ns: u64,
    control: &Rc<Control>,
) -> Stream<'s, u64, Vec<WindowedCount>> {
    let state = Rc::clone(control);
    let add = move |windows: &mut BTreeMap<u64, StrMap<u64>>, data: &mut KeyBatch| {
        for (hash, key, t) in data.iter() {
            let end = (t / window_ns + 1) * window_ns;
            *windows.entry(end).or_default().get_or_insert_with(hash, key, || 0) += 1;
        }
    };
    let scope = keys.scope();
    keys.unary_frontier(by_key(), "WindowCount", move |cap, info| {
        // One capability for the earliest open window; windows are emitted in order.
        let mut cap = Some(cap);
        let mut windows: BTreeMap<u64, StrMap<u64>> = state.part("window").unwrap_or_default();
        let mut epochs = state.aligner(&["window"], waker(&scope, &info));
        move |(input, frontier), output| {
            input.for_each(|c, data| {
                epochs.admit_exchanged(time_of(&c), || (), data, |d| add(&mut windows, d));
            });
            let Some(c) = cap.as_ref() else { return };
            epochs.settle_exchanged(
                frontier.frontier(),
                &mut windows,
                |windows, epoch| {
                    // Only windows complete without the held input and emitted before the epoch
                    // (the capability may stand at a window's end): those that end before it.
                    fire_windows(windows, epoch * TICK_NS - 1, c, output);
                    state.put(epoch, "window", &*windows);
                },
                |windows, (), data| add(windows, data),
            );
            let done_ns = frontier.frontier().iter().map(|f| f * TICK_NS).min().unwrap_or(u64::MAX);
            fire_windows(&mut windows, done_ns, c, output);
            match (frontier.frontier().first(), windows.first_key_value()) {
                (None, _) => cap = None,
                (Some(f), first) => {
                    // Hold the capability at the earliest time a window could still close.
                    let t = first.map(|(end, _)| (end / TICK_NS).max(*f)).unwrap_or(*f);
                    if let Some(c) = cap.as_mut() {
                        if *c.time() < t {
                            c.downgrade(&t);
                        }
                    }
                }
            }
        }
    })
}

/// Emits, at `cap`, every window that ends at or before `done_ns`.
fn fire_windows(
    windows: &mut BTreeMap<u64, StrMap<u64>>,
    done_ns: u64,
    cap: &Capability<u64>,
    output: &mut OutputBuilderSession<'_, u64, CapacityContainerBuilder<Vec<WindowedCount>>>,
) {
    while let Some(entry) = windows.first_entry().filter(|e| *e.key() <= done_ns) {
        let end = *entry.key();
        let counts = entry.remove();
        let mut session = output.session(cap);
        for (word, _, count) in counts.iter() {
            session.give(WindowedCount { window_end: end, word: word.to_owned(), count: *count });
        }
    }
}
