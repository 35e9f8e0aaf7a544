//! Starting timely from a run spec: the `Config`, checks made before anything runs, and a
//! deadline on connecting to peers (timely itself retries a missing peer forever).

use std::net::{TcpListener, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use timely::communication::Config as CommConfig;
use timely::worker::Worker;
use timely::WorkerConfig;
use workloads::contract::ClusterSpec;

use crate::NativeError;

/// Checks a cluster before timely starts: addresses resolve, and this process's port is free.
pub fn preflight(cluster: &ClusterSpec) -> Result<(), NativeError> {
    if cluster.processes <= 1 {
        return Ok(());
    }
    for (i, a) in cluster.addresses.iter().enumerate() {
        if a.to_socket_addrs().map(|mut s| s.next().is_none()).unwrap_or(true) {
            return Err(NativeError::Cluster(format!(
                "address `{a}` of process {i} does not resolve: fix line {} of the hostfile",
                i + 1
            )));
        }
    }
    let mine = &cluster.addresses[cluster.process_id];
    TcpListener::bind(mine).map_err(|e| {
        NativeError::Cluster(format!(
            "process {} cannot listen on {mine}: {e}: the port is in use or not local; pick a free port in the hostfile",
            cluster.process_id
        ))
    })?;
    Ok(())
}

/// The timely configuration of `cluster`.
pub fn config(cluster: &ClusterSpec) -> timely::Config {
    let communication = if cluster.processes > 1 {
        CommConfig::Cluster {
            threads: cluster.workers,
            process: cluster.process_id,
            addresses: cluster.addresses.clone(),
            report: std::env::var_os("STREAMBENCH_TIMELY_REPORT").is_some(),
            zerocopy: false,
        }
    } else if cluster.workers > 1 {
        CommConfig::Process(cluster.workers)
    } else {
        CommConfig::Thread
    };
    timely::Config { communication, worker: WorkerConfig::default() }
}

/// Runs `func` on every worker of this process and waits for them, failing with a clear error
/// when the cluster cannot form within the spec's connect timeout.
pub fn execute<F>(cluster: &ClusterSpec, func: F) -> Result<(), NativeError>
where
    F: Fn(&mut Worker) -> Result<(), NativeError> + Send + Sync + 'static,
{
    preflight(cluster)?;
    let config = config(cluster);
    // Workers start only once every process is connected.
    let started = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&started);
    let func = move |worker: &mut Worker| {
        flag.store(true, Ordering::Release);
        func(worker)
    };
    let (tx, rx) = mpsc::channel();
    let starter = std::thread::Builder::new()
        .name("timely-start".into())
        .spawn(move || {
            let guards = timely::execute(config, func);
            let _ = tx.send(guards.map(|g| g.join()));
        })
        .map_err(|e| NativeError::Cluster(format!("cannot start a thread: {e}")))?;
    // Connection happens inside `timely::execute`; the workers' results come after the run. Wait
    // for connection with a deadline, then for the run without one.
    let deadline = Duration::from_nanos(cluster.connect_timeout_ns);
    let connected = std::time::Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Ok(results)) => {
                let _ = starter.join();
                for r in results {
                    match r {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => return Err(e),
                        Err(panic) => return Err(NativeError::Worker(panic)),
                    }
                }
                return Ok(());
            }
            Ok(Err(e)) => return Err(NativeError::Cluster(format!("timely could not start: {e}"))),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(NativeError::Worker("the timely start thread died".into()))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if cluster.processes > 1 && !started.load(Ordering::Acquire) && connected.elapsed() > deadline {
                    return Err(NativeError::Cluster(format!(
                        "process {} could not connect to all {} processes at {:?} within {} s: check that every process was started, with the same hostfile",
                        cluster.process_id,
                        cluster.processes,
                        cluster.addresses,
                        deadline.as_secs()
                    )));
                }
            }
        }
    }
}
