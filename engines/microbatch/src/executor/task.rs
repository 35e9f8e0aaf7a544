//! Running one task on an executor: compute the partition through the block manager, then write
//! its shuffle blocks (a map task: kept, and pushed to the reducers) or apply its job's action (a result task). A panic in user
//! code fails the task, and its job, with the panic's message, as a thrown exception fails a
//! Spark task; the executor lives on. A task whose executor is killed while it runs stops at the
//! next partition it computes and is lost: it reports nothing.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use workloads::Recorder;

use crate::executor::block_manager::{BlockManager, Cx};
use crate::executor::messages::{Msg, Task, TaskKind};
use crate::executor::registry::Registry;
use crate::rdd::{Killed, RddNode, TaskContext};

/// Runs `task` over `rdd`; shuffle blocks go to `outbox`. Returns what the action sent back
/// and why the task failed, if it did; `None` when the executor was killed before the task
/// wrote its blocks or applied its action (the task is lost).
pub(crate) fn run(
    task: &Task,
    rdd: &Arc<RddNode>,
    registry: &Registry,
    bm: &mut BlockManager,
    killed: &Arc<AtomicBool>,
    recorder: &mut Recorder,
    outbox: &mut Vec<Msg>,
) -> Option<(Vec<u8>, Option<String>)> {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut cx = Cx { bm, killed };
        match &task.kind {
            TaskKind::ShuffleMap { shuffle, placement } => match registry.shuffle(*shuffle) {
                Some(s) => {
                    // The map side reads its partition through the stage's pipeline.
                    let blocks = (s.map_side)(&mut cx, rdd, task.partition, placement.len());
                    cx.stop_if_killed();
                    // Kept here (for a reducer lost later) and pushed to the reducers.
                    outbox.extend(cx.bm.put_map_output(*shuffle, task.partition, placement, blocks));
                    Ok(Vec::new())
                }
                None => Err(format!("unknown shuffle {shuffle}")),
            },
            TaskKind::Result { job } => match registry.action(*job) {
                Some(action) => {
                    let computed = cx.partition(rdd, task.partition);
                    cx.stop_if_killed();
                    action(task.partition, &computed, recorder)
                }
                None => Err(format!("unknown job {job}")),
            },
        }
    }));
    Some(match run {
        Ok(Ok(result)) => (result, None),
        Ok(Err(e)) => (Vec::new(), Some(e)),
        Err(panic) if panic.is::<Killed>() => return None,
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".into());
            (Vec::new(), Some(format!("the task panicked: {why}")))
        }
    })
}
