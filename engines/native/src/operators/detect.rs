//! `Detect`: per-sensor detection, exchanged by sensor; keeps each sensor's window and emits an
//! alert (with its reading's due time) when a reading lies beyond k sigma. Its snapshot part is
//! the windows (`detect`).

use std::rc::Rc;

use std::cell::RefCell;
use std::thread::LocalKey;

use rustc_hash::FxHashMap;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::Stream;
use workloads::output::Alert;
use workloads::sensors::{SensorSpec, SensorWindow, Threshold};

use crate::operators::recycle::{self, Recycle};
use crate::operators::{time_of, waker};
use crate::snapshot::rescale::sensor_route;
use crate::snapshot::Control;

/// A reading on its way to its detector, as the detector reads it: `(sensor, seq, milli, due)`,
/// its due time the latency reference (the job's projection before the exchange, as a Flink
/// user maps a reading to a tuple before `keyBy`, and as the micro-batch job keys it: the
/// reading's event time and its ground truth do not travel).
pub type ReadingRecord = (u32, u64, i64, u64);

thread_local! {
    static READINGS: RefCell<Vec<Vec<ReadingRecord>>> = RefCell::default();
}

impl Recycle for Vec<ReadingRecord> {
    fn pool() -> &'static LocalKey<RefCell<Vec<Self>>> {
        &READINGS
    }
    #[inline]
    fn has_room(&self) -> bool {
        self.capacity() > 0
    }
}

/// The alerts of `readings`, each with its reading's due time.
pub fn detect<'s>(
    readings: Stream<'s, u64, Vec<ReadingRecord>>,
    spec: &SensorSpec,
    control: &Rc<Control>,
) -> Stream<'s, u64, Vec<(Alert, u64)>> {
    let threshold = Threshold::new(spec);
    let size = spec.window;
    let state = Rc::clone(control);
    let check =
        move |windows: &mut FxHashMap<u32, SensorWindow>, data: &mut Vec<ReadingRecord>, alerts: &mut Vec<_>| {
            for (sensor, seq, milli, due) in data.drain(..) {
                let w = windows.entry(sensor).or_insert_with(|| SensorWindow::new(size));
                if w.push(milli, threshold) {
                    alerts.push((Alert { sensor, seq, milli }, due));
                }
            }
        };
    let scope = readings.scope();
    readings.unary_frontier(recycle::exchange(|r: &ReadingRecord| sensor_route(r.0)), "Detect", move |_cap, info| {
        let mut windows: FxHashMap<u32, SensorWindow> = state.part("detect").unwrap_or_default();
        let mut epochs = state.aligner(&["detect"], waker(&scope, &info));
        let mut alerts = Vec::new();
        move |(input, frontier), output| {
            input.for_each(|cap, data| {
                let held = || cap.retain_least(0).expect("output 0");
                epochs.admit_exchanged(time_of(&cap), held, data, |data| {
                    check(&mut windows, data, &mut alerts);
                    if !alerts.is_empty() {
                        output.session(&cap).give_iterator(alerts.drain(..));
                    }
                });
            });
            epochs.settle_exchanged(
                frontier.frontier(),
                &mut windows,
                |windows, epoch| state.put(epoch, "detect", &*windows),
                |windows, cap, data| {
                    check(windows, data, &mut alerts);
                    if !alerts.is_empty() {
                        output.session(&cap).give_iterator(alerts.drain(..));
                    }
                },
            );
        }
    })
}
