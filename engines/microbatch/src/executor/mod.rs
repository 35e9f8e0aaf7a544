//! Executors and the cluster fabric.
//!
//! Every timely worker is an executor with its own [`block_manager`]. One long-lived timely
//! dataflow, a loop exchanged by destination worker, carries every [`messages::Msg`]: tasks from
//! the driver, shuffle blocks between executors, task completions back to the driver. Worker 0
//! also relays between the loop and the driver's thread. The [`registry`] is what a task's ids
//! name; [`task`] runs one.

pub mod block_manager;
pub mod messages;
pub mod registry;
pub mod task;

use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{ConnectLoop, Feedback};
use timely::worker::Worker;
use workloads::Recorder;

use crate::executor::block_manager::BlockManager;
use crate::executor::messages::{Completion, Msg, Task, TaskKind};
use crate::executor::registry::Registry;
use crate::rdd::ShuffleId;

/// What connects an executor to its process's driver side: on worker 0 the driver thread
/// (messages in, completions out); on the first worker of every other process the follower
/// thread, which generates each batch's lineage as the driver did (batches in).
#[derive(Default)]
pub struct Link {
    /// Messages from the driver to put on the fabric.
    pub from_driver: Option<Receiver<Msg>>,
    /// Completions to the driver.
    pub to_driver: Option<Sender<Completion>>,
    /// Batches to generate, to the follower.
    pub to_follower: Option<Sender<Msg>>,
}

/// How long a task for an RDD or job not yet generated in this process waits for it.
const UNKNOWN_WAIT: Duration = Duration::from_secs(60);

/// How an executor waits: for shuffle blocks (a task still short of them after `input_wait`
/// fails), and, on the relay worker, between looks for the driver's messages (`relay_poll`).
#[derive(Clone, Copy, Debug)]
pub struct Waits {
    /// How long a task waits for its shuffle blocks.
    pub input_wait: Duration,
    /// How often the relay looks for the driver's messages.
    pub relay_poll: Duration,
}

/// The executor on worker `index`, running tasks until the driver shuts it down.
pub fn run_executor(worker: &mut Worker, registry: Arc<Registry>, recorder: Recorder, link: Link, waits: Waits) {
    let index = worker.index();
    worker.dataflow::<u64, _, _>(|scope| {
        let (handle, messages) = scope.feedback::<Vec<Msg>>(1);
        messages
            .unary::<timely::container::CapacityContainerBuilder<Vec<Msg>>, _, _, _>(
                Exchange::new(move |m: &Msg| m.to() as u64),
                "Executor",
                move |cap, info| {
                    let activator = scope.activator_for(Rc::clone(&info.address));
                    let mut cap = Some(cap);
                    let mut executor = Executor::new(index, registry, recorder, link, waits.input_wait);
                    move |input, output| {
                        let mut told = false;
                        input.for_each(|_cap, data| {
                            for m in data.drain(..) {
                                told |= executor.receive(m);
                            }
                        });
                        let hung_up = executor.relay_from_driver();
                        executor.run_ready();
                        if let Some(c) = cap.as_ref() {
                            if !executor.outbox.is_empty() {
                                output.session(c).give_iterator(executor.outbox.drain(..));
                            }
                        }
                        // The relay stops only once the driver has hung up: its own shutdown can
                        // come back through the exchange before the driver has sent the others',
                        // which it must still pass on.
                        let shutdown = if executor.link.from_driver.is_some() { hung_up } else { told };
                        if shutdown {
                            if cap.take().is_some() {
                                executor.recorder.complete();
                            }
                        } else if !executor.pending.is_empty() {
                            activator.activate_after(Duration::from_micros(200));
                        } else if executor.link.from_driver.is_some() {
                            activator.activate_after(waits.relay_poll);
                        }
                    }
                },
            )
            .connect_loop(handle);
    });
    while worker.step_or_park(Some(Duration::from_millis(1))) {}
}

/// Why `task` failed after waiting `waited` for its shuffle inputs `missing`.
fn missing_blocks(
    task: &Task,
    executor: usize,
    waited: Duration,
    missing: &[(ShuffleId, usize, usize, usize)],
) -> String {
    let stage = match &task.kind {
        TaskKind::ShuffleMap { shuffle, .. } => format!("the map stage of shuffle {shuffle}"),
        TaskKind::Result { job } => format!("the result stage of job {job}"),
    };
    let lacks: Vec<String> = missing
        .iter()
        .map(|(s, p, got, n)| format!("shuffle {s} reduce partition {p} ({got} of {n} map outputs)"))
        .collect();
    format!(
        "task {} of {stage} (RDD {}, partition {}) on executor {executor} waited {:.1} s for blocks that never came: {}",
        task.id,
        task.rdd,
        task.partition,
        waited.as_secs_f64(),
        lacks.join(", ")
    )
}

/// One executor's state between activations.
struct Executor {
    index: usize,
    registry: Arc<Registry>,
    recorder: Recorder,
    link: Link,
    bm: BlockManager,
    /// Tasks received and not yet run, in arrival order.
    pending: VecDeque<Task>,
    /// Messages to put on the fabric.
    outbox: Vec<Msg>,
    /// Killed and not relaunched (fault injection): takes no more tasks.
    dead: bool,
    /// Tasks take this many times as long (fault injection).
    slow: f64,
    /// Set by the driver when it kills this executor (in the driver's process): the running
    /// task stops and is lost; cleared when the `Kill` message arrives.
    killed: Arc<AtomicBool>,
    /// Since when a task has waited for an RDD or job this process has not generated yet, or
    /// for shuffle blocks.
    unknown_since: FxHashMap<u64, Instant>,
    /// How long a task waits for shuffle blocks.
    input_wait: Duration,
}

