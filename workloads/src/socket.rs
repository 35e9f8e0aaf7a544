//! What every engine's socket source shares: connecting to a sender that may start later, and
//! turning a line as `streambench feed` sends it into a workload's event.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How long a socket source keeps trying to connect to its sender.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to `addr`, retrying for [`CONNECT_TIMEOUT`] (the sender may start after the
/// engine); the error names the fix.
pub fn connect(addr: &str) -> Result<TcpStream, String> {
    let started = Instant::now();
    loop {
        match TcpStream::connect(addr) {
            Ok(s) => return Ok(s),
            Err(_) if started.elapsed() < CONNECT_TIMEOUT => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => {
                return Err(format!(
                    "cannot connect to {addr} within {} s: {e}: start `streambench feed --listen {addr}` first",
                    CONNECT_TIMEOUT.as_secs()
                ))
            }
        }
    }
}

/// Calls `f` with every line read from `input` (its bytes, without `\n` or `\r\n`: not
/// necessarily UTF-8) until the input ends or `f` returns false.
pub fn for_each_line(input: impl Read, mut f: impl FnMut(Vec<u8>) -> bool) -> std::io::Result<()> {
    for line in BufReader::new(input).split(b'\n') {
        let mut bytes = line?;
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        if !f(bytes) {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_split() {
        let mut lines = Vec::new();
        super::for_each_line(&b"a b\r\n{\"text\":\"x y\"}\nbad\n"[..], |l| {
            lines.push(String::from_utf8(l).unwrap());
            true
        })
        .unwrap();
        assert_eq!(lines, ["a b", "{\"text\":\"x y\"}", "bad"]);
    }
}
