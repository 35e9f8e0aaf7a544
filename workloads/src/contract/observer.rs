//! The observer of one process and the recorder of each worker: how an engine reports latency,
//! outputs and progress without sharing anything on the hot path.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use crate::contract::journal::{self, Commit, JournalSpec, JournalWriter};
use crate::contract::reflect::Reflections;
use crate::contract::report::{BatchInfo, OutputMark, Restore, RunReport, TimelineBucket};
use crate::contract::spec::{Collect, RunSpec, Source};
use crate::hashtags::window::HashtagWindow;
use crate::output::{Alert, WindowedCount, WordTotal};
use crate::spec::SECOND_NS;

struct Shared {
    /// The input latencies of the last intervals the workers have published.
    live: Mutex<BTreeMap<usize, hdrhistogram::Histogram<u64>>>,
    /// Inputs the workers have recorded, as of each one's last published interval.
    recorded: std::sync::atomic::AtomicU64,
    epoch: OnceLock<Instant>,
    warmup_ns: u64,
    timeline_ns: u64,
    collect: Collect,
    reflections: Reflections,
    reports: Mutex<Vec<RunReport>>,
    /// A run that spans process restarts: its journal and this process's index.
    journal: Option<(JournalSpec, usize)>,
    recorders: std::sync::atomic::AtomicUsize,
    journal_errors: Mutex<Vec<String>>,
}

/// Collects what every worker of one process observed. Cheap to clone (one per worker).
#[derive(Clone)]
pub struct Observer {
    shared: Arc<Shared>,
}

impl Observer {
    /// An observer for a run of `spec`: timeline intervals of a thirtieth of the run, between
    /// 100 ms and 1 s.
    pub fn new(spec: &RunSpec) -> Self {
        // With faults, 100 ms intervals: recovery is read off the timeline.
        let interval = if spec.faults.is_empty() {
            (spec.duration_ns / 30).clamp(SECOND_NS / 10, SECOND_NS)
        } else {
            SECOND_NS / 10
        };
        let mut observer = Self::with(spec.warmup_ns, interval - interval % (SECOND_NS / 10), spec.collect);
        let schedule = matches!(spec.source, Source::Generator).then(|| spec.schedule());
        let shared = Arc::get_mut(&mut observer.shared).expect("a new observer");
        shared.reflections = Reflections::new(schedule, !spec.profile.is_max());
        shared.journal = spec.cluster.journal.clone().map(|j| (j, spec.cluster.process_id));
        observer
    }

    /// An observer with an explicit warm-up, timeline interval and collection mode.
    pub fn with(warmup_ns: u64, timeline_ns: u64, collect: Collect) -> Self {
        Self {
            shared: Arc::new(Shared {
                live: Mutex::new(BTreeMap::new()),
                recorded: std::sync::atomic::AtomicU64::new(0),
                epoch: OnceLock::new(),
                warmup_ns,
                timeline_ns: timeline_ns.max(1),
                collect,
                reflections: Reflections::new(None, false),
                reports: Mutex::new(Vec::new()),
                journal: None,
                recorders: Default::default(),
                journal_errors: Mutex::default(),
            }),
        }
    }

    /// Fixes the start of the run (the first caller wins); every worker calls this once its
    /// dataflow is built and the workers are synchronised. Returns the epoch. A restarted
    /// generation of a journaled run keeps the first generation's start, which that one wrote to
    /// the journal.
    pub fn start(&self) -> Instant {
        *self.shared.epoch.get_or_init(|| {
            let now = Instant::now();
            let Some((j, _)) = &self.shared.journal else { return now };
            journal::epoch(j, now).unwrap_or_else(|e| {
                self.note(e);
                now
            })
        })
    }

    fn note(&self, journal_error: String) {
        self.shared.journal_errors.lock().expect("observer lock").push(journal_error);
    }

    /// What went wrong writing the journal (the result would miss those frames).
    pub fn journal_errors(&self) -> Vec<String> {
        self.shared.journal_errors.lock().expect("observer lock").clone()
    }

    /// A recorder for one worker. Call after [`Observer::start`].
    pub fn recorder(&self) -> Recorder {
        let s = &self.shared;
        let journal = s.journal.as_ref().and_then(|(j, process)| {
            let n = s.recorders.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            JournalWriter::open(j, *process, n).map_err(|e| self.note(e)).ok()
        });
        Recorder {
            journal,
            epoch: self.start(),
            warmup_ns: s.warmup_ns,
            timeline_ns: s.timeline_ns,
            collect: s.collect,
            reflections: s.reflections.clone(),
            report: RunReport::empty(s.timeline_ns),
            observer: self.clone(),
            finished: false,
            published_inputs: 0,
        }
    }

