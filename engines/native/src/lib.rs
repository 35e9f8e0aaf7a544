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
use workloads::{JobSpec, Observer, RunSpec, Source};

pub mod cluster;
pub mod jobs;
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
    if !spec.faults.is_empty() {
        return Err(NativeError::Unsupported(
            "fault injection yet (snapshots and restore are not built): run without --fault".into(),
        ));
    }
    let generator = spec.generator()?;
    // One receiver per run, in process 0, drained by worker 0.
    let socket = match &spec.source {
        Source::Socket(addr) if spec.cluster.process_id == 0 => Some(socket::Receiver::connect(addr, spec)?),
        _ => None,
    };
    let from_socket = matches!(spec.source, Source::Socket(_));
    let spec = spec.clone();
    let observer = observer.clone();
    cluster::execute(&spec.cluster.clone(), move |worker| {
        let index = worker.index();
        let peers = worker.peers();
        timely::synchronization::Barrier::new(worker).wait();
        observer.start();
        let recorder = Rc::new(RefCell::new(observer.recorder()));
        let probe = ProbeHandle::new();
        let plan = source::Plan::new(&spec, index, peers);
        let receiver = socket.as_ref().filter(|_| index == 0).cloned();
        let no_input = from_socket && receiver.is_none();
        worker.dataflow::<u64, _, _>(|scope| {
            let r = Rc::clone(&recorder);
            // This worker's input: the socket (worker 0 of a socket run), nothing (the other
            // workers of a socket run), or its share of the generator's partitions.
            let input = Input { receiver: receiver.as_ref(), no_input, plan, recorder: &r, probe: &probe };
            match (&spec.job, &generator) {
                (JobSpec::Wordcount(s), AnyGenerator::Lines(g)) => {
                    let words =
                        input.stream(scope, socket::parse_line, jobs::line_records(g.clone(), s.window_ns.is_some()));
                    match s.window_ns {
                        None => jobs::running_count(words, r, &probe),
                        Some(w) => jobs::windowed_count(words, w, r, &probe),
                    }
                }
                (JobSpec::Hashtags(s), AnyGenerator::Tweets(g)) => {
                    let tags = input.stream(scope, socket::parse_tweet, jobs::tag_records(g.clone()));
                    jobs::hashtag_windows(tags, s, r, &probe);
                }
                (JobSpec::Sensors(s), AnyGenerator::Sensors(g)) => {
                    let readings = input.stream(scope, socket::parse_reading, jobs::reading_records(g.clone()));
                    jobs::detect(readings, s, r, &probe);
                }
                _ => unreachable!("RunSpec::generator matches the job"),
            }
        });
        // Until every operator of every dataflow has finished (the sinks included).
        while worker.step_or_park(Some(Duration::from_millis(1))) {}
        recorder.borrow_mut().complete();
        Ok(())
    })
}

/// Where one worker's records come from.
struct Input<'a> {
    receiver: Option<&'a socket::Receiver>,
    no_input: bool,
    plan: source::Plan,
    recorder: &'a Rc<RefCell<workloads::Recorder>>,
    probe: &'a ProbeHandle<u64>,
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
                source::generator(scope, "Source", self.plan, Rc::clone(self.recorder), self.probe.clone(), produce)
            }
        }
    }
}
