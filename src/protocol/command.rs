//! Server commands from a `getrequest` reply [000 §12; spec §4.1].
//!
//! A reply body is `OK` (nothing to do) or LF-separated `C:<CmdID>:<body>` lines. The line splits at
//! its first two colons only, since bodies hold times and URLs; spaces around the id are trimmed
//! (the seed prints `C: ${CmdID}: DATA`). A line without `C:` right after a DATA UPDATE/DELETE is
//! one more record of that command (AMB-13). Command ids are opaque strings (server-dialects §2.3).

use super::fields::{Fields, FieldsError};
use std::fmt;

/// Longest command id accepted. The seed says at most 16 characters; servers also use GUIDs.
pub const MAX_CMD_ID_LEN: usize = 64;

/// A command id, echoed verbatim in the reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CmdId(String);

impl CmdId {
    /// Accepts printable ASCII without `&`, `=` or spaces, which would break the
    /// `ID=…&Return=…` reply.
    pub fn parse(text: &str) -> Option<CmdId> {
        let ok = !text.is_empty()
            && text.len() <= MAX_CMD_ID_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'&' && b != b'=');
        ok.then(|| CmdId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CmdId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataOp {
    Update,
    Delete,
    Query,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClearTarget {
    Log,
    Photo,
    Data,
    BioData,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `DATA UPDATE|DELETE|QUERY <table> <fields>`; `records` holds one entry per record (an empty
    /// `Fields` when a QUERY has no condition).
    Data {
        op: DataOp,
        table: String,
        records: Vec<Fields>,
    },
    Clear(ClearTarget),
    Check,
    Log,
    Info,
    SetOption(Fields),
    ReloadOptions,
    Reboot,
    AcUnlock,
    AcUnalarm,
    VerifySum(Fields),
    /// Well-formed but not something this device does: answered `-1002`.
    Unsupported {
        name: String,
    },
}

impl Command {
    /// The `CMD=` value of this command's reply [spec §4.2].
    pub fn reply_name(&self) -> String {
        match self {
            Command::Data { .. } => "DATA".into(),
            Command::Clear(ClearTarget::Log) => "CLEAR_LOG".into(),
            // AMB-19: 000 prints clear_photo, 001 CLEAR_PHOTO; upper case matches its siblings.
            Command::Clear(ClearTarget::Photo) => "CLEAR_PHOTO".into(),
            Command::Clear(ClearTarget::Data) => "CLEAR_DATA".into(),
            Command::Clear(ClearTarget::BioData) => "CLEAR_BIODATA".into(),
            Command::Check => "CHECK".into(),
            Command::Log => "LOG".into(),
            Command::Info => "INFO".into(),
            Command::SetOption(_) => "SET OPTION".into(),
            Command::ReloadOptions => "RELOAD OPTIONS".into(),
            Command::Reboot => "REBOOT".into(),
            Command::AcUnlock => "AC_UNLOCK".into(),
            Command::AcUnalarm => "AC_UNALARM".into(),
            Command::VerifySum(_) => "VERIFY SUM".into(),
            Command::Unsupported { name } => name.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Malformed(String),
    #[error(transparent)]
    Fields(#[from] FieldsError),
}

/// One command line of a batch: its id, the `CMD=` name to answer with, and the parsed command or
/// why it could not be parsed (answered `-1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerCommand {
    pub id: CmdId,
    pub reply_name: String,
    pub command: Result<Command, CommandError>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandBatch {
    pub commands: Vec<ServerCommand>,
    /// Lines that could not be tied to a command id (nothing can be replied to them).
    pub rejected: Vec<String>,
    /// Commands past `max_commands` were dropped; the server sends them again.
    pub truncated: usize,
}

/// Parses a getrequest reply body. At most `max_commands` commands are kept.
pub fn parse_batch(body: &str, max_commands: usize) -> CommandBatch {
    let mut batch = CommandBatch::default();
    let trimmed = body.trim();
    if trimmed.is_empty() || trimmed == "OK" {
        return batch;
    }
    for raw in body.split('\n') {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("C:").or_else(|| line.strip_prefix("c:")) {
            if batch.commands.len() >= max_commands {
                batch.truncated += 1;
                continue;
            }
            match parse_command_line(rest) {
                Some(cmd) => batch.commands.push(cmd),
                None => batch.rejected.push(line.chars().take(120).collect()),
            }
            continue;
        }
        let continued = batch.commands.last_mut().filter(|c| {
            matches!(
                c.command,
                Ok(Command::Data {
                    op: DataOp::Update | DataOp::Delete,
                    ..
                })
            )
        });
        match continued {
            Some(cmd) => match Fields::parse(line) {
                Ok(fields) => {
                    if let Ok(Command::Data { records, .. }) = &mut cmd.command {
                        records.push(fields);
                    }
                }
                Err(e) => cmd.command = Err(e.into()),
            },
            // Continuation of a command already truncated away: dropped with that command.
            None if batch.truncated > 0 => {}
            None => batch.rejected.push(line.chars().take(120).collect()),
        }
    }
    batch
}

fn parse_command_line(rest: &str) -> Option<ServerCommand> {
    let (id, body) = rest.split_once(':')?;
    let id = CmdId::parse(id.trim())?;
    let body = body.trim_start();
    let (reply_name, command) = parse_body(body);
    Some(ServerCommand {
        id,
        reply_name,
        command,
    })
}

/// Splits off the first word (up to a space or tab).
fn next_word(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches([' ', '\t']);
    match s.find([' ', '\t']) {
        Some(i) => (&s[..i], s[i + 1..].trim_start_matches(' ')),
        None => (s, ""),
    }
}

fn malformed(name: &str, why: impl Into<String>) -> (String, Result<Command, CommandError>) {
    (name.to_owned(), Err(CommandError::Malformed(why.into())))
}

fn parse_body(body: &str) -> (String, Result<Command, CommandError>) {
    let (word, rest) = next_word(body);
    let upper = word.to_ascii_uppercase();
    let command = match upper.as_str() {
        "DATA" => return parse_data(rest),
        "CLEAR" => {
            let (what, _) = next_word(rest);
            match what.to_ascii_uppercase().as_str() {
                "LOG" => Command::Clear(ClearTarget::Log),
                "PHOTO" => Command::Clear(ClearTarget::Photo),
                "DATA" => Command::Clear(ClearTarget::Data),
                "BIODATA" => Command::Clear(ClearTarget::BioData),
                "" => return malformed("CLEAR", "CLEAR without a target"),
                other => Command::Unsupported {
                    name: format!("CLEAR_{other}"),
                },
            }
        }
        "CHECK" => Command::Check,
        "LOG" => Command::Log,
        "INFO" => Command::Info,
        "REBOOT" => Command::Reboot,
        "AC_UNLOCK" => Command::AcUnlock,
        "AC_UNALARM" => Command::AcUnalarm,
        "SET" => {
            let (what, args) = next_word(rest);
            if !what.eq_ignore_ascii_case("OPTION") {
                return (
                    format!("SET {what}").trim().to_owned(),
                    Ok(Command::Unsupported {
                        name: format!("SET {what}"),
                    }),
                );
            }
            match Fields::parse(args) {
                Ok(f) if !f.is_empty() => Command::SetOption(f),
                Ok(_) => return malformed("SET OPTION", "SET OPTION without Key=Value"),
                Err(e) => return ("SET OPTION".into(), Err(e.into())),
            }
        }
        "RELOAD" if next_word(rest).0.eq_ignore_ascii_case("OPTIONS") => Command::ReloadOptions,
        "VERIFY" if next_word(rest).0.eq_ignore_ascii_case("SUM") => {
            let (_, after_sum) = next_word(rest);
            let (table, args) = next_word(after_sum);
            if !table.eq_ignore_ascii_case("ATTLOG") {
                return malformed("VERIFY SUM", format!("VERIFY SUM of table {table:?}"));
            }
            match Fields::parse(args) {
                Ok(f) => Command::VerifySum(f),
                Err(e) => return ("VERIFY SUM".into(), Err(e.into())),
            }
        }
        "" => return malformed("", "empty command"),
        // §4.2 spells SHELL's reply `CMD=Shell` whatever case the server used.
        _ if word.eq_ignore_ascii_case("SHELL") => Command::Unsupported {
            name: "Shell".to_owned(),
        },
        _ => Command::Unsupported {
            name: word.to_owned(),
        },
    };
    (command.reply_name(), Ok(command))
}

fn parse_data(rest: &str) -> (String, Result<Command, CommandError>) {
    let (op_word, after_op) = next_word(rest);
    // 004's pre-DATA-UPDATE forms, still sent by some servers (server-dialects §2.3).
    let (op, table, args) = match op_word.to_ascii_uppercase().as_str() {
        "UPDATE" | "DELETE" | "QUERY" => {
            let op = match op_word.to_ascii_uppercase().as_str() {
                "UPDATE" => DataOp::Update,
                "DELETE" => DataOp::Delete,
                _ => DataOp::Query,
            };
            let (table, args) = next_word(after_op);
            if table.is_empty() {
                return malformed("DATA", format!("DATA {op_word} without a table"));
            }
            (op, table.to_owned(), args)
        }
        "USER" => (DataOp::Update, "USERINFO".to_owned(), after_op),
        "DEL_USER" => (DataOp::Delete, "USERINFO".to_owned(), after_op),
        "FP" => (DataOp::Update, "FINGERTMP".to_owned(), after_op),
        "" => return malformed("DATA", "DATA without an operation"),
        _ => {
            return (
                "DATA".into(),
                Ok(Command::Unsupported {
                    name: "DATA".into(),
                }),
            );
        }
    };
    let fields = match Fields::parse(args) {
        Ok(f) => f,
        Err(e) => return ("DATA".into(), Err(e.into())),
    };
    if op != DataOp::Query && fields.is_empty() {
        return malformed("DATA", format!("DATA {op_word} {table} without fields"));
    }
    (
        "DATA".into(),
        Ok(Command::Data {
            op,
            table,
            records: vec![fields],
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(body: &str) -> ServerCommand {
        let b = parse_batch(body, 200);
        assert_eq!(b.commands.len(), 1, "{b:?}");
        b.commands.into_iter().next().unwrap()
    }

    #[test]
    fn ok_body_means_no_commands() {
        assert_eq!(parse_batch("OK", 200), CommandBatch::default());
        assert_eq!(parse_batch("OK\r\n", 200), CommandBatch::default());
        assert_eq!(parse_batch("", 200), CommandBatch::default());
    }

    #[test]
    fn parses_a_user_update_as_servers_send_it() {
        let c = one(
            "C:101:DATA UPDATE USERINFO PIN=1\tName=Ann Lee\tPri=0\tPasswd=\tCard=[15CD5B07]\tGrp=1\tTZ=0000000100000000\tVerify=0\n",
        );
        assert_eq!(c.id.as_str(), "101");
        assert_eq!(c.reply_name, "DATA");
        let Ok(Command::Data {
            op: DataOp::Update,
            table,
            records,
        }) = c.command
        else {
            panic!()
        };
        assert_eq!(table, "USERINFO");
        assert_eq!(records[0].get("Name"), Some("Ann Lee"));
        assert_eq!(records[0].get("card"), Some("[15CD5B07]"));
    }

    #[test]
    fn splits_at_the_first_two_colons_and_trims_the_seeds_spaces() {
        let c = one(
            "C: 7a3F: DATA QUERY ATTLOG StartTime=2015-07-29 00:00:00\tEndTime=2015-07-29 23:59:59",
        );
        assert_eq!(c.id.as_str(), "7a3F");
        let Ok(Command::Data {
            op: DataOp::Query,
            records,
            ..
        }) = c.command
        else {
            panic!()
        };
        assert_eq!(records[0].get("EndTime"), Some("2015-07-29 23:59:59"));
    }

    #[test]
    fn treats_ids_as_opaque_strings() {
        assert_eq!(
            one("C:0123456789ABCDEF:INFO").id.as_str(),
            "0123456789ABCDEF"
        );
        assert_eq!(
            one("C:6f1c2a9e-0b7d-4b8e-9a51-2c1f0e9d8c7b:CHECK")
                .id
                .as_str(),
            "6f1c2a9e-0b7d-4b8e-9a51-2c1f0e9d8c7b"
        );
        let b = parse_batch("C:a&b:INFO\nC::INFO\nC:x y:INFO", 200);
        assert!(b.commands.is_empty());
        assert_eq!(b.rejected.len(), 3);
    }

    #[test]
    fn parses_a_batch_in_order_with_crlf() {
        let b = parse_batch("C:1:CHECK\r\nC:2:LOG\r\nC:3:INFO\r\nC:4:REBOOT\r\n", 200);
        let names: Vec<_> = b.commands.iter().map(|c| c.reply_name.as_str()).collect();
        assert_eq!(names, ["CHECK", "LOG", "INFO", "REBOOT"]);
    }

    #[test]
    fn accepts_continuation_records_after_a_data_update() {
        let b = parse_batch(
            "C:9:DATA UPDATE USERINFO PIN=1\tName=a\nPIN=2\tName=b\nPIN=3\tName=c\nC:10:INFO",
            200,
        );
        assert_eq!(b.commands.len(), 2);
        let Ok(Command::Data { records, .. }) = &b.commands[0].command else {
            panic!()
        };
        assert_eq!(
            records
                .iter()
                .map(|r| r.get("PIN").unwrap())
                .collect::<Vec<_>>(),
            ["1", "2", "3"]
        );
    }

    #[test]
    fn rejects_stray_lines_that_follow_no_data_command() {
        let b = parse_batch("garbage\nC:1:INFO\nmore garbage", 200);
        assert_eq!(b.commands.len(), 1);
        assert_eq!(b.rejected, vec!["garbage", "more garbage"]);
    }

    #[test]
    fn names_every_reply_as_the_spec_table_says() {
        let cases = [
            ("CLEAR LOG", "CLEAR_LOG"),
            ("CLEAR PHOTO", "CLEAR_PHOTO"),
            ("CLEAR DATA", "CLEAR_DATA"),
            ("CLEAR BIODATA", "CLEAR_BIODATA"),
            ("CHECK", "CHECK"),
            ("LOG", "LOG"),
            ("INFO", "INFO"),
            ("SET OPTION Delay=5", "SET OPTION"),
            ("RELOAD OPTIONS", "RELOAD OPTIONS"),
            ("REBOOT", "REBOOT"),
            ("AC_UNLOCK", "AC_UNLOCK"),
            ("AC_UNALARM", "AC_UNALARM"),
            (
                "VERIFY SUM ATTLOG StartTime=2015-07-29 00:00:00\tEndTime=2015-07-29 23:59:59",
                "VERIFY SUM",
            ),
            ("DATA DELETE USERINFO PIN=2", "DATA"),
        ];
        for (body, name) in cases {
            let c = one(&format!("C:1:{body}"));
            assert!(c.command.is_ok(), "{body}: {:?}", c.command);
            assert_eq!(c.reply_name, name, "{body}");
        }
    }

    #[test]
    fn marks_unknown_commands_unsupported_with_their_own_name() {
        let c = one("C:5:ENROLL_MF PIN=1");
        assert_eq!(
            c.command,
            Ok(Command::Unsupported {
                name: "ENROLL_MF".into()
            })
        );
        assert_eq!(c.reply_name, "ENROLL_MF");
        assert_eq!(
            one("C:5:DATA COUNT user").command,
            Ok(Command::Unsupported {
                name: "DATA".into()
            })
        );
        assert_eq!(one("C:5:CLEAR FOO").reply_name, "CLEAR_FOO");
    }

    #[test]
    fn reports_parse_errors_with_the_commands_name() {
        for (body, name) in [
            ("SET OPTION", "SET OPTION"),
            ("SET OPTION Delay", "SET OPTION"),
            ("DATA UPDATE", "DATA"),
            ("DATA UPDATE USERINFO", "DATA"),
            ("DATA UPDATE USERINFO PIN=1\tjunk", "DATA"),
            ("CLEAR", "CLEAR"),
            ("", ""),
        ] {
            let c = one(&format!("C:1:{body}"));
            assert!(c.command.is_err(), "{body:?}");
            assert_eq!(c.reply_name, name, "{body:?}");
        }
    }

    #[test]
    fn maps_legacy_data_forms() {
        let c = one("C:1:DATA USER PIN=5\tName=x");
        assert!(
            matches!(c.command, Ok(Command::Data { op: DataOp::Update, ref table, .. }) if table == "USERINFO")
        );
        let c = one("C:1:DATA DEL_USER PIN=5");
        assert!(
            matches!(c.command, Ok(Command::Data { op: DataOp::Delete, ref table, .. }) if table == "USERINFO")
        );
    }

    #[test]
    fn query_without_condition_is_one_empty_record() {
        let c = one("C:1:DATA QUERY USERINFO");
        let Ok(Command::Data {
            op: DataOp::Query,
            records,
            ..
        }) = c.command
        else {
            panic!()
        };
        assert_eq!(records, vec![Fields::default()]);
    }

    #[test]
    fn truncates_long_batches() {
        let body: String = (0..10)
            .map(|i| format!("C:{i}:DATA UPDATE USERINFO PIN={i}\nPIN=x{i}\n"))
            .collect();
        let b = parse_batch(&body, 4);
        assert_eq!(b.commands.len(), 4);
        assert_eq!(b.truncated, 6);
        assert!(
            b.rejected.is_empty(),
            "continuations of dropped commands go with them"
        );
    }

    #[test]
    fn survives_every_prefix_of_a_batch() {
        let body = "C:1:DATA UPDATE USERINFO PIN=1\tName=a\nC:2:SET OPTION Delay=5\nC:3:REBOOT\n";
        for end in 0..=body.len() {
            let _ = parse_batch(&body[..end], 200);
        }
        let garbage_then_valid = format!("\u{0}\u{7f}xx:yy\n{body}");
        assert_eq!(parse_batch(&garbage_then_valid, 200).commands.len(), 3);
    }
}
