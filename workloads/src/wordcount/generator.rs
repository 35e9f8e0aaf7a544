//! The `wordcount` generator: lines of Zipf-distributed words, or a text file replayed.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use crate::generator::GeneratorError;
use crate::hash::{below, mix3, mix64, SplitMix};
use crate::schedule::Schedule;
use crate::text::{vocabulary, Zipf};
use crate::wordcount::event::Line;
use crate::wordcount::spec::WordCountSpec;

/// Lines in a word-count pool.
pub const LINE_POOL: usize = 1 << 16;

const LINE_PICK: u64 = 0x11;

/// Generates [`Line`]s: Zipf-distributed words from a synthetic vocabulary, or the lines of a
/// text file replayed in order (cycling when it runs out).
#[derive(Clone, Debug)]
pub struct LineGenerator {
    pool: Arc<[Box<str>]>,
    from_file: bool,
    schedule: Schedule,
    seed: u64,
}

impl LineGenerator {
    /// A generator for `spec` over `schedule`.
    pub fn new(spec: &WordCountSpec, schedule: Schedule, seed: u64) -> Result<Self, GeneratorError> {
        let (pool, from_file) = match &spec.input {
            Some(path) => (read_lines(path)?, true),
            None => (line_pool(spec, seed), false),
        };
        Ok(Self { pool: pool.into(), from_file, schedule, seed })
    }

    /// Event `i` of partition `p`.
    #[inline]
    pub fn event(&self, p: u32, i: u64) -> Line<'_> {
        Line { event_time: self.schedule.event_time(p, i), text: Cow::Borrowed(&self.pool[self.draw(p, i)]) }
    }

    /// Which line of the pool event `i` of partition `p` is.
    #[inline]
    pub fn draw(&self, p: u32, i: u64) -> usize {
        let k = self.schedule.global_index(p, i);
        if self.from_file {
            (k % self.pool.len() as u64) as usize
        } else {
            below(mix3(self.seed, LINE_PICK, k), self.pool.len() as u64) as usize
        }
    }

    /// The pool's lines (what [`LineGenerator::draw`] indexes).
    pub fn pool(&self) -> &[Box<str>] {
        &self.pool
    }

    /// The schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }
}

fn read_lines(path: &Path) -> Result<Vec<Box<str>>, GeneratorError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| GeneratorError::Input { path: path.display().to_string(), source })?;
    let lines: Vec<Box<str>> = text.lines().filter(|l| !l.trim().is_empty()).map(Into::into).collect();
    if lines.is_empty() {
        return Err(GeneratorError::EmptyInput(path.display().to_string()));
    }
    Ok(lines)
}

fn line_pool(spec: &WordCountSpec, seed: u64) -> Vec<Box<str>> {
    let vocab = vocabulary(spec.vocabulary);
    let zipf = Zipf::new(spec.vocabulary, spec.zipf);
    let mut rng = SplitMix::new(mix64(seed ^ 0x1e5));
    (0..LINE_POOL)
        .map(|_| {
            let mut line = String::with_capacity(spec.words_per_line * 8);
            for w in 0..spec.words_per_line {
                if w > 0 {
                    line.push(' ');
                }
                line.push_str(&vocab[zipf.sample(rng.unit())]);
            }
            line.into_boxed_str()
        })
        .collect()
}
