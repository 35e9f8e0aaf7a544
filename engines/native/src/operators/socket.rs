//! `Source` from a socket: text lines or JSON events read from a TCP address, as `streambench feed`
//! sends them (and as Spark's `socketTextStream` reads: the engine connects, the feeder listens).
//!
//! One receiver thread per run (in process 0) reads lines into a bounded channel; worker 0 drains
//! it. The receiver stamps each line when it reads it, before any queue: that stamp is the line's
//! latency reference and its event time (socket events carry no schedule: ingestion time), so a
//! consumer that falls behind shows as latency. The source's capability follows the stamps: it
//! moves to the receiver's *watermark* (every line read before it has been handed over) once the
//! channel is drained, else to the last line it emitted, so every record's time is at or above the
//! timestamp it travels at. A line that does not parse is counted as malformed and reported, never
//! fatal. The stream ends when the sender closes the connection.

use std::cell::RefCell;
use std::io::BufReader;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver as MpscReceiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use timely::container::{Accountable, CapacityContainerBuilder};
use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::{Scope, Stream};
use workloads::socket::{Line, MAX_LINE_BYTES};
use workloads::{Observer, Recorder};

use crate::operators::keys::Batch;
use crate::time::{CHUNK, TICK_NS};
use crate::NativeError;

pub use workloads::socket::CONNECT_TIMEOUT;

/// A line as read, with when it was read (ns from the run's start): text, or why it is
/// malformed (not UTF-8, too long).
type RawLine = (u64, Result<String, String>);

/// Lines read from the socket, shared with the worker that emits them.
#[derive(Clone)]
pub struct Receiver {
    lines: Arc<Mutex<MpscReceiver<Vec<RawLine>>>>,
    /// Every line read before this time (ns from the start) has been put on the channel.
    watermark: Arc<AtomicU64>,
}

impl Receiver {
    /// Connects to `addr` (retrying for [`CONNECT_TIMEOUT`]) and starts reading lines, stamped
    /// on `observer`'s clock (which this starts).
    pub fn connect(addr: &str, observer: &Observer) -> Result<Self, NativeError> {
        let stream = workloads::socket::connect(addr).map_err(NativeError::Socket)?;
        let epoch = observer.start();
        let (tx, rx) = mpsc::sync_channel::<Vec<RawLine>>(1024);
        let watermark = Arc::new(AtomicU64::new(0));
        let mark = Arc::clone(&watermark);
        let now = move || epoch.elapsed().as_nanos() as u64;
        std::thread::Builder::new()
            .name("socket-receiver".into())
            .spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut chunk = Vec::with_capacity(CHUNK);
                loop {
                    // Everything read so far is on the channel: what comes next is read after now.
                    if chunk.is_empty() {
                        mark.store(now(), Ordering::Release);
                    }
                    match workloads::socket::read_line(&mut reader, MAX_LINE_BYTES) {
                        Ok(None) | Err(_) => break,
                        Ok(Some(line)) => {
                            let at = now();
                            // Invalid UTF-8 and lines over the bound are passed on as such, to be
                            // counted as malformed.
                            let text = match line {
                                Line::Bytes(bytes) => String::from_utf8(bytes)
                                    .map_err(|e| format!("not UTF-8 ({} bytes)", e.as_bytes().len())),
                                Line::TooLong(len) => Err(Line::too_long(len, MAX_LINE_BYTES)),
                            };
                            chunk.push((at, text));
                            // Hand over a full chunk, or whatever is there when the socket idles.
                            if (chunk.len() >= CHUNK || reader.buffer().is_empty())
                                && tx.send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK))).is_err()
                            {
                                return;
                            }
                        }
                    }
                }
                if !chunk.is_empty() {
                    let _ = tx.send(chunk);
                }
            })
            .map_err(|e| NativeError::Socket(format!("cannot start the receiver thread: {e}")))?;
        Ok(Self { lines: Arc::new(Mutex::new(rx)), watermark })
    }
}

