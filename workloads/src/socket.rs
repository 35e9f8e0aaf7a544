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

/// The longest line a socket source keeps, bytes; a longer one is skipped to its end and
/// counted as malformed (a sender without newlines cannot make a source hold its whole input).
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// A line as a socket source reads it.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// Its bytes, without `\n` or `\r\n` (not necessarily UTF-8).
    Bytes(Vec<u8>),
    /// A line over the bound: how long it was (its bytes were not kept).
    TooLong(usize),
}

impl Line {
    /// What a too-long line is reported as.
    pub fn too_long(len: usize, max: usize) -> String {
        format!("a line of {len} bytes, over the {max}-byte bound: split the input into lines")
    }
}

/// Reads the next line of `reader`, keeping at most `max` bytes of it; `None` at the end of the
/// input (a last line without `\n` is a line).
pub fn read_line(reader: &mut impl BufRead, max: usize) -> std::io::Result<Option<Line>> {
    let (mut line, mut len, mut any) = (Vec::new(), 0usize, false);
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            break;
        }
        any = true;
        let (take, end) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (i, true),
            None => (buf.len(), false),
        };
        if len + take <= max {
            line.extend_from_slice(&buf[..take]);
        } else {
            line = Vec::new();
        }
        len += take;
        reader.consume(take + usize::from(end));
        if end {
            break;
        }
    }
    if !any {
        return Ok(None);
    }
    if len > max {
        // A `\r` before the `\n` is not part of the line.
        return Ok(Some(Line::TooLong(len)));
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(Line::Bytes(line)))
}

/// Calls `f` with every line read from `input` (at most `max` bytes each) until the input ends
/// or `f` returns false.
pub fn for_each_line(input: impl Read, max: usize, mut f: impl FnMut(Line) -> bool) -> std::io::Result<()> {
    let mut reader = BufReader::new(input);
    while let Some(line) = read_line(&mut reader, max)? {
        if !f(line) {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{for_each_line, Line};

    fn lines(input: &[u8], max: usize) -> Vec<Line> {
        let mut out = Vec::new();
        for_each_line(input, max, |l| {
            out.push(l);
            true
        })
        .unwrap();
        out
    }

    #[test]
    fn lines_split() {
        let b = |s: &str| Line::Bytes(s.as_bytes().to_vec());
        assert_eq!(lines(b"a b\r\n{\"text\":\"x y\"}\nbad\n", 100), [b("a b"), b("{\"text\":\"x y\"}"), b("bad")]);
        assert_eq!(lines(b"\n\nlast", 100), [b(""), b(""), b("last")]);
        assert_eq!(lines(b"", 100), []);
    }

    #[test]
    fn a_line_over_the_bound_is_skipped_to_its_end_and_reported() {
        let long = "x".repeat(10_000);
        let input = format!("ok\n{long}\r\nnext\n{long}");
        let b = |s: &str| Line::Bytes(s.as_bytes().to_vec());
        // The line's length counts its \r (it was not kept, so not trimmed).
        assert_eq!(lines(input.as_bytes(), 100), [b("ok"), Line::TooLong(10_001), b("next"), Line::TooLong(10_000)]);
        // Exactly at the bound is kept.
        assert_eq!(lines(b"abc\n", 3), [b("abc")]);
    }
}
