//! HTTP request and response values exchanged between the session and the transport shell.
//!
//! The protocol layer describes a request completely (method, target, the headers the protocol
//! asks for, body); the transport adds `Host`, `Content-Length` and cookies. Status codes are
//! data here, never errors (house style §2.5).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: Method,
    /// Path and query, e.g. `/iclock/getrequest?SN=123`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Headers every request carries, as in the seed's examples [000 §5, §11.2]. The user agent is the
/// one real terminals send (server-dialects §2.3); some servers look for it.
pub const USER_AGENT: &str = "iClock Proxy/1.09";

impl HttpRequest {
    pub fn get(target: String) -> Self {
        HttpRequest {
            method: Method::Get,
            target,
            headers: standard_headers(),
            body: Vec::new(),
        }
    }

    pub fn post(target: String, body: Vec<u8>) -> Self {
        HttpRequest {
            method: Method::Post,
            target,
            headers: standard_headers(),
            body,
        }
    }

    /// The request as HTTP/1.1 bytes, with `Host` and (for a POST) `Content-Length` filled in the
    /// way the transport sends them. Used by golden tests and by payload-level protocol logging.
    pub fn to_wire(&self, host: &str) -> Vec<u8> {
        let mut out = format!(
            "{} {} HTTP/1.1\r\nHost: {host}\r\n",
            self.method.as_str(),
            self.target
        );
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        if self.method == Method::Post {
            out.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    /// The path without the query string.
    pub fn path(&self) -> &str {
        target_path(&self.target)
    }

    /// The value of one query parameter, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        query_param(&self.target, name)
    }
}

fn standard_headers() -> Vec<(String, String)> {
    vec![
        ("User-Agent".into(), USER_AGENT.into()),
        ("Accept".into(), "*/*".into()),
    ]
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text. Non-UTF-8 bytes (a GB2312 name, say) become U+FFFD rather than failing the
    /// whole reply.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The server's clock from the `Date` header, in Unix seconds.
    pub fn date(&self) -> Option<i64> {
        self.header("Date").and_then(super::civil::parse_http_date)
    }
}

/// Why an exchange produced no response. Kept apart from "the server said no" (a status code),
/// which is data in [`HttpResponse`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("connect to {target} failed: {detail}")]
    Connect { target: String, detail: String },
    #[error("timed out during {phase}")]
    Timeout { phase: String },
    #[error("response body larger than {limit} bytes")]
    BodyTooLarge { limit: u64 },
    #[error("TLS failure: {0}")]
    Tls(String),
    #[error("I/O failure: {0}")]
    Io(String),
    #[error("malformed HTTP response: {0}")]
    Protocol(String),
}

/// Percent-encodes a query value: RFC 3986 unreserved characters stay, everything else (space
/// included, as in the seed's `Ver%202.0.12`) becomes `%XX`. `,` stays too, because INFO joins its
/// ten values with bare commas [000 §9 example].
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b',' | b':') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes and `+` (as a space); malformed escapes are kept as they are.
pub fn decode_query_value(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex_digit(bytes[i + 1]), hex_digit(bytes[i + 2]))
            {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_digit(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// The path of a request target, without the query string.
pub fn target_path(target: &str) -> &str {
    target.split('?').next().unwrap_or("")
}

/// The value of `name` in a request target's query string (first match, case-sensitive name as
/// the protocol's parameters are).
pub fn query_param(target: &str, name: &str) -> Option<String> {
    let query = target.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| decode_query_value(v))
    })
}

/// Shows a request line with secrets in the query (`pushcommkey`) masked, for logs.
pub struct RedactedTarget<'a>(pub &'a str);

impl fmt::Display for RedactedTarget<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some((path, query)) = self.0.split_once('?') else {
            return f.write_str(self.0);
        };
        write!(f, "{path}?")?;
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                f.write_str("&")?;
            }
            match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("pushcommkey") => write!(f, "{k}=***")?,
                _ => f.write_str(pair)?,
            }
        }
        Ok(())
    }
}

