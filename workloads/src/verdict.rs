//! Verdicts: compares an engine's outputs with the oracle's and says, in words, what differs.
//!
//! Outputs are compared as keyed multisets: an expected key missing from the outputs, a key the
//! oracle does not have (extra), a key emitted more than once (duplicated) and a key with another
//! value (wrong value) are each reported with the first few examples.

use std::collections::BTreeMap;
use std::fmt::Debug;

use serde::{Deserialize, Serialize};

/// How many examples of each kind of mismatch a verdict quotes.
pub const EXAMPLES: usize = 3;

/// Which oracle judged a run's outputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Semantics {
    /// The event-time oracle: windows hold the events whose event times fall in them (and jobs
    /// without windows have one oracle, whatever the order of arrival).
    #[default]
    EventTime,
    /// The arrival-time oracle: windows hold what arrived in their batches (micro-batch windows).
    ArrivalTime,
}

impl Semantics {
    /// The name results use: `event-time` or `arrival-time`.
    pub fn name(self) -> &'static str {
        match self {
            Semantics::EventTime => "event-time",
            Semantics::ArrivalTime => "arrival-time",
        }
    }
}

/// How window results compare with an oracle's, window result by window result.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Accuracy {
    /// Window results compared: the union of the outputs' keys and the oracle's.
    pub results: u64,
    /// The share of them equal to the oracle's.
    pub equal_share: f64,
    /// The mean relative count error, `|got - expected| / max(expected, 1)` (a result missing
    /// counts as 0, an extra one against 0).
    pub mean_relative_error: f64,
}

/// The result of checking outputs against the oracle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Whether the outputs equal the oracle's.
    pub correct: bool,
    /// Outputs checked.
    pub checked: u64,
    /// `"ok: ..."` or the mismatches in words.
    pub message: String,
    /// Which oracle judged `correct`.
    #[serde(default)]
    pub semantics: Semantics,
    /// For window jobs: how the window results compare with the event-time oracle (1 when they
    /// equal it).
    #[serde(default)]
    pub event_time_accuracy: Option<Accuracy>,
    /// Expected outputs that did not come.
    #[serde(default)]
    pub lost: u64,
    /// Outputs that came more than once (or, for a digest, outputs beyond the expected number).
    #[serde(default)]
    pub duplicated: u64,
}

impl Verdict {
    pub(crate) fn ok(checked: u64, what: &str) -> Self {
        Self::new(true, checked, format!("ok: {checked} {what} equal the oracle"))
    }

    /// A failed verdict with a message.
    pub fn failed(checked: u64, message: String) -> Self {
        Self::new(false, checked, message)
    }

    pub(crate) fn new(correct: bool, checked: u64, message: String) -> Self {
        Self {
            correct,
            checked,
            message,
            semantics: Semantics::EventTime,
            event_time_accuracy: None,
            lost: 0,
            duplicated: 0,
        }
    }
}

/// How keyed window results compare with the expected ones; `magnitude` is a result's count.
pub fn accuracy<K: Ord, V: PartialEq>(
    actual: impl IntoIterator<Item = (K, V)>,
    expected: impl IntoIterator<Item = (K, V)>,
    magnitude: impl Fn(&V) -> f64,
) -> Accuracy {
    let mut both: BTreeMap<K, (Option<V>, Option<V>)> = BTreeMap::new();
    for (k, v) in actual {
        both.entry(k).or_insert((None, None)).0 = Some(v);
    }
    for (k, v) in expected {
        both.entry(k).or_insert((None, None)).1 = Some(v);
    }
    let (mut equal, mut error) = (0u64, 0.0);
    for (got, want) in both.values() {
        equal += u64::from(got.is_some() && got == want);
        let (g, w) = (got.as_ref().map_or(0.0, &magnitude), want.as_ref().map_or(0.0, &magnitude));
        error += (g - w).abs() / w.max(1.0);
    }
    let n = both.len() as u64;
    let share = |x: f64| if n == 0 { 1.0 } else { x / n as f64 };
    Accuracy { results: n, equal_share: share(equal as f64), mean_relative_error: share(error) }
}

