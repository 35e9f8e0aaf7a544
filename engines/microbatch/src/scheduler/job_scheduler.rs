//! The job scheduler (Spark's `JobScheduler` with its listener bus and rate controller): runs a
//! batch's jobs one at a time in order (`concurrentJobs = 1`) on the DAG scheduler, then reports
//! the batch's `BatchInfo` to the listeners and the recorder, and feeds the PID rate estimator
//! that bounds what the sources ingest next.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use workloads::contract::BatchInfo;
use workloads::Recorder;

use crate::conf::StreamingConf;
use crate::dstream::graph::Output;
use crate::executor::messages::Action;
use crate::rdd::RddNode;
use crate::scheduler::dag::{DagScheduler, TaskCounts};
use crate::scheduler::listener::Listener;
use crate::scheduler::rate::{PidRateEstimator, RateLimit};
use crate::time::Time;

/// Runs jobs and reports batches.
pub(crate) struct JobScheduler {
    /// Where the jobs run.
    pub(crate) dag: DagScheduler,
    /// Shared with the context, which may add one while batches run.
    listeners: Arc<Mutex<Vec<Listener>>>,
    /// Backpressure: the estimator starts at the initial rate (or at the first batch's rate).
    estimator: Option<PidRateEstimator>,
    /// How often the outputs run, ns: the shortest slide of an output operation (see
    /// [`JobScheduler::batch_completed`]).
    output_every: Option<u64>,
    ingest: RateLimit,
    recorder: Recorder,
    infos: Vec<BatchInfo>,
    /// Tasks launched before the batch now running.
    launched: TaskCounts,
}

impl JobScheduler {
    pub(crate) fn new(
        dag: DagScheduler,
        conf: &StreamingConf,
        ingest: RateLimit,
        listeners: Arc<Mutex<Vec<Listener>>>,
        recorder: Recorder,
    ) -> Self {
        let estimator = conf
            .backpressure
            .then(|| PidRateEstimator::new(conf.initial_rate.or(conf.receiver_max_rate).unwrap_or(f64::MAX)));
        Self {
            dag,
            listeners,
            estimator,
            output_every: None,
            ingest,
            recorder,
            infos: Vec::new(),
            launched: TaskCounts::default(),
        }
    }

    /// Runs every output operation's jobs of batch `t`, in order; the first failure ends them.
    pub(crate) fn run_jobs(&mut self, outputs: &[Output], t: Time) -> Result<(), String> {
        self.output_every = outputs.iter().map(|o| o.slide_ns).min();
        let dag = &mut self.dag;
        let mut run = |rdd: Arc<RddNode>, action: Action| dag.run_job(&rdd, action);
        for o in outputs.iter().filter(|o| t.is_multiple_of(o.slide_ns)) {
            (o.op)(t, &mut run)?;
        }
        Ok(())
    }

    /// Batch `t` of `records` input records, started at `started`, has run: its info goes to
    /// the estimator, the listeners and the recorder.
    pub(crate) fn batch_completed(&mut self, t: Time, records: u64, started: Instant, epoch: Instant, batch_ns: u64) {
        let ended = Instant::now();
        for (fault, at_ns) in self.dag.take_applied() {
            self.recorder.fault_applied(fault, at_ns);
        }
        let since = |i: Instant| i.saturating_duration_since(epoch).as_nanos() as f64;
        let (before, now) = (self.launched, self.dag.launched());
        self.launched = now;
        let info = BatchInfo {
            map_tasks: now.map - before.map,
            result_tasks: now.result - before.result,
            batch_time_ms: t / 1_000_000,
            records,
            scheduling_delay_ms: (since(started) - t as f64).max(0.0) / 1e6,
            processing_delay_ms: (ended - started).as_secs_f64() * 1e3,
            total_delay_ms: (since(ended) - t as f64).max(0.0) / 1e6,
        };
        tracing::debug!(
            batch_time_ms = info.batch_time_ms,
            records,
            map_tasks = info.map_tasks,
            result_tasks = info.result_tasks,
            scheduling_delay_ms = info.scheduling_delay_ms,
            processing_delay_ms = info.processing_delay_ms,
            total_delay_ms = info.total_delay_ms,
            "finished batch"
        );
        if let Some(estimator) = self.estimator.as_mut() {
            // Spark spreads the backlog's correction over a batch interval. Its outputs, though,
            // read their input only when they run (a window sliding every 10 s reads ten
            // batches at once, as Spark's lazy windows do), so the estimator learns once a
            // slide, and a backlog is drained over a slide: spread over one batch interval, the
            // delay of one late window was read as ten batches' backlog and took the rate to its
            // floor (micro-batch ysb at max fell to 1,000 records a window).
            let every = self.output_every.unwrap_or(batch_ns).max(batch_ns);
            estimator.update(info.records, info.processing_delay_ms, info.scheduling_delay_ms, every as f64 / 1e6);
            self.ingest.set(Some(estimator.rate()).filter(|r| *r < f64::MAX));
        }
        for l in self.listeners.lock().expect("listeners").iter_mut() {
            l(&info);
        }
        self.recorder.batch(info.clone());
        self.recorder.commit(workloads::contract::journal::Commit::Batch {
            source: crate::commits::SCHEDULER,
            time_ns: t,
            part: 0,
            parts: 1,
        });
        self.infos.push(info);
    }

    /// Stops every executor, reporting what the checkpoints cost; returns every batch's info.
    pub(crate) fn shutdown(mut self, checkpoints: workloads::contract::CheckpointStats) -> Vec<BatchInfo> {
        self.dag.shutdown();
        self.recorder.checkpoints(checkpoints);
        self.recorder.complete();
        self.infos
    }
}
