//! `wordcount`: a running count per word (every output `(word, total)` a prefix count, final
//! totals equal to the oracle's), and its tumbling-window variant (Spark's per-batch
//! `reduceByKey` when the window is the batch interval). Lines of Zipf(1.1) words over a
//! 10,000-word vocabulary, ten a line, or the lines of a text file (`--input`).

pub mod cost;
pub mod event;
pub mod generator;
pub mod oracle;
pub mod spec;
pub mod verify;

use crate::contract::spec::RunSpec;
use crate::definition::{checksum, write_json, Checksum, CostLoop, EventWriter, Sizes, Wire, WorkloadDef};
use crate::generator::GeneratorError;
use crate::job::{JobSpec, Workload};
use crate::verdict::Verdict;
use crate::verify::Judge;

pub use event::Line;
pub use generator::LineGenerator;
pub use spec::WordCountSpec;

/// The `wordcount` workload.
pub struct Wordcount;

/// The word-count spec of `spec`'s job (the registry only hands this workload its own).
fn job(spec: &RunSpec) -> &WordCountSpec {
    match &spec.job {
        JobSpec::Wordcount(s) => s,
        other => unreachable!("the registry handed a {} job to wordcount", other.workload()),
    }
}

/// The run's line generator.
pub fn generator(spec: &RunSpec) -> Result<LineGenerator, GeneratorError> {
    LineGenerator::new(job(spec), spec.schedule(), spec.seed)
}

impl WorkloadDef for Wordcount {
    fn workload(&self) -> Workload {
        Workload::Wordcount
    }

    fn sizes(&self) -> Sizes {
        Sizes { cost: 2_000_000, quick_cost: 300_000, quick_max: 900_000 }
    }

    fn writer(&self, spec: &RunSpec, wire: Wire) -> Result<EventWriter, GeneratorError> {
        let g = generator(spec)?;
        Ok(match wire {
            Wire::Text => Box::new(move |p, i, out| out.extend_from_slice(g.event(p, i).text.as_bytes())),
            Wire::Json => Box::new(move |p, i, out| write_json(&g.event(p, i), out)),
        })
    }

    fn checksum(&self, spec: &RunSpec) -> Result<Checksum, GeneratorError> {
        let g = generator(spec)?;
        Ok(checksum(spec.partitions() as u64, move |p, i| {
            let e = g.event(p, i);
            e.event_time ^ e.text.len() as u64
        }))
    }

    fn verify(&self, judge: &Judge<'_>) -> Result<Verdict, GeneratorError> {
        Ok(verify::run(judge, job(judge.spec), &generator(judge.spec)?))
    }

    fn cost(&self, spec: &RunSpec) -> Result<CostLoop, GeneratorError> {
        let g = generator(spec)?;
        Ok(Box::new(move |records| cost::wordcount(&g, records).updates))
    }
}
