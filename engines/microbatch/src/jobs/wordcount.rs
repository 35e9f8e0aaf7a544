//! Word count as a Spark user writes it: words, pairs, `reduce_by_key` per batch, then per-batch
//! counts, counts per window, or a running count with `update_state_by_key`. A line carries its
//! latency reference (its due time, a socket line's arrival; 0 at `max`, where the reference is
//! the batch time, when the source read it), so that a running count's update can say which
//! input caused it: the latest of the batch's inputs of its word.

use compact_str::CompactString;
use std::time::Duration;
use workloads::hash::key_hash;
use workloads::output::WindowedCount;
use workloads::wordcount::event::line_text;
use workloads::{RunSpec, WordCountSpec};

use crate::dstream::DStream;
use crate::jobs::direct::DirectSource;
use crate::jobs::socket::SocketSource;
use crate::jobs::Job;
use crate::StreamingError;

/// A line's words, on the stack (a generated line has 10): no allocation per line.
type Words<T> = smallvec::SmallVec<[T; 16]>;

impl Job for WordCountSpec {
    fn direct(&self, spec: &RunSpec, source: &DirectSource<'_>) -> Result<(), StreamingError> {
        let g = workloads::wordcount::generator(spec).map_err(|e| StreamingError::Invalid(e.to_string()))?;
        let schedule = spec.schedule();
        let lines = source.stream(move |p, i, out: &mut Vec<(String, u64)>| {
            out.push((g.event(p, i).text.into_owned(), schedule.due(p, i).unwrap_or(0)))
        })?;
        wordcount(&lines, self, source.interval)
    }

    fn socket(&self, _spec: &RunSpec, source: &SocketSource<'_>) -> Result<(), StreamingError> {
        // A line: plain text, or a JSON line event (whose text is used).
        let events = source.events(|line| line_text(line).map(|t| t.into_owned()))?;
        wordcount(&events.flat_map(|p| p.timed().map(|(l, at)| (l.clone(), at)))?, self, source.interval)?;
        source.account(&events)
    }
}

fn wordcount(lines: &DStream<(String, u64)>, s: &WordCountSpec, interval: u64) -> Result<(), StreamingError> {
    let Some(w) = s.window_ns else { return running(lines) };
    let pairs = lines.flat_map(|(l, _): &(String, u64)| {
        workloads::text::words(l).map(|w| (CompactString::from(w), 1u64)).collect::<Words<_>>()
    })?;
    let counts = if w == interval {
        pairs.reduce_by_key(|a, b| a + b)?
    } else {
        pairs.reduce_by_key_and_window(|a, b| a + b, Duration::from_nanos(w), Duration::from_nanos(w))?
    };
    counts.foreach_partition_recorded(|t, _p, counts, r| {
        let now = r.now_ns();
        for (word, count) in counts {
            r.output_latency(t, now);
            r.windowed(WindowedCount { window_end: t, word: word.to_string(), count: *count });
        }
    })
}

/// The running count: every key's total each batch (a snapshot, which the verification reads),
/// and an update for each key the batch changed, referenced to the latest input that changed it.
fn running(lines: &DStream<(String, u64)>) -> Result<(), StreamingError> {
    let pairs = lines.flat_map(|(l, due): &(String, u64)| {
        workloads::text::words(l).map(|w| (CompactString::from(w), (1u64, *due))).collect::<Words<_>>()
    })?;
    pairs
        .reduce_by_key(|a, b| (a.0 + b.0, a.1.max(b.1)))?
        .update_state_by_key(|new: &[(u64, u64)], old: Option<&(u64, Option<u64>)>| {
            let total = new.iter().map(|n| n.0).sum::<u64>() + old.map_or(0, |o| o.0);
            Some((total, new.iter().map(|n| n.1).max()))
        })?
        .foreach_partition_recorded(|t, _p, totals, r| {
            let now = r.now_ns();
            for (word, (total, updated)) in totals {
                r.word_snapshot(t, word, key_hash(word), *total);
                if let Some(due) = updated {
                    r.output_latency(if *due == 0 { t } else { *due }, now);
                }
            }
        })
}
