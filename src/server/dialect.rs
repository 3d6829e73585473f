//! Server dialects: the option block, upload acknowledgements and `devicecmd` parsing of the real
//! servers described in server-dialects.md, as presets of the fake server, and the Security PUSH
//! dialect's server parameters [note §2.2, §2.5, §2.6].

use crate::protocol::options::StampTable;

/// Which real server family the fake server imitates (server-dialects §2.1–§2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// S1: LF line endings with a trailing LF, `TransFlag` as text with TABs inside the value,
    /// `None` stamps on a fresh device, `TimeZone=0`, ack `OK: <n>`, batched result parsing.
    Standard,
    /// S5/S7-like: CRLF line endings, `TransFlag=1111000000` bitmask, `TimeZone=+07:00`, `0`
    /// stamps on a fresh device, extra `Timeout`/`SyncTime` keys, ack `OK`.
    Crlf,
    /// S3: LF without a trailing LF, one command per poll, `TransFlag` as text with spaces, `0`
    /// stamps on a fresh device, ack `OK:<n>`, and a reply parser that reads only the first `ID`
    /// of a `devicecmd` body and lets later `Return=` keys overwrite earlier ones.
    SingleResult,
    /// The Security PUSH 3.1.2 dialect (access control) [note §2–§3]: registration and a session
    /// token, server parameters as LF-joined lines without a trailing LF (the seed's
    /// `Content-Length`s count none), `OK` for `rtlog`/`rtstate` and other plain uploads,
    /// batched result parsing. Every request but init and registry must carry the token.
    Security,
}

/// How the server reads a `devicecmd` body (server-dialects §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ResultParser {
    /// One reply per `ID=` line; following non-`ID=` lines are that reply's detail lines (S1).
    Batched,
    /// The whole body is one `&`-split string: only the first `ID` counts and later `Return=`
    /// keys overwrite earlier ones (S3).
    FirstOnly,
}

/// One value of the option block: fixed text, the stamp of an upload table (echo, override or
/// the preset's fresh value), or the asking device's registration code or session id (Security);
/// all but the text are decided when the block is rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum OptionValue {
    Text(String),
    Stamp(StampTable),
    RegistryCode,
    SessionId,
}

/// Security keys sent only in the registered init answer, not in the `push` answer: the seed's
/// `push` template and example carry neither `registry`, `RegistryCode` nor `PushProtVer`
/// [seed 003 §4.1, §4.5].
pub(super) const INIT_ONLY_KEYS: [&str; 3] = ["registry", "RegistryCode", "PushProtVer"];

/// The tables whose `<TABLE>Stamp` key the option block carries, in the order they are sent.
const STAMPED_TABLES: [StampTable; 4] = [
    StampTable::AttLog,
    StampTable::OperLog,
    StampTable::AttPhoto,
    StampTable::BioData,
];

impl Preset {
    /// Commands handed out per `getrequest` poll by default: 1 for S3, 20 (S1's limit) otherwise.
    pub(super) fn commands_per_poll(self) -> usize {
        match self {
            Preset::SingleResult => 1,
            Preset::Standard | Preset::Crlf | Preset::Security => 20,
        }
    }

    /// How this server reads command replies.
    pub(super) fn result_parser(self) -> ResultParser {
        match self {
            Preset::SingleResult => ResultParser::FirstOnly,
            Preset::Standard | Preset::Crlf | Preset::Security => ResultParser::Batched,
        }
    }