/// What one activation drained from the channel.
struct Drained {
    lines: u64,
    /// The stamp of the last line drained.
    last: Option<u64>,
    /// The channel was empty at the end.
    empty: bool,
    closed: bool,
}

/// A stream of the records parsed from the socket's lines.
pub fn stream<'s, C, P>(
    scope: Scope<'s, u64>,
    receiver: Receiver,
    recorder: Rc<RefCell<Recorder>>,
    parse: P,
) -> Stream<'s, u64, C>
where
    C: Batch,
    P: Fn(&str, u64, &mut C) -> Result<(), String> + 'static,
{
    source::<_, CapacityContainerBuilder<C>, _, _>(scope, "Source", move |capability, info| {
        let activator = scope.activator_for(Rc::clone(&info.address));
        let mut capability = Some(capability);
        let mut read = 0u64;
        let mut buffer = C::default();
        move |output| {
            let Some(cap) = capability.as_mut() else { return };
            // Read before draining: every line stamped before it is on the channel by now.
            let watermark = receiver.watermark.load(Ordering::Acquire);
            let at = *cap.time() * TICK_NS;
            let d = drain(&receiver, &mut recorder.borrow_mut(), &parse, &mut buffer, read, at);
            read += d.lines;
            if !Accountable::is_empty(&buffer) {
                output.session(&*cap).give_container(&mut buffer);
                buffer.refill(CHUNK);
            }
            if d.closed {
                recorder.borrow_mut().partition_end(0, read);
                capability = None;
                return;
            }
            // Lines still to come are stamped at or after the watermark (the channel is empty),
            // or after the last line emitted.
            let next = if d.empty { Some(watermark) } else { d.last };
            if let Some(t) = next.map(|t| t / TICK_NS).filter(|t| t > cap.time()) {
                cap.downgrade(&t);
            }
            if d.lines > 0 {
                activator.activate();
            } else {
                activator.activate_after(Duration::from_millis(1));
            }
        }
    })
}

/// Drains up to 64 chunks: each line parsed into `buffer` at its stamp and read (for input
/// latency) at it, records going out at `at` ns.
fn drain<C, P>(receiver: &Receiver, r: &mut Recorder, parse: &P, buffer: &mut C, read: u64, at: u64) -> Drained
where
    P: Fn(&str, u64, &mut C) -> Result<(), String>,
{
    let mut d = Drained { lines: 0, last: None, empty: false, closed: false };
    let rx = receiver.lines.lock().expect("receiver lock");
    let now = r.now_ns();
    for _ in 0..64 {
        match rx.try_recv() {
            Ok(chunk) => {
                r.inputs(chunk.len() as u64, now);
                for (stamp, line) in chunk {
                    let offset = read + d.lines;
                    r.read(0, offset, offset + 1, stamp, at);
                    r.ingested(0, offset, stamp);
                    d.lines += 1;
                    d.last = Some(stamp);
                    let line = match line {
                        Ok(line) => line,
                        Err(why) => {
                            r.malformed(|| why);
                            r.skipped_line(offset);
                            continue;
                        }
                    };
                    if line.trim().is_empty() {
                        r.skipped_line(offset);
                        continue;
                    }
                    if let Err(why) = parse(&line, stamp, buffer) {
                        r.malformed(|| format!("{why}: {}", line.chars().take(80).collect::<String>()));
                        r.skipped_line(offset);
                    }
                }
            }
            Err(TryRecvError::Empty) => {
                d.empty = true;
                break;
            }
            Err(TryRecvError::Disconnected) => {
                d.closed = true;
                break;
            }
        }
    }
    d
}

/// A stream with no records, for workers that do not read the socket.
pub fn empty<'s, C: Batch>(scope: Scope<'s, u64>) -> Stream<'s, u64, C> {
    source::<_, CapacityContainerBuilder<C>, _, _>(scope, "Source", |_capability, _info| |_output| {})
}
