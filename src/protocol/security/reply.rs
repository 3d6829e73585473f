//! Parsing the server's answers to init, registry, push and the time fetch [note §2.2, §2.4–§2.6,
//! §3.9]. Status codes
//! (406, 401, …) are the caller's; these functions read bodies only and never fail.

use std::ops::RangeInclusive;

use crate::protocol::civil::LocalDateTime;
use crate::protocol::options::{
    Continuation, ServerOptions, TimeOfDay, UtcOffset, key_value_pairs, parse_trans_times,
};
use crate::protocol::version::PushVersion;

/// Bounds the parser clamps the server's numbers to. The note gives a range only for `ErrorDelay`
/// (recommended 30–300 s, clamped to 5..=3600 by AMB-24); the others are ours, chosen so no value
/// is zero (a busy loop or an instant timeout) and the engine's millisecond arithmetic cannot
/// overflow: `RequestDelay` and `TimeoutSec` at most an hour, like `ErrorDelay`; `TransInterval`
/// at most a day [note §2.6].
pub const ERROR_DELAY_SECS: RangeInclusive<u32> = 5..=3600;
pub const REQUEST_DELAY_SECS: RangeInclusive<u32> = 1..=3600;
pub const TIMEOUT_SECS: RangeInclusive<u32> = 1..=3600;
pub const TRANS_INTERVAL_MINS: RangeInclusive<u32> = 1..=1440;
/// Most `TransTables` names kept; the note names two (`User Transaction`).
pub const MAX_TRANS_TABLES: usize = 32;

/// The `RegistryCode=` of a registry answer [note §2.4]: `None` when absent or empty (a `406` body,
/// say), which the caller treats as a failed registration. Keys match ignoring case [note §1.3].
/// The same reading as [`ServerParams::parse`] (a repeated key: the last one counts).
pub fn registry_code(body: &str) -> Option<String> {
    ServerParams::parse(body).registry_code
}

/// The server parameters of a registered init answer or a push answer, with the spec's defaults
/// for absent or unreadable values [note §2.6].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerParams {
    /// `registry=ok` (init answer only).
    pub registered: bool,
    /// `RegistryCode`, also sent in a registered init answer.
    pub registry_code: Option<String>,
    /// `ServerVersion`, informative.
    pub server_version: Option<String>,
    /// `ServerName`, informative.
    pub server_name: Option<String>,
    /// `PushProtVer`, else `PushVersion` [AMB-8], else 3.0.1 [note §2.10].
    pub push_prot_ver: PushVersion,
    /// `ErrorDelay` seconds: default 30, clamped to [`ERROR_DELAY_SECS`] [AMB-24].
    pub error_delay_secs: u32,
    /// `RequestDelay` seconds between polls: default 30, clamped to [`REQUEST_DELAY_SECS`].
    pub request_delay_secs: u32,
    /// `TransTimes`: default 12:30 and 14:30; read by [`parse_trans_times`] (sorted, at most 10,
    /// unusable entries dropped), the default kept when no entry is usable [AMB-23].
    pub trans_times: Vec<TimeOfDay>,
    /// `TransInterval` minutes: default 2, clamped to [`TRANS_INTERVAL_MINS`].
    pub trans_interval_mins: u32,
    /// `TransTables`, split at whitespace, at most [`MAX_TRANS_TABLES`]: default `User`,
    /// `Transaction`.
    pub trans_tables: Vec<String>,
    /// `Realtime`: default on.
    pub realtime: bool,
    /// `SessionID`, the token's third input [note §2.11].
    pub session_id: Option<String>,
    /// `TimeoutSec`: default 10, clamped to [`TIMEOUT_SECS`].
    pub timeout_secs: u32,
    /// `NewVFStyles`, echoed iff the server takes the new verify-factor strings [note §2.6].
    pub new_vf_styles: Option<String>,
    /// `PushOptionsFlag`: default off [AMB-31].
    pub push_options_flag: bool,
}

