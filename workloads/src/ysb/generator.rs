//! The `ysb` generator: ad events over a fixed table of campaigns, a third each of views,
//! clicks and purchases, as YSB's generator draws them; and the campaign table itself.

use std::sync::Arc;

use crate::drawn::BLOCK;
use crate::hash::{below, below32, mix3, mix64, SplitMix};
use crate::schedule::Schedule;
use crate::ysb::event::{AdEvent, EventType, AD_TYPES};
use crate::ysb::spec::YsbSpec;

const EVENT: u64 = 0xad;
const USER: u64 = 0x05e7;
const TABLE: u64 = 0x7ab1e;

/// Generates [`AdEvent`]s: event `i` of partition `p` is a function of the seed and the global
/// index alone: its ad (uniform over the table), its type, its user, page and address.
#[derive(Clone, Debug)]
pub struct AdGenerator {
    ads: u32,
    /// The campaign of each ad.
    table: Arc<[u32]>,
    schedule: Schedule,
    seed: u64,
}

impl AdGenerator {
    /// A generator for `spec` over `schedule`.
    pub fn new(spec: &YsbSpec, schedule: Schedule, seed: u64) -> Self {
        Self { ads: spec.ads(), table: campaign_table(spec, seed).into(), schedule, seed }
    }

    /// Event `i` of partition `p`.
    #[inline]
    pub fn event(&self, p: u32, i: u64) -> AdEvent {
        let k = self.schedule.global_index(p, i);
        let (h, ad_id, event_type) = self.ad(k);
        let user_id = mix3(self.seed, USER, k);
        AdEvent {
            user_id,
            page_id: mix64(user_id ^ h),
            ad_id,
            ad_type: AD_TYPES[(ad_id % AD_TYPES.len() as u32) as usize],
            event_type,
            event_time: self.schedule.event_time(p, i),
            ip: (user_id >> 32) as u32,
        }
    }

    /// The ad of event `i` of partition `p` when it is a view (the only part of an event the
    /// job's result depends on, drawn without the rest).
    #[inline]
    pub fn view(&self, p: u32, i: u64) -> Option<u32> {
        let (ad_id, view) = self.ad_and_view(p, i);
        view.then_some(ad_id)
    }

    /// The ad of event `i` of partition `p` and whether the event is a view.
    #[inline]
    pub fn ad_and_view(&self, p: u32, i: u64) -> (u32, bool) {
        let (_, ad_id, event_type) = self.ad(self.schedule.global_index(p, i));
        (ad_id, event_type == EventType::View)
    }

    /// [`AdGenerator::ad_and_view`] of events `start..start + BLOCK` of partition `p`, into
    /// `ads` and `views`: what judging a run draws, in vector lanes where the processor
    /// multiplies 64-bit lanes (AVX-512), six times as fast as one event at a time
    /// (`results/PERFORMANCE.md` §29).
    pub fn ads_and_views(&self, p: u32, start: u64, ads: &mut [u32; BLOCK], views: &mut [bool; BLOCK]) {
        let step = u64::from(self.schedule.partitions());
        ad_block(self.seed, self.ads, (self.schedule.global_index(p, start), step), ads, views);
    }

    /// Global event `k`'s hash, ad and type: both from one hash, the ad from its high half
    /// (`below` keeps the high bits of a product) and the type from its low half. Hashing the
    /// hash again for the type was a fourth mix per event, 8 % of judging a YSB run
    /// (`results/PERFORMANCE.md` §28).
    #[inline]
    fn ad(&self, k: u64) -> (u64, u32, EventType) {
        let h = mix3(self.seed, EVENT, k);
        let event_type = match below(h << 32, 3) {
            0 => EventType::View,
            1 => EventType::Click,
            _ => EventType::Purchase,
        };
        (h, below(h, u64::from(self.ads)) as u32, event_type)
    }

    /// The campaign of each ad (index: ad id): the static table the job joins with.
    pub fn table(&self) -> Arc<[u32]> {
        Arc::clone(&self.table)
    }

    /// How many campaigns the table names (ids `0..campaigns`).
    pub fn campaigns(&self) -> usize {
        self.table.iter().max().map_or(0, |c| *c as usize + 1)
    }

    /// The table as `(ad_id, campaign_id)` pairs.
    pub fn table_pairs(&self) -> Vec<(u32, u32)> {
        self.table.iter().enumerate().map(|(ad, c)| (ad as u32, *c)).collect()
    }

    /// The schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }
}