    /// For a live status line: `(inputs recorded so far, p99 input latency ms of the latest
    /// interval a worker has finished)`. Workers publish once an interval, when they move past it,
    /// with the inputs they recorded since the last time: a status line's records/s is the
    /// difference between two calls over the time between them. An interval's own count would
    /// not do: the micro-batch engine records a batch's inputs when the batch is done, into the
    /// intervals they arrived in, which are past by then.
    pub fn live(&self) -> Option<(u64, f64)> {
        let live = self.shared.live.lock().expect("observer lock");
        let (_, h) = live.iter().next_back()?;
        let p99 = if h.is_empty() { 0.0 } else { h.value_at_quantile(0.99) as f64 / 1000.0 };
        Some((self.shared.recorded.load(std::sync::atomic::Ordering::Relaxed), p99))
    }

    /// Merges every finished recorder's report.
    pub fn report(&self) -> RunReport {
        let mut all = RunReport::empty(self.shared.timeline_ns);
        for r in self.shared.reports.lock().expect("observer lock").drain(..) {
            all.merge(r);
        }
        all
    }
}

/// One worker's view of a run: latency histogram, timeline and outputs, owned by the worker.
pub struct Recorder {
    journal: Option<JournalWriter>,
    epoch: Instant,
    warmup_ns: u64,
    timeline_ns: u64,
    collect: Collect,
    reflections: Reflections,
    report: RunReport,
    observer: Observer,
    finished: bool,
    /// `report.inputs` when this worker last published an interval.
    published_inputs: u64,
}

impl Recorder {
    /// Nanoseconds since the start of the run. Read it once per batch of records, not per
    /// record.
    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// The run's start.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    #[inline]
    fn bucket(&mut self, now_ns: u64) -> &mut TimelineBucket {
        let i = (now_ns / self.timeline_ns) as usize;
        if self.report.timeline.len() <= i {
            self.publish();
            self.report.timeline.resize_with(i + 1, TimelineBucket::new);
        }
        &mut self.report.timeline[i]
    }

    /// Adds this worker's last interval to the observer's live view (once per interval), and the
    /// inputs it recorded since the last time (see [`Observer::live`]).
    #[cold]
    fn publish(&mut self) {
        if let Some(last) = self.report.timeline.len().checked_sub(1) {
            let mut live = self.observer.shared.live.lock().expect("observer lock");
            let entry = live.entry(last).or_insert_with(crate::histo::coarse);
            let _ = entry.add(&self.report.timeline[last].input_latency_us);
            while live.len() > 4 {
                live.pop_first();
            }
        }
        self.count_recorded();
    }

    /// Adds the inputs recorded since the last time to the observer's live count.
    fn count_recorded(&mut self) {
        let recorded = self.report.inputs.saturating_sub(self.published_inputs);
        self.observer.shared.recorded.fetch_add(recorded, std::sync::atomic::Ordering::Relaxed);
        self.published_inputs = self.report.inputs;
    }

    /// Counts `n` input records ingested at `now_ns`.
    #[inline]
    pub fn inputs(&mut self, n: u64, now_ns: u64) {
        self.report.inputs += n;
        if now_ns >= self.warmup_ns {
            self.report.inputs_measured += n;
        }
        self.bucket(now_ns).inputs += n;
    }

    /// The last input was processed at `at_ns` (for an engine whose recorder lives on after it,
    /// closing windows): the end of the throughput's window. Otherwise it ends when the
    /// recorder that counted inputs is done.
    pub fn inputs_done(&mut self, at_ns: u64) {
        self.report.inputs_done_ns = at_ns;
    }

    /// Records one output produced at `now_ns` whose reference time (the input's scheduled time,
    /// or the window's end) is `reference_ns`.
    #[inline]
    pub fn output_latency(&mut self, reference_ns: u64, now_ns: u64) {
        self.output_latencies(reference_ns, now_ns, 1);
    }

    /// Records `n` outputs produced at `now_ns` with the same reference time. An output before
    /// its reference time (a window closed early because the input ended) counts as an output
    /// but has no latency.
    #[inline]
    pub fn output_latencies(&mut self, reference_ns: u64, now_ns: u64, n: u64) {
        if now_ns < reference_ns {
            self.bucket(now_ns).outputs += n;
            return;
        }
        let us = ((now_ns - reference_ns) / 1000).min(crate::histo::MAX_US);
        if now_ns >= self.warmup_ns {
            let _ = self.report.output_latency_us.record_n(us, n);
        }
        let b = self.bucket(now_ns);
        b.outputs += n;
        let _ = b.output_latency_us.record_n(us, n);
    }

    /// One output at `now_ns` of an event-time window ending at `window_end_ns`: its reference is
    /// the window's end on a schedule, and, in a closed loop (`max`), when the source read past
    /// it (event time there is nominal, not the wall clock).
    #[inline]
    pub fn window_latency(&mut self, window_end_ns: u64, now_ns: u64) {
        let reference = self.reflections.wall_reference(window_end_ns);
        self.output_latencies(reference, now_ns, 1);
    }

