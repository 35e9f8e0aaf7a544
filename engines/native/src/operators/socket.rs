//! `Source` from a socket: text lines or JSON events read from a TCP address, as `streambench feed`
//! sends them (and as Spark's `socketTextStream` reads: the engine connects, the feeder listens).
//!
//! One receiver thread per run (in process 0) reads lines into a bounded channel; worker 0 drains
//! it. Socket events carry no schedule, so event time and the latency reference are the arrival
//! time (ingestion time). A line that does not parse is counted as malformed and reported, never
//! fatal. The stream ends when the sender closes the connection.

use std::cell::RefCell;
use std::io::{BufRead, BufReader};
use std::rc::Rc;
use std::sync::mpsc::{self, Receiver as MpscReceiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::{Scope, Stream};
use workloads::{Recorder, RunSpec};

use crate::time::{CHUNK, TICK_NS};
use crate::NativeError;

pub use workloads::socket::CONNECT_TIMEOUT;

/// A line as read: text, or bytes that are not UTF-8.
type RawLine = Result<String, Vec<u8>>;

/// Lines read from the socket, shared with the worker that emits them.
#[derive(Clone)]
pub struct Receiver {
    lines: Arc<Mutex<MpscReceiver<Vec<RawLine>>>>,
}

impl Receiver {
    /// Connects to `addr` (retrying for [`CONNECT_TIMEOUT`]) and starts reading lines.
    pub fn connect(addr: &str, _spec: &RunSpec) -> Result<Self, NativeError> {
        let stream = workloads::socket::connect(addr).map_err(NativeError::Socket)?;
        let (tx, rx) = mpsc::sync_channel::<Vec<RawLine>>(1024);
        std::thread::Builder::new()
            .name("socket-receiver".into())
            .spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut chunk = Vec::with_capacity(CHUNK);
                loop {
                    let mut bytes = Vec::new();
                    match reader.read_until(b'\n', &mut bytes) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                                bytes.pop();
                            }
                            // Invalid UTF-8 is passed on as such, to be counted as malformed.
                            chunk.push(String::from_utf8(bytes).map_err(|e| e.into_bytes()));
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
        Ok(Self { lines: Arc::new(Mutex::new(rx)) })
    }
}

/// A stream of the records parsed from the socket's lines.
pub fn stream<'s, D, P>(
    scope: Scope<'s, u64>,
    receiver: Receiver,
    recorder: Rc<RefCell<Recorder>>,
    parse: P,
) -> Stream<'s, u64, Vec<D>>
where
    D: timely::ExchangeData,
    P: Fn(&str, u64, &mut Vec<D>) -> Result<(), String> + 'static,
{
    source(scope, "Source", move |capability, info| {
        let activator = scope.activator_for(Rc::clone(&info.address));
        let mut capability = Some(capability);
        let mut read = 0u64;
        let mut buffer = Vec::new();
        move |output| {
            let Some(cap) = capability.as_mut() else { return };
            let now = recorder.borrow().now_ns();
            let tick = now / TICK_NS;
            if *cap.time() < tick {
                cap.downgrade(&tick);
            }
            let mut closed = false;
            let mut lines = 0;
            {
                let rx = receiver.lines.lock().expect("receiver lock");
                for _ in 0..64 {
                    match rx.try_recv() {
                        Ok(chunk) => {
                            let mut r = recorder.borrow_mut();
                            for line in chunk {
                                lines += 1;
                                let line = match line {
                                    Ok(line) => line,
                                    Err(bytes) => {
                                        r.malformed(|| format!("not UTF-8 ({} bytes)", bytes.len()));
                                        continue;
                                    }
                                };
                                if line.trim().is_empty() {
                                    continue;
                                }
                                if let Err(why) = parse(&line, now, &mut buffer) {
                                    r.malformed(|| format!("{why}: {}", line.chars().take(80).collect::<String>()));
                                }
                            }
                        }
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => {
                            closed = true;
                            break;
                        }
                    }
                }
            }
            if lines > 0 {
                let mut r = recorder.borrow_mut();
                r.inputs(lines, now);
                r.read(0, read, read + lines, now, *cap.time() * TICK_NS);
            }
            read += lines;
            if !buffer.is_empty() {
                output.session(&*cap).give_iterator(buffer.drain(..));
            }
            if closed {
                recorder.borrow_mut().partition_end(0, read);
                capability = None;
            } else if lines > 0 {
                activator.activate();
            } else {
                activator.activate_after(Duration::from_millis(1));
            }
        }
    })
}

/// A stream with no records, for workers that do not read the socket.
pub fn empty<'s, D: timely::ExchangeData>(scope: Scope<'s, u64>) -> Stream<'s, u64, Vec<D>> {
    source::<_, timely::container::CapacityContainerBuilder<Vec<D>>, _, _>(scope, "Source", |_capability, _info| {
        |_output| {}
    })
}
