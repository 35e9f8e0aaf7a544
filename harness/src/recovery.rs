//! Recovery after each injected fault, read off the run's timeline of input latency (every input
//! is a sample, so intervals without outputs still say how far behind the engine is).
//!
//! A fault's **band** is 1.25 x the highest per-interval input p99 between the warm-up and the
//! fault: steady state stays inside it by construction. **Recovery** is measured from when the
//! fault took effect (as the engine reported it) to when latency fell back into band at the start
//! of the first *sustained* stretch in band: an interval in band from which the p99 of every
//! input sample until [`SUSTAIN_S`] of wall time later, pooled, is in band too (so a stall of a
//! few milliseconds inside that second, which delays few of its inputs, does not undo it, where a
//! backlog, which delays many, does). The fall is interpolated between the
//! last interval above the band and the first of the stretch, so a sample landing just above or
//! just below the band moves recovery by a little, not by the gap to the next sample (a whole
//! batch interval for the micro-batch engine). A later single spike does not undo it, so reruns
//! of one command agree.
//! **Catch-up** is the same with the input p50 against 1.25 x its highest pre-fault value: the
//! lag back to where it was before. **Delayed records** are the inputs after the fault whose
//! latency exceeded the band.

use serde::{Deserialize, Serialize};
use workloads::{Fault, RunReport};

use crate::timeline::TimelinePoint;

/// How long a stretch in band must last to count as recovered, s.
pub const SUSTAIN_S: f64 = 1.0;

/// How a run came through one injected fault.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    /// The fault, as given on the command line.
    pub fault: String,
    /// When it was due, s from the start.
    pub at_s: f64,
    /// When it took effect, s from the start (as the engine reported it; `at_s` if it did not).
    pub effective_at_s: f64,
    /// The band: 1.25 x the highest per-interval input p99 before the fault, ms.
    pub band_p99_ms: f64,
    /// From the fault's effect to the first sustained stretch in band, s; `null` when there is
    /// none.
    pub recovery_s: Option<f64>,
    /// From the fault's effect until the input p50 is back to its pre-fault level (sustained),
    /// s: the backlog the fault caused is drained; `null` when it never is.
    pub catch_up_s: Option<f64>,
    /// Inputs first reflected after the fault whose latency exceeded the band.
    pub delayed_records: u64,
    /// From the fault's effect to the first interval with outputs, s; `null` if none followed.
    pub first_output_after_s: Option<f64>,
    /// The highest per-interval input p99 from the fault on, ms.
    pub peak_p99_ms: f64,
    /// The outputs still equal the oracle: nothing was lost or duplicated.
    pub exact: bool,
    /// Native engine: how every worker restored (absent for the micro-batch engine, which
    /// recomputes lost partitions from lineage instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<RestoreSummary>,
}

/// What the native engine's workers did after one `kill-worker` fault.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RestoreSummary {
    /// The epoch of the snapshot restored (event time, s); `null`: none was committed, the job
    /// started again from the beginning of its input.
    pub snapshot_epoch_s: Option<f64>,
    /// Newer snapshots passed over, and why.
    pub skipped: Vec<String>,
    /// The slowest worker's restore: from dropping its dataflow to running the restored one, ms.
    pub restore_ms: f64,
    /// Input records read again (after the snapshot's offsets, read before the fault).
    pub replayed_records: u64,
    /// Outputs after the snapshot, written again by the replay (a store keyed by output
    /// overwrites them, so none is duplicated).
    pub rewritten_outputs: u64,
}

/// The native restores in `report`, one summary per `kill-worker` fault, in the order of
/// `faults` (`None` for other faults, or when the engine reported no restore).
pub(crate) fn restores(faults: &[workloads::Fault], report: &RunReport) -> Vec<Option<RestoreSummary>> {
    // Restores number the kills in the order they come due.
    let mut kills: Vec<(u64, usize)> = faults
        .iter()
        .enumerate()
        .filter_map(|(i, f)| match f {
            workloads::Fault::KillWorker { at_ns, .. } => Some((*at_ns, i)),
            _ => None,
        })
        .collect();
    kills.sort_unstable();
    let mut out = vec![None; faults.len()];
    for (k, &(_, i)) in kills.iter().enumerate() {
        let mine: Vec<_> = report.native.restores.iter().filter(|r| r.fault == k).collect();
        let Some(first) = mine.first() else { continue };
        out[i] = Some(RestoreSummary {
            snapshot_epoch_s: first.epoch_ns.map(|e| e as f64 / 1e9),
            skipped: first.skipped.clone(),
            restore_ms: mine.iter().map(|r| r.took_ns).max().unwrap_or(0) as f64 / 1e6,
            replayed_records: mine.iter().map(|r| r.replayed_inputs).sum(),
            rewritten_outputs: mine.iter().map(|r| r.rewritten_outputs).sum(),
        });
    }
    out
}

