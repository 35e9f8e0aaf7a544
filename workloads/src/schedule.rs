//! Schedules: when each event is due, and what its event time is.
//!
//! Events are numbered by a *global index* `k = i * partitions + p` (event `i` of partition
//! `p`), so the partitions interleave evenly and the content of an event does not depend on how
//! many partitions the stream is cut into. A [`Profile`] says how many events per second are
//! offered over time; the due time of global index `k` is the instant the profile's cumulative
//! count reaches `k`. `Max` has no due times ("as fast as the engine pulls"); its events still
//! get event times, laid out as if offered at a nominal rate, so windowed jobs mean the same.
//!
//! `disorder` makes event time lag the due time by a seeded random amount in `0..=disorder`,
//! so events arrive out of event-time order by at most that bound.

use serde::{Deserialize, Serialize};

use crate::hash::{below, mix3};

const NS: f64 = 1e9;
const LAG_STREAM: u64 = 0x1a6;

/// The nominal rate at which a `max` schedule lays out event times (events per second).
pub const DEFAULT_NOMINAL_RATE: f64 = 1_000_000.0;

/// How many events per second are offered over time (all partitions together).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Profile {
    /// A constant rate.
    Constant {
        /// Events per second.
        rate: f64,
    },
    /// A piecewise constant rate: each step starts at `at_ns` (the first at 0) and runs until the
    /// next.
    Steps {
        /// `(start in ns, events per second)`, sorted by start, the first starting at 0.
        steps: Vec<(u64, f64)>,
    },
    /// A base rate with a burst at `peak` for `burst_ns` at the end of every `period_ns`.
    Bursts {
        /// Events per second outside bursts.
        base: f64,
        /// Events per second during a burst.
        peak: f64,
        /// The length of one period, in ns.
        period_ns: u64,
        /// The length of the burst within each period, in ns.
        burst_ns: u64,
    },
    /// As fast as the engine pulls; event times are laid out at `nominal` events per second.
    Max {
        /// Events per second used to assign event times.
        nominal: f64,
    },
}

/// Why a profile or schedule is refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ScheduleError {
    /// A rate is zero, negative or not a number.
    #[error("rate {0} is not positive: give a rate above 0 events/s, or `max`")]
    BadRate(f64),
    /// Steps are empty, unsorted or do not start at 0.
    #[error("steps must be non-empty, start at 0 and be sorted by start time")]
    BadSteps,
    /// A burst does not fit its period.
    #[error("a burst of {burst_ns} ns does not fit a period of {period_ns} ns: make the period longer than the burst")]
    BadBurst {
        /// The burst length.
        burst_ns: u64,
        /// The period length.
        period_ns: u64,
    },
    /// The partition count is zero.
    #[error("partitions must be at least 1")]
    NoPartitions,
}

fn check_rate(rate: f64) -> Result<(), ScheduleError> {
    if rate.is_finite() && rate > 0.0 {
        Ok(())
    } else {
        Err(ScheduleError::BadRate(rate))
    }
}

