//! The executors' side of a run: this process's timely workers, started on the cluster's
//! configuration, each running an executor; the driver (or a follower) talks to them through
//! the first local worker.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use workloads::contract::ClusterSpec;
use workloads::Observer;

use crate::conf::StreamingConf;
use crate::executor::messages::{Completion, Msg};
use crate::executor::registry::Registry;
use crate::executor::{run_executor, Link, Waits};

/// This process's executors, running.
pub(crate) type Executors = JoinHandle<Result<Vec<Result<(), String>>, String>>;

/// The cluster of `conf`: its own, or one process of `conf.executors` workers.
pub(crate) fn of(conf: &StreamingConf) -> Result<ClusterSpec, String> {
    let cluster =
        conf.cluster.clone().unwrap_or_else(|| ClusterSpec { workers: conf.executors, ..ClusterSpec::default() });
    if cluster.total_workers() != conf.executors {
        return Err(format!(
            "the cluster has {} executors but the configuration says {}: set executors to workers x processes",
            cluster.total_workers(),
            conf.executors
        ));
    }
    Ok(cluster)
}

/// What the first local worker relays: in process 0 for the driver, elsewhere for the follower.
pub(crate) fn link(
    cluster: &ClusterSpec,
    from_driver: Receiver<Msg>,
    to_driver: Sender<Completion>,
    to_follower: Sender<Msg>,
) -> Link {
    if cluster.process_id == 0 {
        Link { from_driver: Some(from_driver), to_driver: Some(to_driver), to_follower: None }
    } else {
        Link { to_follower: Some(to_follower), ..Link::default() }
    }
}

/// Starts this process's executors and waits until every process is connected. `None`: the
/// executors finished before connecting, without an error.
pub(crate) fn start_executors(
    cluster: &ClusterSpec,
    registry: &Arc<Registry>,
    observer: &Observer,
    link: Link,
    waits: Waits,
) -> Result<Option<Executors>, String> {
    let first_local = cluster.process_id * cluster.workers;
    let link = Mutex::new(Some(link));
    let (reg, obs) = (Arc::clone(registry), observer.clone());
    let config = timely_config(cluster)?;
    // timely waits for every peer forever: give up after the connect timeout instead.
    let connected = Arc::new(AtomicBool::new(false));
    let up = Arc::clone(&connected);
    let workers = std::thread::Builder::new()
        .name("executors".into())
        .spawn(move || {
            timely::execute(config, move |worker| {
                up.store(true, Ordering::Release);
                obs.start();
                let link = if worker.index() == first_local { link.lock().expect("link").take() } else { None };
                run_executor(worker, Arc::clone(&reg), obs.recorder(), link.unwrap_or_default(), waits);
            })
            .map(|g| g.join())
        })
        .map_err(|e| format!("cannot start the executors: {e}"))?;
    let deadline = Instant::now() + Duration::from_nanos(cluster.connect_timeout_ns.max(1));
    while cluster.processes > 1 && !connected.load(Ordering::Acquire) {
        if workers.is_finished() {
            return join_executors(workers, None).map(|()| None);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "process {} could not connect to all {} processes at {:?} within {} s: check that every process was started, with the same hostfile",
                cluster.process_id,
                cluster.processes,
                cluster.addresses,
                cluster.connect_timeout_ns / 1_000_000_000
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Some(workers))
}

/// How long the executors have to stop once told to: they stop within a few polls of the relay.
const STOP_WAIT: Duration = Duration::from_secs(60);

/// Waits for this process's executors; the run's failure, if any, else theirs. Executors still
/// running `STOP_WAIT` after their shutdown are a bug: the run fails saying so instead of hanging.
pub(crate) fn join_executors(workers: Executors, failure: Option<String>) -> Result<(), String> {
    join_within(workers, failure, STOP_WAIT)
}

fn join_within(workers: Executors, failure: Option<String>, wait: Duration) -> Result<(), String> {
    let mut failure = failure;
    let deadline = Instant::now() + wait;
    while !workers.is_finished() {
        if Instant::now() > deadline {
            return Err(failure.unwrap_or_else(|| {
                format!(
                    "the executors did not stop within {} s of their shutdown (left running): a bug, please report it with the run's log",
                    wait.as_secs()
                )
            }));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    match workers.join() {
        Ok(Ok(results)) => {
            if let Some(e) = results.into_iter().find_map(|r| r.err()) {
                failure.get_or_insert(format!("an executor failed: {e}"));
            }
        }
        Ok(Err(e)) => {
            failure.get_or_insert(format!("the executors could not start: {e}"));
        }
        Err(_) => {
            failure.get_or_insert("the executors panicked".into());
        }
    }
    failure.map_or(Ok(()), Err)
}

/// The timely configuration of `cluster`, after checking that this process's port is free.
fn timely_config(cluster: &ClusterSpec) -> Result<timely::Config, String> {
    use timely::communication::Config as CommConfig;
    let communication = if cluster.processes > 1 {
        let mine = &cluster.addresses[cluster.process_id];
        std::net::TcpListener::bind(mine).map_err(|e| {
            format!(
                "process {} cannot listen on {mine}: {e}: the port is in use or not local; pick a free port in the hostfile",
                cluster.process_id
            )
        })?;
        CommConfig::Cluster {
            threads: cluster.workers,
            process: cluster.process_id,
            addresses: cluster.addresses.clone(),
            report: false,
            zerocopy: false,
        }
    } else if cluster.workers > 1 {
        CommConfig::Process(cluster.workers)
    } else {
        CommConfig::Thread
    };
    Ok(timely::Config { communication, worker: timely::WorkerConfig::default() })
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use workloads::contract::Collect;

    use super::*;

    /// Two executors in this process, and the driver's end of their link.
    fn two_executors() -> (Sender<Msg>, Executors) {
        let cluster = ClusterSpec { workers: 2, ..ClusterSpec::default() };
        let (to_fabric, from_driver) = mpsc::channel();
        let (to_driver, _) = mpsc::channel();
        let (to_follower, _) = mpsc::channel();
        let link = link(&cluster, from_driver, to_driver, to_follower);
        let observer = Observer::with(0, 1_000_000_000, Collect::Full);
        let waits = Waits { input_wait: Duration::from_secs(1), relay_poll: Duration::from_millis(1) };
        let workers = start_executors(&cluster, &Arc::default(), &observer, link, waits);
        (to_fabric, workers.expect("executors").expect("running"))
    }

    /// The driver's shutdown of the relay can come back through the exchange before the driver
    /// has sent the other executor its own: both executors still stop.
    #[test]
    fn every_executor_stops_when_the_relay_is_told_before_the_others() {
        let (to_fabric, workers) = two_executors();
        to_fabric.send(Msg::Shutdown { to: 0 }).expect("send");
        // Long enough for the relay to pass its own shutdown on and receive it back.
        std::thread::sleep(Duration::from_millis(200));
        to_fabric.send(Msg::Shutdown { to: 1 }).expect("send");
        drop(to_fabric);
        assert_eq!(join_within(workers, None, Duration::from_secs(10)), Ok(()));
    }

    #[test]
    fn executors_that_do_not_stop_fail_the_run_instead_of_hanging_it() {
        let (to_fabric, workers) = two_executors();
        let stuck = join_within(workers, None, Duration::from_millis(300));
        assert!(stuck.as_ref().is_err_and(|e| e.contains("did not stop")), "{stuck:?}");
        for to in 0..2 {
            to_fabric.send(Msg::Shutdown { to }).expect("send");
        }
    }
}
