//! Server-side HTTP/1.1: reading requests off a connection (keeping their raw bytes) and writing
//! responses. Framing by `Content-Length` or `Transfer-Encoding: chunked`; anything else that is
//! not a well-formed request becomes an error status and the connection closes.

use std::io::{self, Read, Write};

/// Largest request head (request line and headers) accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted.
pub(super) const MAX_BODY: usize = 16 * 1024 * 1024;
/// Largest chunk-size or trailer line accepted in a chunked body.
const MAX_LINE: usize = 4096;
/// Bytes asked of the socket per read.
const READ_SIZE: usize = 16 * 1024;

/// One parsed request and the exact bytes it arrived as.
#[derive(Debug)]
pub(super) struct Request {
    pub(super) method: String,
    pub(super) target: String,
    pub(super) body: Vec<u8>,
    pub(super) raw: Vec<u8>,
    /// Whether the client allows another request on this connection.
    pub(super) keep_alive: bool,
    /// The `Cookie` header values, joined with `; ` when there are several; empty when none.
    pub(super) cookie: String,
}

/// Why no request could be read.
#[derive(Debug)]
pub(super) enum ReadError {
    /// The peer closed, went idle past the read timeout, or the socket failed: close quietly.
    Gone,
    /// The bytes are not a request we accept: answer `status` and close.
    Bad {
        status: u16,
        reason: String,
        raw: Vec<u8>,
    },
}

/// Reads successive requests from one connection. Bytes after a request stay buffered for the
/// next one (pipelining).
pub(super) struct RequestReader<R> {
    inner: R,
    buf: Vec<u8>,
}

enum Framing {
    Length(usize),
    Chunked,
}

impl<R: Read> RequestReader<R> {
    pub(super) fn new(inner: R) -> Self {
        RequestReader {
            inner,
            buf: Vec::new(),
        }
    }