impl Default for ServerParams {
    fn default() -> Self {
        ServerParams {
            registered: false,
            registry_code: None,
            server_version: None,
            server_name: None,
            push_prot_ver: PushVersion::new(3, 0, 1),
            error_delay_secs: 30,
            request_delay_secs: 30,
            trans_times: vec![TimeOfDay(12 * 60 + 30), TimeOfDay(14 * 60 + 30)],
            trans_interval_mins: 2,
            trans_tables: vec!["User".into(), "Transaction".into()],
            realtime: true,
            session_id: None,
            timeout_secs: 10,
            new_vf_styles: None,
            push_options_flag: false,
        }
    }
}

impl ServerParams {
    /// Reads LF- or CRLF-separated `key=value` lines, keys ignoring case; unknown keys and lines
    /// without `=` (a bare `OK`) are skipped, never folded into a value [note §2.2, §2.5]. A
    /// repeated key: the last one counts.
    pub fn parse(body: &str) -> ServerParams {
        let mut params = ServerParams::default();
        let mut prot_ver: Option<PushVersion> = None;
        let mut push_version_alias: Option<PushVersion> = None;
        let text = |v: &str| (!v.is_empty()).then(|| v.to_owned());
        let (pairs, _skipped) = key_value_pairs(body.lines(), Continuation::Skip);
        for (key, value) in &pairs {
            let value = value.as_str();
            // A number past u32 (`99999999999`) is as much "too large" as 99999.
            let clamped = |range: &RangeInclusive<u32>| {
                let n = value.parse::<u64>().ok()?;
                Some(
                    u32::try_from(n)
                        .unwrap_or(u32::MAX)
                        .clamp(*range.start(), *range.end()),
                )
            };
            match key.to_ascii_lowercase().as_str() {
                "registry" => params.registered = value.eq_ignore_ascii_case("ok"),
                "registrycode" => params.registry_code = text(value),
                "serverversion" => params.server_version = text(value),
                "servername" => params.server_name = text(value),
                "pushprotver" => prot_ver = value.parse().ok(),
                "pushversion" => push_version_alias = value.parse().ok(),
                "errordelay" => {
                    if let Some(n) = clamped(&ERROR_DELAY_SECS) {
                        params.error_delay_secs = n;
                    }
                }
                "requestdelay" => {
                    if let Some(n) = clamped(&REQUEST_DELAY_SECS) {
                        params.request_delay_secs = n;
                    }
                }
                "transtimes" => {
                    let (times, _refused) = parse_trans_times(value);
                    if !times.is_empty() {
                        params.trans_times = times;
                    }
                }
                "transinterval" => {
                    if let Some(n) = clamped(&TRANS_INTERVAL_MINS) {
                        params.trans_interval_mins = n;
                    }
                }
                "transtables" => {
                    params.trans_tables = value
                        .split_whitespace()
                        .take(MAX_TRANS_TABLES)
                        .map(str::to_owned)
                        .collect();
                }
                "realtime" => params.realtime = value != "0",
                "sessionid" => params.session_id = text(value),
                "timeoutsec" => {
                    if let Some(n) = clamped(&TIMEOUT_SECS) {
                        params.timeout_secs = n;
                    }
                }
                "newvfstyles" => params.new_vf_styles = text(value),
                "pushoptionsflag" => params.push_options_flag = value == "1",
                _ => {}
            }
        }
        if let Some(v) = prot_ver.or(push_version_alias) {
            params.push_prot_ver = v;
        }
        params
    }

    /// The parameters as the shared session engine keeps them: `RequestDelay` is the poll delay,
    /// and the device pings during long uploads (note §2.14), so ping support is on. The server
    /// sends no time zone in this dialect; `GET /iclock/rtdata` can supply one (note §3.9).
    pub fn to_options(&self) -> ServerOptions {
        ServerOptions {
            error_delay_secs: self.error_delay_secs,
            delay_secs: self.request_delay_secs,
            trans_times: self.trans_times.clone(),
            trans_interval_min: self.trans_interval_mins,
            realtime: self.realtime,
            server_ver: self.server_version.clone(),
            push_prot_ver: Some(self.push_prot_ver),
            push_options_flag: self.push_options_flag,
            support_ping: true,
            ..ServerOptions::default()
        }
    }
}

