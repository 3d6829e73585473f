//! The HTTP shell: sends a protocol [`HttpRequest`] and returns the [`HttpResponse`].
//!
//! ureq is configured for an unattended device (house style §0.2-3): explicit connect and
//! send/receive timeouts, a cap on the response body, HTTP status as data (never an error), no
//! automatic headers, no redirects. `http://` or `https://` (rustls) follows the server URL.

pub mod cookies;

use crate::config::ServerSection;
use crate::config::types::{DecodeLevel, ServerUrl};
use crate::protocol::http::{HttpRequest, HttpResponse, Method, TransportError};
use cookies::CookieJar;
use std::io::Read;
use std::net::{IpAddr, ToSocketAddrs, UdpSocket};
use std::time::Duration;
use ureq::config::AutoHeaderValue;
use ureq::tls::{RootCerts, TlsConfig};

/// Sends one request. Implemented over HTTP by [`HttpTransport`]; tests substitute an in-memory
/// server.
pub trait Transport {
    fn exchange(&mut self, req: &HttpRequest) -> Result<HttpResponse, TransportError>;

    /// This device's address on the route to the server, for INFO.
    fn local_ip(&mut self) -> Option<IpAddr>;

    /// The security dialect's session token, sent as `Cookie: token=…` from now on (`None`: the
    /// session has none) [note §2.11].
    fn set_session_token(&mut self, token: Option<&str>);
}

pub struct HttpTransport {
    agent: ureq::Agent,
    server: ServerUrl,
    jar: CookieJar,
    max_body: u64,
    decode: DecodeLevel,
    connect_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TransportSetupError(String);

impl HttpTransport {
    pub fn new(
        cfg: &ServerSection,
        decode: DecodeLevel,
    ) -> Result<HttpTransport, TransportSetupError> {
        let connect = Duration::from_secs(cfg.connect_timeout_secs.get());
        let io = Duration::from_secs(cfg.io_timeout_secs.get());
        let mut tls = TlsConfig::builder();
        if let Some(ca_file) = &cfg.ca_file {
            let pem = std::fs::read(ca_file).map_err(|e| {
                TransportSetupError(format!("cannot read CA file {}: {e}", ca_file.display()))
            })?;
            let certs: Vec<_> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<Result<_, _>>()
                .map_err(|e| TransportSetupError(format!("CA file {}: {e}", ca_file.display())))?;
            if certs.is_empty() {
                return Err(TransportSetupError(format!(
                    "CA file {} holds no certificate",
                    ca_file.display()
                )));
            }
            tls = tls.root_certs(RootCerts::new_with_certs(&certs));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(AutoHeaderValue::None)
            .accept(AutoHeaderValue::None)
            .accept_encoding(AutoHeaderValue::None)
            .timeout_resolve(Some(connect))
            .timeout_connect(Some(connect))
            .timeout_send_request(Some(io))
            .timeout_send_body(Some(io))
            .timeout_recv_response(Some(io))
            .timeout_recv_body(Some(io))
            .timeout_global(Some(connect + io * 2))
            .max_response_header_size(16 * 1024)
            .max_idle_connections_per_host(2)
            .tls_config(tls.build())
            .build();
        Ok(HttpTransport {
            agent: config.new_agent(),
            server: cfg.url.clone(),
            jar: CookieJar::new(cfg.token.as_ref().map(|t| t.expose().to_owned())),
            max_body: cfg.max_response_bytes.get(),
            decode,
            connect_timeout: connect,
        })
    }

    fn send(&mut self, req: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let url = self.server.join(&req.target);
        let mut builder = ureq::http::Request::builder()
            .method(req.method.as_str())
            .uri(&url)
            .header("Host", self.server.authority());
        for (name, value) in &req.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(cookie) = self.jar.header() {
            builder = builder.header("Cookie", cookie);
        }
        let result = match req.method {
            Method::Get => builder.body(()).map(|r| self.agent.run(r)),
            Method::Post => builder.body(req.body.as_slice()).map(|r| self.agent.run(r)),
        };
        let mut response = result
            .map_err(|e| TransportError::Protocol(format!("cannot build request for {url}: {e}")))?
            .map_err(|e| map_error(e, &self.server))?;
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        for (name, value) in &headers {
            if name.eq_ignore_ascii_case("set-cookie") {
                self.jar.store(value);
            }
        }
        let status = response.status().as_u16();
        // Read one byte past the limit to tell "exactly at the limit" from "too large".
        let mut body = Vec::new();
        response
            .body_mut()
            .as_reader()
            .take(self.max_body + 1)
            .read_to_end(&mut body)
            .map_err(|e| io_error(e, "reading the response body"))?;
        if body.len() as u64 > self.max_body {
            return Err(TransportError::BodyTooLarge {
                limit: self.max_body,
            });
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

impl Transport for HttpTransport {
    fn exchange(&mut self, req: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let started = crate::clock::MonoStopwatch::start();
        let result = self.send(req);
        crate::logging::log_exchange(self.decode, req, &result, started.elapsed_ms());
        result
    }

    fn set_session_token(&mut self, token: Option<&str>) {
        self.jar.set_session_token(token);
    }

    fn local_ip(&mut self) -> Option<IpAddr> {
        let authority = self.server.authority().to_owned();
        let with_port = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority
        } else {
            format!(
                "{authority}:{}",
                if self.server.is_https() { 443 } else { 80 }
            )
        };
        // Name resolution blocks without a timeout, so it runs on a helper thread we stop
        // waiting for after the connect timeout.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("resolve".into())
            .spawn(move || {
                let addr = with_port.to_socket_addrs().ok().and_then(|mut a| a.next());
                let _ = tx.send(addr);
            })
            .ok()?;
        let server = rx.recv_timeout(self.connect_timeout).ok()??;
        // Connecting a UDP socket sends nothing; it only picks the route and so our address.
        let bind = if server.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let socket = UdpSocket::bind(bind).ok()?;
        socket.connect(server).ok()?;
        socket.local_addr().ok().map(|a| a.ip())
    }
}

fn io_error(e: std::io::Error, doing: &str) -> TransportError {
    if e.kind() == std::io::ErrorKind::TimedOut {
        TransportError::Timeout {
            phase: doing.to_owned(),
        }
    } else {
        TransportError::Io(format!("{doing}: {e}"))
    }
}

fn map_error(e: ureq::Error, server: &ServerUrl) -> TransportError {
    let target = server.authority().to_owned();
    match e {
        ureq::Error::Timeout(phase) => TransportError::Timeout {
            phase: format!("{phase:?}"),
        },
        ureq::Error::HostNotFound => TransportError::Connect {
            target,
            detail: "host not found".into(),
        },
        ureq::Error::ConnectionFailed => TransportError::Connect {
            target,
            detail: "connection failed".into(),
        },
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => TransportError::Connect {
                target,
                detail: io.to_string(),
            },
            _ => io_error(io, "exchange"),
        },
        ureq::Error::BodyExceedsLimit(limit) => TransportError::BodyTooLarge { limit },
        ureq::Error::Tls(msg) => TransportError::Tls(msg.to_owned()),
        ureq::Error::Rustls(e) => TransportError::Tls(e.to_string()),
        other => TransportError::Protocol(other.to_string()),
    }
}

#[cfg(test)]
mod tests;
