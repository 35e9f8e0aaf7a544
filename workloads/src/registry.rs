//! The registry: every workload's definition, by name. The harness iterates
//! [`Workload::ALL`] and reaches each workload through [`def`]; adding a workload adds one arm
//! here (and its variants in [`crate::job`]).

use std::time::Instant;

use crate::contract::report::RunReport;
use crate::contract::spec::RunSpec;
use crate::cost::CostResult;
use crate::definition::WorkloadDef;
use crate::generator::GeneratorError;
use crate::job::Workload;
use crate::verdict::Verdict;
use crate::verify::{Judge, Running};

/// The definition of `workload`.
pub fn def(workload: Workload) -> &'static dyn WorkloadDef {
    match workload {
        Workload::Wordcount => &crate::wordcount::Wordcount,
        Workload::Hashtags => &crate::hashtags::Hashtags,
        Workload::Sensors => &crate::sensors::Sensors,
        Workload::Ysb => &crate::ysb::Ysb,
    }
}

/// Verifies a whole run: checks that each partition was read to where the spec says it ends
/// (when that is known in advance), regenerates exactly the offset ranges the run read, computes
/// the oracle over them and compares the outputs.
pub fn verify(spec: &RunSpec, report: &RunReport, running: Running) -> Result<Verdict, GeneratorError> {
    match Judge::new(spec, report, running) {
        Err(verdict) => Ok(verdict),
        Ok(judge) => def(spec.job.workload()).verify(&judge),
    }
}

/// Precision and recall of the run's outputs against the generator's ground truth, for the
/// workloads that have one (generated input only).
pub fn precision_recall(spec: &RunSpec, report: &RunReport) -> Result<Option<(f64, f64)>, GeneratorError> {
    match Judge::new(spec, report, Running::EveryUpdate) {
        Ok(judge) if !judge.from_socket() => def(spec.job.workload()).precision_recall(&judge),
        _ => Ok(None),
    }
}

/// Runs the COST loop of `spec`'s workload over `records` events and times it.
pub fn cost(spec: &RunSpec, records: u64) -> Result<CostResult, GeneratorError> {
    let run = def(spec.job.workload()).cost(spec)?;
    let start = Instant::now();
    let outputs = run(records);
    let elapsed = start.elapsed();
    Ok(CostResult { records, outputs, elapsed, records_per_sec: records as f64 / elapsed.as_secs_f64().max(1e-9) })
}
