//! `socketTextStream`: a receiver reading lines from a TCP connection, restarted as Spark's
//! `SocketReceiver` is when the connection cannot be made, breaks or ends.

use std::net::TcpStream;
use std::time::Duration;

use workloads::socket::{for_each_line, Line, MAX_LINE_BYTES};

use crate::context::StreamingContext;
use crate::dstream::DStream;
use crate::input::receiver::Receive;
use crate::StreamingError;

/// How long one connection attempt may take.
const CONNECT: Duration = Duration::from_secs(5);

impl StreamingContext {
    /// `socketTextStream(host:port)`: the lines read from a TCP connection to `addr`, decoded
    /// as UTF-8 (invalid bytes replaced), through a receiver. As in Spark, the receiver is
    /// restarted (after [`StreamingConf::receiver_restart_delay`](crate::StreamingConf)) when it
    /// cannot connect, when the connection breaks and when the sender closes it: it reconnects
    /// and batches go on meanwhile. A line over [`MAX_LINE_BYTES`] is skipped to its end; each
    /// restart and skipped line is in [`StreamingContext::receiver_events`].
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use microbatch::{StreamingConf, StreamingContext};
    /// // Spark's NetworkWordCount: run `nc -lk 9999` and type words.
    /// let conf = StreamingConf { executors: 2, ..StreamingConf::default() };
    /// let mut ssc = StreamingContext::new(conf, Duration::from_secs(1)).unwrap();
    /// let lines = ssc.socket_text_stream("127.0.0.1:9999").unwrap();
    /// let words = lines.flat_map(|l| l.split(' ').map(str::to_owned).collect::<Vec<_>>()).unwrap();
    /// let counts = words.map(|w| (w.clone(), 1u64)).unwrap().reduce_by_key(|a, b| a + b).unwrap();
    /// counts.print().unwrap();
    /// ssc.start().unwrap();
    /// ssc.await_termination().unwrap();
    /// ```
    pub fn socket_text_stream(&self, addr: &str) -> Result<DStream<String>, StreamingError> {
        let addr = addr.to_owned();
        let mut resolved = None;
        self.reporting_receiver_stream(
            move |store: &mut dyn FnMut(String) -> bool, report: &dyn Fn(String), _stored| {
                let target = match resolved.or_else(|| resolve(&addr)) {
                    Some(a) => a,
                    None => return Receive::Restart(format!("cannot resolve {addr}: give host:port")),
                };
                resolved = Some(target);
                let stream = match TcpStream::connect_timeout(&target, CONNECT) {
                    Ok(s) => s,
                    Err(e) => return Receive::Restart(format!("error connecting to {addr}: {e}")),
                };
                let mut stopped = false;
                let read = for_each_line(stream, MAX_LINE_BYTES, |line| match line {
                    Line::Bytes(bytes) => {
                        stopped = !store(String::from_utf8_lossy(&bytes).into_owned());
                        !stopped
                    }
                    Line::TooLong(len) => {
                        report(format!("{addr}: skipped {}", Line::too_long(len, MAX_LINE_BYTES)));
                        true
                    }
                });
                match read {
                    _ if stopped => Receive::Done,
                    Ok(()) => Receive::Restart(format!("{addr}: the socket data stream had no more data")),
                    Err(e) => Receive::Restart(format!("error receiving data from {addr}: {e}")),
                }
            },
        )
    }
}

/// The first address `addr` resolves to.
fn resolve(addr: &str) -> Option<std::net::SocketAddr> {
    std::net::ToSocketAddrs::to_socket_addrs(addr).ok()?.next()
}
