//! The native engine: each workload as a timely dataflow of long-running, pipelined operators,
//! as Flink and Naiad run streams.
//!
//! **Sources** ([`source`]) emit each event as it comes due, at the source's watermark time, so
//! the frontier is the watermark and windows close when it passes their end. **Jobs** ([`jobs`])
//! exchange records by key to stateful operators that update and emit immediately (running
//! counts, detectors) or when the frontier completes a window. **Sinks** report every output with
//! its reference time to the worker's [`workloads::Recorder`]. **Cluster** ([`cluster`]) builds
//! timely's configuration from the run spec: one process with N worker threads, or several
//! processes on a hostfile.
//!
//! ```
//! use workloads::{JobSpec, Observer, Profile, RunSpec, Workload};
//!
//! let mut spec = RunSpec::new(JobSpec::default_for(Workload::Wordcount), Profile::Max { nominal: 1e6 }, 10_000_000_000);
//! spec.records = Some(1000);
//! let observer = Observer::new(&spec);
//! native::run(&spec, &observer).unwrap();
//! let report = observer.report();
//! assert_eq!(report.inputs, 1000);
//! assert_eq!(report.outputs.digest.updates, 10 * 1000);
//! ```

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use timely::dataflow::ProbeHandle;
use workloads::contract::AnyGenerator;
use workloads::{Fault, JobSpec, Observer, Restore, RunSpec, Source};

pub mod cluster;
pub mod jobs;
pub mod snapshot;
pub mod socket;
pub mod source;