/// Mismatches of each kind, with the first few examples.
#[derive(Default)]
pub(crate) struct Mismatches {
    pub(crate) missing: (u64, Vec<String>),
    pub(crate) extra: (u64, Vec<String>),
    pub(crate) duplicated: (u64, Vec<String>),
    pub(crate) wrong: (u64, Vec<String>),
}

impl Mismatches {
    pub(crate) fn note(slot: &mut (u64, Vec<String>), example: impl FnOnce() -> String) {
        slot.0 += 1;
        if slot.1.len() < EXAMPLES {
            slot.1.push(example());
        }
    }

    pub(crate) fn into_verdict(self, checked: u64, what: &str) -> Verdict {
        let (lost, duplicated) = (self.missing.0, self.duplicated.0);
        let mut parts = Vec::new();
        for (name, (n, examples)) in [
            ("missing", self.missing),
            ("extra", self.extra),
            ("duplicated", self.duplicated),
            ("wrong value", self.wrong),
        ] {
            if n > 0 {
                parts.push(format!("{n} {name} (e.g. {})", examples.join("; ")));
            }
        }
        let verdict = if parts.is_empty() {
            Verdict::ok(checked, what)
        } else {
            Verdict::failed(checked, format!("{what} differ from the oracle: {}", parts.join(", ")))
        };
        Verdict { lost, duplicated, ..verdict }
    }
}

/// Compares keyed outputs with the expected ones. Each key must appear exactly once with the
/// expected value.
pub fn compare_keyed<K: Ord + Debug, V: PartialEq + Debug>(
    actual: impl IntoIterator<Item = (K, V)>,
    expected: impl IntoIterator<Item = (K, V)>,
    what: &str,
) -> Verdict {
    let mut want: BTreeMap<K, (V, bool)> = expected.into_iter().map(|(k, v)| (k, (v, false))).collect();
    let mut m = Mismatches::default();
    let mut checked = 0;
    for (k, v) in actual {
        checked += 1;
        match want.get_mut(&k) {
            None => Mismatches::note(&mut m.extra, || format!("{k:?} = {v:?}")),
            Some((_, true)) => Mismatches::note(&mut m.duplicated, || format!("{k:?}")),
            Some((w, seen)) => {
                *seen = true;
                if *w != v {
                    Mismatches::note(&mut m.wrong, || format!("{k:?}: got {v:?}, expected {w:?}"));
                }
            }
        }
    }
    for (k, (v, seen)) in &want {
        if !seen {
            Mismatches::note(&mut m.missing, || format!("{k:?} = {v:?}"));
        }
    }
    m.into_verdict(checked, what)
}

/// Appends to an arrival-time verdict how the outputs compare with the event-time oracle.
pub(crate) fn note_event_time(by_arrival: Verdict, by_event: &Verdict) -> Verdict {
    let note = if by_event.correct {
        "; they also equal the event-time oracle".to_owned()
    } else {
        format!("; against the event-time oracle: {}", by_event.message)
    };
    Verdict {
        message: format!("{} (windows by arrival time){note}", by_arrival.message),
        semantics: Semantics::ArrivalTime,
        event_time_accuracy: by_event.event_time_accuracy,
        ..by_arrival
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catches_missing_extra_duplicated_and_wrong() {
        let expected = [(1, 10), (2, 20), (3, 30), (4, 40)];
        assert!(compare_keyed(expected, expected, "x").correct);
        let v = compare_keyed([(1, 10), (2, 20), (3, 30)], expected, "x");
        assert!(!v.correct && v.message.contains("1 missing") && v.message.contains("4 = 40"), "{}", v.message);
        let v = compare_keyed([(1, 10), (2, 20), (3, 30), (4, 40), (5, 50)], expected, "x");
        assert!(!v.correct && v.message.contains("1 extra") && v.message.contains("5 = 50"), "{}", v.message);
        let v = compare_keyed([(1, 10), (2, 20), (2, 20), (3, 30), (4, 40)], expected, "x");
        assert!(!v.correct && v.message.contains("1 duplicated") && v.message.contains('2'), "{}", v.message);
        let v = compare_keyed([(1, 10), (2, 21), (3, 30), (4, 40)], expected, "x");
        assert!(
            !v.correct && v.message.contains("1 wrong value") && v.message.contains("got 21, expected 20"),
            "{}",
            v.message
        );
    }
}