    /// The next request on the connection.
    pub(super) fn next_request(&mut self) -> Result<Request, ReadError> {
        let head_end = self.head_end()?;
        let head = String::from_utf8(self.buf[..head_end].to_vec())
            .map_err(|_| self.bad(400, "request head is not UTF-8"))?;
        let mut lines = head.split('\n').map(|l| l.trim_end_matches('\r'));
        let request_line = lines.next().unwrap_or("");
        let mut parts = request_line.split(' ');
        let (method, target, version) = match (parts.next(), parts.next(), parts.next()) {
            (Some(m), Some(t), Some(v)) if parts.next().is_none() => (m, t, v),
            _ => return Err(self.bad(400, "malformed request line")),
        };
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(self.bad(400, "malformed method"));
        }
        if !target.starts_with('/') {
            return Err(self.bad(400, "target must start with '/'"));
        }
        let http10 = match version {
            "HTTP/1.1" => false,
            "HTTP/1.0" => true,
            _ => return Err(self.bad(400, "unsupported HTTP version")),
        };
        // Sizes are read as u64 so that a size beyond a 32-bit usize is "too large" (413), as on
        // a 64-bit host, and not "malformed" (400).
        let mut content_length: Option<u64> = None;
        let mut chunked = false;
        let mut connection = String::new();
        let mut cookies: Vec<&str> = Vec::new();
        for line in lines.filter(|l| !l.is_empty()) {
            let Some((name, value)) = line.split_once(':') else {
                return Err(self.bad(400, "header line without ':'"));
            };
            if name.is_empty() || name.contains([' ', '\t']) {
                return Err(self.bad(400, "malformed header name"));
            }
            let value = value.trim();
            if name.eq_ignore_ascii_case("Content-Length") {
                let Ok(n) = value.parse::<u64>() else {
                    return Err(self.bad(400, "malformed Content-Length"));
                };
                if content_length.is_some_and(|old| old != n) {
                    return Err(self.bad(400, "conflicting Content-Length headers"));
                }
                content_length = Some(n);
            } else if name.eq_ignore_ascii_case("Transfer-Encoding") {
                let last = value.rsplit(',').next().unwrap_or("").trim();
                if !last.eq_ignore_ascii_case("chunked") {
                    return Err(self.bad(400, "unsupported Transfer-Encoding"));
                }
                chunked = true;
            } else if name.eq_ignore_ascii_case("Connection") {
                connection = value.to_ascii_lowercase();
            } else if name.eq_ignore_ascii_case("Cookie") {
                cookies.push(value);
            }
        }
        let has_token = |token: &str| connection.split(',').any(|t| t.trim() == token);
        let keep_alive = if http10 {
            has_token("keep-alive")
        } else {
            !has_token("close")
        };
        let framing = match (chunked, content_length) {
            (true, _) => Framing::Chunked,
            (false, None) => Framing::Length(0),
            (false, Some(n)) => match usize::try_from(n) {
                Ok(n) if n <= MAX_BODY => Framing::Length(n),
                _ => return Err(self.bad(413, "body too large")),
            },
        };
        let (body, end) = match framing {
            Framing::Length(n) => {
                self.fill_to(head_end + n)?;
                (self.buf[head_end..head_end + n].to_vec(), head_end + n)
            }
            Framing::Chunked => self.chunked_body(head_end)?,
        };
        let cookie = cookies.join("; ");
        let raw: Vec<u8> = self.buf.drain(..end).collect();
        Ok(Request {
            method: method.to_owned(),
            target: target.to_owned(),
            body,
            raw,
            keep_alive,
            cookie,
        })
    }

    /// An error answer carrying everything received so far.
    fn bad(&mut self, status: u16, reason: &str) -> ReadError {
        ReadError::Bad {
            status,
            reason: reason.to_owned(),
            raw: std::mem::take(&mut self.buf),
        }
    }

    /// Reads once more from the socket; end of stream or any failure ends the connection.
    fn fill(&mut self) -> Result<(), ReadError> {
        let mut chunk = [0u8; READ_SIZE];
        match self.inner.read(&mut chunk) {
            Ok(0) | Err(_) => Err(ReadError::Gone),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
        }
    }

    fn fill_to(&mut self, len: usize) -> Result<(), ReadError> {
        while self.buf.len() < len {
            self.fill()?;
        }
        Ok(())
    }

    /// The index just after the blank line that ends the head (`\r\n\r\n` or `\n\n`).
    fn head_end(&mut self) -> Result<usize, ReadError> {
        let mut scanned = 0;
        loop {
            if let Some(end) = find_blank_line(&self.buf, scanned) {
                return Ok(end);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(self.bad(431, "request head too large"));
            }
            scanned = self.buf.len().saturating_sub(3);
            self.fill()?;
        }
    }

    /// The index of the LF ending the line that starts at `from`.
    fn line_end(&mut self, from: usize) -> Result<usize, ReadError> {
        loop {
            if let Some(i) = self.buf[from..].iter().position(|&b| b == b'\n') {
                return Ok(from + i);
            }
            if self.buf.len() - from > MAX_LINE {
                return Err(self.bad(400, "chunk line too long"));
            }
            self.fill()?;
        }
    }

    /// Decodes a chunked body starting at `start`; returns it and the index after the trailers.
    fn chunked_body(&mut self, start: usize) -> Result<(Vec<u8>, usize), ReadError> {
        let mut body = Vec::new();
        let mut pos = start;
        loop {
            let end = self.line_end(pos)?;
            let line = String::from_utf8_lossy(&self.buf[pos..end]).into_owned();
            let size_text = line.trim_end_matches('\r').split(';').next().unwrap_or("");
            let Ok(size) = u64::from_str_radix(size_text.trim(), 16) else {
                return Err(self.bad(400, "malformed chunk size"));
            };
            pos = end + 1;
            // Chunk extensions make the raw bytes outgrow the decoded body; bound them too.
            if pos - start > MAX_BODY + MAX_HEAD {
                return Err(self.bad(413, "chunked body too large"));
            }
            if size == 0 {
                break;
            }
            let size = match usize::try_from(size) {
                Ok(size) if size <= MAX_BODY - body.len() => size,
                _ => return Err(self.bad(413, "body too large")),
            };
            self.fill_to(pos + size + 2)?;
            body.extend_from_slice(&self.buf[pos..pos + size]);
            pos += size;
            match &self.buf[pos..pos + 2] {
                b"\r\n" => pos += 2,
                [b'\n', _] => pos += 1,
                _ => return Err(self.bad(400, "chunk not followed by CRLF")),
            }
        }
        // Trailer fields until the blank line; bounded by the head limit.
        loop {
            let end = self.line_end(pos)?;
            let blank = self.buf[pos..end].iter().all(|&b| b == b'\r');
            pos = end + 1;
            if blank {
                return Ok((body, pos));
            }
            if pos - start > MAX_BODY + MAX_HEAD {
                return Err(self.bad(431, "trailers too large"));
            }
        }
    }
}

