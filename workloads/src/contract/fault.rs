//! Injected faults and the duration syntax they (and the command line) use.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An injected fault.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Worker (executor) `worker` loses its memory at `at_ns`.
    KillWorker {
        /// The worker's global index.
        worker: usize,
        /// When, ns from the start.
        at_ns: u64,
    },
    /// Process `process` is killed (SIGKILL) at `at_ns`; the supervisor restarts the cluster.
    KillProcess {
        /// The process index.
        process: usize,
        /// When, ns from the start.
        at_ns: u64,
    },
    /// Worker `worker` runs `factor` times slower from `at_ns` for `for_ns`.
    SlowWorker {
        /// The worker's global index.
        worker: usize,
        /// When, ns from the start.
        at_ns: u64,
        /// For how long, ns.
        for_ns: u64,
        /// The slow-down factor (> 1).
        factor: f64,
    },
}

/// A fault spec that does not parse.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("bad fault `{0}`: use kill-worker:W@T, kill-process:P@T or slow-worker:W@T+D*F (T, D durations like 5s or 500ms, D above 0, F a factor > 1)")]
pub struct BadFault(pub String);

/// Parses a duration such as `10s`, `250ms`, `2m`, `1500us` or `0`.
pub fn parse_duration_ns(s: &str) -> Option<u64> {
    let s = s.trim();
    if s == "0" {
        return Some(0);
    }
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let value: f64 = num.parse().ok()?;
    let scale = match unit {
        "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" | "min" => 60e9,
        _ => return None,
    };
    (value.is_finite() && value >= 0.0).then(|| (value * scale).round() as u64)
}

impl FromStr for Fault {
    type Err = BadFault;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadFault(s.to_owned());
        let (kind, rest) = s.split_once(':').ok_or_else(bad)?;
        let (who, when) = rest.split_once('@').ok_or_else(bad)?;
        let who: usize = who.parse().map_err(|_| bad())?;
        match kind {
            "kill-worker" => Ok(Fault::KillWorker { worker: who, at_ns: parse_duration_ns(when).ok_or_else(bad)? }),
            "kill-process" => Ok(Fault::KillProcess { process: who, at_ns: parse_duration_ns(when).ok_or_else(bad)? }),
            "slow-worker" => {
                let (at, rest) = when.split_once('+').ok_or_else(bad)?;
                let (dur, factor) = rest.split_once('*').ok_or_else(bad)?;
                let factor: f64 = factor.parse().map_err(|_| bad())?;
                if !(factor > 1.0 && factor.is_finite()) {
                    return Err(bad());
                }
                // An episode of no length slows nothing: refused rather than run as if it did.
                let for_ns = parse_duration_ns(dur).filter(|&d| d > 0).ok_or_else(bad)?;
                Ok(Fault::SlowWorker { worker: who, at_ns: parse_duration_ns(at).ok_or_else(bad)?, for_ns, factor })
            }
            _ => Err(bad()),
        }
    }
}

/// The shortest time between two faults of a chaos schedule, so that each recovery is
/// measured on its own.
pub const CHAOS_GAP_NS: u64 = 2_500_000_000;