impl Executor {
    fn new(index: usize, registry: Arc<Registry>, recorder: Recorder, link: Link, input_wait: Duration) -> Self {
        Self {
            index,
            killed: registry.kill_switch(index),
            registry,
            recorder,
            link,
            bm: BlockManager::default(),
            pending: VecDeque::new(),
            outbox: Vec::new(),
            dead: false,
            slow: 1.0,
            unknown_since: FxHashMap::default(),
            input_wait,
        }
    }

    /// Handles one message from the fabric; returns whether it shuts the executor down.
    fn receive(&mut self, m: Msg) -> bool {
        match m {
            Msg::Task { .. } | Msg::Block { .. } | Msg::Store { .. } | Msg::Resend { .. } if self.dead => {}
            Msg::Task { task, .. } => self.pending.push_back(task),
            Msg::Store { id, data, .. } => self.bm.store(id, data),
            Msg::Block { shuffle, reduce, map, data, .. } => self.bm.put_shuffle_block(shuffle, reduce, map, data),
            Msg::Resend { lost, placement, .. } => self.outbox.extend(self.bm.resend(lost, &placement)),
            Msg::Done { task, result, error, .. } => self.to_driver(Completion::Task { task, result, error }),
            Msg::Forget { rdds, shuffles, .. } => self.bm.forget(rdds, shuffles),
            Msg::Shutdown { .. } => return true,
            Msg::Kill { relaunch, .. } => {
                self.killed.store(false, Ordering::Release);
                self.dead = !relaunch;
                self.bm = BlockManager::default();
                self.pending.clear();
                self.unknown_since.clear();
                self.outbox.push(Msg::Ack { to: 0, executor: self.index });
            }
            Msg::Purge { .. } => {
                self.pending.clear();
                self.outbox.push(Msg::Ack { to: 0, executor: self.index });
            }
            Msg::Ack { executor, .. } => self.to_driver(Completion::Acknowledged { executor }),
            Msg::Slow { factor, .. } => self.slow = factor,
            generate @ Msg::Generate { .. } => {
                if let Some(tx) = &self.link.to_follower {
                    let _ = tx.send(generate);
                }
            }
        }
        false
    }

    /// Relays a completion to the driver (on the driver's relay worker).
    fn to_driver(&self, c: Completion) {
        if let Some(tx) = &self.link.to_driver {
            let _ = tx.send(c);
        }
    }

    /// Moves the driver's messages onto the outbox; returns whether the driver is gone.
    fn relay_from_driver(&mut self) -> bool {
        let Some(rx) = &self.link.from_driver else { return false };
        loop {
            match rx.try_recv() {
                Ok(m) => self.outbox.push(m),
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => return true,
            }
        }
    }

    /// Runs every task whose shuffle inputs have all arrived, in arrival order.
    fn run_ready(&mut self) {
        let mut waiting = VecDeque::new();
        while let Some(task) = self.pending.pop_front() {
            // In a process other than the driver's, a task can arrive before this process has
            // generated its batch: it waits (for a while).
            let known = match &task.kind {
                TaskKind::ShuffleMap { shuffle, .. } => self.registry.shuffle(*shuffle).is_some(),
                TaskKind::Result { job } => self.registry.action(*job).is_some(),
            };
            let Some(rdd) = self.registry.rdd(task.rdd).filter(|_| known) else {
                let since = *self.unknown_since.entry(task.id).or_insert_with(Instant::now);
                if since.elapsed() < UNKNOWN_WAIT {
                    waiting.push_back(task);
                } else {
                    let error = format!(
                        "RDD {} or its job was never generated on executor {}: the processes do not run the same program",
                        task.rdd, self.index
                    );
                    self.outbox.push(Msg::Done { to: 0, task: task.id, result: Vec::new(), error: Some(error) });
                }
                continue;
            };
            let missing = self.bm.missing_inputs(&rdd, task.partition);
            if !missing.is_empty() {
                // The stage before has finished, so its blocks are on their way: a task still
                // short of them after a while fails its job, saying what it lacks.
                let since = *self.unknown_since.entry(task.id).or_insert_with(Instant::now);
                if since.elapsed() < self.input_wait {
                    waiting.push_back(task);
                } else {
                    let error = missing_blocks(&task, self.index, since.elapsed(), &missing);
                    self.unknown_since.remove(&task.id);
                    self.outbox.push(Msg::Done { to: 0, task: task.id, result: Vec::new(), error: Some(error) });
                }
                continue;
            }
            self.unknown_since.remove(&task.id);
            let began = Instant::now();
            let outbox = &mut self.outbox;
            let Some((result, error)) =
                task::run(&task, &rdd, &self.registry, &mut self.bm, &self.killed, &mut self.recorder, outbox)
            else {
                // Killed while it ran: lost, as is every task still pending (the `Kill` message,
                // on its way, empties the executor).
                continue;
            };
            if self.slow > 1.0 {
                // A straggler: the task takes `slow` times as long.
                std::thread::sleep(began.elapsed().mul_f64(self.slow - 1.0));
            }
            self.outbox.push(Msg::Done { to: 0, task: task.id, result, error });
        }
        self.pending = waiting;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_short_of_blocks_names_its_stage_and_what_it_lacks() {
        let task = Task { id: 4, rdd: 7, partition: 0, kind: TaskKind::Result { job: 1 } };
        let why = missing_blocks(&task, 0, Duration::from_secs(30), &[(5, 0, 1, 2)]);
        assert_eq!(
            why,
            "task 4 of the result stage of job 1 (RDD 7, partition 0) on executor 0 waited 30.0 s for blocks that never came: shuffle 5 reduce partition 0 (1 of 2 map outputs)"
        );
    }
}
