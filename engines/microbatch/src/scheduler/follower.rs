//! A process other than the driver's: it generates every batch's lineage from the inputs the
//! driver announces and registers its jobs, so its executors can run their tasks.

use std::path::Path;
use std::sync::{mpsc, Arc};

use crate::dstream::graph::Graph;
use crate::executor::messages::{Action, Msg};
use crate::executor::registry::Registry;
use crate::rdd::RddNode;

/// A process other than the driver's: for every batch the driver announces, generate the same
/// lineage from the same inputs and register its jobs (this process's executors run their
/// tasks), until the driver shuts the executors down. A restarted program (`cut` > 0) first
/// restores its checkpointed streams from the cut, as the driver does.
pub(crate) fn follow(
    graph: &Arc<Graph>,
    registry: &Arc<Registry>,
    batches: mpsc::Receiver<Msg>,
    dir: Option<&Path>,
    cut: u64,
) -> Result<(), String> {
    let outputs = std::mem::take(&mut *graph.outputs.lock().expect("graph"));
    let hooks = std::mem::take(&mut *graph.checkpointed.lock().expect("graph"));
    if let Some(dir) = dir.filter(|_| cut > 0) {
        for (sid, hook) in hooks.iter().enumerate() {
            (hook.restore)(sid, cut, dir).map_err(|e| format!("cannot restore the checkpoint: {e}"))?;
        }
    }
    let interval = graph.checkpoint_interval();
    let trackers = graph.trackers.lock().expect("graph").clone();
    while let Ok(Msg::Generate { time: t, inputs, blocks, first_job, .. }) = batches.recv() {
        // The driver announces a batch once the one before has run: its lineage can go.
        registry.forget_jobs_before(first_job);
        registry.clear_lineage();
        graph.inputs.lock().expect("graph").extend(inputs.into_iter().map(|(s, at, r)| ((s, at), r)));
        for (i, at, b) in blocks {
            if let Some(tracker) = trackers.get(i) {
                tracker.preset(at, b);
            }
        }
        let mut next_job = first_job;
        let mut run = |rdd: Arc<RddNode>, action: Action| -> Result<Vec<Vec<u8>>, String> {
            registry.register(&rdd);
            registry.register_action(next_job, action);
            next_job += 1;
            Ok(vec![Vec::new(); rdd.partitions])
        };
        for o in outputs.iter().filter(|o| t.is_multiple_of(o.slide_ns)) {
            (o.generate)(t);
        }
        for o in outputs.iter().filter(|o| t.is_multiple_of(o.slide_ns)) {
            (o.op)(t, &mut run)?;
        }
        if let Some(dir) = dir.filter(|_| t.is_multiple_of(interval)) {
            for (sid, hook) in hooks.iter().enumerate() {
                (hook.write)(sid, t, dir, &mut run)?;
            }
        }
        graph.inputs.lock().expect("graph").retain(|(_, at), _| *at > t);
        // The graph lets go of what it remembered; the registry's lineage goes with the next
        // batch's announcement (`clear_lineage`).
        graph.expire(t, !hooks.is_empty(), interval);
    }
    Ok(())
}
