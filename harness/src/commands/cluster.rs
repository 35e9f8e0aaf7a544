//! `streambench cluster`: starts N processes of one run on loopback with a generated hostfile,
//! waits for them, and merges their reports into one result (records/s/node = total / N).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use workloads::Fault;

use crate::commands::run::Partial;
use crate::engine::{judge, Engine};
use crate::output::write_json;
use crate::result::{Context, Delivery, RunResult};

/// `streambench cluster`.
#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    /// Processes to start.
    #[arg(long, default_value_t = 2, env = "STREAMBENCH_CLUSTER_PROCESSES", value_parser = clap::value_parser!(u64).range(1..=64))]
    pub processes: u64,
    /// After a kill-process, restart the cluster on this many processes (default: as many):
    /// the micro-batch engine resumes its checkpoint at another parallelism.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub restart_processes: Option<u64>,
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

/// The run's `kill-process` faults, in the order they come due: `(index in the run's faults,
/// process, at ns)`.
fn kills_of(faults: &[Fault]) -> Vec<(usize, usize, u64)> {
    let mut kills: Vec<_> = faults
        .iter()
        .enumerate()
        .filter_map(|(i, f)| match *f {
            Fault::KillProcess { process, at_ns } => Some((i, process, at_ns)),
            _ => None,
        })
        .collect();
    kills.sort_by_key(|k| k.2);
    kills
}

/// What a cluster run starts from: its directory (hostfile, checkpoints, journal), the run
/// options each process gets, and how many processes each generation has.
struct Setup {
    dir: PathBuf,
    hostfile: PathBuf,
    journal: Option<PathBuf>,
    run: Vec<String>,
    /// Processes of the first generation, and of those after a restart.
    processes: (usize, usize),
}