/// The cookie one `Set-Cookie` header value sets [RFC 6265 §5.2], as far as a client of one server
/// needs it: see [`set_cookie_pair`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetCookie<'a> {
    /// The cookie name, trimmed.
    pub name: &'a str,
    /// The value, trimmed, one pair of surrounding double quotes removed (`JSESSIONID="x"` is `x`).
    pub value: &'a str,
    /// The header deletes the cookie rather than setting it: `Max-Age` of zero or less, or an empty
    /// value.
    pub expired: bool,
}

/// Reads the `name=value` pair and the `Max-Age` attribute of a `Set-Cookie` header value; other
/// attributes (`Path`, `Expires`, `HttpOnly`, …) are ignored. `None` when there is no pair, or the
/// name is empty or holds a space or comma. The one Set-Cookie reader of the agent: the transport's
/// cookie jar and the Security dialect's SessionID lookup both use it.
pub fn set_cookie_pair(header: &str) -> Option<SetCookie<'_>> {
    let mut parts = header.split(';');
    let (name, value) = parts.next()?.split_once('=')?;
    let name = name.trim();
    if name.is_empty() || name.contains([' ', ',']) {
        return None;
    }
    let value = value.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    let max_age_passed = parts.any(|attr| {
        attr.split_once('=').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("max-age")
                && v.trim().parse::<i64>().is_ok_and(|secs| secs <= 0)
        })
    });
    Some(SetCookie {
        name,
        value,
        expired: max_age_passed || value.is_empty(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_query_values_like_the_seed_example() {
        assert_eq!(
            encode_query_value("Ver 2.0.12-20150625"),
            "Ver%202.0.12-20150625"
        );
        assert_eq!(encode_query_value("a&b=c"), "a%26b%3Dc");
        assert_eq!(decode_query_value("Ver%202.0.12"), "Ver 2.0.12");
        assert_eq!(decode_query_value("100%"), "100%");
        assert_eq!(decode_query_value("%zz+x"), "%zz x");
    }

    #[test]
    fn finds_query_parameters() {
        let t = "/iclock/cdata?SN=ABC&table=ATTLOG&Stamp=9999";
        assert_eq!(query_param(t, "table").as_deref(), Some("ATTLOG"));
        assert_eq!(query_param(t, "Stamp").as_deref(), Some("9999"));
        assert_eq!(query_param(t, "stamp"), None);
        assert_eq!(query_param("/iclock/ping", "SN"), None);
    }

    #[test]
    fn redacts_the_comm_key_in_logged_targets() {
        let shown = RedactedTarget("/iclock/cdata?SN=1&pushcommkey=secret&x=1").to_string();
        assert_eq!(shown, "/iclock/cdata?SN=1&pushcommkey=***&x=1");
    }

    #[test]
    fn writes_wire_form_with_host_and_length() {
        let req = HttpRequest::post(
            "/iclock/devicecmd?SN=1".into(),
            b"ID=1&Return=0&CMD=INFO".to_vec(),
        );
        let wire = String::from_utf8(req.to_wire("h:80")).unwrap();
        assert!(wire.starts_with("POST /iclock/devicecmd?SN=1 HTTP/1.1\r\nHost: h:80\r\n"));
        assert!(wire.ends_with("Content-Length: 22\r\n\r\nID=1&Return=0&CMD=INFO"));
    }

    #[test]
    fn reads_set_cookie_pairs_unquoted_and_expired() {
        let live = |name, value| {
            Some(SetCookie {
                name,
                value,
                expired: false,
            })
        };
        assert_eq!(
            set_cookie_pair(" JSESSIONID = abc ; Path=/; HttpOnly"),
            live("JSESSIONID", "abc")
        );
        assert_eq!(set_cookie_pair("JSESSIONID=\"x\""), live("JSESSIONID", "x"));
        assert_eq!(set_cookie_pair("a=b=c"), live("a", "b=c"));
        assert_eq!(set_cookie_pair("a=1; Max-Age=60"), live("a", "1"));
        for expired in ["a=1; Max-Age=0", "a=1; max-age = -1", "a=", "a=\"\""] {
            assert_eq!(
                set_cookie_pair(expired).map(|c| (c.name, c.expired)),
                Some(("a", true)),
                "{expired}"
            );
        }
        for junk in ["", "novalue", "=x", "a b=1", "a,b=1"] {
            assert_eq!(set_cookie_pair(junk), None, "{junk}");
        }
    }
}
