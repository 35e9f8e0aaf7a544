//! The contract's tests across its files: recorders observe alone and merge into one report.

use crate::contract::spec::Collect;
use crate::contract::Observer;
use crate::output::Alert;
use crate::spec::SECOND_NS;

#[test]
fn recorders_merge_without_sharing() {
    let obs = Observer::with(0, SECOND_NS, Collect::Full);
    obs.start();
    let mut a = obs.recorder();
    let mut b = obs.recorder();
    a.inputs(10, 0);
    a.output_latency(0, 2_000_000);
    a.read(0, 0, 10, 1_000_000, 0);
    a.reflect(1, 3_000_000);
    b.inputs(5, 1_500_000_000);
    b.output_latency(1_000_000_000, 1_500_000_000);
    b.read(1, 0, 5, 1_500_000_000, 7);
    b.alert(Alert { sensor: 1, seq: 2, milli: 3 });
    // Socket lines that were no event, from both workers, one of them from both.
    a.skipped_line(4);
    a.skipped_line(5);
    b.skipped_line(1);
    b.skipped_line(5);
    a.finish();
    drop(b);
    let r = obs.report();
    assert_eq!(r.inputs, 15);
    assert_eq!(r.output_latency_us.len(), 2);
    assert_eq!(r.input_latency_us.len(), 10);
    assert_eq!(r.input_latency_us.max(), 2_000);
    assert_eq!(r.inputs_in_flight, 5);
    assert_eq!(r.timeline.len(), 2);
    assert_eq!(r.timeline[1].inputs, 5);
    assert_eq!(r.outputs.alerts.len(), 1);
    assert!(r.output_latency_us.value_at_quantile(1.0) >= 499_000);
    assert_eq!(r.skipped_lines, [(1, 2), (4, 6)]);
}

#[test]
fn the_live_view_counts_inputs_recorded_into_intervals_already_past() {
    let obs = Observer::with(0, SECOND_NS, Collect::Full);
    obs.start();
    let mut r = obs.recorder();
    // As the micro-batch listener does: a batch's outputs first, then its inputs at their
    // arrival times, one interval back.
    r.output_latency(500_000_000, 1_200_000_000);
    r.inputs(1_000, 600_000_000);
    r.output_latency(1_500_000_000, 2_200_000_000);
    r.inputs(3_000, 1_600_000_000);
    assert_eq!(obs.live().map(|(n, _)| n), Some(1_000), "as of the interval that ended at 2 s");
    r.output_latency(2_500_000_000, 3_100_000_000);
    assert_eq!(obs.live().map(|(n, _)| n), Some(4_000), "as of the interval that ended at 3 s");
    // The report keeps each input at its arrival.
    r.finish();
    let t = obs.report().timeline;
    assert_eq!(t.iter().map(|b| b.inputs).collect::<Vec<_>>(), [1_000, 3_000, 0, 0]);
}