    /// The stamp value sent for a table the device has never uploaded (Security sends no stamps).
    pub(super) fn fresh_stamp(self) -> &'static str {
        match self {
            Preset::Standard => "None",
            Preset::Crlf | Preset::SingleResult | Preset::Security => "0",
        }
    }

    /// The acknowledgement body for an upload of `count` lines (Security: `rtlog`, `rtstate`,
    /// `irstate`, `testdata`… are all answered `OK` [note §3.1–§3.7]).
    pub(super) fn ack(self, count: usize) -> String {
        match self {
            Preset::Standard => format!("OK: {count}"),
            Preset::Crlf | Preset::Security => "OK".to_owned(),
            Preset::SingleResult => format!("OK:{count}"),
        }
    }

    /// The option block's keys in the order they are sent, before any `set_option`.
    pub(super) fn default_options(self) -> Vec<(String, OptionValue)> {
        let (trans_flag, time_zone, encrypt, push_options_flag) = match self {
            Preset::Standard => (
                "TransData AttLog\tOpLog\tAttPhoto\tEnrollUser\tChgUser\tEnrollFP\tChgFP\tUserPic",
                "0",
                "None",
                "1",
            ),
            Preset::Crlf => ("1111000000", "+07:00", "0", "0"),
            Preset::SingleResult => (
                "TransData AttLog OpLog AttPhoto EnrollUser ChgUser EnrollFP ChgFP UserPic",
                "0",
                "0",
                "1",
            ),
            Preset::Security => return security_parameters(),
        };
        let mut options: Vec<(String, OptionValue)> = STAMPED_TABLES
            .into_iter()
            .map(|table| (format!("{table}Stamp"), OptionValue::Stamp(table)))
            .collect();
        let text = [
            ("ErrorDelay", "30"),
            ("Delay", "10"),
            ("TransTimes", "00:00;14:05"),
            ("TransInterval", "1"),
            ("TransFlag", trans_flag),
            ("TimeZone", time_zone),
            ("Realtime", "1"),
            ("Encrypt", encrypt),
            ("ServerVer", "2.4.1"),
            ("PushProtVer", "2.4.1"),
            ("PushOptionsFlag", push_options_flag),
        ];
        options.extend(
            text.iter()
                .map(|(k, v)| ((*k).to_owned(), OptionValue::Text((*v).to_owned()))),
        );
        if self == Preset::Crlf {
            for (k, v) in [("Timeout", "60"), ("SyncTime", "3600")] {
                options.push((k.to_owned(), OptionValue::Text(v.to_owned())));
            }
        }
        options
    }

    /// Joins the option block's lines with this server's line ending.
    pub(super) fn join_lines(self, lines: &[String]) -> String {
        let (ending, trailing) = match self {
            Preset::Standard => ("\n", true),
            Preset::Crlf => ("\r\n", true),
            Preset::SingleResult | Preset::Security => ("\n", false),
        };
        let mut text = lines.join(ending);
        if trailing {
            text.push_str(ending);
        }
        text
    }
}

