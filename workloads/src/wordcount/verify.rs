//! `wordcount` verification: running counts update by update (or as snapshots, or by digest),
//! windowed counts window by window.

use std::collections::{BTreeMap, BTreeSet};

use crate::contract::report::Outputs;
use crate::contract::spec::Collect;
use crate::drawn::Drawn;
use crate::hash::key_hash;
use crate::output::{UpdateDigest, WindowedCount, WordTotal};
use crate::verdict::{compare_keyed, Mismatches, Verdict};
use crate::verify::{par_map, Judge, Running};
use crate::wordcount::generator::LineGenerator;
use crate::wordcount::oracle;
use crate::wordcount::spec::WordCountSpec;

/// Judges a word-count run.
pub fn run(judge: &Judge<'_>, spec: &WordCountSpec, g: &LineGenerator) -> Verdict {
    let outputs = &judge.report.outputs;
    match spec.window_ns {
        Some(w) => judge.windows(|arrival| {
            // The lines each window drew, counted on every core; then each line's words once.
            let parts = judge.par_ranges(|p, offsets| {
                let time = |i, event_time| if arrival { judge.window_time(p, i, event_time) } else { event_time };
                let monotone = judge.times_monotone(p, arrival, offsets.end);
                oracle::windowed_draws(g, p, offsets, w, monotone, time)
            });
            windowed_counts(&outputs.windowed, &oracle::drawn_windows(g, &crate::drawn::merge_all(parts)))
        }),
        None if judge.running == Running::Snapshots && judge.by_arrival() => per_batch(judge, g, outputs),
        None => {
            let mut drawn = Drawn::new(1, g.pool().len());
            for part in judge.par_ranges(|p, offsets| oracle::draws(g, p, offsets)) {
                drawn.merge(part);
            }
            let totals: BTreeMap<String, u64> =
                oracle::drawn_words(g, &drawn).into_iter().map(|(w, c)| (w.to_owned(), c)).collect();
            match judge.running {
                Running::Snapshots if outputs.snapshots.is_empty() => final_snapshot(outputs, &totals),
                Running::Snapshots => {
                    let all: Vec<WordTotal> = outputs.snapshots.values().flatten().cloned().collect();
                    running_snapshots(&all, &totals)
                }
                Running::EveryUpdate if !outputs.word_totals.is_empty() || judge.spec.collect == Collect::Full => {
                    running_updates(&outputs.word_totals, &totals)
                }
                Running::EveryUpdate => outputs.digest.verify(&UpdateDigest::expected(&totals)),
            }
        }
    }
}

/// Running counts that emit on every update: the outputs for each word must be exactly
/// `1, 2, ..., total`, each once.
pub fn running_updates(outputs: &[WordTotal], totals: &BTreeMap<String, u64>) -> Verdict {
    let expected = totals.iter().flat_map(|(w, n)| (1..=*n).map(move |c| ((w.as_str(), c), ())));
    compare_keyed(outputs.iter().map(|o| ((o.word.as_str(), o.count), ())), expected, "running-count updates")
}

/// Running-count snapshots (outputs may repeat, as `update_state_by_key` emits every key each
/// batch): every output must be a prefix count (`1 <= count <= total`), and each word's largest
/// output must be its final total.
pub fn running_snapshots(outputs: &[WordTotal], totals: &BTreeMap<String, u64>) -> Verdict {
    let mut max: BTreeMap<&str, u64> = BTreeMap::new();
    let mut m = Mismatches::default();
    for o in outputs {
        match totals.get(&o.word) {
            None => Mismatches::note(&mut m.extra, || format!("{:?}", o.word)),
            Some(t) if o.count == 0 || o.count > *t => {
                Mismatches::note(&mut m.wrong, || format!("{:?} = {} beyond the total {t}", o.word, o.count))
            }
            Some(_) => {
                let e = max.entry(o.word.as_str()).or_insert(0);
                *e = (*e).max(o.count);
            }
        }
    }
    for (w, t) in totals {
        match max.get(w.as_str()) {
            None => Mismatches::note(&mut m.missing, || format!("{w:?} = {t}")),
            Some(got) if got != t => Mismatches::note(&mut m.wrong, || format!("{w:?}: final {got}, expected {t}")),
            Some(_) => {}
        }
    }
    m.into_verdict(outputs.len() as u64, "running-count snapshots")
}

/// Running-count snapshots kept only as digests, without the batches' arrivals: the last
/// snapshot must be exactly the final totals.
fn final_snapshot(outputs: &Outputs, totals: &BTreeMap<String, u64>) -> Verdict {
    let mut expected = UpdateDigest::default();
    for (w, c) in totals {
        expected.add(key_hash(w), *c);
    }
    let got = outputs.snapshot_digests.values().next_back().copied().unwrap_or_default();
    snapshot_by_digest(got, expected, "the last running-count snapshot")
}

/// A snapshot kept as its digest against the oracle's.
fn snapshot_by_digest(got: UpdateDigest, expected: UpdateDigest, what: &str) -> Verdict {
    if got == expected {
        Verdict::ok(got.updates, &format!("{what} (by digest)"))
    } else {
        let keys = (got.updates, expected.updates);
        Verdict::failed(
            got.updates,
            format!("{what}: {} keys whose totals differ from the oracle's {} (by digest)", keys.0, keys.1),
        )
    }
}

