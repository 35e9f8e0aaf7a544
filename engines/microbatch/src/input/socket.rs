//! `socketTextStream`: a receiver reading lines from a TCP connection.

use crate::context::StreamingContext;
use crate::dstream::DStream;
use crate::StreamingError;

impl StreamingContext {
    /// `socketTextStream(addr)`: the lines read from a TCP connection to `addr` (retried for
    /// 10 s), decoded as UTF-8 (invalid bytes replaced), through a receiver.
    pub fn socket_text_stream(&self, addr: &str) -> Result<DStream<String>, StreamingError> {
        let addr = addr.to_owned();
        self.receiver_stream(move |store: &mut dyn FnMut(String) -> bool| {
            let stream = workloads::socket::connect(&addr)?;
            workloads::socket::for_each_line(stream, |bytes| store(String::from_utf8_lossy(&bytes).into_owned()))
                .map_err(|e| format!("reading {addr}: {e}"))
        })
    }
}