/// The Security server parameters in the order of the seed's registered init answer
/// [seed 003 §4.1], with the values a device assumes when a key is absent [note §2.6];
/// `ServerVersion`/`ServerName` (no default) and `PushProtVer` are the seed's example server's.
fn security_parameters() -> Vec<(String, OptionValue)> {
    let text = |v: &str| OptionValue::Text(v.to_owned());
    [
        ("registry", text("ok")),
        ("RegistryCode", OptionValue::RegistryCode),
        ("ServerVersion", text("3.0.1")),
        ("ServerName", text("ADMS")),
        ("PushProtVer", text("3.0.1")),
        ("ErrorDelay", text("30")),
        ("RequestDelay", text("30")),
        ("TransTimes", text("12:30;14:30")),
        ("TransInterval", text("2")),
        ("TransTables", text("User Transaction")),
        ("Realtime", text("1")),
        ("SessionID", OptionValue::SessionId),
        ("TimeoutSec", text("10")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// One command reply as the server understood it, before duplicate detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ParsedReply {
    pub(super) id: String,
    pub(super) return_code: Result<i32, String>,
    pub(super) cmd: String,
    pub(super) details: Vec<String>,
    pub(super) raw: String,
}

impl ResultParser {
    /// The replies in a `devicecmd` body.
    pub(super) fn parse(self, body: &str) -> Vec<ParsedReply> {
        match self {
            ResultParser::Batched => parse_batched(body),
            ResultParser::FirstOnly => parse_first_only(body).into_iter().collect(),
        }
    }
}

fn parse_return(value: Option<&str>) -> Result<i32, String> {
    let text = value.unwrap_or("").trim();
    text.parse().map_err(|_| text.to_owned())
}

/// The keys of a reply the server reads: `ID`, `Return` and `CMD`.
#[derive(Debug, Default)]
struct ReplyFields {
    id: Option<String>,
    ret: Option<String>,
    cmd: Option<String>,
}

impl ReplyFields {
    fn slot(&mut self, key: &str) -> Option<&mut Option<String>> {
        match key {
            "ID" => Some(&mut self.id),
            "Return" => Some(&mut self.ret),
            "CMD" => Some(&mut self.cmd),
            _ => None,
        }
    }

    /// Takes `key=value` if `key` is one of the reply keys, replacing an earlier value.
    fn set(&mut self, key: &str, value: &str) {
        if let Some(slot) = self.slot(key) {
            *slot = Some(value.to_owned());
        }
    }

    /// Takes `key=value` if `key` is one of the reply keys and has no value yet.
    fn fill(&mut self, key: &str, value: &str) {
        if let Some(slot) = self.slot(key) {
            slot.get_or_insert_with(|| value.to_owned());
        }
    }

    /// Takes every `&`-separated `key=value` pair of `text` with [`ReplyFields::set`]. With
    /// `trim` (S3, which reads a whole body as one string), spaces around keys and line endings
    /// after values are ignored.
    fn set_pairs(&mut self, text: &str, trim: bool) {
        for pair in text.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if trim {
                self.set(key.trim(), value.trim_end_matches(['\r', '\n']));
            } else {
                self.set(key, value);
            }
        }
    }

    /// The reply, if an `ID` was found.
    fn finish(self, details: Vec<String>, raw: String) -> Option<ParsedReply> {
        Some(ParsedReply {
            id: self.id?,
            return_code: parse_return(self.ret.as_deref()),
            cmd: self.cmd.unwrap_or_default(),
            details,
            raw,
        })
    }
}

/// S1: `ID=` lines start replies; other lines are details of the reply before them. A multi-line
/// reply (GetFile, SHELL, PutFile) puts `Return=`/`CMD=` on detail lines; those fill the fields
/// the `ID=` line left out.
fn parse_batched(body: &str) -> Vec<ParsedReply> {
    struct Building {
        fields: ReplyFields,
        details: Vec<String>,
        raw: Vec<String>,
    }
    let finish = |b: Building| b.fields.finish(b.details, b.raw.join("\n"));
    let mut replies = Vec::new();
    let mut current: Option<Building> = None;
    for line in body.split('\n').map(|l| l.trim_end_matches('\r')) {
        if line.is_empty() {
            continue;
        }
        if line.starts_with("ID=") {
            replies.extend(current.take().and_then(finish));
            let mut fields = ReplyFields::default();
            fields.set_pairs(line, false);
            current = Some(Building {
                fields,
                details: Vec::new(),
                raw: vec![line.to_owned()],
            });
        } else if let Some(b) = current.as_mut() {
            // Not an `ID=` line, so only `Return`/`CMD` can be filled here.
            if let Some((key, value)) = line.split_once('=') {
                b.fields.fill(key, value);
            }
            b.details.push(line.to_owned());
            b.raw.push(line.to_owned());
        }
    }
    replies.extend(current.and_then(finish));
    replies
}

/// S3: the body is one `&`-split dictionary; later keys overwrite earlier ones.
fn parse_first_only(body: &str) -> Option<ParsedReply> {
    let mut fields = ReplyFields::default();
    fields.set_pairs(body, true);
    fields.finish(Vec::new(), body.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batched_parser_attaches_detail_lines_and_fills_multiline_fields() {
        let body = "ID=1&Return=0&CMD=DATA\r\nID=2&Return=0&CMD=INFO\nUserCount=3\nFPCount=0\n\
                    ID=3\nSN=X\nReturn=12\nCMD=GetFile\nID=4&Return=x&CMD=DATA\n";
        let replies = parse_batched(body);
        assert_eq!(replies.len(), 4);
        assert_eq!(replies[0].id, "1");
        assert_eq!(replies[0].raw, "ID=1&Return=0&CMD=DATA");
        assert_eq!(replies[1].details, ["UserCount=3", "FPCount=0"]);
        assert_eq!(replies[2].return_code, Ok(12));
        assert_eq!(replies[2].cmd, "GetFile");
        assert_eq!(replies[3].return_code, Err("x".to_owned()));
    }

    #[test]
    fn first_only_parser_keeps_the_first_id_and_the_last_return() {
        let body = "ID=A&Return=0&CMD=DATA\nID=B&Return=-1&CMD=DATA\nID=C&Return=-5&CMD=REBOOT";
        let reply = parse_first_only(body).expect("one reply");
        assert_eq!(reply.id, "A");
        assert_eq!(reply.return_code, Ok(-5));
        assert_eq!(parse_first_only("garbage"), None);
    }
}
