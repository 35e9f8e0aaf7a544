//! Fault injection on the driver: applies each `kill-worker` and `slow-worker` when it is due.

use workloads::Fault;

use crate::scheduler::dag::DagScheduler;

/// The run's faults and how many of each one's actions were applied (a slow worker starts,
/// then ends).
pub(crate) struct Injector {
    faults: Vec<Fault>,
    done: Vec<u8>,
}

impl Injector {
    pub(crate) fn new(faults: Vec<Fault>) -> Self {
        let done = vec![0; faults.len()];
        Self { faults, done }
    }

    /// Applies the faults due by `elapsed` ns that have not been applied yet.
    pub(crate) fn inject(&mut self, scheduler: &mut DagScheduler, elapsed: u64) -> Result<(), String> {
        for (fault, done) in self.faults.iter().zip(self.done.iter_mut()) {
            match *fault {
                Fault::KillWorker { worker, at_ns } if *done == 0 && at_ns <= elapsed => {
                    scheduler.kill(worker)?;
                    *done = 1;
                }
                Fault::SlowWorker { worker, at_ns, for_ns, factor } => {
                    if *done == 0 && at_ns <= elapsed {
                        scheduler.slow(worker, factor)?;
                        *done = 1;
                    }
                    if *done == 1 && at_ns + for_ns <= elapsed {
                        scheduler.slow(worker, 1.0)?;
                        *done = 2;
                    }
                }
                Fault::KillProcess { .. } if *done == 0 && elapsed > 0 => {
                    return Err("kill-process needs several processes, which the micro-batch engine does not run".into())
                }
                _ => {}
            }
        }
        Ok(())
    }
}
