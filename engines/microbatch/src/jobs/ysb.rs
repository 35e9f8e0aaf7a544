//! The Yahoo Streaming Benchmark's ad-campaign job as a Spark user writes it: the campaign
//! table as an RDD built once (`parallelize`), each batch's views joined with it in `transform`
//! with an RDD-level `join`, then `reduce_by_key_and_window` per campaign.

use std::time::Duration;
use workloads::output::WindowedCount;
use workloads::ysb::event::parse;
use workloads::ysb::oracle::campaign_key;
use workloads::ysb::{AdEvent, EventType};
use workloads::{RunSpec, YsbSpec};

use crate::context::StreamingContext;
use crate::dstream::DStream;
use crate::jobs::direct::DirectSource;
use crate::jobs::socket::SocketSource;
use crate::jobs::Job;
use crate::StreamingError;

impl Job for YsbSpec {
    fn direct(&self, spec: &RunSpec, source: &DirectSource<'_>) -> Result<(), StreamingError> {
        let g = workloads::ysb::generator(spec);
        let table = g.table_pairs();
        let events = source.stream(move |p, i, out: &mut Vec<AdEvent>| out.push(g.event(p, i)))?;
        ysb(source.context(), &events, table, self)
    }

    fn socket(&self, spec: &RunSpec, source: &SocketSource<'_>) -> Result<(), StreamingError> {
        let table = workloads::ysb::generator(spec).table_pairs();
        let events = source.events(parse)?;
        ysb(source.context(), &events.flat_map(|p| p.event().copied())?, table, self)?;
        source.account(&events)
    }
}

fn ysb(
    ssc: &StreamingContext,
    events: &DStream<AdEvent>,
    table: Vec<(u32, u32)>,
    s: &YsbSpec,
) -> Result<(), StreamingError> {
    // The static table, built once: `sc.parallelize(campaigns)`.
    let campaigns = ssc.parallelize(table, 1);
    let views = events.filter(|e| e.event_type == EventType::View)?.map(|e| (e.ad_id, e.event_time))?;
    let per_campaign =
        views.transform(move |batch, _t| batch.join(&campaigns).map(|(_ad, (_time, campaign))| (*campaign, 1u64)))?;
    let w = s.window_ns;
    per_campaign
        .reduce_by_key_and_window(|a, b| a + b, Duration::from_nanos(w), Duration::from_nanos(w))?
        .foreach_partition_recorded(|t, _p, counts, r| {
            let now = r.now_ns();
            for (campaign, count) in counts {
                r.output_latency(t, now);
                r.windowed(WindowedCount { window_end: t, word: campaign_key(*campaign), count: *count });
            }
        })
}
