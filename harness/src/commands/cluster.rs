//! `streambench cluster`: starts N processes of one run on loopback with a generated hostfile,
//! waits for them, and merges their reports into one result (records/s/node = total / N).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use crate::output::write_json;
use crate::result::RunResult;

/// `streambench cluster`.
#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    /// Processes to start.
    #[arg(long, default_value_t = 2, env = "STREAMBENCH_CLUSTER_PROCESSES", value_parser = clap::value_parser!(u64).range(1..=64))]
    pub processes: u64,
    /// Give up (and stop every process) after this long.
    #[arg(long, default_value = "10m", value_parser = crate::options::parse_duration, env = "STREAMBENCH_CLUSTER_TIMEOUT")]
    pub timeout: u64,
    /// The run's options (as for `streambench run`), after `--`.
    #[arg(last = true, required = true)]
    pub run: Vec<String>,
}

/// Free loopback ports, found by binding port 0.
pub fn free_ports(n: usize) -> Result<Vec<u16>> {
    let listeners: Vec<_> =
        (0..n).map(|_| std::net::TcpListener::bind("127.0.0.1:0")).collect::<std::io::Result<_>>()?;
    Ok(listeners.iter().map(|l| l.local_addr().map(|a| a.port())).collect::<std::io::Result<_>>()?)
}

fn kill_all(children: &mut [Child]) {
    for c in children.iter_mut() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// Runs the cluster and returns the merged result.
pub fn cluster(args: &ClusterArgs) -> Result<RunResult> {
    let mut base = crate::run_args::parse_run_options(&args.run, &[])?;
    let n = args.processes as usize;
    if base.hostfile.is_some() || base.process_id != 0 || base.processes != 1 {
        bail!("`cluster` makes the hostfile and process ids itself: leave --hostfile, --processes and --process-id out of the run options");
    }
    let dir = std::env::temp_dir().join(format!("streambench-cluster-{}-{}", std::process::id(), nanos()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let hostfile = dir.join("hostfile");
    let ports = free_ports(n)?;
    std::fs::write(&hostfile, ports.iter().map(|p| format!("127.0.0.1:{p}\n")).collect::<String>())?;
    // Validate the whole run before starting anything.
    base.processes = n as u64;
    base.hostfile = Some(hostfile.clone());
    base.to_spec()?;
    let exe = std::env::current_exe().context("finding the streambench binary")?;
    let parts: Vec<PathBuf> = (0..n).map(|i| dir.join(format!("part-{i}.json"))).collect();
    let mut children = Vec::with_capacity(n);
    for (i, part) in parts.iter().enumerate() {
        let child = Command::new(&exe)
            .arg("run")
            .args(crate::run_args::without(&args.run, "--out"))
            .args(["--processes", &n.to_string(), "--process-id", &i.to_string()])
            .arg("--hostfile")
            .arg(&hostfile)
            .arg("--out")
            .arg(part)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        match child {
            Ok(c) => children.push(c),
            Err(e) => {
                kill_all(&mut children);
                bail!("cannot start process {i}: {e}");
            }
        }
    }
    // Each child's standard error is read as it comes (a child that writes more than a pipe
    // holds would otherwise block until the deadline); the last of it explains a failure.
    let mut errors: Vec<_> = children.iter_mut().map(|c| c.stderr.take().map(drain)).collect();
    let deadline = Instant::now() + Duration::from_nanos(args.timeout);
    let mut done = vec![false; n];
    while done.iter().any(|d| !d) {
        for i in 0..n {
            if done[i] {
                continue;
            }
            if let Some(status) = children[i].try_wait()? {
                done[i] = true;
                if !status.success() {
                    kill_all(&mut children);
                    // The child has exited: its pipe ends, and the thread with it.
                    let err = errors[i].take().and_then(|e| e.join().ok()).unwrap_or_default();
                    bail!("process {i} of {n} failed ({status}): {}", err.trim());
                }
            }
        }
        if Instant::now() > deadline {
            kill_all(&mut children);
            bail!("the cluster did not finish within {} s: stopped every process", args.timeout / 1_000_000_000);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut result = crate::commands::merge::merge(&parts)?;
    let _ = std::fs::remove_dir_all(&dir);
    // The hostfile was a temporary one, gone now: the result keeps the addresses only.
    result.config.cluster.hostfile = None;
    write_json(base.out.as_deref(), &result)?;
    Ok(result)
}

/// The most of a child's standard error kept (its end).
const STDERR_KEPT: usize = 16 * 1024;

/// Reads `stderr` on a thread until it closes; the thread returns its last [`STDERR_KEPT`]
/// bytes.
fn drain(stderr: std::process::ChildStderr) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut kept = String::new();
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            kept.push_str(&line);
            kept.push('\n');
            if kept.len() > 2 * STDERR_KEPT {
                let cut = kept.len() - STDERR_KEPT;
                let cut = (cut..kept.len()).find(|&i| kept.is_char_boundary(i)).unwrap_or(kept.len());
                kept.drain(..cut);
            }
        }
        kept
    })
}

fn nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}
