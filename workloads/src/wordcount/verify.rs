//! `wordcount` verification: running counts update by update (or as snapshots, or by digest),
//! windowed counts window by window.

use std::collections::BTreeMap;

use crate::contract::spec::Collect;
use crate::output::{UpdateDigest, WindowedCount, WordTotal};
use crate::verdict::{compare_keyed, Mismatches, Verdict};
use crate::verify::{Judge, Running};
use crate::wordcount::generator::LineGenerator;
use crate::wordcount::oracle;
use crate::wordcount::spec::WordCountSpec;

/// Judges a word-count run.
pub fn run(judge: &Judge<'_>, spec: &WordCountSpec, g: &LineGenerator) -> Verdict {
    let outputs = &judge.report.outputs;
    match spec.window_ns {
        Some(w) => judge.windows(|arrival| {
            let parts = judge.par_ranges(|p, offsets| {
                let lines = offsets.map(|i| {
                    let mut e = g.event(p, i);
                    if arrival {
                        e.event_time = judge.window_time(p, i, e.event_time);
                    }
                    e
                });
                oracle::windowed_counts(lines, w)
            });
            windowed_counts(&outputs.windowed, &WindowedCount::merge_parts(parts))
        }),
        None if judge.running == Running::Snapshots && judge.by_arrival() => per_batch(judge, g, &outputs.snapshots),
        None => {
            let mut totals: BTreeMap<String, u64> = BTreeMap::new();
            for part in judge.par_ranges(|p, offsets| oracle::word_totals(offsets.map(|i| g.event(p, i)))) {
                for (w, c) in part {
                    *totals.entry(w).or_insert(0) += c;
                }
            }
            match judge.running {
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

/// Running-count snapshots batch by batch: the snapshot of batch `t` must be exactly the totals
/// over every input the batches up to `t` read (the arrivals say which), and the last one must
/// cover every input the run read.
fn per_batch(judge: &Judge<'_>, g: &LineGenerator, snapshots: &BTreeMap<u64, Vec<WordTotal>>) -> Verdict {
    let arrivals = &judge.report.microbatch.arrivals;
    let mut read: BTreeMap<u32, u64> = BTreeMap::new();
    let mut running: BTreeMap<String, u64> = BTreeMap::new();
    let mut checked = 0;
    for (&t, snapshot) in snapshots {
        for (&p, ends) in arrivals {
            let end = ends.iter().filter(|(_, at)| *at <= t).map(|(end, _)| *end).max().unwrap_or(0);
            let from = read.entry(p).or_insert(0);
            for i in *from..end {
                for w in crate::text::words(&g.event(p, i).text) {
                    *running.entry(w.to_owned()).or_insert(0) += 1;
                }
            }
            *from = (*from).max(end);
        }
        checked += snapshot.len() as u64;
        let got = snapshot.iter().map(|o| (o.word.as_str(), o.count));
        let verdict = compare_keyed(got, running.iter().map(|(w, c)| (w.as_str(), *c)), "running-count snapshots");
        if !verdict.correct {
            return Verdict::failed(
                checked,
                format!("the snapshot of batch {} ms: {}", t / 1_000_000, verdict.message),
            );
        }
    }
    let ends = &judge.report.partition_ends;
    if let Some((p, end)) = ends.iter().find(|(p, end)| read.get(p).copied().unwrap_or(0) != **end) {
        let at = read.get(p).copied().unwrap_or(0);
        return Verdict::failed(
            checked,
            format!("the last snapshot counts partition {p} to offset {at}, but it was read to {end}"),
        );
    }
    Verdict::ok(checked, "running-count snapshots (batch by batch)")
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
