//! How far a series of runs (an experiment, `compare`, `sweep`, `sustainable`) has come: the
//! commands report to a [`Progress`]; the binary shows it with [`Display`] (an `indicatif` bar
//! with runs done of total, the current run, elapsed and estimated time left on a terminal, plain
//! lines otherwise). A closure taking a line is a `Progress` that hears the lines only.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What a series of runs reports as it goes.
pub trait Progress {
    /// A series of `runs` runs begins, about `seconds` of work in all (0 when unknown).
    fn begin(&mut self, runs: usize, seconds: f64) {
        let _ = (runs, seconds);
    }
    /// A run named `name`, about `seconds` long, starts.
    fn start(&mut self, name: &str, seconds: f64) {
        let _ = (name, seconds);
    }
    /// The run started last has ended (or was skipped): one line about it.
    fn finish(&mut self, line: &str) {
        self.note(line)
    }
    /// The run started last was kept from before (`--resume`): one line about it.
    fn skipped(&mut self, line: &str) {
        self.finish(line)
    }
    /// A line about something else (a COST loop, a file written).
    fn note(&mut self, line: &str);
}

impl<F: FnMut(&str)> Progress for F {
    fn note(&mut self, line: &str) {
        self(line)
    }
}

/// The terminal display of a [`Progress`]: a bar on a terminal, plain lines otherwise.
pub struct Display {
    bar: Option<ProgressBar>,
    runs: usize,
    done: usize,
    planned: f64,
    finished_planned: f64,
    current: f64,
    started: Instant,
}

impl Default for Display {
    fn default() -> Self {
        Self::new()
    }
}

impl Display {
    /// A display on standard error.
    pub fn new() -> Self {
        Self { bar: None, runs: 0, done: 0, planned: 0.0, finished_planned: 0.0, current: 0.0, started: Instant::now() }
    }

    /// `about L left`: the planned seconds still to run, scaled by how long the runs done so far
    /// took against their plan.
    fn left(&self) -> String {
        let elapsed = self.started.elapsed().as_secs_f64();
        if self.planned <= 0.0 {
            return "time left unknown".to_owned();
        }
        let scale = if self.finished_planned > 0.0 { elapsed / self.finished_planned } else { 1.0 };
        format!("about {} left", clock(((self.planned - self.finished_planned) * scale).max(0.0)))
    }

    /// `elapsed, about L left`.
    fn times(&self) -> String {
        format!("{} elapsed, {}", clock(self.started.elapsed().as_secs_f64()), self.left())
    }
}

fn clock(seconds: f64) -> String {
    let s = seconds.round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

impl Progress for Display {
    fn begin(&mut self, runs: usize, seconds: f64) {
        self.runs = runs;
        self.planned = seconds;
        self.started = Instant::now();
        let target = ProgressDrawTarget::stderr();
        if !target.is_hidden() {
            let bar = ProgressBar::with_draw_target(Some(runs as u64), target);
            bar.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} runs, {prefix}; now {msg}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(500));
            self.bar = Some(bar);
        }
    }

    fn start(&mut self, name: &str, seconds: f64) {
        self.current = seconds;
        let times = self.times();
        match &self.bar {
            Some(bar) => {
                bar.set_prefix(self.left());
                bar.set_message(name.to_owned());
            }
            None => eprintln!("[{}/{} {times}] {name} ...", self.done + 1, self.runs),
        }
    }

    fn finish(&mut self, line: &str) {
        self.done += 1;
        self.finished_planned += self.current;
        self.current = 0.0;
        match &self.bar {
            Some(bar) => {
                bar.println(line);
                bar.set_position(self.done as u64);
                bar.set_prefix(self.left());
                if self.done >= self.runs {
                    bar.finish_and_clear();
                }
            }
            None => eprintln!("[{}/{}] {line}", self.done, self.runs),
        }
    }

    fn skipped(&mut self, line: &str) {
        // Kept from before: it takes no time, so it leaves the estimate.
        self.planned -= self.current;
        self.current = 0.0;
        self.finish(line);
    }

    fn note(&mut self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// About how long a run of `duration_ns` takes in all (its verification and start included).
pub fn planned_seconds(duration_ns: u64) -> f64 {
    duration_ns as f64 / 1e9 * 1.25 + 1.0
}