/// The fault as given on the command line, and when it was due (ns).
pub(crate) fn describe(fault: &Fault) -> (u64, String) {
    match *fault {
        Fault::KillWorker { worker, at_ns } => (at_ns, format!("kill-worker:{worker}@{}ms", at_ns / 1_000_000)),
        Fault::KillProcess { process, at_ns } => (at_ns, format!("kill-process:{process}@{}ms", at_ns / 1_000_000)),
        Fault::SlowWorker { worker, at_ns, for_ns, factor } => {
            (at_ns, format!("slow-worker:{worker}@{}ms+{}ms*{factor}", at_ns / 1_000_000, for_ns / 1_000_000))
        }
    }
}

/// The first interval of `after` back in band (its own `value` at or below the band) that starts
/// a stretch of [`SUSTAIN_S`] of wall time in which the quantile `q` of every sample of the
/// stretch, pooled, is within the band: at most `1 - q` of them above it (`above` gives an
/// interval's samples above the band and its samples). The stretch runs to the first interval
/// with samples at or past its start plus [`SUSTAIN_S`], that one included (or to the end of the
/// run). In time, not in intervals with samples: a micro-batch engine has samples only when a
/// batch ends (one interval a second at 1 s batches), and ten of those would be ten seconds.
/// Pooled: a stall of a few milliseconds inside the stretch delays few of its inputs and leaves
/// it in band, where a backlog delays most of them.
fn sustained(
    after: &[&TimelinePoint],
    in_band: impl Fn(&TimelinePoint) -> bool,
    q: f64,
    above: impl Fn(&TimelinePoint) -> (u64, u64),
) -> Option<usize> {
    (0..after.len()).filter(|&i| in_band(after[i])).find(|&i| {
        let until = after[i].t_s + SUSTAIN_S - 1e-9;
        let stretch = 1 + after[i + 1..].iter().zip(&after[i..]).take_while(|(_, before)| before.t_s < until).count();
        let (above_band, all) =
            after[i..i + stretch].iter().map(|p| above(p)).fold((0, 0), |(o, a), (po, pa)| (o + po, a + pa));
        above_band as f64 <= (1.0 - q) * all as f64
    })
}

/// The input samples of the interval `p` above `band_ms`, and all of them: from its histogram in
/// `report`, or, without one, from `value` alone (all of them when it is above).
fn above_band(
    report: &RunReport,
    interval_s: f64,
    p: &TimelinePoint,
    band_ms: f64,
    value: impl Fn(&TimelinePoint) -> Option<f64>,
) -> (u64, u64) {
    let bucket = report.timeline.get((p.t_s / interval_s).round() as usize).map(|b| &b.input_latency_us);
    match bucket.filter(|h| !h.is_empty()) {
        Some(h) => (over(h, (band_ms * 1000.0) as u64), h.len()),
        None => (if value(p).is_some_and(|v| v > band_ms) { p.reflected } else { 0 }, p.reflected),
    }
}

/// The samples of `h` (µs) above `band_us`.
fn over(h: &hdrhistogram::Histogram<u64>, band_us: u64) -> u64 {
    if h.is_empty() || h.max() <= band_us {
        0
    } else {
        h.count_between(h.highest_equivalent(band_us) + 1, h.max())
    }
}

/// When `value` fell back to `band` or below at `after[j]`, the start of the stretch: between
/// the interval before it (if that one was above the band) and `after[j]`, linearly.
fn fell_back(after: &[&TimelinePoint], j: usize, band: f64, value: impl Fn(&TimelinePoint) -> Option<f64>) -> f64 {
    let (t2, v2) = (after[j].t_s, value(after[j]).unwrap_or(band));
    match j.checked_sub(1).and_then(|i| Some((after[i].t_s, value(after[i])?))) {
        Some((t1, v1)) if v1 > band && v1 > v2 => t1 + (t2 - t1) * (v1 - band) / (v1 - v2),
        _ => t2,
    }
}

