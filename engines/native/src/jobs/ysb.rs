//! The Yahoo Streaming Benchmark's ad-campaign job: `Source` (ad events; views kept and
//! projected to `(ad, event time)`, chained), the join with the campaign table as a map (the
//! table is held by every worker: a broadcast), an exchange by campaign, the tumbling
//! `WindowCount` closed by the frontier, `Sink`.

use std::sync::Arc;

use compact_str::CompactString;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Probe;
use timely::dataflow::Scope;
use workloads::hash::key_hash;
use workloads::output::WindowedCount;
use workloads::ysb::event::parse_known;
use workloads::ysb::{AdGenerator, EventType};
use workloads::{RunSpec, YsbSpec};

use crate::jobs::{Input, Job};
use crate::operators::keys::KeyBatch;
use crate::operators::sink::sink;
use crate::operators::window_count::tumbling_count;

/// The YSB job of a run.
pub(crate) struct Ysb {
    gen: AdGenerator,
    window_ns: u64,
}

impl Ysb {
    pub(crate) fn new(spec: &RunSpec, s: &YsbSpec) -> Self {
        Self { gen: workloads::ysb::generator(spec), window_ns: s.window_ns }
    }
}

/// A view on its way to the join: `(ad, event time)`.
type View = (u32, u64);

impl Job for Ysb {
    fn build<'s>(&self, scope: Scope<'s, u64>, input: Input<'_>) {
        let gen = self.gen.clone();
        let table: Arc<[u32]> = gen.table();
        let ads = table.len();
        let parse = move |line: &str, now, out: &mut Vec<View>| parse_view(line, now, ads, out);
        let views = input.stream::<Vec<View>>(scope, parse, move |p, i, _due, out| {
            let e = gen.event(p, i);
            if e.event_type == EventType::View {
                out.push((e.ad_id, e.event_time));
            }
        });
        // Each campaign's key and its hash, made once (as the benchmark's table maps an ad to its
        // campaign's id string), not formatted and hashed again for every view.
        let keys: Vec<(u64, CompactString)> = (0..self.gen.campaigns() as u32)
            .map(|c| {
                let key = CompactString::from(workloads::ysb::oracle::campaign_key(c));
                (key_hash(&key), key)
            })
            .collect();
        // The join, chained to the source: each view becomes its campaign's key.
        let keyed = views.unary::<CapacityContainerBuilder<KeyBatch>, _, _, _>(Pipeline, "Join", move |_, _| {
            move |input, output| {
                input.for_each(|cap, data| {
                    let mut session = output.session(&cap);
                    for (ad, t) in data.drain(..) {
                        let (hash, key) = &keys[table[ad as usize] as usize];
                        session.give((*hash, key.as_str(), t));
                    }
                })
            }
        });
        let windows = tumbling_count(keyed, self.window_ns, input.control).probe_with(input.probe);
        sink(windows, input.control, std::rc::Rc::clone(input.recorder), |r, now, out: WindowedCount| {
            r.window_latency(out.window_end, now);
            r.windowed(out);
        });
    }
}

/// A socket line: a JSON ad event, timed by its arrival; only views go on.
fn parse_view(line: &str, now: u64, ads: usize, out: &mut Vec<View>) -> Result<(), String> {
    let e = parse_known(line, ads)?;
    if e.event_type == EventType::View {
        out.push((e.ad_id, now));
    }
    Ok(())
}
