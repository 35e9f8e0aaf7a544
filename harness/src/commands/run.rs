//! `streambench run`: one measured run of one engine on one workload.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use workloads::{RunReport, RunSpec};

use crate::engine::{execute, measure, Engine};
use crate::output::write_json;
use crate::result::RunResult;
use crate::run_args::RunArgs;

/// One process's raw report, for `cluster` to merge.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Partial {
    /// The engine.
    pub engine: Engine,
    /// The process's spec.
    pub spec: RunSpec,
    /// What its workers observed.
    pub report: RunReport,
}

/// Runs `args` on this process: the whole run in one process (returning its result), or this
/// process's share of a cluster run (writing it to `--out` for `merge`, returning `None`).
pub fn run(args: &RunArgs) -> Result<Option<RunResult>> {
    let spec = args.to_spec()?;
    let partial = spec.cluster.processes > 1 || args.unjudged;
    if partial && args.out.is_none() {
        bail!("a process of a cluster run needs --out FILE for its share of the outputs (merge the shares with `streambench merge`)");
    }
    if spec.cluster.processes > 1 {
        fail_fast_on_a_lost_peer();
    }
    if partial {
        let (report, _) = measure(args.engine, &spec)?;
        write_json(args.out.as_deref(), &Partial { engine: args.engine, spec, report })?;
        return Ok(None);
    }
    let result = execute(args.engine, &spec)?;
    write_json(args.out.as_deref(), &result)?;
    Ok(Some(result))
}

/// A process of a cluster does not outlive a peer: when timely's connection to another process
/// breaks (its receive or send thread panics with "timely communication error"), the process
/// exits at once, rather than going on with a cluster that has lost part of its workers and
/// state (the supervisor restarts the whole cluster).
fn fail_fast_on_a_lost_peer() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("timely communication error") {
            eprintln!("error: a peer process of the cluster is gone: this process stops too");
            std::process::exit(3);
        }
    }));
}
