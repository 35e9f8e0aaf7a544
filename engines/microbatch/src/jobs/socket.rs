//! A socket run: `socket_text_stream`'s receiver reads the lines `streambench feed` sends (text,
//! or JSON events), each tagged with its arrival time, which is its latency reference (socket
//! events carry no schedule). Each workload parses its own lines; lines that do not parse are
//! counted and reported as malformed. The run ends once the sender has closed the connection,
//! every block has been processed and the windows holding data have closed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use workloads::socket::{Line, MAX_LINE_BYTES};
use workloads::{Observer, RunSpec};

use crate::conf::StreamingConf;
use crate::context::StreamingContext;
use crate::dstream::DStream;
use crate::input::receiver::Receive;
use crate::jobs::{conf_of, Job};
use crate::rdd::ShuffleData;
use crate::StreamingError;

/// A line as the receiver stores it: where it is, and its bytes, or its length when it was over
/// the bound.
type RawLine = (At, Result<Vec<u8>, usize>);

/// Where a line is: its arrival (ns from the start) and its offset in the feed's stream (the
/// lines before it, in this run and, with the receivers' write-ahead log, in earlier ones).
type At = (u64, u64);

/// A socket line on its way to becoming a workload's event `E`, with its arrival time.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) enum Parsed<E> {
    /// An empty line.
    Blank(At),
    /// A line, not parsed yet.
    Line(At, String),
    /// An event.
    Event(At, E),
    /// Why a line is not an event.
    Malformed(At, String),
}

impl<E> Parsed<E> {
    /// When the line arrived, and its offset.
    fn at(&self) -> At {
        match self {
            Parsed::Blank(at) | Parsed::Line(at, _) | Parsed::Event(at, _) | Parsed::Malformed(at, _) => *at,
        }
    }

    /// The event, if the line was one.
    pub(crate) fn event(&self) -> Option<&E> {
        match self {
            Parsed::Event(_, e) => Some(e),
            _ => None,
        }
    }

    /// The event with its line's arrival time (its latency reference), if the line was one.
    pub(crate) fn timed(&self) -> Option<(&E, u64)> {
        match self {
            Parsed::Event((arrival, _), e) => Some((e, *arrival)),
            _ => None,
        }
    }
}

/// The lines a socket receiver reads, for a workload's job to parse.
pub(crate) struct SocketSource<'a> {
    ssc: &'a StreamingContext,
    lines: DStream<Parsed<()>>,
    observer: &'a Observer,
    /// The batch interval, ns.
    pub(crate) interval: u64,
    /// How often the job's outputs fire (its windows' slide, or every batch), ns.
    slide: u64,
    /// Whether the receiver's input has ended and every block it stored is in a batch.
    drained: Arc<dyn Fn() -> bool + Send + Sync>,
}

impl SocketSource<'_> {
    /// The context the job is built on (for RDDs built once, as `parallelize` makes them).
    pub(crate) fn context(&self) -> &StreamingContext {
        self.ssc
    }

    /// The lines parsed into events by `parse` (persisted: the job and the accounting both read
    /// them).
    pub(crate) fn events<E: ShuffleData>(
        &self,
        parse: impl Fn(&str) -> Result<E, String> + Send + Sync + 'static,
    ) -> Result<DStream<Parsed<E>>, StreamingError> {
        self.lines
            .map_partitions(move |lines| {
                lines
                    .iter()
                    .map(|p| match p {
                        Parsed::Line(arrival, line) => match parse(line) {
                            Ok(e) => Parsed::Event(*arrival, e),
                            Err(why) => Parsed::Malformed(
                                *arrival,
                                format!("{why}: {}", line.chars().take(80).collect::<String>()),
                            ),
                        },
                        Parsed::Blank(at) => Parsed::Blank(*at),
                        Parsed::Event(..) => unreachable!("lines are not parsed yet"),
                        Parsed::Malformed(at, why) => Parsed::Malformed(*at, why.clone()),
                    })
                    .collect()
            })?
            .persist()
    }

    /// After the workload's outputs: malformed lines, on the executors (counted, and with blank
    /// ones taken out of the events' numbering); on the driver, the lines
    /// each batch read, by the millisecond they arrived in (the same grouping as inputs due on a
    /// schedule): the input count, input latency by the shared observer (the batch's outputs
    /// reflect them, or the output of the window that fires next), the verification's reference
    /// (how far the input was read), the windows by arrival, and when the last input was processed.
    pub(crate) fn account<E: ShuffleData>(&self, events: &DStream<Parsed<E>>) -> Result<(), StreamingError> {
        events.foreach_partition_recorded(move |_t, _p, lines, r| {
            for p in lines {
                match p {
                    Parsed::Malformed((_, offset), why) => {
                        r.malformed(|| why.clone());
                        r.skipped_line(*offset);
                    }
                    Parsed::Blank((_, offset)) => r.skipped_line(*offset),
                    Parsed::Line(..) | Parsed::Event(..) => {}
                }
            }
        })?;
        let mut recorder = self.observer.recorder();
        let (slide, drained) = (self.slide, Arc::clone(&self.drained));
        // How far the input was read, and when the last batch that read some was done.
        let (mut read, mut last_input) = (0, None);
        let account = Mutex::new(move |t: u64, blocks: Vec<(u64, Vec<(u64, u64)>)>| {
            let before = read;
            // A batch's blocks hold a run of the stream's lines (a resumed program's first ones
            // start where its write-ahead log does).
            if let Some((first, _)) = blocks.iter().find(|(_, runs)| !runs.is_empty()) {
                read = *first;
            }
            for (ms, n) in blocks.into_iter().flat_map(|(_, runs)| runs) {
                recorder.inputs(n, ms * 1_000_000);
                recorder.read(0, read, read + n, ms * 1_000_000, t.div_ceil(slide) * slide);
                read += n;
            }
            recorder.arrival(0, read, t);
            recorder.partition_end(0, read);
            let now = recorder.now_ns();
            recorder.reflect(t + 1, now);
            if read != before {
                last_input = Some(now);
            } else if let Some(done) = last_input.take_if(|_| drained()) {
                recorder.inputs_done(done);
            }
            // The batch's accounting is done: a commit point of a run that spans restarts.
            recorder.commit(workloads::contract::journal::Commit::Batch {
                source: crate::commits::LISTENER,
                time_ns: t,
                part: 0,
                parts: 1,
            });
        });
        events
            .map_partitions(|lines| {
                let first = lines.first().map_or(0, |l| l.at().1);
                vec![(first, by_millisecond(lines.iter().map(|l| l.at().0)))]
            })?
            .foreach_batch(move |t, blocks| (account.lock().expect("account"))(t, blocks))
    }
}

