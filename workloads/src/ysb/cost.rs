//! The `ysb` COST loop: the whole job in one thread: keep views, look the campaign up in the
//! table, count per campaign per window, closing windows as the watermark passes them.

use std::collections::BTreeMap;

use crate::cost::coordinates;
use crate::ysb::event::EventType;
use crate::ysb::generator::AdGenerator;
use crate::ysb::spec::YsbSpec;

/// The job over `records` events; returns how many `(campaign, window)` counts it output.
pub fn ysb(gen: &AdGenerator, spec: &YsbSpec, records: u64) -> u64 {
    let schedule = gen.schedule();
    let (partitions, disorder) = (schedule.partitions() as u64, schedule.disorder_ns());
    let table = gen.table();
    let campaigns = spec.campaigns as usize;
    let mut windows: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut outputs = 0;
    let mut fire = |windows: &mut BTreeMap<u64, Vec<u64>>, watermark: u64| {
        while let Some(entry) = windows.first_entry().filter(|e| *e.key() <= watermark) {
            outputs += entry.remove().iter().filter(|c| **c > 0).count() as u64;
        }
    };
    for k in 0..records {
        let (p, i) = coordinates(k, partitions);
        let e = gen.event(p, i);
        if e.event_type == EventType::View {
            let end = (e.event_time / spec.window_ns + 1) * spec.window_ns;
            windows.entry(end).or_insert_with(|| vec![0; campaigns])[table[e.ad_id as usize] as usize] += 1;
        }
        // The watermark: nothing later in the stream has an event time below this.
        let watermark = schedule.nominal_time(p, i).saturating_sub(disorder);
        if windows.first_key_value().is_some_and(|(end, _)| *end <= watermark) {
            fire(&mut windows, watermark);
        }
    }
    fire(&mut windows, u64::MAX);
    outputs
}
