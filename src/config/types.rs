//! Config value types that validate themselves while the file is parsed.

use crate::protocol::options::UtcOffset;
use crate::protocol::version::PushVersion;
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// The server's base URL: `http://` or `https://`, a host, an optional port and path prefix.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ServerUrl {
    /// Without a trailing slash; `/iclock/…` is appended to it.
    base: String,
    https: bool,
}

impl ServerUrl {
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The full URL of a request target such as `/iclock/cdata?SN=1`.
    pub fn join(&self, target: &str) -> String {
        format!("{}{target}", self.base)
    }

    /// `host[:port]`, as the `Host` header carries it.
    pub fn authority(&self) -> &str {
        let rest = self
            .base
            .split_once("://")
            .map_or(self.base.as_str(), |(_, r)| r);
        rest.split('/').next().unwrap_or(rest)
    }
}

impl TryFrom<String> for ServerUrl {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        let t = s.trim();
        let (https, rest) = if let Some(r) = t.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = t.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!("{t:?} must start with http:// or https://"));
        };
        let authority = rest.split('/').next().unwrap_or("");
        if authority.is_empty() || authority.starts_with(':') {
            return Err(format!("{t:?} has no host"));
        }
        if let Some((_, port)) = authority.rsplit_once(':')
            && !authority.ends_with(']')
            && port.parse::<u16>().is_err()
        {
            return Err(format!("{t:?} has an invalid port {port:?}"));
        }
        if t.contains(['?', '#', ' ', '\t']) {
            return Err(format!(
                "{t:?} must not contain a query, a fragment or spaces"
            ));
        }
        Ok(ServerUrl {
            base: t.trim_end_matches('/').to_owned(),
            https,
        })
    }
}

impl Serialize for ServerUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.base)
    }
}

/// The device serial number (`SN`): letters and digits [000 G11], plus `-` and `_`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct SerialNumber(String);

impl SerialNumber {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SerialNumber {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(SerialNumber(s))
        } else {
            Err(format!("{s:?} must be 1 to 32 letters, digits, '-' or '_'"))
        }
    }
}

impl From<SerialNumber> for String {
    fn from(s: SerialNumber) -> String {
        s.0
    }
}

/// A value that must never be logged or printed: shown as `<redacted>`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Secret {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        if s.is_empty() || s.chars().any(char::is_control) {
            return Err("must be non-empty text without control characters".into());
        }
        Ok(Secret(s))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

/// An OSDP secure channel base key: 16 bytes as 32 hex digits. Never shown (`<redacted>`).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Scbk(Secret);

impl Scbk {
    /// The key's bytes.
    pub fn bytes(&self) -> [u8; 16] {
        let mut key = [0; 16];
        let hex = self.0.expose().as_bytes();
        for (byte, pair) in key.iter_mut().zip(hex.chunks_exact(2)) {
            // Checked to be hex digits when parsed.
            let digit = |c: u8| char::from(c).to_digit(16).unwrap_or(0) as u8;
            *byte = (digit(pair[0]) << 4) | digit(pair[1]);
        }
        key
    }
}

impl TryFrom<String> for Scbk {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            // Never echo the value: it may be a real key with a typo.
            return Err(format!(
                "must be 32 hex digits (16 bytes), got {} characters",
                s.chars().count()
            ));
        }
        Ok(Scbk(Secret(s)))
    }
}

