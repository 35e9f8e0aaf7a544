//! What a workload is to the harness: one trait, implemented once per workload folder and
//! reached through the registry, so no code outside the workload matches on it.

use crate::contract::spec::RunSpec;
use crate::generator::GeneratorError;
use crate::job::Workload;
use crate::verdict::Verdict;
use crate::verify::Judge;

/// How events travel as lines (`streambench gen`, `streambench feed`, the socket sources).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// One JSON event a line.
    Json,
    /// The event's plain text where the workload has one (a word-count line); JSON otherwise.
    Text,
}

/// Writes event `i` of partition `p` (without the line's `\n`) to the buffer.
pub type EventWriter = Box<dyn Fn(u32, u64, &mut Vec<u8>) + Send + Sync>;

/// The COST loop over the first `n` events in global order; returns its outputs. Its generator
/// is built beforehand, so a timing of the call is the loop's alone.
pub type CostLoop = Box<dyn Fn(u64) -> u64 + Send + Sync>;

/// Generates the first `n` events in global order (round robin over the partitions) and folds
/// fields of each into a checksum: generation alone, with nothing optimised away.
pub type Checksum = Box<dyn Fn(u64) -> u64 + Send + Sync>;

/// How many events the harness's runs of a workload take, so that each lasts about as long as
/// the other workloads' (their per-event costs differ by an order of magnitude).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// Events of a COST loop in a full comparison.
    pub cost: u64,
    /// Events of a COST loop in a quick comparison.
    pub quick_cost: u64,
    /// The cap on the events of a max-rate run in a quick comparison.
    pub quick_max: u64,
}

/// One workload, as the harness and the shared verification see it. The engines translate its
/// spec in their own `jobs/` folders.
pub trait WorkloadDef: Sync {
    /// Which workload this is.
    fn workload(&self) -> Workload;

    /// How many events the harness's runs take.
    fn sizes(&self) -> Sizes;

    /// A writer of the run's generated events as lines on `wire`.
    fn writer(&self, spec: &RunSpec, wire: Wire) -> Result<EventWriter, GeneratorError>;

    /// The generator's checksum over the run's events (the generator bench's work).
    fn checksum(&self, spec: &RunSpec) -> Result<Checksum, GeneratorError>;

    /// Judges the run's outputs against the oracle over exactly the input the run read.
    fn verify(&self, judge: &Judge<'_>) -> Result<Verdict, GeneratorError>;

    /// The COST loop of the run's job, ready to run (see [`CostLoop`]).
    fn cost(&self, spec: &RunSpec) -> Result<CostLoop, GeneratorError>;

    /// Precision and recall against the generator's ground truth, for workloads that have one.
    fn precision_recall(&self, judge: &Judge<'_>) -> Result<Option<(f64, f64)>, GeneratorError> {
        let _ = judge;
        Ok(None)
    }
}

/// The checksum over the first `n` events of `partitions` partitions in global order, each
/// event `(p, i)` folded into a number by `fold` (monomorphised: no call per event through a
/// pointer).
pub fn checksum(partitions: u64, fold: impl Fn(u32, u64) -> u64 + Send + Sync + 'static) -> Checksum {
    Box::new(move |n| {
        let mut sum = 0u64;
        for k in 0..n {
            let (p, i) = crate::cost::coordinates(k, partitions);
            sum = sum.wrapping_add(fold(p, i));
        }
        sum
    })
}

/// Serialises `event` as one JSON line into `out`.
pub fn write_json(event: &impl serde::Serialize, out: &mut Vec<u8>) {
    serde_json::to_writer(out, event).expect("events serialise to JSON");
}
