//! `streambench feed`: a tokio load generator that sends generated events over TCP on schedule,
//! for the engines' socket sources. It serves one connection, sends a bounded number of events
//! (by `--count` or `--duration`), then closes the connection: every loop here stops by itself.

use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use workloads::{registry, Profile, RunSpec, Wire};

use crate::options::{parse_duration, EventArgs};

/// `streambench feed`.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("endpoint").required(true).args(["listen", "connect"]))]
pub struct FeedArgs {
    /// The workload and the seed.
    #[command(flatten)]
    pub events: EventArgs,
    /// Events per second.
    #[arg(long, env = "STREAMBENCH_RATE", value_parser = parse_feed_rate)]
    pub rate: f64,
    /// Listen on this address and serve the first connection (engines connect to it).
    #[arg(long, env = "STREAMBENCH_LISTEN")]
    pub listen: Option<String>,
    /// Connect to this address instead.
    #[arg(long, env = "STREAMBENCH_CONNECT")]
    pub connect: Option<String>,
    /// Events to send.
    #[arg(long, env = "STREAMBENCH_COUNT", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Send for this long (when --count is absent).
    #[arg(long, default_value = "10s", value_parser = parse_duration, env = "STREAMBENCH_DURATION")]
    pub duration: u64,
    /// Send wordcount lines as JSON events instead of plain text.
    #[arg(long)]
    pub json: bool,
    /// Give up waiting for a connection after this long.
    #[arg(long, default_value = "30s", value_parser = parse_duration, env = "STREAMBENCH_ACCEPT_TIMEOUT")]
    pub accept_timeout: u64,
}

fn parse_feed_rate(s: &str) -> Result<f64, String> {
    match crate::options::parse_rate(s)? {
        crate::options::Rate::PerSecond(r) => Ok(r),
        _ => Err("feed sends at a constant rate: give events per second (e.g. 100k)".into()),
    }
}

/// What a feed sent.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedStats {
    /// Events sent.
    pub events: u64,
    /// Seconds from the first to the last event.
    pub seconds: f64,
}

/// Runs the feed to completion.
pub fn feed(args: &FeedArgs) -> Result<FeedStats> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(feed_async(args))
}

async fn feed_async(args: &FeedArgs) -> Result<FeedStats> {
    let mut spec =
        RunSpec::new(args.events.workload.default_job(), Profile::Constant { rate: args.rate }, args.duration);
    spec.seed = args.events.seed;
    spec.partitions = Some(1);
    spec.records = args.count;
    spec.validate()?;
    let count = spec.partition_end(0).context("a feed has a bounded number of events")?;
    let write = registry::def(args.events.workload).writer(&spec, if args.json { Wire::Json } else { Wire::Text })?;
    let schedule = spec.schedule();
    let timeout = Duration::from_nanos(args.accept_timeout);
    let stream = match (&args.listen, &args.connect) {
        (Some(addr), _) => {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}: is the port in use?"))?;
            match tokio::time::timeout(timeout, listener.accept()).await {
                Ok(accepted) => accepted?.0,
                Err(_) => bail!("no engine connected to {addr} within {} s", timeout.as_secs()),
            }
        }
        (None, Some(addr)) => {
            let started = tokio::time::Instant::now();
            loop {
                match TcpStream::connect(addr).await {
                    Ok(s) => break s,
                    Err(_) if started.elapsed() < timeout => tokio::time::sleep(Duration::from_millis(50)).await,
                    Err(e) => bail!("cannot connect to {addr} within {} s: {e}", timeout.as_secs()),
                }
            }
        }
        (None, None) => bail!("give --listen ADDR or --connect ADDR"),
    };
    stream.set_nodelay(true)?;
    let mut out = BufWriter::with_capacity(1 << 16, stream);
    let start = tokio::time::Instant::now();
    let mut line = Vec::with_capacity(256);
    let mut i = 0;
    while i < count {
        let now = start.elapsed().as_nanos() as u64;
        while i < count && schedule.due(0, i).unwrap_or(0) <= now {
            line.clear();
            write(0, i, &mut line);
            line.push(b'\n');
            out.write_all(&line).await?;
            i += 1;
        }
        out.flush().await?;
        if i < count {
            let next = schedule.due(0, i).unwrap_or(0);
            tokio::time::sleep_until(start + Duration::from_nanos(next)).await;
        }
    }
    out.flush().await?;
    out.into_inner().shutdown().await?;
    Ok(FeedStats { events: count, seconds: start.elapsed().as_secs_f64() })
}