impl fmt::Debug for Scbk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Scbk {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// A whole number within `[MIN, MAX]`: seconds, counts and byte sizes (the key's name gives the
/// unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "i64", into = "u64")]
pub struct Bounded<const MIN: u64, const MAX: u64>(u64);

impl<const MIN: u64, const MAX: u64> Bounded<MIN, MAX> {
    pub const fn new_const(v: u64) -> Self {
        Bounded(v)
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

impl<const MIN: u64, const MAX: u64> TryFrom<i64> for Bounded<MIN, MAX> {
    type Error = String;

    fn try_from(v: i64) -> Result<Self, String> {
        match u64::try_from(v) {
            Ok(v) if (MIN..=MAX).contains(&v) => Ok(Bounded(v)),
            _ => Err(format!("{v} is outside {MIN}..={MAX}")),
        }
    }
}

impl<const MIN: u64, const MAX: u64> From<Bounded<MIN, MAX>> for u64 {
    fn from(b: Bounded<MIN, MAX>) -> u64 {
        b.0
    }
}

/// The protocol version to announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConfigPushVersion(pub PushVersion);

impl TryFrom<String> for ConfigPushVersion {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        let v: PushVersion = s
            .parse()
            .map_err(|e: crate::protocol::version::VersionError| e.to_string())?;
        if v < PushVersion::new(2, 1, 1) {
            return Err(format!("{v} is older than the oldest PUSH version (2.1.1)"));
        }
        Ok(ConfigPushVersion(v))
    }
}

impl From<ConfigPushVersion> for String {
    fn from(v: ConfigPushVersion) -> String {
        v.0.to_string()
    }
}

/// A fixed UTC offset: `+05:30`, `-03:00`, or the protocol's integer forms (`8`, `330`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZoneSetting(pub UtcOffset);

impl TryFrom<String> for TimeZoneSetting {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        UtcOffset::parse_time_zone(&s).map(TimeZoneSetting)
    }
}

impl From<TimeZoneSetting> for String {
    fn from(t: TimeZoneSetting) -> String {
        t.0.to_string()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn to_filter(self) -> log::LevelFilter {
        match self {
            LogLevel::Error => log::LevelFilter::Error,
            LogLevel::Warn => log::LevelFilter::Warn,
            LogLevel::Info => log::LevelFilter::Info,
            LogLevel::Debug => log::LevelFilter::Debug,
            LogLevel::Trace => log::LevelFilter::Trace,
        }
    }

    pub fn parse(s: &str) -> Option<LogLevel> {
        match s.trim().to_ascii_lowercase().as_str() {
            "error" => Some(LogLevel::Error),
            "warn" | "warning" => Some(LogLevel::Warn),
            "info" => Some(LogLevel::Info),
            "debug" => Some(LogLevel::Debug),
            "trace" => Some(LogLevel::Trace),
            _ => None,
        }
    }
}

/// How much of each exchange the log shows, independently of the level (rodbus `DecodeLevel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DecodeLevel {
    Nothing,
    #[default]
    Summary,
    Headers,
    Payload,
}

/// How command replies are grouped into devicecmd requests. One result per request is the safe
/// default: some servers read only the first line of a batched body (server-dialects §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ReplyBatching {
    #[default]
    OnePerRequest,
    Batched,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_and_https_urls_with_ports_and_prefixes() {
        let u = ServerUrl::try_from("http://10.0.0.5:8081/".to_owned()).unwrap();
        assert_eq!(
            u.join("/iclock/ping?SN=1"),
            "http://10.0.0.5:8081/iclock/ping?SN=1"
        );
        assert_eq!(u.authority(), "10.0.0.5:8081");
        let u = ServerUrl::try_from("https://adms.example.com/push".to_owned()).unwrap();
        assert!(u.is_https());
        assert_eq!(
            u.join("/iclock/x"),
            "https://adms.example.com/push/iclock/x"
        );
    }

    #[test]
    fn rejects_bad_urls() {
        for bad in [
            "ftp://x",
            "x.example",
            "http://",
            "http://:80",
            "http://h:99999",
            "http://h/?a=1",
            "http://h x",
        ] {
            assert!(ServerUrl::try_from(bad.to_owned()).is_err(), "{bad}");
        }
    }

    #[test]
    fn validates_serial_numbers() {
        assert!(SerialNumber::try_from("CQZ7224460246".to_owned()).is_ok());
        for bad in ["", "has space", "a&b", &"x".repeat(33)] {
            assert!(SerialNumber::try_from(bad.to_owned()).is_err(), "{bad}");
        }
    }

    #[test]
    fn never_shows_a_secret() {
        let s = Secret::try_from("k3y".to_owned()).unwrap();
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(
            toml::Value::try_from(&s).unwrap().as_str(),
            Some("<redacted>")
        );
    }

    #[test]
    fn bounds_numbers() {
        assert!(Bounded::<1, 600>::try_from(0).is_err());
        assert!(Bounded::<1, 600>::try_from(601).is_err());
        assert_eq!(Bounded::<1, 600>::try_from(30).unwrap().get(), 30);
        assert!(Bounded::<1, 10>::try_from(-1).is_err());
    }
}
