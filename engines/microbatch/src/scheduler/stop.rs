//! How a context tells its driver to stop (Spark's `StreamingContext.stop(stopGracefully)`):
//! now (the batch in progress finishes, no other starts, the wait for the next one ends at
//! once), or gracefully (the receivers stop, and the next batch processes what they stored).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;
use std::thread::Thread;
use std::time::Instant;

/// What has been asked of the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Stop {
    /// Nothing: batches go on.
    Running,
    /// Stop once the data received so far is processed.
    Graceful,
    /// Stop after the batch in progress.
    Now,
}

/// The stop request a context shares with its driver thread.
#[derive(Default)]
pub(crate) struct StopSignal {
    mode: AtomicU8,
    driver: Mutex<Option<Thread>>,
}

impl StopSignal {
    /// Asks the driver to stop (a graceful request can be made immediate, not the reverse),
    /// waking it if it is waiting for a batch.
    pub(crate) fn request(&self, how: Stop) {
        self.mode.fetch_max(how as u8, Ordering::AcqRel);
        if let Some(driver) = self.driver.lock().expect("stop signal").as_ref() {
            driver.unpark();
        }
    }

    /// What has been asked.
    pub(crate) fn requested(&self) -> Stop {
        match self.mode.load(Ordering::Acquire) {
            0 => Stop::Running,
            1 => Stop::Graceful,
            _ => Stop::Now,
        }
    }

    /// The calling thread is the driver: [`StopSignal::request`] wakes it.
    pub(crate) fn register_driver(&self) {
        *self.driver.lock().expect("stop signal") = Some(std::thread::current());
    }

    /// Sleeps until `deadline` or until a request other than `handled` arrives; returns whether
    /// the deadline was reached.
    pub(crate) fn sleep_until(&self, deadline: Instant, handled: Stop) -> bool {
        loop {
            if self.requested() > handled {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            std::thread::park_timeout(deadline - now);
        }
    }
}