/// A seeded chaos schedule for a run of `duration_ns` on `workers` workers: a fault for every 6 s
/// of the run (ten a minute; at least two), each a `kill-worker` (three in five) or a
/// `slow-worker` of 0.5 to 1.5 s by 2 to 4 times, on a random worker, at a random time in its own
/// slot of the span from 1 s after the warm-up's end (the steady state recovery is measured
/// against) to 2 s before the end, at least
/// [`CHAOS_GAP_NS`] apart. The same seed gives the same schedule. Empty when the span cannot hold
/// two faults that far apart.
pub fn chaos(seed: u64, duration_ns: u64, warmup_ns: u64, workers: usize) -> Vec<Fault> {
    const S: u64 = 1_000_000_000;
    let from = warmup_ns + S;
    let to = duration_ns.saturating_sub(2 * S);
    let span = to.saturating_sub(from);
    let n = (duration_ns / (6 * S)).max(2).min(span / CHAOS_GAP_NS);
    if n < 2 || workers == 0 {
        return Vec::new();
    }
    let mut rng = crate::hash::SplitMix::new(crate::hash::mix64(seed ^ 0xc4a0_5c4e_d01e));
    let slot = span / n;
    (0..n)
        .map(|i| {
            // The last CHAOS_GAP_NS of a slot stays free, so the next slot's fault is far enough.
            let at_ns = from + i * slot + rng.below((slot - CHAOS_GAP_NS).max(1));
            let worker = rng.below(workers as u64) as usize;
            if rng.below(5) < 3 {
                Fault::KillWorker { worker, at_ns }
            } else {
                let for_ns = S / 2 + rng.below(S);
                let factor = 2.0 + (rng.unit() * 20.0).round() / 10.0;
                Fault::SlowWorker { worker, at_ns, for_ns, factor }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::SECOND_NS;

    #[test]
    fn a_chaos_schedule_is_seeded_spaced_and_within_the_run() {
        let a = chaos(7, 60 * SECOND_NS, 2 * SECOND_NS, 2);
        assert_eq!(a, chaos(7, 60 * SECOND_NS, 2 * SECOND_NS, 2));
        assert_ne!(a, chaos(8, 60 * SECOND_NS, 2 * SECOND_NS, 2));
        assert_eq!(a.len(), 10, "ten a minute");
        let at = |f: &Fault| match *f {
            Fault::KillWorker { at_ns, .. } | Fault::KillProcess { at_ns, .. } | Fault::SlowWorker { at_ns, .. } => {
                at_ns
            }
        };
        for pair in a.windows(2) {
            assert!(at(&pair[1]) >= at(&pair[0]) + CHAOS_GAP_NS, "{pair:?}");
        }
        assert!(a.iter().all(|f| (3 * SECOND_NS..58 * SECOND_NS).contains(&at(f))), "{a:?}");
        // Over many seeds both kinds come, on every worker.
        let many: Vec<Fault> = (0..20).flat_map(|s| chaos(s, 20 * SECOND_NS, SECOND_NS, 2)).collect();
        assert!(many.iter().any(|f| matches!(f, Fault::KillWorker { worker: 1, .. })));
        assert!(many.iter().any(|f| matches!(f, Fault::SlowWorker { worker: 0, factor, .. } if *factor >= 2.0)));
        assert!(chaos(1, 4 * SECOND_NS, 0, 2).is_empty(), "too short for two faults apart");
    }

    #[test]
    fn faults_parse_and_bad_ones_are_refused() {
        assert_eq!("kill-worker:1@5s".parse(), Ok(Fault::KillWorker { worker: 1, at_ns: 5 * SECOND_NS }));
        assert_eq!("kill-process:0@1500ms".parse(), Ok(Fault::KillProcess { process: 0, at_ns: 1_500_000_000 }));
        assert_eq!(
            "slow-worker:2@1s+2s*4".parse(),
            Ok(Fault::SlowWorker { worker: 2, at_ns: SECOND_NS, for_ns: 2 * SECOND_NS, factor: 4.0 })
        );
        for bad in [
            "kill-worker",
            "kill-worker:x@1s",
            "explode:1@1s",
            "kill-worker:1@soon",
            "slow-worker:1@1s+1s*0.5",
            "slow-worker:1@1s+0s*3",
        ] {
            assert!(bad.parse::<Fault>().is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration_ns("10s"), Some(10 * SECOND_NS));
        assert_eq!(parse_duration_ns("250ms"), Some(250_000_000));
        assert_eq!(parse_duration_ns("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration_ns("0"), Some(0));
        assert_eq!(parse_duration_ns("10"), None);
        assert_eq!(parse_duration_ns("fast"), None);
    }
}
