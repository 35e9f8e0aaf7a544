//! The native engine's operators, one per file, named after the spec stage they implement (the
//! same names the micro-batch jobs use): [`source`] and [`socket`] (`Source`), [`count`]
//! (`Count+Sink`), [`window_count`] (`WindowCount`, tumbling), [`sliding_count`]
//! (`WindowCount`, sliding, with each worker's partial top-K), [`top_k`] (`TopK`), [`detect`]
//! (`Detect`) and [`sink`] (`Sink`). Each stateful one follows the snapshot protocol of
//! `snapshot::aligner` and registers its part of every snapshot. [`checkpoints`] is no stage:
//! it is the checkpoint coordinator, which names the snapshots' epochs.

pub mod checkpoints;
pub mod count;
pub mod detect;
pub mod keys;
pub mod recycle;
pub mod sink;
pub mod sliding_count;
pub mod socket;
pub mod source;
pub mod top_k;
pub mod window_count;

use std::rc::Rc;

use timely::dataflow::operators::generic::OperatorInfo;
use timely::dataflow::operators::InputCapability;
use timely::dataflow::Scope;
use timely::scheduling::Activator;

/// The time of a batch of input.
#[inline]
pub(crate) fn time_of(cap: &InputCapability<u64>) -> u64 {
    *cap.least().expect("input at a time")
}

/// The activator of the operator `info` describes, built in `scope` (for a stateful operator
/// whose held input waits on something other than its own frontier).
pub(crate) fn waker(scope: &Scope<'_, u64>, info: &OperatorInfo) -> Activator {
    scope.activator_for(Rc::clone(&info.address))
}
