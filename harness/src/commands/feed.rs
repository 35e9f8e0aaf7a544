//! `streambench feed`: a tokio load generator that sends generated events over TCP on schedule,
//! for the engines' socket sources. It serves one connection, sends a bounded number of events
//! (by `--count` or `--duration`), then closes the connection: every loop here stops by itself.
//!
//! `--resumable` makes it a replayable source, as a reliable receiver's source is (a Kafka topic
//! read from an offset): each connection first says `from N` (the lines the engine has logged),
//! and the feed sends from line N on, each at its time (lines already due at once); it serves
//! one connection after another until one has been sent every line and no other comes within
//! `--accept-timeout`.

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
    /// Give up waiting for a connection after this long (with --resumable: the wait for a
    /// reconnection once every line is sent, after which the feed ends).
    #[arg(long, default_value = "30s", value_parser = parse_duration, env = "STREAMBENCH_ACCEPT_TIMEOUT")]
    pub accept_timeout: u64,
    /// Serve reconnections, each resuming where the engine says it has logged (`from N` first):
    /// for the micro-batch engine's `--receiver-wal` across `kill-process`.
    #[arg(long, requires = "listen")]
    pub resumable: bool,
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
    let send = |stream: TcpStream, from: u64, start: tokio::time::Instant| {
        let (schedule, write) = (&schedule, &write);
        async move {
            stream.set_nodelay(true)?;
            let mut out = BufWriter::with_capacity(1 << 16, stream);
            let mut line = Vec::with_capacity(256);
            let mut i = from;
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
            anyhow::Ok(())
        }
    };
    if args.resumable {
        let addr = args.listen.as_deref().context("--resumable listens: give --listen ADDR")?;
        return resumable(addr, timeout, count, send).await;
    }
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
    let start = tokio::time::Instant::now();
    send(stream, 0, start).await?;
    Ok(FeedStats { events: count, seconds: start.elapsed().as_secs_f64() })
}

/// How long a connection to a resumable feed has to say where it resumes.
const HANDSHAKE: Duration = Duration::from_secs(5);

/// Serves connections one after another, each from the line it asks for (`from N`), on the
/// schedule of the first connection's start, until every line was sent on one and no other
/// connection comes within `timeout`. A connection broken while sending is the engine's
/// restart: the next one says where to go on.
async fn resumable<F, Fut>(addr: &str, timeout: Duration, count: u64, send: F) -> Result<FeedStats>
where
    F: Fn(TcpStream, u64, tokio::time::Instant) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    use tokio::io::AsyncBufReadExt;
    let listener =
        TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}: is the port in use?"))?;
    let (mut start, mut finished) = (None, false);
    loop {
        let stream = match tokio::time::timeout(timeout, listener.accept()).await {
            Ok(accepted) => accepted?.0,
            Err(_) if finished => break,
            Err(_) => bail!("no engine connected to {addr} within {} s", timeout.as_secs()),
        };
        let mut reader = tokio::io::BufReader::new(stream);
        let mut first = String::new();
        match tokio::time::timeout(HANDSHAKE, reader.read_line(&mut first)).await {
            Ok(Ok(_)) => {}
            _ => bail!("a resumable feed expects `from N` first: run the micro-batch engine with --receiver-wal (or leave out --resumable)"),
        }
        let from: u64 = match first.trim().strip_prefix("from ").map(str::parse) {
            Some(Ok(n)) if n <= count => n,
            _ => bail!("a resumable feed expects `from N` (N at most {count}) first, got {:?}", first.trim()),
        };
        let start = *start.get_or_insert_with(tokio::time::Instant::now);
        // A connection broken while sending is the engine's restart.
        finished |= send(reader.into_inner(), from, start).await.is_ok();
    }
    let seconds = start.map_or(0.0, |s| s.elapsed().as_secs_f64());
    Ok(FeedStats { events: count, seconds })
}