/// The ad of each global event `first + j * step` and whether it is a view (as
/// [`AdGenerator::ad`], whose `below` needs the high half of a 64-bit product, one instruction
/// on a scalar register and none in a vector lane: here in 32-bit products, `below32`), compiled
/// for AVX-512 as well and chosen when the processor has it.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512dq+avx512vl"))]
fn ad_block(seed: u64, ads: u32, (first, step): (u64, u64), out: &mut [u32; BLOCK], views: &mut [bool; BLOCK]) {
    for (j, (ad, view)) in out.iter_mut().zip(views.iter_mut()).enumerate() {
        let h = mix3(seed, EVENT, first + j as u64 * step);
        *ad = below32(h, ads);
        *view = below32(h << 32, 3) == 0;
    }
}

/// The campaign of each ad: every campaign gets `ads_per_campaign` ads, shuffled by the seed.
pub fn campaign_table(spec: &YsbSpec, seed: u64) -> Vec<u32> {
    let ads = spec.ads() as usize;
    let mut order: Vec<u32> = (0..ads as u32).collect();
    let mut rng = SplitMix::new(mix64(seed ^ TABLE));
    for i in (1..ads).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut table = vec![0; ads];
    for (slot, ad) in order.into_iter().enumerate() {
        table[ad as usize] = slot as u32 / spec.ads_per_campaign;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Profile;

    fn generator(partitions: u32, seed: u64) -> AdGenerator {
        let schedule = Schedule::new(Profile::Constant { rate: 100_000.0 }, partitions, 0, seed).unwrap();
        AdGenerator::new(&YsbSpec::default(), schedule, seed)
    }

    #[test]
    fn events_depend_only_on_their_coordinates() {
        let (a, b) = (generator(4, 3), generator(4, 3));
        let forward: Vec<_> = (0..4).flat_map(|p| (0..500).map(move |i| (p, i))).map(|(p, i)| a.event(p, i)).collect();
        let mut backward: Vec<_> =
            (0..4).rev().flat_map(|p| (0..500).rev().map(move |i| (p, i))).map(|(p, i)| b.event(p, i)).collect();
        backward.reverse();
        assert_eq!(forward, backward);
        assert_ne!(generator(4, 4).event(0, 0), a.event(0, 0), "another seed, other events");
    }

    #[test]
    fn a_third_each_of_views_clicks_and_purchases_over_every_ad() {
        let g = generator(2, 1);
        let n = 300_000;
        let mut types = [0u64; 3];
        let (mut ads, mut views) = (vec![0u64; 1000], vec![0u64; 1000]);
        for k in 0..n {
            let e = g.event((k % 2) as u32, k / 2);
            types[e.event_type as usize] += 1;
            ads[e.ad_id as usize] += 1;
            views[e.ad_id as usize] += u64::from(e.event_type == EventType::View);
        }
        for t in types {
            let share = t as f64 / n as f64;
            assert!((share - 1.0 / 3.0).abs() < 0.01, "{types:?}");
        }
        assert!(ads.iter().all(|c| *c > 200), "every ad is drawn");
        // The type does not follow the ad (both come from one hash): about a third of every
        // ad's events are views (about 300 events an ad, 5 standard deviations either side).
        for (ad, (&v, &n)) in views.iter().zip(&ads).enumerate() {
            assert!((v as f64 / n as f64 - 1.0 / 3.0).abs() < 0.15, "ad {ad}: {v} views of {n}");
        }
    }

    #[test]
    fn a_block_of_ads_equals_its_events_one_by_one() {
        // Whichever way the block is drawn (vector lanes where the processor has them): the
        // same ads and views as each event's own, at every partition and block boundary.
        for partitions in [1, 3] {
            let g = generator(partitions, 5);
            for p in 0..partitions {
                for start in [0, 1, 63, 64, 1_000_003] {
                    let (mut ads, mut views) = ([0; BLOCK], [false; BLOCK]);
                    g.ads_and_views(p, start, &mut ads, &mut views);
                    for (j, (ad, view)) in ads.into_iter().zip(views).enumerate() {
                        let e = g.event(p, start + j as u64);
                        assert_eq!(
                            (ad, view),
                            (e.ad_id, e.event_type == EventType::View),
                            "p {p}, event {}",
                            start + j as u64
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_campaign_has_its_ads() {
        let table = campaign_table(&YsbSpec::default(), 9);
        let mut per = vec![0; 100];
        for c in &table {
            per[*c as usize] += 1;
        }
        assert!(per.iter().all(|n| *n == 10), "{per:?}");
        assert_ne!(table, campaign_table(&YsbSpec::default(), 10), "the seed shuffles the table");
    }
}