/// Makes the cluster's directory and hostfile and checks the run, for every generation, before
/// anything starts.
fn setup(args: &ClusterArgs) -> Result<(Setup, crate::run_args::RunArgs)> {
    let mut base = crate::run_args::parse_run_options(&args.run, &[])?;
    let n = args.processes as usize;
    let later = args.restart_processes.map_or(n, |p| p as usize);
    if base.hostfile.is_some() || base.process_id != 0 || base.processes != 1 {
        bail!("`cluster` makes the hostfile and process ids itself: leave --hostfile, --processes and --process-id out of the run options");
    }
    let dir = std::env::temp_dir().join(format!("streambench-cluster-{}-{}", std::process::id(), nanos()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let hostfile = dir.join("hostfile");
    let ports = free_ports(n.max(later))?;
    std::fs::write(&hostfile, ports.iter().map(|p| format!("127.0.0.1:{p}\n")).collect::<String>())?;
    let journal = (!kills_of(&base.faults).is_empty()).then(|| dir.join("journal"));
    let mut run = crate::run_args::without(&args.run, "--out");
    match &journal {
        Some(_) => {
            refuse_unrestartable(&base)?;
            if base.checkpoint_dir.is_none() {
                // A restarted generation resumes from the checkpoints the one before it wrote.
                run.extend(["--checkpoint-dir".to_owned(), dir.join("checkpoints").display().to_string()]);
            }
            if n != later && base.partitions.is_none() {
                // The input stays the same at another parallelism: as many partitions as the
                // first generation had workers.
                base.partitions = Some((n as u64 * base.workers) as u32);
                run.extend(["--partitions".to_owned(), (n as u64 * base.workers).to_string()]);
            }
        }
        None if n != later => bail!("--restart-processes needs a kill-process fault (a restart)"),
        None => {}
    }
    base.hostfile = Some(hostfile.clone());
    base.journal = journal.clone();
    // The first generation, and (when there is a restart) the ones after it.
    for (processes, generation) in [(n, 0), (later, u32::from(journal.is_some()))] {
        (base.processes, base.generation) = (processes as u64, generation);
        base.to_spec()?;
    }
    base.generation = 0;
    Ok((Setup { dir, hostfile, journal, run, processes: (n, later) }, base))
}

/// Runs the cluster and returns the merged result. With `kill-process` faults the cluster is
/// a supervisor's: it SIGKILLs the process at the fault's time, stops the others (which fail
/// as their peer's connections drop), and starts the whole cluster again on the same hostfile,
/// checkpoint directory and journal (with `--restart-processes`, on another number of
/// processes), until a generation finishes; the result spans them all.
pub fn cluster(args: &ClusterArgs) -> Result<RunResult> {
    let (Setup { dir, hostfile, journal, run, processes }, base) = setup(args)?;
    let exe = std::env::current_exe().context("finding the streambench binary")?;
    let deadline = Instant::now() + Duration::from_nanos(args.timeout);
    let (mut generation, mut epoch, mut applied) = (0u32, None, Vec::new());
    let mut kills = kills_of(&base.faults).into_iter().peekable();
    let parts = loop {
        let n = if generation == 0 { processes.0 } else { processes.1 };
        let parts: Vec<PathBuf> = (0..n).map(|i| dir.join(format!("part-g{generation}-{i}.json"))).collect();
        let mut extra = Vec::new();
        if let Some(j) = &journal {
            let g = generation.to_string();
            extra.extend(["--journal".to_owned(), j.display().to_string(), "--generation".into(), g]);
            extra.extend(epoch.map(|e: u64| ["--epoch-unix-ns".to_owned(), e.to_string()]).into_iter().flatten());
        }
        let mut children = start(&exe, &run, &extra, &hostfile, &parts)?;
        let kill = journal.as_deref().zip(kills.peek().copied().filter(|k| k.1 < n));
        match wait(&mut children, deadline, args.timeout, kill, epoch)? {
            Ended::Finished => break parts,
            Ended::Killed { index, at_ns, epoch: e } => {
                applied.push((index, at_ns));
                epoch = Some(e);
                kills.next();
                generation += 1;
            }
        }
    };
    let mut m = crate::commands::merge::shares(&parts)?;
    // The hostfile and the journal were temporary ones, gone now: the result keeps the
    // addresses only.
    m.spec.cluster.hostfile = None;
    m.spec.cluster.journal = None;
    let delivery = match &journal {
        Some(j) => Some(replay(j, &mut m, applied, generation + 1)?),
        None => None,
    };
    let mut result = judge(m.engine, &m.spec, &m.report, Context::now(&m.spec))?;
    result.delivery = delivery;
    let _ = std::fs::remove_dir_all(&dir);
    write_json(base.out.as_deref(), &result)?;
    Ok(result)
}

/// Folds the journal of a run that spanned restarts into the last generation's shares, with when
/// each kill took effect (`applied`), and says how its outputs were delivered.
fn replay(journal: &Path, m: &mut Partial, applied: Vec<(usize, u64)>, generations: u32) -> Result<Delivery> {
    let stats = workloads::contract::journal::replay(journal, &mut m.report).map_err(anyhow::Error::msg)?;
    m.report.faults_applied.extend(applied);
    let guarantee = match m.engine {
        Engine::Microbatch => "at-least-once",
        Engine::Native => "exactly-once",
    };
    Ok(Delivery {
        guarantee: guarantee.to_owned(),
        generations,
        replayed_outputs: stats.replayed_outputs,
        replayed_mismatches: stats.replayed_mismatches,
        discarded_outputs: stats.discarded_outputs,
        torn_frames: stats.torn.len(),
    })
}

/// Refuses what a supervisor restart cannot resume.
fn refuse_unrestartable(run: &crate::run_args::RunArgs) -> Result<()> {
    let replayable =
        matches!(run.source, workloads::Source::Generator) || (run.engine == Engine::Microbatch && run.receiver_wal);
    if !replayable {
        bail!("kill-process needs a source that can be read again after a restart: use the generator, or, on a socket source, the micro-batch engine with --receiver-wal and a feed started with --resumable (the native engine's socket source keeps no log)");
    }
    if run.faults.iter().any(|f| matches!(f, Fault::KillWorker { .. })) {
        bail!("kill-process and kill-worker in one run are not supported: give one kind of kill");
    }
    Ok(())
}

/// Starts one generation of the cluster's processes.
fn start(exe: &Path, run: &[String], extra: &[String], hostfile: &Path, parts: &[PathBuf]) -> Result<Vec<Child>> {
    let n = parts.len();
    let mut children = Vec::with_capacity(n);
    for (i, part) in parts.iter().enumerate() {
        let child = Command::new(exe)
            .arg("run")
            .args(run)
            .args(extra)
            // Every process writes its share, also a cluster of one.
            .arg("--unjudged")
            .args(["--processes", &n.to_string(), "--process-id", &i.to_string()])
            .arg("--hostfile")
            .arg(hostfile)
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
    Ok(children)
}

/// How a generation of the cluster ended.
enum Ended {
    /// Every process finished.
    Finished,
    /// Fault `index` killed a process `at_ns` after the run's start `epoch` (unix ns).
    Killed { index: usize, at_ns: u64, epoch: u64 },
}

/// How long the survivors of a kill get to fail by themselves before they are stopped.
const SURVIVORS_GRACE: Duration = Duration::from_secs(2);

/// Waits for a generation: until every process has finished, one has failed (an error), or
/// `kill` (`(journal, (fault index, process, at ns))`) comes due, measured from the run's start
/// (`epoch`, or the one the first generation wrote to the journal).
fn wait(
    children: &mut [Child],
    deadline: Instant,
    timeout_ns: u64,
    kill: Option<(&Path, (usize, usize, u64))>,
    epoch: Option<u64>,
) -> Result<Ended> {
    let n = children.len();
    // Each child's standard error is read as it comes (a child that writes more than a pipe
    // holds would otherwise block until the deadline); the last of it explains a failure.
    let mut errors: Vec<_> = children.iter_mut().map(|c| c.stderr.take().map(drain)).collect();
    let mut done = vec![false; n];
    let mut start = epoch;
    while done.iter().any(|d| !d) {
        for i in 0..n {
            if done[i] {
                continue;
            }
            if let Some(status) = children[i].try_wait()? {
                done[i] = true;
                if !status.success() {
                    kill_all(children);
                    // The child has exited: its pipe ends, and the thread with it.
                    let err = errors[i].take().and_then(|e| e.join().ok()).unwrap_or_default();
                    bail!("process {i} of {n} failed ({status}): {}", err.trim());
                }
            }
        }
        if let Some((journal, (index, process, at))) = kill {
            // The first generation writes the run's start once it has started: read it until then.
            start = start.or_else(|| workloads::contract::journal::read_epoch(journal));
            let now = workloads::contract::journal::unix_now_ns();
            if let Some(e) = start.filter(|e| now >= e + at) {
                // SIGKILL: nothing of the process's own runs after it.
                let _ = children[process].kill();
                let at_ns = workloads::contract::journal::unix_now_ns() - e;
                let grace = Instant::now() + SURVIVORS_GRACE;
                while Instant::now() < grace && children.iter_mut().any(|c| matches!(c.try_wait(), Ok(None))) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                kill_all(children);
                return Ok(Ended::Killed { index, at_ns, epoch: e });
            }
        }
        if Instant::now() > deadline {
            kill_all(children);
            bail!("the cluster did not finish within {} s: stopped every process", timeout_ns / 1_000_000_000);
        }
        std::thread::sleep(Duration::from_millis(if kill.is_some() { 2 } else { 20 }));
    }
    Ok(Ended::Finished)
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
