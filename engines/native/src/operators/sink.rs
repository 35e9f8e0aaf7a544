//! `Sink`: records a job's outputs on this worker, taking part in snapshots with its position in
//! the outputs (its `outputs` part), so a restore can rewind them.

use std::cell::RefCell;
use std::rc::Rc;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::Stream;
use workloads::Recorder;

use crate::operators::{time_of, waker};
use crate::snapshot::Control;

/// Sinks `stream`: `write(recorder, now, output)` records each output.
pub fn sink<'s, D: 'static>(
    stream: Stream<'s, u64, Vec<D>>,
    control: &Rc<Control>,
    recorder: Rc<RefCell<Recorder>>,
    mut write: impl FnMut(&mut Recorder, u64, D) + 'static,
) {
    let control = Rc::clone(control);
    let mut record = move |r: &mut Recorder, data: &mut Vec<D>| {
        let now = r.now_ns();
        for out in data.drain(..) {
            write(r, now, out);
        }
    };
    let scope = stream.scope();
    // An operator with no output rather than timely's `sink`, for the activator its held input
    // needs.
    stream.unary_frontier::<CapacityContainerBuilder<Vec<()>>, _, _, _>(Pipeline, "Sink", move |_cap, info| {
        let mut epochs = control.aligner(&["outputs"], waker(&scope, &info));
        move |(input, frontier), _output| {
            let mut r = recorder.borrow_mut();
            input.for_each(|cap, data| epochs.admit(time_of(&cap), || (), data, |d| record(&mut r, d)));
            epochs.settle(
                frontier.frontier(),
                &mut *r,
                |r, epoch| control.put_outputs(epoch, r),
                |r, (), mut data| record(r, &mut data),
            );
        }
    });
}