fn find_blank_line(buf: &[u8], from: usize) -> Option<usize> {
    (from..buf.len()).find_map(|i| {
        if buf[i] != b'\n' {
            return None;
        }
        match buf.get(i + 1..) {
            Some([b'\n', ..]) => Some(i + 2),
            Some([b'\r', b'\n', ..]) => Some(i + 3),
            _ => None,
        }
    })
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        406 => "Not Acceptable",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Writes one response with the headers every reply of the fake server carries, then `extra`
/// (the registry answer's `Set-Cookie`, say).
pub(super) fn write_response(
    out: &mut impl Write,
    status: u16,
    body: &str,
    date: &str,
    extra: &[(&str, String)],
    close: bool,
) -> io::Result<()> {
    let mut bytes = format!(
        "HTTP/1.1 {status} {}\r\nDate: {date}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\n",
        reason_phrase(status),
        body.len()
    );
    for (name, value) in extra {
        bytes.push_str(&format!("{name}: {value}\r\n"));
    }
    if close {
        bytes.push_str("Connection: close\r\n");
    }
    bytes.push_str("\r\n");
    bytes.push_str(body);
    out.write_all(bytes.as_bytes())?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::SplitMix64;

    fn read_all(input: &[u8]) -> Vec<Result<Request, ReadError>> {
        let mut reader = RequestReader::new(input);
        let mut out = Vec::new();
        for _ in 0..10 {
            let next = reader.next_request();
            let stop = next.is_err();
            out.push(next);
            if stop {
                break;
            }
        }
        out
    }

    #[test]
    fn reads_pipelined_requests_with_raw_bytes() {
        let first = b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc".as_slice();
        let second = b"GET /b HTTP/1.0\n\n".as_slice();
        let all = [first, second].concat();
        let results = read_all(&all);
        let Ok(a) = &results[0] else { panic!() };
        assert_eq!((a.method.as_str(), a.target.as_str()), ("POST", "/a"));
        assert_eq!(a.body, b"abc");
        assert_eq!(a.raw, first);
        assert!(a.keep_alive);
        let Ok(b) = &results[1] else { panic!() };
        assert_eq!(b.raw, second);
        assert!(!b.keep_alive);
        assert!(matches!(results[2], Err(ReadError::Gone)));
    }

    #[test]
    fn joins_cookie_headers() {
        let wire = b"GET /a HTTP/1.1\r\nCookie: token=ab, timestamp=1\r\ncookie:  x=2 \r\n\r\n\
                     GET /b HTTP/1.1\r\n\r\n";
        let results = read_all(wire);
        let Ok(a) = &results[0] else { panic!() };
        assert_eq!(a.cookie, "token=ab, timestamp=1; x=2");
        let Ok(b) = &results[1] else { panic!() };
        assert_eq!(b.cookie, "");
    }

    #[test]
    fn decodes_chunked_bodies_with_extensions_and_trailers() {
        let wire = b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
                     4;x=y\r\nID=1\r\n2\r\n&R\r\n0\r\nX-T: 1\r\n\r\n";
        let results = read_all(wire);
        let Ok(req) = &results[0] else { panic!() };
        assert_eq!(req.body, b"ID=1&R");
        assert_eq!(req.raw, wire);
    }

    #[test]
    fn refuses_malformed_heads_and_oversized_bodies() {
        for wire in [
            b"garbage\r\n\r\n".as_slice(),
            b"GET /x HTTP/1.1\r\nno colon\r\n\r\n",
            b"GET x HTTP/1.1\r\n\r\n",
            b"POST /x HTTP/1.1\r\nContent-Length: zz\r\n\r\n",
            b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ] {
            let results = read_all(wire);
            assert!(
                matches!(&results[0], Err(ReadError::Bad { status: 400, raw, .. }) if raw == wire),
                "{:?}",
                String::from_utf8_lossy(wire)
            );
        }
        // Just over the limit, and over a 32-bit usize (which must not read as malformed).
        for length in [MAX_BODY as u64 + 1, u64::from(u32::MAX) + 1] {
            let huge = format!("POST /x HTTP/1.1\r\nContent-Length: {length}\r\n\r\n");
            let results = read_all(huge.as_bytes());
            assert!(
                matches!(&results[0], Err(ReadError::Bad { status: 413, .. })),
                "Content-Length {length}"
            );
        }
        let huge_chunk =
            b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n";
        let results = read_all(huge_chunk);
        assert!(matches!(
            &results[0],
            Err(ReadError::Bad { status: 413, .. })
        ));
    }

    #[test]
    fn many_chunks_with_long_extensions_are_refused() {
        let head = b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".as_slice();
        // One data byte per chunk, behind an extension just under the line limit.
        let chunk = format!("1;{}\r\na\r\n", "x".repeat(MAX_LINE - 100));
        let count = (MAX_BODY + MAX_HEAD) / chunk.len() + 2;
        let mut wire = head.to_vec();
        for _ in 0..count {
            wire.extend_from_slice(chunk.as_bytes());
        }
        wire.extend_from_slice(b"0\r\n\r\n");
        let results = read_all(&wire);
        let status = match &results[0] {
            Err(ReadError::Bad { status, .. }) => Some(*status),
            _ => None,
        };
        assert_eq!(status, Some(413));
    }

    #[test]
    fn random_input_never_panics() {
        const ALPHABET: &[u8] = b"\r\n0123456789abcdefGET /:; \x00\xff";
        let mut rng = SplitMix64::new(0x2545_F491_4F6C_DD1D);
        let prefixes: [&[u8]; 3] = [
            b"",
            b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST /x HTTP/1.1\r\nContent-Length: 5\r\n",
        ];
        for round in 0..3000 {
            let mut input = prefixes[round % 3].to_vec();
            for _ in 0..(round % 97) {
                input.push(ALPHABET[rng.below(ALPHABET.len() as u64) as usize]);
            }
            read_all(&input);
        }
    }
}