    /// Inputs `[from, to)` of partition `p` were read at `now_ns`; the first output reflecting
    /// them comes at `key_ns` (a timely timestamp in ns, a batch time), or, after
    /// [`Recorder::key_by_windows`], with the first event-time window containing each.
    #[inline]
    pub fn read(&mut self, p: u32, from: u64, to: u64, now_ns: u64, key_ns: u64) {
        self.reflections.read(p, from, to, now_ns, key_ns);
    }

    /// Socket line `i` of partition `p` was read at `stamp_ns`, which is its event time (an
    /// engine whose windows are by ingestion time): with windows (see
    /// [`Recorder::key_by_windows`]), kept as runs of lines within one slide, so that the judge
    /// files each line under the windows the engine did.
    #[inline]
    pub fn ingested(&mut self, p: u32, i: u64, stamp_ns: u64) {
        let Some(slide) = self.reflections.window_slide() else { return };
        let runs = self.report.native.ingestion.entry(p).or_default();
        match runs.last_mut() {
            Some(last) if last.0 == i && last.1 / slide == stamp_ns / slide => last.0 = i + 1,
            _ => runs.push((i + 1, stamp_ns)),
        }
    }

    /// Inputs are keyed by the end of the first event-time window sliding by `slide_ns` that
    /// contains them (`None`: by the key each read gives).
    pub fn key_by_windows(&mut self, slide_ns: Option<u64>) {
        self.reflections.key_by_windows(slide_ns);
    }

    /// Every output keyed below `frontier_ns` has been emitted by `now_ns` (`u64::MAX`: every
    /// output): the inputs they reflect get their input-latency samples.
    pub fn reflect(&mut self, frontier_ns: u64, now_ns: u64) {
        let mut reflections = std::mem::take(&mut self.reflections);
        reflections.reflect(frontier_ns, now_ns, |reference_ns, n| self.input_latencies(reference_ns, now_ns, n));
        self.reflections = reflections;
    }

    fn input_latencies(&mut self, reference_ns: u64, now_ns: u64, n: u64) {
        let us = (now_ns.saturating_sub(reference_ns) / 1000).min(crate::histo::MAX_US);
        if now_ns >= self.warmup_ns {
            let _ = self.report.input_latency_us.record_n(us, n);
        }
        let _ = self.bucket(now_ns).input_latency_us.record_n(us, n);
    }

