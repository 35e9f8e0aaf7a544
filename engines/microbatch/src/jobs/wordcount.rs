//! Word count as a Spark user writes it: words, pairs, `reduce_by_key` per batch, then per-batch
//! counts, counts per window, or a running count with `update_state_by_key`.

use compact_str::CompactString;
use workloads::output::WindowedCount;
use workloads::wordcount::event::line_text;
use workloads::{RunSpec, WordCountSpec};

use crate::dstream::DStream;
use crate::jobs::direct::DirectSource;
use crate::jobs::socket::SocketSource;
use crate::jobs::Job;
use crate::StreamingError;

impl Job for WordCountSpec {
    fn direct(&self, spec: &RunSpec, source: &DirectSource<'_>) -> Result<(), StreamingError> {
        let g = workloads::wordcount::generator(spec).map_err(|e| StreamingError::Invalid(e.to_string()))?;
        let lines = source.stream(move |p, i, out: &mut Vec<String>| out.push(g.event(p, i).text.into_owned()))?;
        wordcount(&lines, self, source.interval)
    }

    fn socket(&self, _spec: &RunSpec, source: &SocketSource<'_>) -> Result<(), StreamingError> {
        // A line: plain text, or a JSON line event (whose text is used).
        let events = source.events(|line| line_text(line).map(|t| t.into_owned()))?;
        wordcount(&events.flat_map(|p| p.event().cloned())?, self, source.interval)?;
        source.account(&events, self.window_ns.is_some())
    }
}

fn wordcount(lines: &DStream<String>, s: &WordCountSpec, interval: u64) -> Result<(), StreamingError> {
    let pairs = lines
        .flat_map(|l: &String| workloads::text::words(l).map(|w| (CompactString::from(w), 1u64)).collect::<Vec<_>>())?;
    let per_batch = pairs.reduce_by_key(|a, b| a + b)?;
    match s.window_ns {
        Some(w) if w == interval => per_batch.foreach_partition(|t, _p, counts, r| {
            for (word, count) in counts {
                r.windowed(WindowedCount { window_end: t, word: word.to_string(), count: *count });
            }
        })?,
        Some(w) => per_batch.reduce_by_key_and_window(|a, b| a + b, w, w)?.foreach_partition(|t, _p, counts, r| {
            for (word, count) in counts {
                r.windowed(WindowedCount { window_end: t, word: word.to_string(), count: *count });
            }
        })?,
        None => per_batch
            .update_state_by_key(|new: &[u64], old: Option<&u64>| {
                Some(new.iter().sum::<u64>() + old.copied().unwrap_or(0))
            })?
            .foreach_partition(|_t, _p, totals, r| {
                for (word, total) in totals {
                    r.word_snapshot(word, *total);
                }
            })?,
    }
    Ok(())
}
