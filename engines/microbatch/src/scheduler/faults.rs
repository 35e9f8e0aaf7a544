//! Fault injection on the driver: the run's `kill-worker` and `slow-worker` faults, each applied
//! when it comes due. On the system clock that is its time, wherever the driver is: waiting for a
//! batch or in the middle of a stage (whose running tasks on a killed executor are then lost). On
//! a manual clock it is the first batch boundary at or after it.

use workloads::Fault;

/// What the DAG scheduler does for a fault that came due.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Action {
    /// Executor `w` is lost (and, unless the run keeps it dead, relaunched empty).
    Kill(usize),
    /// Executor `w`'s tasks take `factor` times as long (1 ends it).
    Slow(usize, f64),
}

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

    /// When the next action comes due, ns from the start (`None`: no more).
    pub(crate) fn next_due(&self) -> Option<u64> {
        self.faults
            .iter()
            .zip(&self.done)
            .filter_map(|(f, done)| match *f {
                // `streambench cluster` applies a kill-process, not the engine.
                Fault::KillWorker { at_ns, .. } if *done == 0 => Some(at_ns),
                Fault::SlowWorker { at_ns, .. } if *done == 0 => Some(at_ns),
                Fault::SlowWorker { at_ns, for_ns, .. } if *done == 1 => Some(at_ns + for_ns),
                _ => None,
            })
            .min()
    }

    /// The actions due by `elapsed` ns not applied yet, each with its fault's index.
    pub(crate) fn due(&mut self, elapsed: u64) -> Vec<(usize, Action)> {
        let mut out = Vec::new();
        for (i, (fault, done)) in self.faults.iter().zip(self.done.iter_mut()).enumerate() {
            match *fault {
                Fault::KillWorker { worker, at_ns } if *done == 0 && at_ns <= elapsed => {
                    out.push((i, Action::Kill(worker)));
                    *done = 1;
                }
                Fault::SlowWorker { worker, at_ns, for_ns, factor } => {
                    if *done == 0 && at_ns <= elapsed {
                        out.push((i, Action::Slow(worker, factor)));
                        *done = 1;
                    }
                    if *done == 1 && at_ns + for_ns <= elapsed {
                        out.push((i, Action::Slow(worker, 1.0)));
                        *done = 2;
                    }
                }
                _ => {}
            }
        }
        out
    }
}