/// Arrival times (ns) as runs of `(millisecond, lines)`.
fn by_millisecond(arrivals: impl Iterator<Item = u64>) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for ms in arrivals.map(|ns| ns / 1_000_000) {
        match runs.last_mut() {
            Some(last) if last.0 == ms => last.1 += 1,
            _ => runs.push((ms, 1)),
        }
    }
    runs
}

/// Runs `job` over the lines read from `addr`.
pub(crate) fn run(spec: &RunSpec, job: &dyn Job, observer: &Observer, addr: &str) -> Result<(), StreamingError> {
    let interval = spec.microbatch.batch_interval_ns;
    let flush = crate::jobs::flush_ns(&spec.job);
    let drained: Arc<OnceLock<Arc<dyn Fn() -> bool + Send + Sync>>> = Arc::default();
    let drained_at = Arc::new(AtomicU64::new(u64::MAX));
    let (check, at) = (Arc::clone(&drained), Arc::clone(&drained_at));
    let conf = StreamingConf {
        stop_before: Some(Arc::new(move |t| {
            if check.get().is_some_and(|f| f()) {
                at.fetch_min(t, Ordering::Relaxed);
            }
            let at = at.load(Ordering::Relaxed);
            at != u64::MAX && t > at + flush
        })),
        ..conf_of(spec)
    };
    let (mut ssc, scratch) = crate::jobs::context(spec, conf, observer)?;
    let epoch = observer.start();
    let raw = raw_lines(&ssc, addr, epoch, spec.microbatch.receiver_wal)?;
    let _ = drained.set(ssc.receivers_drained());
    let drained = ssc.receivers_drained();
    let lines = raw
        .map(|(arrival, line)| match line {
            Ok(bytes) => match std::str::from_utf8(bytes) {
                Ok(line) if line.trim().is_empty() => Parsed::Blank(*arrival),
                Ok(line) => Parsed::Line(*arrival, line.to_owned()),
                Err(_) => Parsed::Malformed(*arrival, format!("not UTF-8 ({} bytes)", bytes.len())),
            },
            Err(len) => Parsed::Malformed(*arrival, Line::too_long(*len, MAX_LINE_BYTES)),
        })?
        .persist()?;
    // Windows fire every slide; other outputs every batch.
    let slide = spec.job.slide_ns().unwrap_or(interval).max(interval);
    job.socket(spec, &SocketSource { ssc: &ssc, lines, observer, interval, slide, drained })?;
    ssc.start()?;
    let result = ssc.await_termination();
    if let Some(dir) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    result.map(drop)
}

/// The lines read from `addr`, each with its arrival (since `epoch`) and offset.
fn raw_lines(
    ssc: &StreamingContext,
    addr: &str,
    epoch: std::time::Instant,
    wal: bool,
) -> Result<DStream<RawLine>, StreamingError> {
    let addr = addr.to_owned();
    // ((arrival ns, offset), the line's bytes or its length when over the bound): UTF-8 is
    // checked when the line is parsed. The feed's end is the input's end (no reconnecting, unlike
    // `socket_text_stream`). With the write-ahead log the receiver is a reliable one: it asks a
    // resumable feed for the lines after those it logged (`from N`).
    ssc.reliable_receiver_stream(move |from: u64, store: &mut dyn FnMut(RawLine) -> bool| {
        let mut stream = match workloads::socket::connect(&addr) {
            Ok(s) => s,
            Err(e) => return Receive::Fail(e),
        };
        if wal {
            if from > 0 {
                tracing::info!(from, "the receiver resumes after the lines its write-ahead log holds");
            }
            if let Err(e) = std::io::Write::write_all(&mut stream, format!("from {from}\n").as_bytes()) {
                return Receive::Fail(format!("asking {addr} for the lines from {from}: {e}"));
            }
        }
        let mut offset = from;
        let read = workloads::socket::for_each_line(stream, MAX_LINE_BYTES, |line| {
            let at = (epoch.elapsed().as_nanos() as u64, offset);
            offset += 1;
            store((
                at,
                match line {
                    Line::Bytes(bytes) => Ok(bytes),
                    Line::TooLong(len) => Err(len),
                },
            ))
        });
        match read {
            Ok(()) => Receive::Done,
            Err(e) => Receive::Fail(format!("reading {addr}: {e}")),
        }
    })
}
