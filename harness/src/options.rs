//! Option parsers shared by every subcommand: durations, seeds, workloads, rates, sources.

use workloads::{Profile, Source, Workload};

/// Parses a duration such as `10s`, `250ms` or `0`.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    workloads::contract::parse_duration_ns(s)
        .ok_or_else(|| format!("`{s}` is not a duration: write a number with a unit, e.g. 10s, 250ms, 2m"))
}

/// Parses a seed: a whole number from 0 to 2^64 - 1.
pub fn parse_seed(s: &str) -> Result<u64, String> {
    s.parse().map_err(|_| format!("`{s}` is not a seed: give a whole number from 0 to {}", u64::MAX))
}

/// The options every command that generates events shares: which workload, and the seed.
#[derive(Clone, Debug, clap::Args)]
pub struct EventArgs {
    /// The workload.
    #[arg(long, value_parser = workload_parser(), env = "STREAMBENCH_WORKLOAD")]
    pub workload: Workload,
    /// The generator seed (the same seed gives the same events, in every command).
    #[arg(long, default_value_t = 1, value_parser = parse_seed, allow_hyphen_values = true, env = "STREAMBENCH_SEED")]
    pub seed: u64,
}

/// The parser of a workload's name: one of the registry's, listed in `--help`.
pub fn workload_parser() -> impl clap::builder::TypedValueParser<Value = Workload> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(Workload::ALL.map(Workload::name))
        .map(|name| name.parse::<Workload>().expect("a registered workload's name"))
}

/// An offered rate: events per second, or `max`.
#[derive(Clone, Debug, PartialEq)]
pub enum Rate {
    /// Events per second, all partitions together.
    PerSecond(f64),
    /// A piecewise constant rate: `(start ns, events per second)`, the first at 0.
    Steps(Vec<(u64, f64)>),
    /// A base rate with a burst at `peak` for `burst_ns` at the end of every `period_ns`.
    Bursts {
        /// Events per second outside bursts.
        base: f64,
        /// Events per second in a burst.
        peak: f64,
        /// The period, ns.
        period_ns: u64,
        /// The burst's length in each period, ns.
        burst_ns: u64,
    },
    /// As fast as the engine pulls.
    Max,
}

impl Rate {
    /// The schedule profile of this rate.
    pub fn profile(&self) -> Profile {
        match self {
            Rate::PerSecond(rate) => Profile::Constant { rate: *rate },
            Rate::Steps(steps) => Profile::Steps { steps: steps.clone() },
            Rate::Bursts { base, peak, period_ns, burst_ns } => {
                Profile::Bursts { base: *base, peak: *peak, period_ns: *period_ns, burst_ns: *burst_ns }
            }
            Rate::Max => Profile::Max { nominal: workloads::schedule::DEFAULT_NOMINAL_RATE },
        }
    }
}

const RATE_HELP: &str = "give events per second above 0 (100000, 100k, 1.5M), max, \
steps:RATE@START,... (steps:100k@0s,300k@5s) or bursts:BASE,PEAK,PERIOD,BURST (bursts:100k,1M,10s,1s)";

/// Parses `max`, a positive number of events per second (`100000`, `100k`, `1.5M`), steps
/// (`steps:100k@0s,300k@5s`: each rate from its start on) or bursts (`bursts:100k,1M,10s,1s`:
/// 100k/s with 1M/s for the last second of every 10 s).
pub fn parse_rate(s: &str) -> Result<Rate, String> {
    let bad = || format!("`{s}` is not a rate: {RATE_HELP}");
    if s.eq_ignore_ascii_case("max") {
        return Ok(Rate::Max);
    }
    if let Some(steps) = s.strip_prefix("steps:") {
        let steps = steps
            .split(',')
            .map(|step| {
                let (rate, at) = step.split_once('@')?;
                Some((parse_duration(at).ok()?, events_per_second(rate)?))
            })
            .collect::<Option<Vec<(u64, f64)>>>()
            .ok_or_else(bad)?;
        if steps.first().map(|s| s.0) != Some(0) || steps.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(format!("`{s}`: steps start at 0s and their starts increase (e.g. steps:100k@0s,300k@5s)"));
        }
        return Ok(Rate::Steps(steps));
    }
    if let Some(bursts) = s.strip_prefix("bursts:") {
        let parts: Vec<&str> = bursts.split(',').collect();
        let [base, peak, period, burst] = parts[..] else { return Err(bad()) };
        let (base, peak) = (events_per_second(base).ok_or_else(bad)?, events_per_second(peak).ok_or_else(bad)?);
        let (period_ns, burst_ns) = (parse_duration(period)?, parse_duration(burst)?);
        if burst_ns == 0 || burst_ns >= period_ns {
            return Err(format!(
                "`{s}`: a burst lasts more than 0 and less than its period (e.g. bursts:100k,1M,10s,1s)"
            ));
        }
        return Ok(Rate::Bursts { base, peak, period_ns, burst_ns });
    }
    events_per_second(s).map(Rate::PerSecond).ok_or_else(bad)
}

/// `100000`, `100k`, `1.5M`: events per second above 0.
fn events_per_second(s: &str) -> Option<f64> {
    let (num, scale) = match s.strip_suffix(['k', 'K']) {
        Some(n) => (n, 1e3),
        None => match s.strip_suffix('M') {
            Some(n) => (n, 1e6),
            None => (s, 1.0),
        },
    };
    num.parse::<f64>().ok().map(|r| r * scale).filter(|r| *r > 0.0 && r.is_finite())
}

/// Parses `generator` or `socket://host:port`.
pub fn parse_source(s: &str) -> Result<Source, String> {
    if s == "generator" {
        Ok(Source::Generator)
    } else if let Some(addr) = s.strip_prefix("socket://").filter(|a| a.contains(':')) {
        Ok(Source::Socket(addr.to_owned()))
    } else {
        Err(format!("`{s}` is not a source: give generator or socket://HOST:PORT"))
    }
}

/// What a run keeps of its outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CollectArg {
    /// Every output (memory grows with the run).
    Full,
    /// Running-count updates as an order-independent digest.
    Digest,
}

#[cfg(test)]
mod tests {
    use super::{parse_rate, Rate};

    #[test]
    fn rates_constant_steps_bursts_and_max() {
        assert_eq!(parse_rate("1.5M"), Ok(Rate::PerSecond(1.5e6)));
        assert_eq!(parse_rate("max"), Ok(Rate::Max));
        assert_eq!(parse_rate("steps:100k@0s,300k@5s"), Ok(Rate::Steps(vec![(0, 1e5), (5_000_000_000, 3e5)])));
        assert_eq!(
            parse_rate("bursts:100k,1M,10s,1s"),
            Ok(Rate::Bursts { base: 1e5, peak: 1e6, period_ns: 10_000_000_000, burst_ns: 1_000_000_000 })
        );
        for bad in
            ["0", "-5", "fast", "steps:100k@1s", "steps:1k@0s,2k@0s", "steps:1k", "bursts:1k,2k,1s,1s", "bursts:1k"]
        {
            let err = parse_rate(bad).unwrap_err();
            assert!(err.contains("e.g.") || err.contains("steps:RATE@START"), "{bad}: {err}");
        }
    }
}