impl Profile {
    /// Checks the profile's parameters.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        match self {
            Profile::Constant { rate } | Profile::Max { nominal: rate } => check_rate(*rate),
            Profile::Steps { steps } => {
                if steps.first().map(|s| s.0) != Some(0) || steps.windows(2).any(|w| w[0].0 >= w[1].0) {
                    return Err(ScheduleError::BadSteps);
                }
                steps.iter().try_for_each(|s| check_rate(s.1))
            }
            Profile::Bursts { base, peak, period_ns, burst_ns } => {
                check_rate(*base)?;
                check_rate(*peak)?;
                if burst_ns >= period_ns || *burst_ns == 0 {
                    return Err(ScheduleError::BadBurst { burst_ns: *burst_ns, period_ns: *period_ns });
                }
                Ok(())
            }
        }
    }

    /// Whether this is the `max` profile.
    pub fn is_max(&self) -> bool {
        matches!(self, Profile::Max { .. })
    }

    /// The mean offered rate over the first `horizon_ns` (the nominal rate for `max`).
    pub fn mean_rate(&self, horizon_ns: u64) -> f64 {
        if horizon_ns == 0 {
            return 0.0;
        }
        self.cumulative(horizon_ns) / (horizon_ns as f64 / NS)
    }

    /// How many events (all partitions) are due in `[0, t_ns)`, as a real number.
    pub fn cumulative(&self, t_ns: u64) -> f64 {
        let t = t_ns as f64;
        match self {
            Profile::Constant { rate } | Profile::Max { nominal: rate } => t * rate / NS,
            Profile::Steps { steps } => {
                let mut total = 0.0;
                for (j, (start, rate)) in steps.iter().enumerate() {
                    let end = steps.get(j + 1).map(|s| s.0 as f64).unwrap_or(f64::INFINITY);
                    if t <= *start as f64 {
                        break;
                    }
                    total += (t.min(end) - *start as f64) * rate / NS;
                }
                total
            }
            Profile::Bursts { base, peak, period_ns, burst_ns } => {
                let quiet = (period_ns - burst_ns) as f64;
                let per_period = quiet * base / NS + *burst_ns as f64 * peak / NS;
                let periods = (t_ns / period_ns) as f64;
                let rem = (t_ns % period_ns) as f64;
                let in_period =
                    if rem <= quiet { rem * base / NS } else { quiet * base / NS + (rem - quiet) * peak / NS };
                periods * per_period + in_period
            }
        }
    }

    /// The instant (ns) at which the cumulative count reaches `k`: the due time of global index
    /// `k`.
    pub fn instant_of(&self, k: u64) -> u64 {
        let k = k as f64;
        match self {
            Profile::Constant { rate } | Profile::Max { nominal: rate } => (k * NS / rate) as u64,
            Profile::Steps { steps } => {
                let mut before = 0.0;
                for (j, (start, rate)) in steps.iter().enumerate() {
                    let span = steps.get(j + 1).map(|s| (s.0 - start) as f64 * rate / NS).unwrap_or(f64::INFINITY);
                    if k < before + span {
                        return *start + ((k - before) * NS / rate) as u64;
                    }
                    before += span;
                }
                unreachable!("the last step is unbounded")
            }
            Profile::Bursts { base, peak, period_ns, burst_ns } => {
                let quiet = (period_ns - burst_ns) as f64;
                let quiet_events = quiet * base / NS;
                let per_period = quiet_events + *burst_ns as f64 * peak / NS;
                let periods = (k / per_period).floor();
                let rem = k - periods * per_period;
                let offset =
                    if rem < quiet_events { rem * NS / base } else { quiet + (rem - quiet_events) * NS / peak };
                periods as u64 * period_ns + offset as u64
            }
        }
    }
}

/// A validated schedule for a partitioned stream: due times and event times of every event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    profile: Profile,
    partitions: u32,
    disorder_ns: u64,
    seed: u64,
}

impl Schedule {
    /// A schedule over `partitions` partitions; `disorder_ns` bounds how far event time lags the
    /// due time.
    pub fn new(profile: Profile, partitions: u32, disorder_ns: u64, seed: u64) -> Result<Self, ScheduleError> {
        profile.validate()?;
        if partitions == 0 {
            return Err(ScheduleError::NoPartitions);
        }
        Ok(Self { profile, partitions, disorder_ns, seed })
    }

    /// The rate profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The number of partitions.
    pub fn partitions(&self) -> u32 {
        self.partitions
    }

    /// The disorder bound in ns.
    pub fn disorder_ns(&self) -> u64 {
        self.disorder_ns
    }

    /// The global index of event `i` of partition `p`.
    #[inline]
    pub fn global_index(&self, p: u32, i: u64) -> u64 {
        i * self.partitions as u64 + p as u64
    }

    /// When event `i` of partition `p` is due (ns from the start of the run), or `None` at `max`.
    #[inline]
    pub fn due(&self, p: u32, i: u64) -> Option<u64> {
        if self.profile.is_max() {
            None
        } else {
            Some(self.profile.instant_of(self.global_index(p, i)))
        }
    }

    /// The event time of event `i` of partition `p`: its due (or nominal) time less its lag.
    #[inline]
    pub fn event_time(&self, p: u32, i: u64) -> u64 {
        let k = self.global_index(p, i);
        let base = self.profile.instant_of(k);
        base.saturating_sub(self.lag(k))
    }

    /// The due (or nominal) time of event `i` of partition `p`, before disorder: the bound below
    /// which its event time cannot fall by more than the disorder.
    #[inline]
    pub fn nominal_time(&self, p: u32, i: u64) -> u64 {
        self.profile.instant_of(self.global_index(p, i))
    }

    #[inline]
    fn lag(&self, k: u64) -> u64 {
        if self.disorder_ns == 0 {
            0
        } else {
            below(mix3(self.seed, LAG_STREAM, k), self.disorder_ns + 1)
        }
    }

