//! What the fake server remembers only in the Security PUSH dialect [note §2–§3; seed 003]:
//! registrations and their sessions, the token check, `querydata` packages, and the readings of
//! `rtlog` lines and of the time answer. `state.rs` routes the requests and keeps what both
//! dialects share (uploads, the command queue, replies, faults).

use super::rng::SplitMix64;
use super::state::{Answer, body_lines, comma_pairs};
use crate::protocol::civil::LocalDateTime;
use crate::protocol::fields::Fields;
use crate::protocol::http::query_param;
use crate::protocol::security::token::Token;
use std::collections::{HashMap, HashSet};

/// Characters of a `RegistryCode`: letters and digits, like the seed's `Uy47fxftP3`.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Length of a `RegistryCode` (the seed allows up to 32 [note §2.4]; its example has 10).
const CODE_LEN: usize = 10;

/// One device's registration: what the registry answer handed out and what the device declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The answer's `RegistryCode`: 10 random letters and digits.
    pub registry_code: String,
    /// The session id: the answer's `JSESSIONID` cookie and the later `SessionID` parameter, as in
    /// the seed's example [note §2.4, §2.11]; 32 random uppercase hex digits.
    pub session_id: String,
    /// The registry body's capability list, `key=value` pairs in order [note §2.7].
    pub capabilities: Vec<(String, String)>,
}

impl Registration {
    /// The token the device must send: md5hex(RegistryCode ‖ SN ‖ SessionID) [note §2.11, AMB-3].
    pub fn token(&self, serial: &str) -> Token {
        Token::compute(&self.registry_code, serial, Some(&self.session_id))
    }

    /// The value of capability `key`, the name compared ignoring case [note §1.3].
    pub fn capability(&self, key: &str) -> Option<&str> {
        self.capabilities
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// One `rtlog` event line as received [note §3.1].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtEvent {
    /// The line as sent, `\r` trimmed.
    pub line: String,
    /// Its `index=` record id; `None` when absent or not a number.
    pub index: Option<u64>,
    /// An event with this index had already been received: the device sent it again.
    pub duplicate: bool,
}

/// One `POST /iclock/querydata` package as received [note §3.0 E23, E24, E33]. The query
/// parameters are kept as sent, empty when absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryPackage {
    /// `type=`: `count`, `tabledata` or `options`.
    pub kind: String,
    /// `cmdid=`: the id of the command this package answers.
    pub cmd_id: String,
    /// `tablename=`.
    pub table: String,
    /// `count=`: the rows the device says the package holds.
    pub count: String,
    /// `packcnt=`: the number of packages of the answer.
    pub packcnt: String,
    /// `packidx=`: this package's place, from 1.
    pub packidx: String,
    /// Body lines split on LF, `\r` trimmed, empty lines skipped.
    pub lines: Vec<String>,
}

/// The Security dialect's own records; guarded, with the rest of the state, by the server's mutex.
#[derive(Debug)]
pub(super) struct SecurityState {
    /// By serial number.
    registrations: HashMap<String, Registration>,
    registry_refused: bool,
    rejected_tokens: usize,
    packages: Vec<QueryPackage>,
    rng: SplitMix64,
}

impl SecurityState {
    /// `seed` feeds the generator of registry codes and session ids.
    pub(super) fn new(seed: u64) -> SecurityState {
        SecurityState {
            registrations: HashMap::new(),
            registry_refused: false,
            rejected_tokens: 0,
            packages: Vec::new(),
            rng: SplitMix64::new(seed),
        }
    }

    pub(super) fn registration(&self, serial: &str) -> Option<&Registration> {
        self.registrations.get(serial)
    }

    /// Answers `POST /iclock/registry` (E4) [note §2.4]: HTTP 406 while refusing; otherwise a
    /// fresh registration (new code and session, replacing any earlier one of this device),
    /// `RegistryCode=<code>` and the session as the `JSESSIONID` cookie.
    pub(super) fn register(&mut self, serial: &str, body: &str) -> Answer {
        if self.registry_refused {
            // The seed: "406 instead of the registration code is returned"; status and body both
            // say it, so a device reading either sees the refusal.
            return Answer::status(406, "406");
        }
        let registry_code = random_registry_code(&mut self.rng);
        let session_id = random_session_id(&mut self.rng);
        let answer = Answer {
            status: 200,
            body: format!("RegistryCode={registry_code}"),
            headers: vec![("Set-Cookie", format!("JSESSIONID={session_id}; Path=/"))],
        };
        self.registrations.insert(
            serial.to_owned(),
            Registration {
                registry_code,
                session_id,
                capabilities: comma_pairs(body).collect(),
            },
        );
        answer
    }

    /// Whether `cookie` (the request's `Cookie` header) carries the token of `serial`'s
    /// registration [note §2.11], its hex digits in either case; counts the refusals. An
    /// unregistered device has no valid token. The token without a SessionID (AMB-3's fallback)
    /// is refused: this server always sets the session cookie before the device needs a token.
    pub(super) fn token_accepted(&mut self, serial: &str, cookie: &str) -> bool {
        let accepted = match (
            self.registrations.get(serial),
            cookie_value(cookie, "token"),
        ) {
            (Some(registration), Some(sent)) => registration
                .token(serial)
                .as_str()
                .eq_ignore_ascii_case(sent),
            _ => false,
        };
        if !accepted {
            self.rejected_tokens += 1;
        }
        accepted
    }

