//! `hashtags`: over sliding event-time windows (default 10 s, sliding 1 s), the count of every
//! tag and the top 10 tags per window. Tweets whose tag popularity drifts and bursts, so the
//! top-K changes.

pub mod cost;
pub mod event;
pub mod generator;
pub mod oracle;
pub mod spec;
pub mod verify;
pub mod window;

use crate::contract::spec::RunSpec;
use crate::definition::{checksum, write_json, Checksum, CostLoop, EventWriter, Sizes, Wire, WorkloadDef};
use crate::generator::GeneratorError;
use crate::job::{JobSpec, Workload};
use crate::verdict::Verdict;
use crate::verify::Judge;

pub use event::Tweet;
pub use generator::TweetGenerator;
pub use spec::HashtagSpec;
pub use window::{HashtagWindow, SlidingTopK};

/// The `hashtags` workload.
pub struct Hashtags;

/// The hashtag spec of `spec`'s job (the registry only hands this workload its own).
fn job(spec: &RunSpec) -> &HashtagSpec {
    match &spec.job {
        JobSpec::Hashtags(s) => s,
        other => unreachable!("the registry handed a {} job to hashtags", other.workload()),
    }
}

/// The run's tweet generator.
pub fn generator(spec: &RunSpec) -> TweetGenerator {
    TweetGenerator::new(job(spec), spec.schedule(), spec.seed)
}

impl WorkloadDef for Hashtags {
    fn workload(&self) -> Workload {
        Workload::Hashtags
    }

    fn sizes(&self) -> Sizes {
        Sizes { cost: 6_000_000, quick_cost: 1_000_000, quick_max: 3_000_000 }
    }

    fn writer(&self, spec: &RunSpec, _wire: Wire) -> Result<EventWriter, GeneratorError> {
        let g = generator(spec);
        Ok(Box::new(move |p, i, out| write_json(&g.event(p, i), out)))
    }

    fn checksum(&self, spec: &RunSpec) -> Result<Checksum, GeneratorError> {
        let g = generator(spec);
        Ok(checksum(spec.partitions() as u64, move |p, i| {
            let e = g.event(p, i);
            e.event_time ^ e.text.len() as u64 ^ e.user as u64
        }))
    }

    fn verify(&self, judge: &Judge<'_>) -> Result<Verdict, GeneratorError> {
        Ok(verify::run(judge, job(judge.spec), &generator(judge.spec)))
    }

    fn cost(&self, spec: &RunSpec) -> Result<CostLoop, GeneratorError> {
        let (g, s) = (generator(spec), job(spec).clone());
        Ok(Box::new(move |records| cost::hashtags_job(&g, &s, records).len() as u64))
    }
}