/// Why a native run failed.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    /// The run spec is refused (returned by [`run`] before anything starts).
    #[error("invalid run: {0}")]
    Spec(#[from] workloads::contract::SpecError),
    /// The generator could not be built.
    #[error(transparent)]
    Generator(#[from] workloads::generator::GeneratorError),
    /// The cluster could not form (bad hostfile, port in use, a peer missing).
    #[error("cluster: {0}")]
    Cluster(String),
    /// A worker panicked or failed.
    #[error("worker failed: {0}")]
    Worker(String),
    /// The run asks for something the native engine does not do.
    #[error("the native engine does not support {0}")]
    Unsupported(String),
    /// The socket source failed.
    #[error("socket source: {0}")]
    Socket(String),
}

/// Runs `spec` to completion on this process's workers, reporting to `observer`.
pub fn run(spec: &RunSpec, observer: &Observer) -> Result<(), NativeError> {
    spec.validate()?;
    if spec.faults.iter().any(|f| matches!(f, Fault::KillProcess { .. })) {
        return Err(NativeError::Unsupported(
            "kill-process (a supervisor restart of the whole cluster is not built): use kill-worker".into(),
        ));
    }
    let from_socket = matches!(spec.source, Source::Socket(_));
    if from_socket && !spec.faults.is_empty() {
        return Err(NativeError::Unsupported(
            "faults with a socket source (a socket has no offsets to replay from): use the generator".into(),
        ));
    }
    let generator = spec.generator()?;
    // One receiver per run, in process 0, drained by worker 0.
    let socket = match &spec.source {
        Source::Socket(addr) if spec.cluster.process_id == 0 => Some(socket::Receiver::connect(addr, spec)?),
        _ => None,
    };
    // Snapshots go to the run's checkpoint directory, else to a private one (shared by the
    // processes of a cluster on one host); none for a socket source.
    let scratch = spec.checkpoint.dir.is_none().then(|| match spec.cluster.processes {
        1 => workloads::durable::scratch_dir("native"),
        _ => std::env::temp_dir().join(format!("streambench-native-{}", spec.cluster.addresses[0].replace(':', "_"))),
    });
    let dir = (!from_socket).then(|| spec.checkpoint.dir.clone().or_else(|| scratch.clone())).flatten();
    let processes = spec.cluster.processes;
    let spec = spec.clone();
    let observer = observer.clone();
    let result = cluster::execute(&spec.cluster.clone(), move |worker| {
        let index = worker.index();
        let peers = worker.peers();
        let control = Rc::new(snapshot::Control::new(&spec, dir.clone(), index, peers));
        timely::synchronization::Barrier::new(worker).wait();
        observer.start();
        let recorder = Rc::new(RefCell::new(observer.recorder()));
        let receiver = socket.as_ref().filter(|_| index == 0).cloned();
        let no_input = from_socket && receiver.is_none();
        loop {
            let probe = ProbeHandle::new();
            let plan = source::Plan::new(&spec, index, peers);
            let dataflow = worker.next_dataflow_index();
            worker.dataflow::<u64, _, _>(|scope| {
                let r = Rc::clone(&recorder);
                // This worker's input: the socket (worker 0 of a socket run), nothing (the other
                // workers of a socket run), or its share of the generator's partitions.
                let input = Input {
                    receiver: receiver.as_ref(),
                    no_input,
                    plan,
                    recorder: &r,
                    probe: &probe,
                    control: &control,
                };
                let c = &control;
                match (&spec.job, &generator) {
                    (JobSpec::Wordcount(s), AnyGenerator::Lines(g)) => {
                        let words = input.stream(
                            scope,
                            socket::parse_line,
                            jobs::line_records(g.clone(), s.window_ns.is_some()),
                        );
                        match s.window_ns {
                            None => jobs::running_count(words, r, &probe, c),
                            Some(w) => jobs::windowed_count(words, w, r, &probe, c),
                        }
                    }
                    (JobSpec::Hashtags(s), AnyGenerator::Tweets(g)) => {
                        let tags = input.stream(scope, socket::parse_tweet, jobs::tag_records(g.clone()));
                        jobs::hashtag_windows(tags, s, r, &probe, c);
                    }
                    (JobSpec::Sensors(s), AnyGenerator::Sensors(g)) => {
                        let readings = input.stream(scope, socket::parse_reading, jobs::reading_records(g.clone()));
                        jobs::detect(readings, s, r, &probe, c);
                    }
                    _ => unreachable!("RunSpec::generator matches the job"),
                }
            });
            // Until every operator of every dataflow has finished (the sinks included), or a
            // fault comes due.
            let fired = control.fired();
            let straggles = control.straggles();
            loop {
                let now = if straggles { recorder.borrow().now_ns() } else { 0 };
                let more = worker.step_or_park(Some(Duration::from_millis(1)));
                // A straggler takes `factor` times as long over each step.
                let factor = if straggles { control.slow_factor(now) } else { 1.0 };
                if factor > 1.0 {
                    let took = recorder.borrow().now_ns().saturating_sub(now);
                    std::thread::sleep(Duration::from_nanos(((factor - 1.0) * took as f64) as u64));
                }
                if control.fired() > fired || !more {
                    break;
                }
            }
            if control.fired() == fired {
                break;
            }
            // Every worker drops its dataflow, then all restore the same committed snapshot.
            let at_ns = recorder.borrow().now_ns();
            worker.drop_dataflow(dataflow);
            timely::synchronization::Barrier::new(worker).wait();
            let (epoch_ns, skipped) = control.restore();
            let offsets: Vec<(u32, u64)> = control.part("source").unwrap_or_default();
            let rewritten = recorder.borrow_mut().rewind(&control.restored_outputs());
            let took_ns = recorder.borrow().now_ns() - at_ns;
            recorder.borrow_mut().restore(Restore {
                fault: fired,
                at_ns,
                epoch_ns,
                skipped,
                took_ns,
                replayed_inputs: control.replayed(&offsets),
                rewritten_outputs: rewritten,
            });
        }
        control.remove_own_files();
        recorder.borrow_mut().complete();
        Ok(())
    });
    // A private directory goes; one shared by a cluster's processes goes with the last of them
    // (each worker removed its own files).
    if let Some(scratch) = scratch {
        let _ = if processes == 1 { std::fs::remove_dir_all(scratch) } else { std::fs::remove_dir(scratch) };
    }
    result
}

/// Where one worker's records come from.
struct Input<'a> {
    receiver: Option<&'a socket::Receiver>,
    no_input: bool,
    plan: source::Plan,
    recorder: &'a Rc<RefCell<workloads::Recorder>>,
    probe: &'a ProbeHandle<u64>,
    control: &'a Rc<snapshot::Control>,
}

impl Input<'_> {
    /// The `Source` stream: parsed socket lines, nothing, or generated events made into records.
    fn stream<'s, D: timely::ExchangeData>(
        self,
        scope: timely::dataflow::Scope<'s, u64>,
        parse: fn(&str, u64, &mut Vec<D>) -> Result<(), String>,
        produce: impl FnMut(u32, u64, u64, &mut Vec<D>) + 'static,
    ) -> timely::dataflow::Stream<'s, u64, Vec<D>> {
        match self.receiver {
            Some(rx) => socket::stream(scope, rx.clone(), Rc::clone(self.recorder), parse),
            None if self.no_input => socket::empty(scope),
            None => {
                let (recorder, probe, control) =
                    (Rc::clone(self.recorder), self.probe.clone(), Rc::clone(self.control));
                source::generator(scope, "Source", self.plan, recorder, probe, control, produce)
            }
        }
    }
}
