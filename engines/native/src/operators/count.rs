//! `Count+Sink`: the running count per key. Exchanged by key, it updates the key's total and
//! emits every update straight into the sink (chained, as Flink chains a keyed operator and its
//! sink). Its output stream carries no data, only progress, for the probe. Its snapshot parts are
//! the counts (`count`) and the sink's position (`outputs`).

use std::cell::RefCell;
use std::rc::Rc;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Probe;
use timely::dataflow::{ProbeHandle, Stream};
use workloads::keyed::StrMap;
use workloads::Recorder;

use crate::operators::keys::{by_key, KeyBatch};
use crate::operators::{time_of, waker};
use crate::snapshot::Control;

/// Running count of `keys`, every update recorded as a running total.
pub fn running_count<'s>(
    keys: Stream<'s, u64, KeyBatch>,
    recorder: Rc<RefCell<Recorder>>,
    probe: &ProbeHandle<u64>,
    control: &Rc<Control>,
) {
    let control = Rc::clone(control);
    let scope = keys.scope();
    keys.unary_frontier::<CapacityContainerBuilder<Vec<()>>, _, _, _>(by_key(), "Count+Sink", move |_cap, info| {
        let mut counts: StrMap<u64> = control.part("count").unwrap_or_default();
        let mut epochs = control.aligner(&["count", "outputs"], waker(&scope, &info));
        move |(input, frontier), _output| {
            let mut r = recorder.borrow_mut();
            input.for_each(|cap, data| {
                epochs.admit_exchanged(time_of(&cap), || (), data, |d| count(&mut counts, &mut r, d));
            });
            epochs.settle_exchanged(
                frontier.frontier(),
                &mut (&mut counts, &mut *r),
                |(counts, r), epoch| {
                    control.put(epoch, "count", &**counts);
                    control.put_outputs(epoch, r);
                },
                |(counts, r), (), data| count(counts, r, data),
            );
        }
    })
    .probe_with(probe);
}

/// The running count's per-record work: each key's total goes up by one and is output.
#[inline]
fn count(counts: &mut StrMap<u64>, r: &mut Recorder, data: &mut KeyBatch) {
    let now = r.now_ns();
    let mut runs = r.latency_runs(now);
    for (hash, key, due) in data.iter() {
        let count = counts.get_or_insert_with(hash, key, || 0);
        *count += 1;
        runs.add(due);
        runs.recorder().word_total(key, hash, *count);
    }
}
