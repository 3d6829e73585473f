//! Parsing the server's answers to init, registry and push [note §2.2, §2.4–§2.6]. Status codes
//! (406, 401, …) are the caller's; these functions read bodies only and never fail.

use crate::protocol::version::PushVersion;

/// `key=value` lines of a body, split at the first `=`, CR trimmed, keys as written.
fn lines(body: &str) -> impl Iterator<Item = (&str, &str)> {
    body.lines().filter_map(|line| {
        let (key, value) = line.split_once('=')?;
        Some((key.trim(), value.trim()))
    })
}

/// The `RegistryCode=` of a registry answer [note §2.4]: `None` when absent or empty (a `406` body,
/// say), which the caller treats as a failed registration. Keys match ignoring case [note §1.3].
pub fn registry_code(body: &str) -> Option<String> {
    lines(body)
        .find(|(key, _)| key.eq_ignore_ascii_case("RegistryCode"))
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
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
    /// `ErrorDelay` seconds: default 30, clamped to 5..=3600 [AMB-24].
    pub error_delay_secs: u32,
    /// `RequestDelay` seconds between polls: default 30, at least 1.
    pub request_delay_secs: u32,
    /// `TransTimes` as (hour, minute): default 12:30 and 14:30, at most 10 [AMB-23].
    pub trans_times: Vec<(u8, u8)>,
    /// `TransInterval` minutes: default 2.
    pub trans_interval_mins: u32,
    /// `TransTables`, split at whitespace: default `User`, `Transaction`.
    pub trans_tables: Vec<String>,
    /// `Realtime`: default on.
    pub realtime: bool,
    /// `SessionID`, the token's third input [note §2.11].
    pub session_id: Option<String>,
    /// `TimeoutSec`: default 10.
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
            trans_times: vec![(12, 30), (14, 30)],
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
    /// without `=` (a bare `OK`) are skipped [note §2.2, §2.5].
    pub fn parse(body: &str) -> ServerParams {
        let mut params = ServerParams::default();
        let mut prot_ver: Option<PushVersion> = None;
        let mut push_version_alias: Option<PushVersion> = None;
        let text = |v: &str| (!v.is_empty()).then(|| v.to_owned());
        for (key, value) in lines(body) {
            let number = || value.parse::<u32>().ok();
            match key.to_ascii_lowercase().as_str() {
                "registry" => params.registered = value.eq_ignore_ascii_case("ok"),
                "registrycode" => params.registry_code = text(value),
                "serverversion" => params.server_version = text(value),
                "servername" => params.server_name = text(value),
                "pushprotver" => prot_ver = value.parse().ok(),
                "pushversion" => push_version_alias = value.parse().ok(),
                "errordelay" => {
                    if let Some(n) = number() {
                        params.error_delay_secs = n.clamp(5, 3600);
                    }
                }
                "requestdelay" => {
                    if let Some(n) = number() {
                        params.request_delay_secs = n.max(1);
                    }
                }
                "transtimes" => {
                    if let Some(times) = parse_trans_times(value) {
                        params.trans_times = times;
                    }
                }
                "transinterval" => {
                    if let Some(n) = number() {
                        params.trans_interval_mins = n;
                    }
                }
                "transtables" => {
                    params.trans_tables = value.split_whitespace().map(str::to_owned).collect();
                }
                "realtime" => params.realtime = value != "0",
                "sessionid" => params.session_id = text(value),
                "timeoutsec" => {
                    if let Some(n) = number() {
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
}

/// `TransTimes` [AMB-23]: spaces removed, split at `;`, or every 5 characters when there is no
/// `;` (the seed's `00:0014:00`); at most 10 entries; `None` when any entry is not `HH:MM`.
fn parse_trans_times(value: &str) -> Option<Vec<(u8, u8)>> {
    let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    let entries: Vec<&str> = if compact.contains(';') {
        compact.split(';').filter(|e| !e.is_empty()).collect()
    } else {
        let mut rest = compact.as_str();
        let mut entries = Vec::new();
        while !rest.is_empty() {
            let cut = rest.char_indices().nth(5).map_or(rest.len(), |(i, _)| i);
            let (entry, tail) = rest.split_at(cut);
            entries.push(entry);
            rest = tail;
        }
        entries
    };
    let times = entries
        .into_iter()
        .take(10)
        .map(|entry| {
            let (h, m) = entry.split_once(':')?;
            let (h, m) = (h.parse::<u8>().ok()?, m.parse::<u8>().ok()?);
            (h < 24 && m < 60).then_some((h, m))
        })
        .collect::<Option<Vec<_>>>()?;
    (!times.is_empty()).then_some(times)
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
                trans_times: vec![(0, 0), (14, 0)],
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
        assert_eq!(p.trans_times, vec![(12, 30), (14, 30)]);
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
        assert_eq!(p.trans_times, vec![(12, 30), (14, 30)]);
        assert!(!p.registered);
        assert_eq!(
            ServerParams::parse("ErrorDelay=99999").error_delay_secs,
            3600
        );
    }

    #[test]
    fn parses_trans_times_leniently() {
        assert_eq!(
            parse_trans_times("00: 00;14:00"),
            Some(vec![(0, 0), (14, 0)])
        );
        assert_eq!(parse_trans_times("08:30"), Some(vec![(8, 30)]));
        let eleven = ["01:00"; 11].join(";");
        assert_eq!(parse_trans_times(&eleven).map(|t| t.len()), Some(10));
        assert_eq!(parse_trans_times(""), None);
        assert_eq!(parse_trans_times("0000"), None);
        assert_eq!(parse_trans_times("12:3é"), None);
        assert_eq!(parse_trans_times("12:60"), None);
    }
}