    /// Records a `querydata` package and answers it: `OK` for `type=options` (E33), otherwise
    /// `<tablename>=<rows received>` (E23, E24) [note §3.0, AMB-7].
    pub(super) fn query_package(&mut self, target: &str, body: &str) -> String {
        let param = |name: &str| query_param(target, name).unwrap_or_default();
        let package = QueryPackage {
            kind: param("type"),
            cmd_id: param("cmdid"),
            table: param("tablename"),
            count: param("count"),
            packcnt: param("packcnt"),
            packidx: param("packidx"),
            lines: body_lines(body),
        };
        let answer = if package.kind == "options" {
            "OK".to_owned()
        } else {
            format!("{}={}", package.table, package.lines.len())
        };
        self.packages.push(package);
        answer
    }

    pub(super) fn set_registry_refused(&mut self, refused: bool) {
        self.registry_refused = refused;
    }

    pub(super) fn forget_registrations(&mut self) {
        self.registrations.clear();
    }

    pub(super) fn rotate_sessions(&mut self) {
        for registration in self.registrations.values_mut() {
            registration.session_id = random_session_id(&mut self.rng);
        }
    }

    pub(super) fn rejected_tokens(&self) -> usize {
        self.rejected_tokens
    }

    pub(super) fn packages(&self) -> &[QueryPackage] {
        &self.packages
    }
}

fn random_registry_code(rng: &mut SplitMix64) -> String {
    (0..CODE_LEN)
        .map(|_| char::from(CODE_ALPHABET[rng.below(CODE_ALPHABET.len() as u64) as usize]))
        .collect()
}

fn random_session_id(rng: &mut SplitMix64) -> String {
    format!("{:016X}{:016X}", rng.next_u64(), rng.next_u64())
}

/// The value of cookie `name` in a `Cookie` header. Pairs are split at `;` (RFC 6265) and at `,`,
/// which the seed's template uses (`token=…, timestamp=…`) [AMB-3]; names compare exactly.
pub(super) fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split([';', ',']).find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key.trim() == name).then(|| value.trim())
    })
}

/// The `rtlog` events of `lines`, in order, each marked when its index came before.
pub(super) fn rt_events<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<RtEvent> {
    let mut seen = HashSet::new();
    lines
        .map(|line| {
            let index = Fields::parse(line)
                .ok()
                .and_then(|fields| fields.get("index")?.trim().parse::<u64>().ok());
            RtEvent {
                line: line.to_owned(),
                index,
                duplicate: index.is_some_and(|i| !seen.insert(i)),
            }
        })
        .collect()
}

/// The answer to `GET /iclock/rtdata?type=time` (E32) [note §3.9, seed 003 §9.5.1]: the server's
/// GMT time in App 5 seconds, and a zero zone, so the device's clock becomes GMT.
pub(super) fn time_answer(unix_secs: i64) -> String {
    let gmt = LocalDateTime::from_unix(unix_secs, 0);
    format!("DateTime={},ServerTZ=+0000", gmt.to_zk_packed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cookies_in_either_separator_style() {
        let header = "token=ab12, timestamp=5; JSESSIONID=X";
        assert_eq!(cookie_value(header, "token"), Some("ab12"));
        assert_eq!(cookie_value(header, "timestamp"), Some("5"));
        assert_eq!(cookie_value(header, "JSESSIONID"), Some("X"));
        assert_eq!(cookie_value(header, "Token"), None);
        assert_eq!(cookie_value("", "token"), None);
        assert_eq!(cookie_value("token", "token"), None);
    }

    #[test]
    fn reads_event_indexes_and_marks_repeats() {
        let lines = [
            "time=2024-01-01 08:00:00\tpin=1\tevent=0\tindex=21",
            "time=2024-01-01 08:00:05\tpin=1\tevent=0\tINDEX=22",
            "time=2024-01-01 08:00:00\tpin=1\tevent=0\tindex=21",
            "no index here",
            "event=27\tindex=x",
        ];
        let events = rt_events(lines.into_iter());
        let summary: Vec<(Option<u64>, bool)> =
            events.iter().map(|e| (e.index, e.duplicate)).collect();
        assert_eq!(
            summary,
            [
                (Some(21), false),
                (Some(22), false),
                (Some(21), true),
                (None, false),
                (None, false)
            ]
        );
        assert_eq!(events[3].line, "no index here");
    }

    #[test]
    fn time_answer_uses_the_app5_codec_in_gmt() {
        // 2018-02-22 14:54:54 GMT is 583080894 in App 5 seconds [note §1.4].
        let unix = LocalDateTime::new(2018, 2, 22, 14, 54, 54)
            .expect("a valid date")
            .to_unix(0);
        assert_eq!(time_answer(unix), "DateTime=583080894,ServerTZ=+0000");
    }
}