    /// A run-length encoder of latencies: outputs of one input (the words of a line) share a
    /// reference time, so a batch records one histogram entry per run rather than per output.
    #[inline]
    pub fn latency_runs(&mut self, now_ns: u64) -> LatencyRuns<'_> {
        LatencyRuns { recorder: self, now_ns, reference_ns: 0, n: 0 }
    }

    /// A running-count update.
    #[inline]
    pub fn word_total(&mut self, word: &str, word_hash: u64, count: u64) {
        self.report.outputs.digest.add(word_hash, count);
        if self.collect == Collect::Full {
            self.report.outputs.word_totals.push(WordTotal { word: word.to_owned(), count });
        }
    }

    /// A row of batch `batch_ns`'s running-count snapshot: into its digest, kept if `Full`.
    pub fn word_snapshot(&mut self, batch_ns: u64, word: &str, word_hash: u64, count: u64) {
        self.report.outputs.snapshot_digests.entry(batch_ns).or_default().add(word_hash, count);
        if self.collect == Collect::Full {
            self.report.outputs.snapshots.entry(batch_ns).or_default().push(WordTotal { word: word.to_owned(), count });
        }
    }

    /// Notes that partition `p` was read up to `end` by the batch at `batch_ns`.
    pub fn arrival(&mut self, p: u32, end: u64, batch_ns: u64) {
        self.report.microbatch.arrivals.entry(p).or_default().push((end, batch_ns));
    }

    /// A windowed word count.
    pub fn windowed(&mut self, out: WindowedCount) {
        self.report.outputs.windowed.push(out);
    }

    /// A hashtag window.
    pub fn hashtag_window(&mut self, out: HashtagWindow) {
        self.report.outputs.hashtags.push(out);
    }

    /// An alert.
    pub fn alert(&mut self, out: Alert) {
        self.report.outputs.alerts.push(out);
    }

    /// A malformed input record: counted and reported, never fatal.
    pub fn malformed(&mut self, example: impl FnOnce() -> String) {
        self.report.malformed += 1;
        if self.report.malformed_examples.len() < crate::verdict::EXAMPLES {
            self.report.malformed_examples.push(example());
        }
    }

    /// Socket line `offset` was no event (malformed or blank): the judge numbers the events
    /// without it.
    pub fn skipped_line(&mut self, offset: u64) {
        crate::contract::report::skip_line(&mut self.report.skipped_lines, offset);
    }

    /// Notes that partition `p` was read up to (exclusive) offset `end`.
    pub fn partition_end(&mut self, p: u32, end: u64) {
        let e = self.report.partition_ends.entry(p).or_insert(0);
        *e = (*e).max(end);
    }

    /// Where this worker's outputs stand, for a snapshot.
    pub fn mark(&self) -> OutputMark {
        let o = &self.report.outputs;
        OutputMark {
            digest: o.digest,
            word_totals: o.word_totals.len(),
            windowed: o.windowed.len(),
            hashtags: o.hashtags.len(),
            alerts: o.alerts.len(),
        }
    }

    /// Rewinds this worker's outputs to `mark` (taken by [`Recorder::mark`] on this recorder):
    /// what was written since will be written again by the replay. Returns how many outputs were
    /// rewound. Latencies and the timeline keep the rewound outputs: they were delivered.
    pub fn rewind(&mut self, mark: &OutputMark) -> u64 {
        let o = &mut self.report.outputs;
        let before = o.digest.updates + (o.windowed.len() + o.hashtags.len() + o.alerts.len()) as u64;
        o.digest = mark.digest;
        o.word_totals.truncate(mark.word_totals);
        o.windowed.truncate(mark.windowed);
        o.hashtags.truncate(mark.hashtags);
        o.alerts.truncate(mark.alerts);
        before - (o.digest.updates + (o.windowed.len() + o.hashtags.len() + o.alerts.len()) as u64)
    }

    /// Notes that fault `index` (of the run's faults) took effect at `at_ns` on this worker.
    pub fn fault_applied(&mut self, index: usize, at_ns: u64) {
        let e = self.report.faults_applied.entry(index).or_insert(at_ns);
        *e = (*e).min(at_ns);
    }

    /// Adds what this worker's checkpoints cost.
    pub fn checkpoints(&mut self, stats: crate::contract::report::CheckpointStats) {
        let c = &mut self.report.checkpoints;
        c.taken += stats.taken;
        c.metadata += stats.metadata;
        c.bytes += stats.bytes;
        c.pause_ns += stats.pause_ns;
    }

    /// Notes a restore after a fault.
    pub fn restore(&mut self, restore: Restore) {
        self.report.native.restores.push(restore);
    }

    /// Adds a micro-batch's statistics.
    pub fn batch(&mut self, info: BatchInfo) {
        self.report.microbatch.batches.push(info);
    }

    /// A commit point of a run that spans process restarts ([`crate::contract::journal`]): what
    /// was observed since the last one goes to the journal. Nothing in other runs.
    pub fn commit(&mut self, commit: Commit) {
        // The journal takes what was observed since the last commit out of the report: counted first.
        self.count_recorded();
        let Some(journal) = self.journal.as_mut() else { return };
        if let Err(e) = journal.append(commit, &mut self.report) {
            self.observer.note(e);
        }
        self.published_inputs = self.report.inputs;
    }

    /// Hands the report to the observer. Dropping a recorder does the same.
    pub fn finish(mut self) {
        self.hand_over();
    }

    /// Hands the report to the observer now, when the recorder is shared and cannot be consumed;
    /// anything recorded afterwards is dropped.
    pub fn complete(&mut self) {
        self.hand_over();
    }

    fn hand_over(&mut self) {
        if !self.finished {
            self.finished = true;
            self.report.finished_ns = self.now_ns();
            self.report.inputs_in_flight = self.reflections.in_flight();
            if self.report.inputs > 0 && self.report.inputs_done_ns == 0 {
                self.report.inputs_done_ns = self.report.finished_ns;
            }
            let report = std::mem::replace(&mut self.report, RunReport::empty(self.timeline_ns));
            self.observer.shared.reports.lock().expect("observer lock").push(report);
        }
    }
}

/// See [`Recorder::latency_runs`]; records the last run when dropped.
pub struct LatencyRuns<'a> {
    recorder: &'a mut Recorder,
    now_ns: u64,
    reference_ns: u64,
    n: u64,
}

impl LatencyRuns<'_> {
    /// One output with this reference time.
    #[inline]
    pub fn add(&mut self, reference_ns: u64) {
        if reference_ns != self.reference_ns && self.n > 0 {
            self.recorder.output_latencies(self.reference_ns, self.now_ns, self.n);
            self.n = 0;
        }
        self.reference_ns = reference_ns;
        self.n += 1;
    }

    /// The recorder, for outputs.
    #[inline]
    pub fn recorder(&mut self) -> &mut Recorder {
        self.recorder
    }
}

impl Drop for LatencyRuns<'_> {
    fn drop(&mut self) {
        if self.n > 0 {
            self.recorder.output_latencies(self.reference_ns, self.now_ns, self.n);
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.hand_over();
    }
}
