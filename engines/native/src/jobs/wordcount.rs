//! Word count: `Source` (lines, tokenised), then the running `Count+Sink`, or the tumbling
//! `WindowCount` and `Sink`.

use timely::dataflow::operators::Probe;
use timely::dataflow::Scope;
use workloads::hash::key_hash;
use workloads::output::WindowedCount;
use workloads::text::words;
use workloads::wordcount::event::line_text;
use workloads::wordcount::LineGenerator;
use workloads::{RunSpec, WordCountSpec};

use crate::jobs::{Input, Job};
use crate::operators::count::running_count;
use crate::operators::keys::KeyBatch;
use crate::operators::sink::sink;
use crate::operators::window_count::tumbling_count;
use crate::NativeError;

/// The word-count job of a run.
pub(crate) struct Wordcount {
    gen: LineGenerator,
    window_ns: Option<u64>,
}

impl Wordcount {
    pub(crate) fn new(spec: &RunSpec, s: &WordCountSpec) -> Result<Self, NativeError> {
        Ok(Self { gen: workloads::wordcount::generator(spec)?, window_ns: s.window_ns })
    }
}

impl Job for Wordcount {
    fn build<'s>(&self, scope: Scope<'s, u64>, input: Input<'_>) {
        let (gen, event_time) = (self.gen.clone(), self.window_ns.is_some());
        // Words carry the line's due time, or its event time for windowed counts.
        let words = input.stream(scope, parse_line, move |p, i, due, out| {
            let line = gen.event(p, i);
            tokenize(&line.text, if event_time { line.event_time } else { due }, out);
        });
        let recorder = std::rc::Rc::clone(input.recorder);
        match self.window_ns {
            None => running_count(words, recorder, input.probe, input.control),
            Some(w) => {
                let windows = tumbling_count(words, w, input.control).probe_with(input.probe);
                sink(windows, input.control, recorder, |r, now, out: WindowedCount| {
                    r.window_latency(out.window_end, now);
                    r.windowed(out);
                });
            }
        }
    }
}

/// The records of a line: every word with its hash and `time`.
#[inline]
pub fn tokenize(text: &str, time: u64, out: &mut KeyBatch) {
    for w in words(text) {
        out.push(key_hash(w), w, time);
    }
}

/// A socket line: plain text, or a JSON line event (whose text is used).
fn parse_line(line: &str, now: u64, out: &mut KeyBatch) -> Result<(), String> {
    tokenize(&line_text(line)?, now, out);
    Ok(())
}