/// The answer to `GET /iclock/rtdata?type=time` (note §3.9): `DateTime=<App 5 seconds, GMT>,
/// ServerTZ=<±HHMM>`, as the UTC Unix time and the server's offset. `None` when either is
/// missing or unreadable.
pub fn rtdata_time(body: &str) -> Option<(i64, UtcOffset)> {
    let (pairs, _) = key_value_pairs(body.split([',', '\n']), Continuation::Skip);
    let value = |name: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    let utc = LocalDateTime::from_zk_packed(value("DateTime")?.parse().ok()?)?;
    let zone = value("ServerTZ")?;
    let (sign, digits) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => (1, zone),
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    if hours > 14 || minutes > 59 {
        return None;
    }
    Some((utc.to_unix(0), UtcOffset(sign * (hours * 60 + minutes))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seed 003 §4.5 push answer: 218 bytes, LF-terminated lines.
    const SEED_PUSH: &str = "ServerVersion=3.0.1\nServerName=ADMS\nPushVersion=3.0.1\n\
        ErrorDelay=60\nRequestDelay=2\nTransTimes=00:0014:00\nTransInterval=1\n\
        TransTables=User Transaction\nRealtime=1\nSessionID=30BFB04B2C8AECC72C01C03BFD549D15\n\
        TimeoutSec=10\n";

    #[test]
    fn reads_the_registry_code() {
        assert_eq!(
            registry_code("RegistryCode=Uy47fxftP3").as_deref(),
            Some("Uy47fxftP3")
        );
        assert_eq!(
            registry_code("registrycode=abc\r\n").as_deref(),
            Some("abc")
        );
        assert_eq!(registry_code("406"), None);
        assert_eq!(registry_code("RegistryCode="), None);
        assert_eq!(registry_code(""), None);
    }

    #[test]
    fn reads_the_seed_push_answer() {
        assert_eq!(SEED_PUSH.len(), 218);
        let p = ServerParams::parse(SEED_PUSH);
        assert_eq!(
            p,
            ServerParams {
                server_version: Some("3.0.1".into()),
                server_name: Some("ADMS".into()),
                push_prot_ver: PushVersion::new(3, 0, 1),
                error_delay_secs: 60,
                request_delay_secs: 2,
                trans_times: vec![TimeOfDay(0), TimeOfDay(14 * 60)],
                trans_interval_mins: 1,
                session_id: Some("30BFB04B2C8AECC72C01C03BFD549D15".into()),
                ..ServerParams::default()
            }
        );
    }

    #[test]
    fn applies_the_spec_defaults() {
        let p = ServerParams::parse("OK");
        assert_eq!(p, ServerParams::default());
        assert!(!p.registered && p.realtime && !p.push_options_flag);
        assert_eq!(p.push_prot_ver, PushVersion::new(3, 0, 1));
        assert_eq!((p.error_delay_secs, p.request_delay_secs), (30, 30));
        assert_eq!(
            p.trans_times,
            vec![TimeOfDay(12 * 60 + 30), TimeOfDay(14 * 60 + 30)]
        );
        assert_eq!((p.trans_interval_mins, p.timeout_secs), (2, 10));
        assert_eq!(p.trans_tables, ["User", "Transaction"]);
    }

    #[test]
    fn reads_a_registered_init_answer_with_crlf_and_any_key_case() {
        let body = "registry=ok\r\nRegistryCode=Uy47fxftP3\r\nPushProtVer=3.1.2\r\n\
            PushVersion=3.0.1\r\nrealtime=0\r\nSessionId=S1\r\nTransTables=User\r\n\
            NewVFStyles=0000111000011010\r\nPushOptionsFlag=1\r\nTimeoutSec=20\r\n";
        let p = ServerParams::parse(body);
        assert!(p.registered);
        assert_eq!(p.registry_code.as_deref(), Some("Uy47fxftP3"));
        assert_eq!(p.push_prot_ver, PushVersion::new(3, 1, 2));
        assert!(!p.realtime);
        assert_eq!(p.session_id.as_deref(), Some("S1"));
        assert_eq!(p.trans_tables, ["User"]);
        assert_eq!(p.new_vf_styles.as_deref(), Some("0000111000011010"));
        assert!(p.push_options_flag);
        assert_eq!(p.timeout_secs, 20);
    }

    #[test]
    fn clamps_and_ignores_bad_values() {
        let p = ServerParams::parse(
            "ErrorDelay=0\nRequestDelay=0\nTimeoutSec=x\nTransInterval=-1\nPushProtVer=new\n\
             TransTimes=25:00;12:00\nregistry=no\n=odd\nnoequals",
        );
        assert_eq!(p.error_delay_secs, 5);
        assert_eq!(p.request_delay_secs, 1);
        assert_eq!(p.timeout_secs, 10);
        assert_eq!(p.trans_interval_mins, 2);
        assert_eq!(p.push_prot_ver, PushVersion::new(3, 0, 1));
        // One rule with the attendance dialect: the unusable entry is dropped, the usable kept.
        assert_eq!(p.trans_times, vec![TimeOfDay(12 * 60)]);
        assert!(!p.registered);
        assert_eq!(
            ServerParams::parse("ErrorDelay=99999").error_delay_secs,
            3600
        );
    }

    #[test]
    fn clamps_delays_timeouts_and_intervals_to_their_ranges() {
        let low = ServerParams::parse("RequestDelay=0\nTimeoutSec=0\nTransInterval=0");
        assert_eq!(
            (
                low.request_delay_secs,
                low.timeout_secs,
                low.trans_interval_mins
            ),
            (1, 1, 1)
        );
        let high = ServerParams::parse(
            "RequestDelay=99999\nTimeoutSec=4294967295\nTransInterval=99999999999\n\
             ErrorDelay=99999999999",
        );
        assert_eq!(
            (
                high.request_delay_secs,
                high.timeout_secs,
                high.trans_interval_mins,
                high.error_delay_secs
            ),
            (3600, 3600, 1440, 3600)
        );
        let inside = ServerParams::parse("RequestDelay=3600\nTimeoutSec=1\nTransInterval=1440");
        assert_eq!(
            (
                inside.request_delay_secs,
                inside.timeout_secs,
                inside.trans_interval_mins
            ),
            (3600, 1, 1440)
        );
    }

    #[test]
    fn keeps_at_most_32_trans_tables() {
        let names: Vec<String> = (0..40).map(|i| format!("T{i}")).collect();
        let p = ServerParams::parse(&format!("TransTables={}", names.join(" ")));
        assert_eq!(p.trans_tables, names[..MAX_TRANS_TABLES]);
        assert_eq!(p.trans_tables.len(), 32);
    }

    #[test]
    fn parses_trans_times_leniently() {
        let times = |value: &str| ServerParams::parse(&format!("TransTimes={value}")).trans_times;
        assert_eq!(
            times("00: 00;14:00"),
            vec![TimeOfDay(0), TimeOfDay(14 * 60)]
        );
        assert_eq!(times("08:30"), vec![TimeOfDay(8 * 60 + 30)]);
        let eleven: Vec<String> = (0..11).map(|h| format!("{h:02}:00")).collect();
        assert_eq!(times(&eleven.join(";")).len(), 10);
        // Nothing usable: the default stays.
        for junk in ["", "0000", "12:3é", "12:60"] {
            assert_eq!(times(junk), ServerParams::default().trans_times, "{junk}");
        }
    }
}
