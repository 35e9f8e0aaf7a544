//! The Yahoo Streaming Benchmark's ad-campaign job as its Spark version is written: the views'
//! campaigns looked up in a table every executor holds (the benchmark's `queryRedisTopLevel`
//! with its per-executor cache; here a broadcast variable), then `reduce_by_key_and_window` per
//! campaign. Looking up needs no shuffle of the views, as the native job's chained join needs no
//! exchange.

use std::sync::Arc;
use std::time::Duration;
use workloads::output::WindowedCount;
use workloads::ysb::event::parse_known;
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
        let table = g.table();
        let events = source.stream(move |p, i, out: &mut Vec<AdEvent>| out.push(g.event(p, i)))?;
        ysb(source.context(), &events, table, self)
    }

    fn socket(&self, spec: &RunSpec, source: &SocketSource<'_>) -> Result<(), StreamingError> {
        let table = workloads::ysb::generator(spec).table();
        let ads = table.len();
        let events = source.events(move |line| parse_known(line, ads))?;
        ysb(source.context(), &events.flat_map(|p| p.event().copied())?, table, self)?;
        source.account(&events)
    }
}

fn ysb(
    ssc: &StreamingContext,
    events: &DStream<AdEvent>,
    table: Arc<[u32]>,
    s: &YsbSpec,
) -> Result<(), StreamingError> {
    // The static table, broadcast once and looked up by every task: the join of the benchmark's
    // Spark job (a campaign per ad from a table each executor holds), with no shuffle of the views.
    let campaigns = ssc.broadcast(table);
    let views = events.filter(|e| e.event_type == EventType::View)?;
    let per_campaign = views.map(move |e| (campaigns.value()[e.ad_id as usize], 1u64))?;
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