/// Running-count snapshots batch by batch: the snapshot of batch `t` must be exactly the totals
/// over every input the batches up to `t` read (the arrivals say which), and the last one must
/// cover every input the run read. Each batch's new input is counted on every core; the totals
/// then advance a batch at a time, and so does their digest. A batch is compared by its digest,
/// and row by row where the rows were kept (`Collect::Full`), naming the words that differ.
fn per_batch(judge: &Judge<'_>, g: &LineGenerator, outputs: &Outputs) -> Verdict {
    let times: Vec<u64> = outputs
        .snapshot_digests
        .keys()
        .chain(outputs.snapshots.keys())
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // Per partition, how far the batches up to each snapshot's time had read.
    let reached: BTreeMap<u32, Vec<u64>> =
        judge.batch_arrivals().iter().map(|(&p, a)| (p, ends_by(a, &times))).collect();
    let mut pieces = Vec::new();
    for (&p, ends) in &reached {
        let mut from = 0;
        for (b, &end) in ends.iter().enumerate() {
            pieces.extend((from..end).step_by(PIECE as usize).map(|s| (b, p, s..(s + PIECE).min(end))));
            from = from.max(end);
        }
    }
    let mut deltas: Vec<Drawn> = vec![Drawn::new(1, g.pool().len()); times.len()];
    for (b, drawn) in par_map(&pieces, |(b, p, r)| (*b, oracle::draws(g, *p, r.clone()))) {
        deltas[b].merge(drawn);
    }
    let mut running: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut expected = UpdateDigest::default();
    let mut checked = 0;
    for (t, batch) in times.iter().zip(deltas) {
        for (w, c) in oracle::drawn_words(g, &batch) {
            let (hash, total) = running.entry(w).or_insert_with(|| (key_hash(w), 0));
            if *total > 0 {
                expected.remove(*hash, *total);
            }
            *total += c;
            expected.add(*hash, *total);
        }
        let verdict = match outputs.snapshots.get(t) {
            Some(rows) => {
                let got = rows.iter().map(|o| (o.word.as_str(), o.count));
                compare_keyed(got, running.iter().map(|(w, c)| (*w, c.1)), "running-count snapshots")
            }
            None => {
                let got = outputs.snapshot_digests.get(t).copied().unwrap_or_default();
                snapshot_by_digest(got, expected, "running-count snapshots")
            }
        };
        checked += expected.updates;
        if !verdict.correct {
            return Verdict::failed(
                checked,
                format!("the snapshot of batch {} ms: {}", t / 1_000_000, verdict.message),
            );
        }
    }
    for (p, &end) in judge.ends().iter().enumerate() {
        let at = reached.get(&(p as u32)).and_then(|e| e.last()).copied().unwrap_or(0);
        if at != end {
            return Verdict::failed(
                checked,
                format!("the last snapshot counts partition {p} to offset {at}, but it was read to {end}"),
            );
        }
    }
    Verdict::ok(checked, "running-count snapshots (batch by batch)")
}

/// Lines a piece of a batch's new input holds at most (a few pieces per core and batch).
const PIECE: u64 = 250_000;

/// For each of `times` (ascending), the furthest offset read by a batch at or before it, from
/// `(end offset, batch time)` arrivals in any order.
fn ends_by(arrivals: &[(u64, u64)], times: &[u64]) -> Vec<u64> {
    let mut by_time = arrivals.to_vec();
    by_time.sort_unstable_by_key(|&(_, at)| at);
    let (mut next, mut end) = (by_time.iter().peekable(), 0);
    times
        .iter()
        .map(|&t| {
            while let Some((e, _)) = next.next_if(|(_, at)| *at <= t) {
                end = end.max(*e);
            }
            end
        })
        .collect()
}

/// Windowed word counts: each `(window, word)` once with the oracle's count.
pub fn windowed_counts(outputs: &[WindowedCount], expected: &[WindowedCount]) -> Verdict {
    WindowedCount::compare(outputs, expected, "windowed counts")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wt(w: &str, c: u64) -> WordTotal {
        WordTotal { word: w.into(), count: c }
    }

    #[test]
    fn running_updates_and_snapshots() {
        let totals = BTreeMap::from([("a".to_owned(), 2), ("b".to_owned(), 1)]);
        assert!(running_updates(&[wt("a", 1), wt("b", 1), wt("a", 2)], &totals).correct);
        let dup = running_updates(&[wt("a", 1), wt("a", 1), wt("b", 1), wt("a", 2)], &totals);
        assert!(!dup.correct && dup.message.contains("duplicated"));
        assert!(!running_updates(&[wt("a", 1), wt("b", 1)], &totals).correct);
        assert!(running_snapshots(&[wt("a", 1), wt("b", 1), wt("a", 2), wt("b", 1), wt("a", 2)], &totals).correct);
        let short = running_snapshots(&[wt("a", 1), wt("b", 1)], &totals);
        assert!(!short.correct && short.message.contains("final 1, expected 2"), "{}", short.message);
        assert!(!running_snapshots(&[wt("a", 3), wt("b", 1)], &totals).correct);
    }

    #[test]
    fn digest_detects_loss_duplication_and_change() {
        let totals = BTreeMap::from([("a".to_owned(), 3), ("b".to_owned(), 2)]);
        let expected = UpdateDigest::expected(&totals);
        let (ha, hb) = (crate::hash::key_hash("a"), crate::hash::key_hash("b"));
        let mut d = UpdateDigest::default();
        for (h, c) in [(hb, 1), (ha, 1), (ha, 2), (hb, 2), (ha, 3)] {
            d.add(h, c);
        }
        assert!(d.verify(&expected).correct);
        let mut dup = d;
        dup.add(ha, 3);
        assert!(!dup.verify(&expected).correct);
        let mut changed = UpdateDigest::default();
        for (h, c) in [(hb, 1), (ha, 1), (ha, 2), (hb, 1), (ha, 3)] {
            changed.add(h, c);
        }
        let v = changed.verify(&expected);
        assert!(!v.correct && v.message.contains("same number"));
    }
}
