//! One worker's run: build the job's dataflow, step it until it finishes or a fault comes due;
//! on a fault, drop it, restore the newest committed snapshot with every other worker, and build
//! it again from there.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use timely::dataflow::ProbeHandle;
use timely::worker::Worker;
use workloads::{Observer, Recorder, Restore, RunSpec};

use crate::jobs::{Input, Job};
use crate::operators::{checkpoints, socket, source};
use crate::snapshot::Control;
use crate::time::TICK_NS;

/// What every worker of a process shares.
pub(crate) struct Shared<'a> {
    pub(crate) spec: &'a RunSpec,
    pub(crate) job: &'a dyn Job,
    pub(crate) observer: &'a Observer,
    /// The socket's lines, read by worker 0 (a socket run).
    pub(crate) socket: Option<&'a socket::Receiver>,
    /// Where snapshots go (`None`: no snapshots).
    pub(crate) dir: Option<PathBuf>,
}

/// Runs this worker's share of the job to the end.
pub(crate) fn run(worker: &mut Worker, shared: &Shared<'_>) {
    let (index, peers) = (worker.index(), worker.peers());
    let control = Rc::new(Control::new(shared.spec, shared.dir.clone(), index, peers));
    timely::synchronization::Barrier::new(worker).wait();
    shared.observer.start();
    let recorder = Rc::new(RefCell::new(shared.observer.recorder()));
    // Event-time windows: an input is reflected by the first window containing it.
    recorder.borrow_mut().key_by_windows(shared.spec.job.slide_ns());
    // A straggler is slowed from its fault's time on, step by step.
    for (i, f) in shared.spec.faults.iter().enumerate() {
        if let workloads::Fault::SlowWorker { worker: w, at_ns, .. } = *f {
            if w == index {
                recorder.borrow_mut().fault_applied(i, at_ns);
            }
        }
    }
    if let Some(j) = shared.spec.cluster.journal.as_ref().filter(|j| j.generation > 0) {
        resume(&control, j);
    }
    let receiver = shared.socket.filter(|_| index == 0);
    let no_input = matches!(shared.spec.source, workloads::Source::Socket(_)) && receiver.is_none();
    loop {
        let probe = ProbeHandle::new();
        let dataflow = worker.next_dataflow_index();
        worker.dataflow::<u64, _, _>(|scope| {
            // This worker's input: the socket (worker 0 of a socket run), nothing (the other
            // workers of a socket run), or its share of the generator's partitions.
            let plan = source::Plan::new(shared.spec, index, peers);
            let input = Input { receiver, no_input, plan, recorder: &recorder, probe: &probe, control: &control };
            shared.job.build(scope, input);
            checkpoints::coordinator(scope, shared.spec, &control, &recorder, &probe);
        });
        control.seal();
        let fired = control.fired();
        step(worker, &control, &recorder, &probe, fired);
        if control.fired() == fired {
            break;
        }
        // Every worker drops its dataflow, then all restore the same committed snapshot.
        let at_ns = recorder.borrow().now_ns();
        worker.drop_dataflow(dataflow);
        timely::synchronization::Barrier::new(worker).wait();
        restore(&control, &mut recorder.borrow_mut(), fired, at_ns);
    }
    recorder.borrow_mut().checkpoints(control.stats());
    control.remove_own_files();
    recorder.borrow_mut().complete();
}

/// Steps the worker until every operator of every dataflow has finished (the sinks included),
/// or a fault comes due. A straggler takes `factor` times as long over each step. After each
/// step, the outputs' frontier (the probe's) tells the recorder which inputs are reflected.
fn step(worker: &mut Worker, control: &Control, recorder: &RefCell<Recorder>, probe: &ProbeHandle<u64>, fired: usize) {
    let straggles = control.straggles();
    let mut reflected = 0;
    loop {
        let now = if straggles { recorder.borrow().now_ns() } else { 0 };
        let more = worker.step_or_park(Some(Duration::from_millis(1)));
        let factor = if straggles { control.slow_factor(now) } else { 1.0 };
        if factor > 1.0 {
            let took = recorder.borrow().now_ns().saturating_sub(now);
            std::thread::sleep(Duration::from_nanos(((factor - 1.0) * took as f64) as u64));
        }
        let frontier = probe.with_frontier(|f| f.first().map_or(u64::MAX, |t| t.saturating_mul(TICK_NS)));
        if frontier > reflected {
            reflected = frontier;
            let mut r = recorder.borrow_mut();
            let now = r.now_ns();
            r.reflect(frontier, now);
        }
        if control.fired() > fired || !more {
            break;
        }
    }
}

/// Restores the newest committed snapshot after fault `fault` (the dataflow dropped at
/// `at_ns`), rewinds the outputs to it and reports the restore.
fn restore(control: &Control, recorder: &mut Recorder, fault: usize, at_ns: u64) {
    let (epoch_ns, skipped) = control.restore();
    let offsets: Vec<(u32, u64)> = control.part("source").unwrap_or_default();
    let rewritten = recorder.rewind(&control.restored_outputs());
    let took_ns = recorder.now_ns() - at_ns;
    tracing::info!(fault, epoch_ns = ?epoch_ns, skipped = skipped.len(), took_ms = took_ns as f64 / 1e6, "restored");
    if let Some(index) = control.kill_index(fault) {
        recorder.fault_applied(index, at_ns);
    }
    recorder.restore(Restore {
        fault,
        at_ns,
        epoch_ns,
        skipped,
        took_ns,
        replayed_inputs: control.replayed(&offsets),
        rewritten_outputs: rewritten,
    });
}

/// A restarted generation of processes (after a `kill-process`): every worker starts from the
/// newest snapshot the cluster before it committed, and worker 0 notes which in the journal (what
/// the generation before it committed later is thrown away; see `workloads::contract::journal`).
fn resume(control: &Control, journal: &workloads::contract::journal::JournalSpec) {
    let (epoch_ns, skipped) = control.restore();
    tracing::info!(generation = journal.generation, epoch_ns = ?epoch_ns, skipped = skipped.len(), "resumed");
    if control.worker() == 0 {
        let epoch = epoch_ns.map(|_| control.restored_epoch());
        if let Err(e) = workloads::contract::journal::write_restored(&journal.dir, journal.generation, epoch) {
            // Without it the generation before's frames are thrown away: the verification
            // says what is missing.
            tracing::warn!(error = %e, "cannot note the restored snapshot in the journal");
        }
    }
}
