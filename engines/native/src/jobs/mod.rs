//! The workloads as timely dataflows, a file per workload: each builds its `Source` (chained
//! with its tokeniser, as Flink chains a source and its flat-map), then the operators of
//! `operators` in the spec's stages.
//!
//! Every stateful operator is hand-written on timely's generic operators, keyed by a hash computed
//! once at tokenisation (routing, state lookup and the verification digest all reuse it). The
//! engine README says why differential-dataflow is not on these paths.

pub mod hashtags;
pub mod sensors;
pub mod wordcount;
pub mod ysb;

use std::cell::RefCell;
use std::rc::Rc;

use timely::dataflow::{ProbeHandle, Scope, Stream};
use workloads::{JobSpec, Recorder, RunSpec};

use crate::operators::keys::Batch;
use crate::operators::{socket, source};
use crate::snapshot::Control;
use crate::NativeError;

/// A workload's dataflow, as every worker builds it (again after each restore).
pub(crate) trait Job: Send + Sync {
    /// Builds the dataflow in `scope`, reading from `input`.
    fn build<'s>(&self, scope: Scope<'s, u64>, input: Input<'_>);
}

/// The job of `spec`: what can fail (building its generator) fails here, before any worker
/// starts. The engine's one line per workload.
pub(crate) fn job(spec: &RunSpec) -> Result<Box<dyn Job>, NativeError> {
    Ok(match &spec.job {
        JobSpec::Wordcount(s) => Box::new(wordcount::Wordcount::new(spec, s)?),
        JobSpec::Hashtags(s) => Box::new(hashtags::Hashtags::new(spec, s)),
        JobSpec::Sensors(s) => Box::new(sensors::Sensors::new(spec, s)),
        JobSpec::Ysb(s) => Box::new(ysb::Ysb::new(spec, s)),
    })
}

/// Where one worker's records come from and where its outputs go.
pub(crate) struct Input<'a> {
    /// The socket's lines (worker 0 of a socket run).
    pub(crate) receiver: Option<&'a socket::Receiver>,
    /// No input at all (the other workers of a socket run).
    pub(crate) no_input: bool,
    /// This worker's share of the generator's partitions.
    pub(crate) plan: source::Plan,
    pub(crate) recorder: &'a Rc<RefCell<Recorder>>,
    pub(crate) probe: &'a ProbeHandle<u64>,
    pub(crate) control: &'a Rc<Control>,
}

impl Input<'_> {
    /// The `Source` stream: parsed socket lines, nothing, or generated events made into records.
    pub(crate) fn stream<'s, C: Batch>(
        &self,
        scope: Scope<'s, u64>,
        parse: impl Fn(&str, u64, &mut C) -> Result<(), String> + 'static,
        produce: impl FnMut(u32, u64, u64, &mut C) + 'static,
    ) -> Stream<'s, u64, C> {
        match self.receiver {
            Some(rx) => socket::stream(scope, rx.clone(), Rc::clone(self.recorder), parse),
            None if self.no_input => socket::empty(scope),
            None => {
                let (recorder, probe, control) =
                    (Rc::clone(self.recorder), self.probe.clone(), Rc::clone(self.control));
                source::generator(scope, "Source", self.plan.clone(), recorder, probe, control, produce)
            }
        }
    }
}