/// The effect of each of the run's `faults` on its `timeline` (intervals of `interval_s`, the
/// report's buckets beside it for the delayed records).
pub fn recoveries(
    faults: &[Fault],
    report: &RunReport,
    timeline: &[TimelinePoint],
    interval_s: f64,
    warmup_s: f64,
    exact: bool,
) -> Option<Vec<Recovery>> {
    if faults.is_empty() {
        return None;
    }
    let effective =
        |index: usize, fault: &Fault| report.faults_applied.get(&index).copied().unwrap_or(describe(fault).0);
    let times: Vec<f64> = faults.iter().enumerate().map(|(i, f)| effective(i, f) as f64 / 1e9).collect();
    // With several faults (a chaos schedule): the band is the steady state's, before the first
    // fault, and each fault's recovery is looked for until the next one takes effect.
    let first_fault = times.iter().copied().fold(f64::INFINITY, f64::min);
    let effect = |(index, fault): (usize, &Fault)| {
        let (at_ns, text) = describe(fault);
        let effective_ns = effective(index, fault);
        let eff = effective_ns as f64 / 1e9;
        let next = times.iter().copied().filter(|t| *t > eff).fold(f64::INFINITY, f64::min);
        let before: Vec<&TimelinePoint> = timeline
            .iter()
            .filter(|p| p.t_s >= warmup_s && p.t_s + interval_s <= first_fault && p.reflected > 0)
            .collect();
        let highest = |f: fn(&TimelinePoint) -> Option<f64>| before.iter().filter_map(|p| f(p)).fold(0.0, f64::max);
        let band = 1.25 * highest(|p| p.input_p99_ms);
        let band_p50 = 1.25 * highest(|p| p.input_p50_ms);
        // Intervals that end after the effect, with samples.
        let after: Vec<&TimelinePoint> =
            timeline.iter().filter(|p| p.t_s + interval_s > eff && p.t_s < next && p.reflected > 0).collect();
        let p99: fn(&TimelinePoint) -> Option<f64> = |p| p.input_p99_ms;
        let p50: fn(&TimelinePoint) -> Option<f64> = |p| p.input_p50_ms;
        let back = |band: f64, value: fn(&TimelinePoint) -> Option<f64>, q: f64| {
            let in_band = |p: &TimelinePoint| value(p).is_some_and(|v| v <= band);
            sustained(&after, in_band, q, |p| above_band(report, interval_s, p, band, value))
                .map(|j| (fell_back(&after, j, band, value) - eff).max(0.0))
        };
        let recovered = back(band, p99, 0.99);
        let caught_up = back(band_p50, p50, 0.5);
        let first = (effective_ns / report.timeline_ns.max(1)) as usize;
        let band_us = (band * 1000.0) as u64;
        let until = if next.is_finite() { (next * 1e9) as u64 / report.timeline_ns.max(1) } else { u64::MAX };
        let delayed =
            report.timeline.iter().take(until as usize).skip(first).map(|b| over(&b.input_latency_us, band_us));
        Recovery {
            fault: text,
            at_s: at_ns as f64 / 1e9,
            effective_at_s: eff,
            band_p99_ms: band,
            recovery_s: recovered.filter(|_| band > 0.0),
            catch_up_s: caught_up.filter(|_| band_p50 > 0.0),
            delayed_records: if band > 0.0 { delayed.sum() } else { 0 },
            first_output_after_s: timeline
                .iter()
                .find(|p| p.t_s + interval_s > eff && p.outputs > 0)
                .map(|p| (p.t_s - eff).max(0.0)),
            peak_p99_ms: after.iter().filter_map(|p| p.input_p99_ms).fold(0.0, f64::max),
            exact,
            restore: None,
        }
    };
    Some(faults.iter().enumerate().map(effect).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t_s: f64, p99: f64) -> TimelinePoint {
        TimelinePoint {
            t_s,
            records_per_sec: 1000.0,
            outputs: 10,
            reflected: 100,
            input_p50_ms: Some(p99 / 2.0),
            input_p99_ms: Some(p99),
            output_p99_ms: Some(p99),
        }
    }

    fn report(effective_ns: Option<u64>) -> RunReport {
        let mut r = RunReport::new(100_000_000);
        if let Some(at) = effective_ns {
            r.faults_applied.insert(0, at);
        }
        r
    }

    /// 100 ms intervals: steady at 10 ms, a fault at 5 s taking effect at 5.2 s, 2 s of high
    /// latency, back in band; then one noise spike at 9 s.
    fn timeline(spike: bool) -> Vec<TimelinePoint> {
        (0..120)
            .map(|i| {
                let t = i as f64 / 10.0;
                let p99 = match t {
                    t if (5.2..7.2).contains(&t) => 400.0,
                    t if spike && (9.0..9.05).contains(&t) => 30.0,
                    _ => 10.0 + (i % 3) as f64,
                };
                point(t, p99)
            })
            .collect()
    }

    #[test]
    fn recovery_is_measured_from_the_effect_and_ignores_a_later_spike() {
        let fault = [Fault::KillWorker { worker: 1, at_ns: 5_000_000_000 }];
        for spike in [false, true] {
            let r = &recoveries(&fault, &report(Some(5_200_000_000)), &timeline(spike), 0.1, 1.0, true).unwrap()[0];
            assert_eq!(r.effective_at_s, 5.2);
            assert!((r.band_p99_ms - 15.0).abs() < 1e-9, "{r:?}");
            let rec = r.recovery_s.expect("recovered");
            assert!((rec - 2.0).abs() < 0.051, "spike {spike}: {r:?}");
            assert!((r.catch_up_s.unwrap() - 2.0).abs() < 0.051, "{r:?}");
            assert_eq!(r.peak_p99_ms, 400.0);
        }
    }

    #[test]
    fn with_several_faults_each_is_measured_against_the_steady_state_until_the_next() {
        // Steady at 10 to 12 ms; a kill at 3 s (400 ms for 2 s), another at 6 s that never
        // recovers before a third at 8 s (from which it recovers in 0.5 s).
        let tl: Vec<TimelinePoint> = (0..120)
            .map(|i| {
                let t = i as f64 / 10.0;
                let p99 = match t {
                    t if (3.0..5.0).contains(&t) => 400.0,
                    t if (6.0..8.5).contains(&t) => 300.0,
                    _ => 10.0 + (i % 3) as f64,
                };
                point(t, p99)
            })
            .collect();
        let kill = |s: u64| Fault::KillWorker { worker: 0, at_ns: s * 1_000_000_000 };
        let faults = [kill(3), kill(6), kill(8)];
        let r = recoveries(&faults, &report(None), &tl, 0.1, 1.0, true).unwrap();
        for f in &r {
            assert!((f.band_p99_ms - 15.0).abs() < 1e-9, "the steady state's band, not a fault's: {f:?}");
        }
        assert!((r[0].recovery_s.unwrap() - 2.0).abs() < 0.051, "{:?}", r[0]);
        assert_eq!(r[1].recovery_s, None, "not back in band before the next fault: {:?}", r[1]);
        assert_eq!(r[1].peak_p99_ms, 300.0);
        assert!((r[2].recovery_s.unwrap() - 0.5).abs() < 0.051, "{:?}", r[2]);
    }

    #[test]
    fn a_sample_just_above_or_just_below_the_band_moves_recovery_a_little() {
        // Samples once a second (1 s batches), steady at 10 ms (band 12.5 ms), a fault at 5 s;
        // the first batch after it at 100 ms, the next just below or just above the band.
        let fault = [Fault::KillWorker { worker: 1, at_ns: 5_000_000_000 }];
        let tl = |next: f64| -> Vec<TimelinePoint> {
            (0..12u32)
                .map(|s| point(s as f64, [(6, 100.0), (7, next)].iter().find(|x| x.0 == s).map_or(10.0, |x| x.1)))
                .collect()
        };
        let rec = |next| recoveries(&fault, &report(None), &tl(next), 0.1, 1.0, true).unwrap()[0].recovery_s.unwrap();
        let (below, above) = (rec(12.4), rec(12.6));
        // Below: the fall from 100 at 6 s to 12.4 at 7 s crosses 12.5 at ~7.0 s; above: from
        // 12.6 at 7 s to 10 at 8 s, at ~7.04 s. Without interpolation, 2 s and 3 s.
        assert!((below - 1.9989).abs() < 1e-3 && (above - 2.0385).abs() < 1e-3, "{below} {above}");
    }

    #[test]
    fn a_micro_batch_recovery_is_sustained_over_a_second_not_over_ten_batches() {
        // 100 ms intervals with samples only where a 1 s batch ends (at x.4 s), steady at 1,400
        // ms (band 1,750); a kill at 10 s; the batch ending at 10.4 s back in band.
        let fault = [Fault::KillWorker { worker: 1, at_ns: 10_000_000_000 }];
        let tl = |late: &[(u32, f64)]| -> Vec<TimelinePoint> {
            (0..200u32)
                .map(|i| {
                    let mut p = point(i as f64 / 10.0, late.iter().find(|l| l.0 == i).map_or(1_400.0, |l| l.1));
                    if i % 10 != 4 {
                        (p.reflected, p.outputs, p.input_p50_ms, p.input_p99_ms) = (0, 0, None, None);
                    }
                    p
                })
                .collect()
        };
        let rec =
            |late: &[(u32, f64)]| recoveries(&fault, &report(None), &tl(late), 0.1, 1.0, true).unwrap()[0].clone();
        // A noise spike six batches later (one batch over the band) leaves the recovery alone.
        let r = rec(&[(164, 1_800.0)]);
        assert!((r.band_p99_ms - 1_750.0).abs() < 1e-9, "{r:?}");
        assert!((r.recovery_s.unwrap() - 0.4).abs() < 1e-6, "{r:?}");
        // The next batch over the band: the stretch from 10.4 s is not sustained; the one from
        // 12.4 s is, its fall from 2,750 at 11.4 s interpolated: 11.4 + 1,000 / 1,350 s.
        let r = rec(&[(114, 2_750.0)]);
        assert!((r.recovery_s.unwrap() - (1.4 + 1_000.0 / 1_350.0)).abs() < 1e-6, "{r:?}");
    }

    /// A report of 100 ms intervals, each with 1,000 input samples: `ms(i, k)` is the latency of
    /// the `k`th sample of interval `i`; and its timeline.
    fn recorded(ms: impl Fn(u32, u32) -> u64) -> (RunReport, Vec<TimelinePoint>) {
        let mut r = report(None);
        r.timeline = (0..120)
            .map(|i| {
                let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
                (0..1_000).for_each(|k| h.record(ms(i, k) * 1_000).unwrap());
                workloads::contract::TimelineBucket {
                    inputs: 1_000,
                    outputs: 10,
                    output_latency_us: h.clone(),
                    input_latency_us: h,
                }
            })
            .collect();
        r.finished_ns = 12_000_000_000;
        let points = crate::timeline::points(&r);
        (r, points)
    }

    #[test]
    fn a_stall_inside_the_sustained_second_does_not_undo_a_recovery_but_a_backlog_does() {
        // Steady at 1 to 2 ms with a pre-fault stall (band 1.25 x 10 ms); a kill at 5 s, a
        // backlog until 5.5 s; then at 6.0 s a stall that delays 5 % of one interval's inputs
        // by 20 ms (its p99 over the band; 0.5 % of the second from 5.5 s).
        let fault = [Fault::KillWorker { worker: 1, at_ns: 5_000_000_000 }];
        let steady = |i: u32, k: u32| if i == 30 && k < 20 { 10 } else { 1 + u64::from(k % 2) };
        let run = |stall_share: u32| {
            let (r, tl) = recorded(|i, k| match i {
                50..55 => 100,
                60 if k < stall_share => 20,
                _ => steady(i, k),
            });
            recoveries(&fault, &r, &tl, 0.1, 1.0, true).unwrap()[0].clone()
        };
        let r = run(50);
        assert!((r.band_p99_ms - 12.5).abs() < 0.1, "{r:?}");
        // The fall from 100 ms at 5.4 s to 2 ms at 5.5 s crosses the band at ~5.489 s.
        assert!((r.recovery_s.unwrap() - 0.489).abs() < 1e-3, "the stall left it recovered: {r:?}");
        // The same stall on 30 % of the interval's inputs (2.7 % of the second): a backlog; the
        // recovery is after it, on the fall from 20 ms at 6.0 s to 2 ms at 6.1 s (~6.042 s).
        let r = run(300);
        assert!((r.recovery_s.unwrap() - 1.042).abs() < 1e-3, "{r:?}");
    }

    #[test]
    fn no_recovery_when_latency_never_comes_back() {
        let fault = [Fault::KillWorker { worker: 1, at_ns: 5_000_000_000 }];
        let tl: Vec<_> =
            (0..100).map(|i| point(i as f64 / 10.0, if i >= 50 { 100.0 + i as f64 } else { 10.0 })).collect();
        let r = &recoveries(&fault, &report(None), &tl, 0.1, 1.0, true).unwrap()[0];
        assert_eq!(r.effective_at_s, 5.0, "without a report, the fault's time");
        assert_eq!(r.recovery_s, None);
    }
}
