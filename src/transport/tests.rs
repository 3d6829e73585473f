//! The HTTP shell against a scripted loopback peer: the bytes we send, and how we take what
//! comes back (chunked bodies, cookies, error statuses, oversized bodies, silence).

use super::*;
use crate::config::AgentConfig;
use crate::protocol::request;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::mpsc;
use std::thread;

fn section(url: &str) -> ServerSection {
    let text = format!(
        "[server]\nurl = \"{url}\"\nconnect_timeout_secs = 2\nio_timeout_secs = 1\nmax_response_bytes = 1024\n\n[device]\nserial = \"T1\"\ndialect = \"attendance\"\n"
    );
    crate::config::parse::<AgentConfig>(&text, Path::new("t.toml"))
        .unwrap()
        .server
}

/// Serves one canned response per connection, in order; sends back each request's raw bytes.
fn peer(responses: Vec<String>) -> (String, mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for response in responses {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut raw = Vec::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                raw.extend_from_slice(line.as_bytes());
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            raw.extend_from_slice(&body);
            let _ = tx.send(raw);
            let mut stream = stream;
            if !response.is_empty() {
                let _ = stream.write_all(response.as_bytes());
                let _ = stream.flush();
            } else {
                // Say nothing until the client gives up.
                thread::sleep(Duration::from_secs(3));
            }
        }
    });
    (url, rx)
}

#[test]
fn sends_exactly_the_protocol_headers() {
    let (url, seen) = peer(vec![
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK".to_owned(),
    ]);
    let mut t = HttpTransport::new(&section(&url), DecodeLevel::Nothing).unwrap();
    let resp = t.exchange(&request::ping("3383154200002")).unwrap();
    assert_eq!((resp.status, resp.text().as_str()), (200, "OK"));
    let raw = String::from_utf8(seen.recv().unwrap()).unwrap();
    let authority = url.trim_start_matches("http://");
    assert!(
        raw.starts_with("GET /iclock/ping?SN=3383154200002 HTTP/1.1\r\n"),
        "{raw}"
    );
    let headers: Vec<&str> = raw.lines().skip(1).filter(|l| !l.is_empty()).collect();
    assert!(
        headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case(&format!("host: {authority}"))),
        "{raw}"
    );
    assert!(
        headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case("user-agent: iClock Proxy/1.09")),
        "{raw}"
    );
    assert!(
        !headers
            .iter()
            .any(|h| h.to_ascii_lowercase().starts_with("accept-encoding")),
        "no automatic headers: {raw}"
    );
}

#[test]
fn reads_chunked_bodies_and_sends_cookies_back() {
    let (url, seen) = peer(vec![
        "HTTP/1.1 200 OK\r\nSet-Cookie: sid=abc123; Path=/\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nC:1:\r\n4\r\nINFO\r\n0\r\n\r\n".to_owned(),
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK".to_owned(),
    ]);
    let mut t = HttpTransport::new(&section(&url), DecodeLevel::Nothing).unwrap();
    let first = t.exchange(&request::getrequest("T1", None)).unwrap();
    assert_eq!(first.text(), "C:1:INFO");
    let _ = seen.recv().unwrap();
    t.exchange(&request::devicecmd("T1", &["ID=1&Return=0&CMD=INFO"]))
        .unwrap();
    let raw = String::from_utf8(seen.recv().unwrap()).unwrap();
    assert!(
        raw.lines()
            .any(|l| l.eq_ignore_ascii_case("cookie: sid=abc123")),
        "{raw}"
    );
    assert!(raw.ends_with("\r\n\r\nID=1&Return=0&CMD=INFO"), "{raw}");
}

#[test]
fn error_statuses_are_data_and_bodies_are_capped() {
    let (url, _seen) = peer(vec![
        "HTTP/1.1 503 Busy\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy".to_owned(),
        "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned(),
        // One byte over the cap.
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: 1025\r\nConnection: close\r\n\r\n{}",
            "x".repeat(1025)
        ),
    ]);
    let mut t = HttpTransport::new(&section(&url), DecodeLevel::Nothing).unwrap();
    let busy = t.exchange(&request::ping("T1")).unwrap();
    assert_eq!((busy.status, busy.text().as_str()), (503, "busy"));
    let redirect = t.exchange(&request::ping("T1")).unwrap();
    assert_eq!(redirect.status, 302, "redirects are not followed");
    assert_eq!(
        t.exchange(&request::ping("T1")),
        Err(TransportError::BodyTooLarge { limit: 1024 })
    );
}

#[test]
fn silence_times_out_and_a_closed_port_fails_to_connect() {
    let (url, _seen) = peer(vec![String::new()]);
    let mut t = HttpTransport::new(&section(&url), DecodeLevel::Nothing).unwrap();
    assert!(matches!(
        t.exchange(&request::ping("T1")),
        Err(TransportError::Timeout { .. })
    ));

    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut t = HttpTransport::new(&section(&url), DecodeLevel::Nothing).unwrap();
    assert!(matches!(
        t.exchange(&request::ping("T1")),
        Err(TransportError::Connect { .. })
    ));
}