    /// How many events of partition `p` are due before `t_ns` (for `max`, at the nominal rate).
    pub fn events_before(&self, p: u32, t_ns: u64) -> u64 {
        let total = self.profile.cumulative(t_ns).ceil() as u64;
        count_in_partition(total, self.partitions, p)
    }
}

/// How many of the global indices `0..total` fall in partition `p` of `partitions`.
#[inline]
pub fn count_in_partition(total: u64, partitions: u32, p: u32) -> u64 {
    let (n, p) = (partitions as u64, p as u64);
    if total > p {
        (total - p).div_ceil(n)
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn constant_rate_due_times_match_the_rate() {
        let s = Schedule::new(Profile::Constant { rate: 1000.0 }, 4, 0, 1).unwrap();
        // 1000/s over 4 partitions: global index k is due at k ms.
        assert_eq!(s.due(0, 0), Some(0));
        assert_eq!(s.due(1, 0), Some(S / 1000));
        assert_eq!(s.due(0, 1), Some(4 * S / 1000));
        assert_eq!(s.due(3, 249), Some(999 * S / 1000));
        let in_one_second: u64 = (0..4).map(|p| s.events_before(p, S)).sum();
        assert_eq!(in_one_second, 1000);
        for p in 0..4 {
            assert_eq!(s.events_before(p, S), 250);
        }
    }

    #[test]
    fn steps_and_bursts_count_what_they_offer() {
        let steps = Profile::Steps { steps: vec![(0, 100.0), (S, 300.0)] };
        assert_eq!(steps.cumulative(2 * S).round() as u64, 400);
        assert_eq!(steps.instant_of(100), S);
        assert_eq!(steps.instant_of(250), S + S / 2);
        let bursts = Profile::Bursts { base: 100.0, peak: 1000.0, period_ns: S, burst_ns: S / 10 };
        // 90 events at base, then 100 in the burst: 190 per period.
        assert_eq!(bursts.cumulative(S).round() as u64, 190);
        assert_eq!(bursts.cumulative(3 * S).round() as u64, 570);
        assert_eq!(bursts.instant_of(190), S);
        assert_eq!(bursts.instant_of(90), 9 * S / 10);
        for k in [0, 5, 89, 90, 150, 189, 190, 1000, 12345] {
            let t = bursts.instant_of(k);
            assert!((bursts.cumulative(t) - k as f64).abs() < 1e-3, "k={k}");
        }
    }

    #[test]
    fn due_times_are_monotone_in_global_index() {
        for profile in [
            Profile::Constant { rate: 7777.0 },
            Profile::Steps { steps: vec![(0, 50.0), (S / 3, 5000.0), (S, 10.0)] },
            Profile::Bursts { base: 10.0, peak: 900.0, period_ns: S / 2, burst_ns: S / 20 },
        ] {
            let mut last = 0;
            for k in 0..5000 {
                let t = profile.instant_of(k);
                assert!(t >= last, "{profile:?} at {k}");
                last = t;
            }
        }
    }

    #[test]
    fn disorder_never_exceeds_its_bound() {
        let d = 50_000_000;
        let s = Schedule::new(Profile::Constant { rate: 100_000.0 }, 3, d, 9).unwrap();
        let mut saw_lag = false;
        for p in 0..3 {
            for i in 0..20_000 {
                let due = s.due(p, i).unwrap();
                let et = s.event_time(p, i);
                assert!(et <= due && due - et <= d);
                saw_lag |= due > d && due - et > d / 2;
            }
        }
        assert!(saw_lag, "disorder should produce lags across its range");
    }

    #[test]
    fn bad_profiles_are_refused() {
        assert_eq!(Profile::Constant { rate: 0.0 }.validate(), Err(ScheduleError::BadRate(0.0)));
        assert!(Profile::Steps { steps: vec![(5, 1.0)] }.validate().is_err());
        assert!(Profile::Bursts { base: 1.0, peak: 2.0, period_ns: 5, burst_ns: 5 }.validate().is_err());
        assert!(Schedule::new(Profile::Constant { rate: 1.0 }, 0, 0, 0).is_err());
    }

    #[test]
    fn max_has_no_due_times_but_nominal_event_times() {
        let s = Schedule::new(Profile::Max { nominal: 1000.0 }, 2, 0, 0).unwrap();
        assert_eq!(s.due(0, 5), None);
        assert_eq!(s.event_time(1, 2), 5 * S / 1000);
    }
}
