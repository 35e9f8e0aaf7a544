//! The engine-agnostic half of streambench: what both engines consume, and what judges their
//! output. It depends on neither engine and not on timely.
//!
//! **One folder per workload** ([`wordcount`], [`hashtags`], [`sensors`], [`ysb`]): each holds its event
//! type and socket line parser, its seeded, partitioned, *offset-addressable* generator (event
//! `i` of partition `p` is a pure function of `(seed, p, i)`, so any range can be regenerated for
//! replay or verification), its spec with the exact output semantics, the job logic every
//! implementation shares, a plain sequential reference oracle, its verification and its COST
//! loop. Each implements [`WorkloadDef`]; the [`registry`] reaches them by [`Workload`], and
//! [`job`] lists them by name with their parameters ([`JobSpec`]).
//!
//! **Shared pieces**: [`schedule`] (when each event is due: constant rate, steps, bursts, or
//! `max`, and its event time, which lags the due time by at most the disorder bound); [`text`]
//! (vocabularies, Zipf, tokenisers); [`hash`] and [`keyed`] (a key hashed once, then routed,
//! looked up and digested); [`output`] (the output kinds jobs emit); [`verdict`] and [`verify`]
//! (what differs from the oracle, in words, over exactly the input a run read); [`cost`];
//! [`socket`]; [`durable`] (checksummed files both engines' checkpoints use); [`histo`].
//!
//! **The run contract** ([`contract`]): the [`RunSpec`] the harness hands an engine (with each
//! engine's typed settings), the [`RunReport`] it gets back (with each engine's own part), and
//! the [`Observer`]/[`Recorder`] pair through which an engine's workers report latency, outputs
//! and progress without sharing anything on the hot path.
//!
//! ```
//! use workloads::{wordcount, JobSpec, Profile, RunSpec, Workload};
//!
//! let mut spec = RunSpec::new(JobSpec::default_for(Workload::Wordcount), Profile::Constant { rate: 1000.0 }, 1_000_000_000);
//! spec.seed = 7;
//! let gen = wordcount::generator(&spec).unwrap();
//! let end = spec.partition_end(0).unwrap();
//! assert_eq!(end, 1000);
//! let totals = wordcount::oracle::word_totals((0..end).map(|i| gen.event(0, i)));
//! assert_eq!(totals.values().sum::<u64>(), 10 * 1000);
//! ```

pub mod contract;
pub mod cost;
pub mod definition;
pub mod drawn;
pub mod durable;
pub mod generator;
pub mod hash;
pub mod hashtags;
pub mod histo;
pub mod job;
pub mod keyed;
pub mod output;
pub mod registry;
pub mod schedule;
pub mod sensors;
pub mod socket;
pub mod spec;
pub mod text;
pub mod verdict;
pub mod verify;
pub mod wordcount;
pub mod ysb;

pub use contract::{
    Collect, Fault, MicrobatchSettings, NativeSettings, Observer, OutputMark, Recorder, Restore, RunReport, RunSpec,
    Source,
};
pub use definition::{Sizes, Wire, WorkloadDef};
pub use hashtags::{HashtagSpec, Tweet};
pub use job::{JobSpec, Workload};
pub use schedule::{Profile, Schedule};
pub use sensors::{Anomaly, SensorReading, SensorSpec};
pub use spec::JobOptions;
pub use wordcount::{Line, WordCountSpec};
pub use ysb::YsbSpec;
