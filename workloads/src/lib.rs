//! The engine-agnostic half of streambench: what both engines consume, and what judges their
//! output. It depends on neither engine and not on timely.
//!
//! **Events and generators** ([`event`], [`generator`]): the three event types and seeded,
//! partitioned, *offset-addressable* generators: event `i` of partition `p` is a pure function of
//! `(seed, p, i)`, so any range can be regenerated for replay or verification. Text is drawn from
//! pools built once, so generating an event is a hash and a table look-up.
//!
//! **Schedules** ([`schedule`]): when each event is due (constant rate, steps, bursts, or `max`)
//! and its event time, which lags the due time by at most the disorder bound.
//!
//! **Job specs, logic and oracles** ([`spec`], [`logic`], [`text`], [`oracle`], [`output`]): each
//! workload's parameters and exact output semantics; the per-record logic every implementation
//! shares (tokenisers, the sensor window, pre-hashed keyed state); and a plain sequential
//! reference oracle per job.
//!
//! **Verification** ([`verify`]): compares outputs with the oracle's and reports the first
//! missing, extra, duplicated and wrong outputs in words.
//!
//! **The run contract** ([`contract`]): the [`RunSpec`] the harness hands an engine, and the
//! [`Observer`]/[`Recorder`] pair through which an engine's workers report latency, outputs and
//! progress without sharing anything on the hot path.
//!
//! **COST** ([`cost`]): each job as a single-threaded plain loop, the baseline every engine figure
//! is quoted against.
//!
//! ```
//! use workloads::{JobSpec, Profile, RunSpec, Workload, oracle};
//! use workloads::contract::AnyGenerator;
//!
//! let mut spec = RunSpec::new(JobSpec::default_for(Workload::Wordcount), Profile::Constant { rate: 1000.0 }, 1_000_000_000);
//! spec.seed = 7;
//! let AnyGenerator::Lines(gen) = spec.generator().unwrap() else { unreachable!() };
//! let end = spec.partition_end(0).unwrap();
//! assert_eq!(end, 1000);
//! let totals = oracle::word_totals((0..end).map(|i| gen.event(0, i)));
//! assert_eq!(totals.values().sum::<u64>(), 10 * 1000);
//! ```

pub mod contract;
pub mod cost;
pub mod durable;
pub mod event;
pub mod generator;
pub mod hash;
pub mod histo;
pub mod logic;
pub mod oracle;
pub mod output;
pub mod schedule;
pub mod socket;
pub mod spec;
pub mod text;
pub mod verify;

pub use contract::{Collect, Fault, Observer, OutputMark, Recorder, Restore, RunReport, RunSpec, Source};
pub use event::{Anomaly, Line, SensorReading, Tweet};
pub use schedule::{Profile, Schedule};
pub use spec::{HashtagSpec, JobSpec, SensorSpec, WordCountSpec, Workload};
