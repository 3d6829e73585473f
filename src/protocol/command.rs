//! Server commands from a `getrequest` reply, for both dialects [000 §12; spec §4.1; security
//! note §4.1–§4.2, App 14].
//!
//! A reply body is `OK` (nothing to do) or LF-separated command lines. A line is
//! `C:<CmdID>:<body>` (CmdFormat 0), or the same behind an App 14 envelope
//! `DataType=1,SN=<sn>,Priority=<n>,CmdID=<id>,CmdDesc=C:<id>:<body>` (CmdFormat 1); both forms are
//! read whatever the device advertised [AMB-45]. The line splits at its first two colons only,
//! since bodies hold times and URLs; spaces around the id are trimmed (the seeds print
//! `C: ${CmdID}: DATA` and `C:123: DATA DELETE`, AMB-26). A line without a command prefix right
//! after a DATA UPDATE/DELETE is one more record of that command (AMB-13; security §9.1.1). Command
//! ids are opaque strings (server-dialects §2.3).
//!
//! The dialect decides the keywords and the reply's `CMD=` name: the attendance dialect answers
//! every DATA form `CMD=DATA`, the security dialect repeats the keywords (`CMD=DATA UPDATE`,
//! AMB-6) from one table, `SECURITY_COMMANDS`.

use super::dialect::Dialect;
use super::fields::{Fields, FieldsError};
use super::options::{Continuation, key_value_pairs};
use super::security::control::{Control, ControlError};
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
    /// `Fields` when a QUERY has no condition). In the security dialect only UPDATE and DELETE come
    /// here, and a DELETE's empty `Fields` is `*`, every row [security note §5.1].
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
    /// Security `DATA COUNT <table> [<conditions>]`: the rows of `table` matching every condition;
    /// an empty `filter` counts them all [security note §5.1, AMB-27].
    DataCount {
        table: String,
        filter: Fields,
    },
    /// Security `DATA QUERY tablename=…,fielddesc=…,filter=…` [security note §5.1].
    DataQuery(TableQuery),
    /// Security `SET OPTIONS k=v,k=v`, in the order sent [security note §6.5].
    SetOptions(Fields),
    /// Security `GET OPTIONS a,b,c`: the option names, in the order sent [security note §6.6].
    GetOptions(Vec<String>),
    /// Security `CONTROL DEVICE AABBCCDD[EE]` [security note §6.3].
    ControlDevice(Control),
    /// Well-formed but not something this device does: answered `-1002` (attendance) or `-708`
    /// (security, App 1).
    Unsupported {
        name: String,
    },
    /// A keyword the security dialect does not define: answered `-13` (App 1). The attendance
    /// dialect calls these [`Command::Unsupported`].
    Unknown {
        name: String,
    },
}

/// A security `DATA QUERY` [security note §5.1; seed 003 §9.1.4].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableQuery {
    /// `tablename`, as sent (`[APList]` keeps its brackets).
    pub table: String,
    /// `fielddesc`.
    pub fields: FieldSelection,
    /// `filter`.
    pub filter: QueryFilter,
}

/// `fielddesc`: `*` (or `\*`, AMB-27) for every field, else the fields named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldSelection {
    All,
    Named(Vec<String>),
}

/// `filter` of a security `DATA QUERY` [security note §5.1].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryFilter {
    /// `NewRecord`: the records not uploaded yet (table `transaction`).
    NewRecords,
    /// The rows matching every condition (`Type=9\tPin=1`, `starttime=…\tendtime=…`); an empty
    /// list (`*`, `x`, nothing) matches every row [AMB-27].
    Matching(Fields),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Malformed(String),
    #[error(transparent)]
    Fields(#[from] FieldsError),
    /// A `CONTROL DEVICE` argument that does not decode: answered `-11` [App 1, AMB-12].
    #[error(transparent)]
    Control(#[from] ControlError),
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

/// Parses an attendance getrequest reply body: [`parse_batch_as`] with [`Dialect::Attendance`].
pub fn parse_batch(body: &str, max_commands: usize) -> CommandBatch {
    parse_batch_as(Dialect::Attendance, body, max_commands)
}

/// Parses a getrequest reply body in `dialect`. At most `max_commands` commands are kept.
pub fn parse_batch_as(dialect: Dialect, body: &str, max_commands: usize) -> CommandBatch {
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
        if starts_command(line) {
            if batch.commands.len() >= max_commands {
                batch.truncated += 1;
                continue;
            }
            match parse_line(dialect, line) {
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
    // A DATA UPDATE/DELETE may carry all its records on the lines after it (the App 14 example);
    // one that got none is malformed.
    for cmd in &mut batch.commands {
        if let Ok(Command::Data { op, table, records }) = &cmd.command
            && records.is_empty()
        {
            cmd.command = Err(CommandError::Malformed(format!(
                "DATA {op:?} {table} without records"
            )));
        }
    }
    batch
}

/// A line that starts a command: `C:` (CmdFormat 0) or `DataType=` (CmdFormat 1, App 14).
fn starts_command(line: &str) -> bool {
    let line = line.trim_start().as_bytes();
    let starts = |prefix: &str| {
        line.get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
    };
    starts("C:") || starts("DataType=")
}

/// The text after `prefix` when `text` starts with it, ignoring ASCII case.
fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn parse_line(dialect: Dialect, line: &str) -> Option<ServerCommand> {
    let line = line.trim_start();
    match strip_prefix_ignore_case(line, "C:") {
        Some(rest) => parse_command_line(dialect, rest),
        None => parse_envelope(dialect, line),
    }
}

/// `DataType=1,SN=…,Priority=…,CmdID=<id>,CmdDesc=C:<id>:<body>` [App 14]. `CmdDesc` is last and
/// its value may hold commas. `SN` (the device meant, for multi-level control) and `Priority` are
/// not used. A `DataType` other than 1, or a `CmdID` that differs from the `C:<id>:` it wraps,
/// leaves the line without a command. A `CmdDesc` without `C:<id>:` takes the id from `CmdID`.
fn parse_envelope(dialect: Dialect, line: &str) -> Option<ServerCommand> {
    // ASCII lower-casing keeps byte offsets.
    let at = line.to_ascii_lowercase().find("cmddesc=")?;
    let (envelope, desc) = (&line[..at], line[at + "cmddesc=".len()..].trim_start());
    let (pairs, _) = key_value_pairs(envelope.split(','), Continuation::Skip);
    let value = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    };
    if value("DataType").is_some_and(|t| t != "1") {
        return None;
    }
    let envelope_id = value("CmdID");
    match strip_prefix_ignore_case(desc, "C:") {
        Some(rest) => {
            let cmd = parse_command_line(dialect, rest)?;
            envelope_id
                .is_none_or(|id| id == cmd.id.as_str())
                .then_some(cmd)
        }
        None => {
            let id = CmdId::parse(envelope_id?)?;
            let (reply_name, command) = parse_body(dialect, desc);
            Some(ServerCommand {
                id,
                reply_name,
                command,
            })
        }
    }
}

fn parse_command_line(dialect: Dialect, rest: &str) -> Option<ServerCommand> {
    let (id, body) = rest.split_once(':')?;
    let id = CmdId::parse(id.trim())?;
    let (reply_name, command) = parse_body(dialect, body.trim_start());
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

fn parse_body(dialect: Dialect, body: &str) -> (String, Result<Command, CommandError>) {
    match dialect {
        Dialect::Attendance => parse_attendance(body),
        Dialect::Security => parse_security(body),
    }
}

fn parse_attendance(body: &str) -> (String, Result<Command, CommandError>) {
    let (word, rest) = next_word(body);
    let named = |name: &str, command| (name.to_owned(), Ok(command));
    match word.to_ascii_uppercase().as_str() {
        "DATA" => parse_attendance_data(rest),
        "CLEAR" => {
            let (what, _) = next_word(rest);
            let what = what.to_ascii_uppercase();
            // AMB-19: 000 prints clear_photo, 001 CLEAR_PHOTO; upper case matches its siblings.
            let name = format!("CLEAR_{what}");
            let target = match what.as_str() {
                "LOG" => ClearTarget::Log,
                "PHOTO" => ClearTarget::Photo,
                "DATA" => ClearTarget::Data,
                "BIODATA" => ClearTarget::BioData,
                "" => return malformed("CLEAR", "CLEAR without a target"),
                _ => return (name.clone(), Ok(Command::Unsupported { name })),
            };
            (name, Ok(Command::Clear(target)))
        }
        "CHECK" => named("CHECK", Command::Check),
        "LOG" => named("LOG", Command::Log),
        "INFO" => named("INFO", Command::Info),
        "REBOOT" => named("REBOOT", Command::Reboot),
        "AC_UNLOCK" => named("AC_UNLOCK", Command::AcUnlock),
        "AC_UNALARM" => named("AC_UNALARM", Command::AcUnalarm),
        "SET" => {
            let (what, args) = next_word(rest);
            if !what.eq_ignore_ascii_case("OPTION") {
                let name = format!("SET {what}").trim().to_owned();
                return (name.clone(), Ok(Command::Unsupported { name }));
            }
            match Fields::parse(args) {
                Ok(f) if !f.is_empty() => named("SET OPTION", Command::SetOption(f)),
                Ok(_) => malformed("SET OPTION", "SET OPTION without Key=Value"),
                Err(e) => ("SET OPTION".into(), Err(e.into())),
            }
        }
        "RELOAD" if next_word(rest).0.eq_ignore_ascii_case("OPTIONS") => {
            named("RELOAD OPTIONS", Command::ReloadOptions)
        }
        "VERIFY" if next_word(rest).0.eq_ignore_ascii_case("SUM") => {
            let (_, after_sum) = next_word(rest);
            let (table, args) = next_word(after_sum);
            if !table.eq_ignore_ascii_case("ATTLOG") {
                return malformed("VERIFY SUM", format!("VERIFY SUM of table {table:?}"));
            }
            match Fields::parse(args) {
                Ok(f) => named("VERIFY SUM", Command::VerifySum(f)),
                Err(e) => ("VERIFY SUM".into(), Err(e.into())),
            }
        }
        "" => malformed("", "empty command"),
        // §4.2 spells SHELL's reply `CMD=Shell` whatever case the server used.
        "SHELL" => {
            let name = "Shell".to_owned();
            (name.clone(), Ok(Command::Unsupported { name }))
        }
        _ => (
            word.to_owned(),
            Ok(Command::Unsupported {
                name: word.to_owned(),
            }),
        ),
    }
}

fn parse_attendance_data(rest: &str) -> (String, Result<Command, CommandError>) {
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
    let records = match op {
        DataOp::Query => vec![fields],
        DataOp::Update | DataOp::Delete => first_record(fields),
    };
    ("DATA".into(), Ok(Command::Data { op, table, records }))
}

/// The records of an UPDATE/DELETE line: none when it has no fields, since they may all come on
/// the lines after it (a command that gets none is refused at the end of [`parse_batch_as`]).
fn first_record(fields: Fields) -> Vec<Fields> {
    if fields.is_empty() {
        Vec::new()
    } else {
        vec![fields]
    }
}

/// How the rest of a security command line is read.
#[derive(Debug, Clone, Copy)]
enum Args {
    Records(DataOp),
    Count,
    Query,
    Control,
    SetOptions,
    GetOptions,
    /// Defined by the dialect but not carried out by this device: [`Command::Unsupported`].
    NotCarriedOut,
}

/// One security command: its keywords as sent (matched ignoring case, any run of SP/HT between
/// them), the reply's `CMD=` name, and how its arguments are read.
#[derive(Debug, Clone, Copy)]
struct SecurityCommand {
    keywords: &'static str,
    reply: &'static str,
    args: Args,
}

/// Every command of the security dialect [note §4.2] and the `CMD=` of its reply [§7.4, AMB-6,
/// AMB-40]. The reply repeats the keywords, as the seed's templates mostly do; a server that wants
/// the bare `DATA` some examples print needs only the `reply` column changed.
const SECURITY_COMMANDS: [SecurityCommand; 13] = [
    SecurityCommand {
        keywords: "DATA UPDATE",
        reply: "DATA UPDATE",
        args: Args::Records(DataOp::Update),
    },
    SecurityCommand {
        keywords: "DATA DELETE",
        reply: "DATA DELETE",
        args: Args::Records(DataOp::Delete),
    },
    SecurityCommand {
        keywords: "DATA COUNT",
        reply: "DATA COUNT",
        args: Args::Count,
    },
    SecurityCommand {
        keywords: "DATA QUERY",
        reply: "DATA QUERY",
        args: Args::Query,
    },
    SecurityCommand {
        keywords: "CONTROL DEVICE",
        reply: "CONTROL DEVICE",
        args: Args::Control,
    },
    SecurityCommand {
        keywords: "SET OPTIONS",
        reply: "SET OPTIONS",
        args: Args::SetOptions,
    },
    SecurityCommand {
        keywords: "GET OPTIONS",
        reply: "GET OPTIONS",
        args: Args::GetOptions,
    },
    SecurityCommand {
        keywords: "ACCOUNT",
        reply: "ACCOUNT",
        args: Args::NotCarriedOut,
    },
    SecurityCommand {
        keywords: "Test Host",
        reply: "Test Host",
        args: Args::NotCarriedOut,
    },
    SecurityCommand {
        keywords: "UPGRADE",
        reply: "UPGRADE",
        args: Args::NotCarriedOut,
    },
    SecurityCommand {
        keywords: "SET ADSCREEN_OPTIONS",
        reply: "SET ADSCREEN_OPTIONS",
        args: Args::NotCarriedOut,
    },
    SecurityCommand {
        keywords: "ENROLL_INFO",
        reply: "ENROLL_INFO",
        args: Args::NotCarriedOut,
    },
    SecurityCommand {
        keywords: "ENROLL_BIO",
        reply: "ENROLL_BIO",
        args: Args::NotCarriedOut,
    },
];

/// The text after `keywords` when `body` starts with them.
fn strip_keywords<'a>(body: &'a str, keywords: &str) -> Option<&'a str> {
    keywords.split(' ').try_fold(body, |rest, keyword| {
        let (word, after) = next_word(rest);
        word.eq_ignore_ascii_case(keyword).then_some(after)
    })
}

fn parse_security(body: &str) -> (String, Result<Command, CommandError>) {
    let Some((command, args)) = SECURITY_COMMANDS
        .iter()
        .find_map(|c| strip_keywords(body, c.keywords).map(|args| (c, args)))
    else {
        let (word, _) = next_word(body);
        if word.is_empty() {
            return malformed("", "empty command");
        }
        let name = word.to_owned();
        return (name.clone(), Ok(Command::Unknown { name }));
    };
    let parsed = match command.args {
        Args::Records(op) => parse_records(op, args),
        Args::Count => parse_count(args),
        Args::Query => parse_query(args),
        Args::Control => Control::decode(args)
            .map(Command::ControlDevice)
            .map_err(CommandError::from),
        Args::SetOptions => parse_set_options(args),
        Args::GetOptions => parse_get_options(args),
        Args::NotCarriedOut => Ok(Command::Unsupported {
            name: command.reply.to_owned(),
        }),
    };
    (command.reply.to_owned(), parsed)
}

/// `<table> <rest>`, `<table>*` read as `<table> *` [AMB-26].
fn table_and_args(args: &str) -> Result<(&str, &str), CommandError> {
    let (table, rest) = next_word(args);
    match table.strip_suffix('*') {
        Some(stem) if !stem.is_empty() && rest.trim().is_empty() => Ok((stem, "*")),
        _ if table.is_empty() => Err(CommandError::Malformed("DATA without a table".into())),
        _ => Ok((table, rest)),
    }
}

/// `DATA UPDATE|DELETE <table> <record>`; a DELETE's `*` is every row (an empty `Fields`).
fn parse_records(op: DataOp, args: &str) -> Result<Command, CommandError> {
    let (table, rest) = table_and_args(args)?;
    let records = if op == DataOp::Delete && rest.trim() == "*" {
        vec![Fields::default()]
    } else {
        first_record(Fields::parse(rest)?)
    };
    Ok(Command::Data {
        op,
        table: table.to_owned(),
        records,
    })
}

/// `DATA COUNT <table> [<conditions>]`.
fn parse_count(args: &str) -> Result<Command, CommandError> {
    let (table, rest) = table_and_args(args)?;
    Ok(Command::DataCount {
        table: table.to_owned(),
        filter: conditions(rest)?,
    })
}

/// `tablename=<t>,fielddesc=<f>,filter=<conditions>`. An item whose key is none of the three is
/// part of the value before it (a filter value may hold a comma).
fn parse_query(args: &str) -> Result<Command, CommandError> {
    const KEYS: [&str; 3] = ["tablename", "fielddesc", "filter"];
    let mut values: [Option<String>; 3] = Default::default();
    let mut last: Option<usize> = None;
    for item in args.split(',') {
        let key = item.split_once('=').and_then(|(k, v)| {
            Some((
                KEYS.iter()
                    .position(|key| k.trim().eq_ignore_ascii_case(key))?,
                v,
            ))
        });
        match (key, last) {
            (Some((slot, value)), _) => {
                values[slot] = Some(value.to_owned());
                last = Some(slot);
            }
            (None, Some(slot)) => {
                if let Some(value) = &mut values[slot] {
                    value.push(',');
                    value.push_str(item);
                }
            }
            (None, None) => {
                return Err(CommandError::Malformed(format!(
                    "DATA QUERY item {item:?} is not tablename=, fielddesc= or filter="
                )));
            }
        }
    }
    let [table, fields, filter] = values.map(|v| v.map(|v| v.trim().replace("\\*", "*")));
    let table = table
        .filter(|t| !t.is_empty())
        .ok_or_else(|| CommandError::Malformed("DATA QUERY without tablename".into()))?;
    let fields = match fields.as_deref() {
        None | Some("" | "*") => FieldSelection::All,
        Some(names) => FieldSelection::Named(
            names
                .replace("\\t", "\t")
                .split(['\t', ' ', '&'])
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
    };
    let filter = match filter.as_deref() {
        Some(f) if f.eq_ignore_ascii_case("NewRecord") => QueryFilter::NewRecords,
        f => QueryFilter::Matching(conditions(f.unwrap_or(""))?),
    };
    Ok(Command::DataQuery(TableQuery {
        table,
        fields,
        filter,
    }))
}

/// Conditions of DATA COUNT and QUERY [AMB-27]: `field=value` items separated by HT, a literal
/// `\t`, `&`, or SP (SP only before a `field=`, so values with spaces survive, AMB-25); `\*` is
/// `*`. Nothing, `*` and `x` are the empty list: every row.
fn conditions(text: &str) -> Result<Fields, FieldsError> {
    let text = text.trim().replace("\\*", "*");
    if matches!(text.as_str(), "" | "*" | "x" | "X") {
        return Ok(Fields::default());
    }
    let text = text.replace("\\t", "\t").replace('&', "\t");
    let mut pairs = Vec::new();
    for piece in text.split('\t') {
        let fields = Fields::parse(piece)?;
        pairs.extend(fields.iter().map(|(k, v)| (k.to_owned(), v.to_owned())));
    }
    Ok(Fields::from_pairs(pairs))
}

/// `k=v,k=v`: split at commas (no trailing one), each at its first `=` [note §6.5].
fn parse_set_options(args: &str) -> Result<Command, CommandError> {
    let (pairs, skipped) = key_value_pairs(args.split(','), Continuation::Skip);
    if let Some(item) = skipped.first() {
        return Err(FieldsError::MissingEquals((*item).to_owned()).into());
    }
    if pairs.iter().any(|(key, _)| key.is_empty()) {
        return Err(FieldsError::EmptyKey.into());
    }
    if pairs.is_empty() {
        return Err(CommandError::Malformed(
            "SET OPTIONS without Key=Value".into(),
        ));
    }
    Ok(Command::SetOptions(Fields::from_pairs(pairs)))
}

/// `a,b,c` [note §6.6].
fn parse_get_options(args: &str) -> Result<Command, CommandError> {
    let names: Vec<String> = args
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    if names.is_empty() {
        return Err(CommandError::Malformed(
            "GET OPTIONS without option names".into(),
        ));
    }
    Ok(Command::GetOptions(names))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::reply::{Reply, ReturnCode};
    use crate::protocol::security::control::{OutputAction, OutputKind, Target};
    use std::num::NonZeroU8;

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

    // Security dialect [security note §4.1–§4.2, §5.1, §6.3, §6.5, §6.6, App 14].

    fn security(body: &str) -> CommandBatch {
        parse_batch_as(Dialect::Security, body, 200)
    }

    fn one_security(body: &str) -> ServerCommand {
        let b = security(body);
        assert_eq!(b.commands.len(), 1, "{body:?} → {b:?}");
        assert!(b.rejected.is_empty(), "{body:?} → {b:?}");
        b.commands.into_iter().next().unwrap()
    }

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields::from_pairs(pairs.iter().copied())
    }

    fn success_line(c: &ServerCommand) -> String {
        Reply::new(c.id.clone(), ReturnCode::SUCCESS, &c.reply_name).encode()
    }

    fn data(op: DataOp, table: &str, records: Vec<Fields>) -> Command {
        Command::Data {
            op,
            table: table.into(),
            records,
        }
    }

    #[test]
    fn names_security_replies_after_their_keywords() {
        let cases = [
            (
                "C:1:DATA UPDATE user Pin=1",
                "ID=1&Return=0&CMD=DATA UPDATE",
            ),
            (
                "C:2:DATA DELETE user Pin=1",
                "ID=2&Return=0&CMD=DATA DELETE",
            ),
            ("C:288:DATA COUNT user", "ID=288&Return=0&CMD=DATA COUNT"),
            (
                "C:415:DATA QUERY tablename=user,fielddesc=*,filter=*",
                "ID=415&Return=0&CMD=DATA QUERY",
            ),
            (
                "C:221:CONTROL DEVICE 01010105",
                "ID=221&Return=0&CMD=CONTROL DEVICE",
            ),
            (
                "C:401:SET OPTIONS DateTime=583080894",
                "ID=401&Return=0&CMD=SET OPTIONS",
            ),
            (
                "C:410:GET OPTIONS FingerFunOn,FvFunOn",
                "ID=410&Return=0&CMD=GET OPTIONS",
            ),
        ];
        for (body, line) in cases {
            let c = one_security(body);
            assert!(c.command.is_ok(), "{body}: {:?}", c.command);
            assert_eq!(success_line(&c), line, "{body}");
        }
    }

    #[test]
    fn the_dialect_decides_the_data_reply_name() {
        let body = "C:7:DATA UPDATE user Pin=1";
        assert_eq!(one(body).reply_name, "DATA");
        assert_eq!(one_security(body).reply_name, "DATA UPDATE");
        assert_eq!(one(body).command, one_security(body).command);
    }

    #[test]
    fn marks_defined_but_not_carried_out_security_commands_unsupported() {
        let cases = [
            ("ACCOUNT transaction MaxIndex=0", "ACCOUNT"),
            ("Test Host Address=192.168.1.2:8088", "Test Host"),
            (
                "UPGRADE type=1,checksum=x,size=10,url=http://h/f",
                "UPGRADE",
            ),
            (
                "SET ADSCREEN_OPTIONS InOut=0,Area=1",
                "SET ADSCREEN_OPTIONS",
            ),
            ("ENROLL_INFO TYPE=0\tPIN=1", "ENROLL_INFO"),
            ("ENROLL_BIO TYPE=9\tNO=0\tPIN=1", "ENROLL_BIO"),
        ];
        for (body, name) in cases {
            let c = one_security(&format!("C:3:{body}"));
            assert_eq!(
                c.command,
                Ok(Command::Unsupported { name: name.into() }),
                "{body}"
            );
            assert_eq!(c.reply_name, name);
        }
    }

    #[test]
    fn marks_keywords_the_security_dialect_does_not_define_unknown() {
        for (body, name) in [
            ("REBOOT", "REBOOT"),
            ("SET OPTION Delay=5", "SET"),
            ("DATA FROB user", "DATA"),
            ("CONTROL 01010105", "CONTROL"),
        ] {
            let c = one_security(&format!("C:4:{body}"));
            assert_eq!(
                c.command,
                Ok(Command::Unknown { name: name.into() }),
                "{body}"
            );
            assert_eq!(c.reply_name, name);
        }
        // The attendance dialect keeps answering unknown words as unsupported.
        assert_eq!(
            one("C:4:CONTROL DEVICE 01010105").command,
            Ok(Command::Unsupported {
                name: "CONTROL".into()
            })
        );
        let c = one_security("C:4:");
        assert!(c.command.is_err());
        assert_eq!(c.reply_name, "");
    }

    #[test]
    fn matches_security_keywords_ignoring_case_and_extra_blanks() {
        let c = one_security("C:5:data  update\tuser Pin=1");
        assert_eq!(
            c.command,
            Ok(data(DataOp::Update, "user", vec![fields(&[("Pin", "1")])]))
        );
        assert_eq!(c.reply_name, "DATA UPDATE");
    }

    #[test]
    fn parses_security_updates_with_continuation_records() {
        let b = security(
            "C:295:DATA UPDATE userauthorize Pin=1\tAuthorizeTimezoneId=1\tAuthorizeDoorId=3\n\
             Pin=2\tAuthorizeTimezoneId=1\tAuthorizeDoorId=15\n\
             C:296:DATA UPDATE user CardNo=\tPin=3\tName=Zhang San\tPrivilege=0\n",
        );
        assert!(b.rejected.is_empty(), "{b:?}");
        let commands: Vec<_> = b.commands.into_iter().map(|c| c.command).collect();
        assert_eq!(
            commands,
            vec![
                Ok(data(
                    DataOp::Update,
                    "userauthorize",
                    vec![
                        fields(&[
                            ("Pin", "1"),
                            ("AuthorizeTimezoneId", "1"),
                            ("AuthorizeDoorId", "3")
                        ]),
                        fields(&[
                            ("Pin", "2"),
                            ("AuthorizeTimezoneId", "1"),
                            ("AuthorizeDoorId", "15")
                        ]),
                    ]
                )),
                Ok(data(
                    DataOp::Update,
                    "user",
                    vec![fields(&[
                        ("CardNo", ""),
                        ("Pin", "3"),
                        ("Name", "Zhang San"),
                        ("Privilege", "0")
                    ])]
                )),
            ]
        );
    }

    #[test]
    fn reads_space_separated_records_keeping_values_with_spaces() {
        // AMB-25: no HT in the record, so a space ends a field only before `Key=`.
        let c = one_security(
            "C:9:DATA UPDATE WGFormat ID=1 CardBit=26 SiteCode=0 FormatName=Wiegand 26 \
             CardFormat=pccccccccccccccccccccccccp:eeeeeeeeeeeeeooooooooooooo",
        );
        assert_eq!(
            c.command,
            Ok(data(
                DataOp::Update,
                "WGFormat",
                vec![fields(&[
                    ("ID", "1"),
                    ("CardBit", "26"),
                    ("SiteCode", "0"),
                    ("FormatName", "Wiegand 26"),
                    (
                        "CardFormat",
                        "pccccccccccccccccccccccccp:eeeeeeeeeeeeeooooooooooooo"
                    ),
                ])]
            ))
        );
    }

    #[test]
    fn parses_security_deletes() {
        let all = vec![Fields::default()];
        let cases = [
            // AMB-26: a space after the id's colon.
            (
                "C:123: DATA DELETE holiday *",
                data(DataOp::Delete, "holiday", all.clone()),
            ),
            (
                "C:123:DATA DELETE transaction *",
                data(DataOp::Delete, "transaction", all.clone()),
            ),
            // AMB-26: `<table>*`.
            (
                "C:342:DATA DELETE ReaderProperty*",
                data(DataOp::Delete, "ReaderProperty", all),
            ),
            (
                "C:342:DATA DELETE templatev10 Pin=1 FingerID=6",
                data(
                    DataOp::Delete,
                    "templatev10",
                    vec![fields(&[("Pin", "1"), ("FingerID", "6")])],
                ),
            ),
            (
                "C:335:DATA DELETE userauthorize Pin=1\nPin=2",
                data(
                    DataOp::Delete,
                    "userauthorize",
                    vec![fields(&[("Pin", "1")]), fields(&[("Pin", "2")])],
                ),
            ),
        ];
        for (body, command) in cases {
            let c = one_security(body);
            assert_eq!(c.command, Ok(command), "{body}");
            assert_eq!(c.reply_name, "DATA DELETE");
        }
    }

    #[test]
    fn rejects_security_data_commands_without_table_or_records() {
        for (body, name) in [
            ("DATA UPDATE", "DATA UPDATE"),
            ("DATA UPDATE user", "DATA UPDATE"),
            ("DATA DELETE user", "DATA DELETE"),
            ("DATA DELETE user x", "DATA DELETE"),
            ("DATA UPDATE user Pin=1\tjunk", "DATA UPDATE"),
            ("DATA COUNT", "DATA COUNT"),
            ("DATA COUNT user junk", "DATA COUNT"),
        ] {
            let c = one_security(&format!("C:8:{body}"));
            assert!(c.command.is_err(), "{body}: {:?}", c.command);
            assert_eq!(c.reply_name, name, "{body}");
        }
    }

    #[test]
    fn parses_security_counts() {
        let cases = [
            ("DATA COUNT user", "user", Fields::default()),
            ("DATA COUNT user *", "user", Fields::default()),
            ("DATA COUNT transaction x", "transaction", Fields::default()),
            ("DATA COUNT transaction*", "transaction", Fields::default()),
            (
                "DATA COUNT biophoto Type=9",
                "biophoto",
                fields(&[("Type", "9")]),
            ),
            (
                "DATA COUNT biodata Type=1\tPin=1",
                "biodata",
                fields(&[("Type", "1"), ("Pin", "1")]),
            ),
            (
                r"DATA COUNT biodata Type=1\tPin=1",
                "biodata",
                fields(&[("Type", "1"), ("Pin", "1")]),
            ),
        ];
        for (body, table, filter) in cases {
            let c = one_security(&format!("C:80:{body}"));
            assert_eq!(
                c.command,
                Ok(Command::DataCount {
                    table: table.into(),
                    filter
                }),
                "{body}"
            );
        }
    }

    fn query(table: &str, fields: FieldSelection, filter: QueryFilter) -> Command {
        Command::DataQuery(TableQuery {
            table: table.into(),
            fields,
            filter,
        })
    }

    #[test]
    fn parses_security_queries() {
        let every = || QueryFilter::Matching(Fields::default());
        let cases = [
            (
                "tablename=user,fielddesc=*,filter=*",
                query("user", FieldSelection::All, every()),
            ),
            (
                "tablename=[APList],fielddesc=*,filter=*",
                query("[APList]", FieldSelection::All, every()),
            ),
            (
                "tablename=transaction,fielddesc=*,filter=NewRecord",
                query("transaction", FieldSelection::All, QueryFilter::NewRecords),
            ),
            (
                "tablename=biodata,fielddesc=*,filter=Type=9",
                query(
                    "biodata",
                    FieldSelection::All,
                    QueryFilter::Matching(fields(&[("Type", "9")])),
                ),
            ),
            // AMB-27: the seed's literal `\t` and `\*`.
            (
                r"tablename=biodata,fielddesc=\*,filter=Type=1\tPin=1\tNo=6",
                query(
                    "biodata",
                    FieldSelection::All,
                    QueryFilter::Matching(fields(&[("Type", "1"), ("Pin", "1"), ("No", "6")])),
                ),
            ),
            // `&` and SP separate conditions too; SP only before a `key=`.
            (
                "tablename=biodata, fielddesc=*, filter=Type=1&Pin=1 No=6",
                query(
                    "biodata",
                    FieldSelection::All,
                    QueryFilter::Matching(fields(&[("Type", "1"), ("Pin", "1"), ("No", "6")])),
                ),
            ),
            (
                "tablename=transaction,fielddesc=*,filter=starttime=2024-01-01 00:00:00\tendtime=2024-01-31 23:59:59",
                query(
                    "transaction",
                    FieldSelection::All,
                    QueryFilter::Matching(fields(&[
                        ("starttime", "2024-01-01 00:00:00"),
                        ("endtime", "2024-01-31 23:59:59"),
                    ])),
                ),
            ),
            (
                r"tablename=user,fielddesc=pin\tname,filter=x",
                query(
                    "user",
                    FieldSelection::Named(vec!["pin".into(), "name".into()]),
                    every(),
                ),
            ),
            // Omitted items: every field, every row; any order, any key case.
            (
                "TableName=user",
                query("user", FieldSelection::All, every()),
            ),
            (
                "filter=Pin=1,tablename=user",
                query(
                    "user",
                    FieldSelection::All,
                    QueryFilter::Matching(fields(&[("Pin", "1")])),
                ),
            ),
        ];
        for (args, command) in cases {
            let c = one_security(&format!("C:415:DATA QUERY {args}"));
            assert_eq!(c.command, Ok(command), "{args}");
            assert_eq!(c.reply_name, "DATA QUERY");
        }
    }

    #[test]
    fn keeps_a_comma_inside_a_query_filter_value() {
        let c = one_security("C:1:DATA QUERY tablename=user,filter=Name=Lee, Ann");
        assert_eq!(
            c.command,
            Ok(query(
                "user",
                FieldSelection::All,
                QueryFilter::Matching(fields(&[("Name", "Lee, Ann")])),
            ))
        );
    }

    #[test]
    fn rejects_queries_without_a_table_or_with_foreign_items() {
        for args in [
            "",
            "fielddesc=*,filter=*",
            "tablename=,filter=*",
            "user Pin=1",
            "tablename=user,filter=Pin",
        ] {
            let c = one_security(&format!("C:1:DATA QUERY {args}"));
            assert!(
                matches!(
                    c.command,
                    Err(CommandError::Malformed(_) | CommandError::Fields(_))
                ),
                "{args}: {:?}",
                c.command
            );
            assert_eq!(c.reply_name, "DATA QUERY");
        }
    }

    #[test]
    fn parses_set_options_as_comma_separated_pairs() {
        let c = one_security(
            "C:405:SET OPTIONS Door1Drivertime=5,Door1KeepOpenTimeZone=0,Door1ValidTZ=1,\
             Door1SupperPassWord=,Door1VerifyType=0,Reader1IOState=0,WiegandIDIn=1,WiegandID=1",
        );
        assert_eq!(
            c.command,
            Ok(Command::SetOptions(fields(&[
                ("Door1Drivertime", "5"),
                ("Door1KeepOpenTimeZone", "0"),
                ("Door1ValidTZ", "1"),
                ("Door1SupperPassWord", ""),
                ("Door1VerifyType", "0"),
                ("Reader1IOState", "0"),
                ("WiegandIDIn", "1"),
                ("WiegandID", "1"),
            ])))
        );
        assert_eq!(
            one_security("C:227:SET OPTIONS TempWirelessSSID=my net, TempWirelessKey=k=1").command,
            Ok(Command::SetOptions(fields(&[
                ("TempWirelessSSID", "my net"),
                ("TempWirelessKey", "k=1"),
            ])))
        );
    }

    #[test]
    fn rejects_set_options_without_pairs() {
        let cases = [
            (
                "",
                CommandError::Malformed("SET OPTIONS without Key=Value".into()),
            ),
            (
                ",",
                CommandError::Malformed("SET OPTIONS without Key=Value".into()),
            ),
            (
                "IPAddress",
                CommandError::Fields(FieldsError::MissingEquals("IPAddress".into())),
            ),
            ("A=1,=2", CommandError::Fields(FieldsError::EmptyKey)),
        ];
        for (args, error) in cases {
            let c = one_security(&format!("C:1:SET OPTIONS {args}"));
            assert_eq!(c.command, Err(error), "{args:?}");
            assert_eq!(c.reply_name, "SET OPTIONS");
        }
    }

    #[test]
    fn parses_get_options_names() {
        let c = one_security(
            "C:408:GET OPTIONS ~SerialNumber,FirmVer, ~DeviceName ,LockCount,VerifyStyles,EventTypes",
        );
        assert_eq!(
            c.command,
            Ok(Command::GetOptions(
                [
                    "~SerialNumber",
                    "FirmVer",
                    "~DeviceName",
                    "LockCount",
                    "VerifyStyles",
                    "EventTypes"
                ]
                .map(String::from)
                .to_vec()
            ))
        );
        let c = one_security("C:408:GET OPTIONS ");
        assert_eq!(
            c.command,
            Err(CommandError::Malformed(
                "GET OPTIONS without option names".into()
            ))
        );
        assert_eq!(c.reply_name, "GET OPTIONS");
    }

    #[test]
    fn parses_control_device_and_reports_bad_arguments() {
        let c = one_security("C:221:CONTROL DEVICE 01010105");
        assert_eq!(
            c.command,
            Ok(Command::ControlDevice(Control::Output {
                kind: OutputKind::Lock,
                target: Target::One(NonZeroU8::new(1).unwrap()),
                action: OutputAction::OpenFor(NonZeroU8::new(5).unwrap()),
            }))
        );
        assert_eq!(
            one_security("C:224:CONTROL DEVICE 0900000000").command,
            Ok(Command::ControlDevice(Control::Unsupported(0x09)))
        );
        let c = one_security("C:222:CONTROL DEVICE 0201");
        assert_eq!(
            c.command,
            Err(CommandError::Control(ControlError::GroupCount(2)))
        );
        assert_eq!(c.reply_name, "CONTROL DEVICE");
    }

    #[test]
    fn reads_cmd_format_1_envelopes() {
        // App 14's example, as printed: blanks after the commas, the record on the next line
        // with the PDF's spaces for tabs (AMB-25).
        let b = security(
            "DataType=1, SN=123456789, CmdID=295, CmdDesc=C:295:DATA UPDATE user\n\
             CardNo=        Pin=1 Password=234 Group=0 StartTime=0 EndTime=0                   Name= Privilege=0\n\
             DataType=1,SN=DDG7012017010600049,Priority=0,CmdID=296,CmdDesc=C:296:SET OPTIONS Door1Drivertime=5,Door1ValidTZ=1\n\
             C:297:CONTROL DEVICE 03000000\n",
        );
        assert!(b.rejected.is_empty(), "{b:?}");
        let lines: Vec<_> = b.commands.iter().map(success_line).collect();
        assert_eq!(
            lines,
            [
                "ID=295&Return=0&CMD=DATA UPDATE",
                "ID=296&Return=0&CMD=SET OPTIONS",
                "ID=297&Return=0&CMD=CONTROL DEVICE"
            ]
        );
        assert_eq!(
            b.commands[0].command,
            Ok(data(
                DataOp::Update,
                "user",
                vec![fields(&[
                    ("CardNo", ""),
                    ("Pin", "1"),
                    ("Password", "234"),
                    ("Group", "0"),
                    ("StartTime", "0"),
                    ("EndTime", "0"),
                    ("Name", ""),
                    ("Privilege", "0"),
                ])]
            ))
        );
        assert_eq!(
            b.commands[1].command,
            Ok(Command::SetOptions(fields(&[
                ("Door1Drivertime", "5"),
                ("Door1ValidTZ", "1")
            ])))
        );
    }

    #[test]
    fn reads_envelopes_in_either_dialect_and_without_the_inner_prefix() {
        let c = one("datatype=1,cmdid=12,cmddesc=C:12:CHECK");
        assert_eq!((c.id.as_str(), c.command), ("12", Ok(Command::Check)));
        let c = one_security("DataType=1,SN=X,Priority=0,CmdID=77,CmdDesc=GET OPTIONS FirmVer");
        assert_eq!(c.id.as_str(), "77");
        assert_eq!(c.command, Ok(Command::GetOptions(vec!["FirmVer".into()])));
        // DataType and Priority default when absent.
        let c = one_security("DataType=1,CmdDesc=C:78:DATA COUNT user");
        assert_eq!(c.id.as_str(), "78");
    }

    #[test]
    fn rejects_envelopes_that_cannot_name_one_command() {
        let b = security(
            "DataType=1,CmdID=5,CmdDesc=C:6:DATA COUNT user\n\
             DataType=2,CmdID=7,CmdDesc=C:7:DATA COUNT user\n\
             DataType=1,CmdID=8\n\
             DataType=1,CmdDesc=DATA COUNT user\n\
             DataType=1,CmdID=a b,CmdDesc=DATA COUNT user\n\
             C:9:DATA COUNT user",
        );
        assert_eq!(b.rejected.len(), 5, "{b:?}");
        assert_eq!(b.commands.len(), 1);
        assert_eq!(b.commands[0].id.as_str(), "9");
    }

    #[test]
    fn security_batches_survive_every_prefix_and_resync_after_garbage() {
        let body = "DataType=1,SN=1,CmdID=1,CmdDesc=C:1:DATA UPDATE user Pin=1\tName=a\nPin=2\n\
                    C:2:DATA QUERY tablename=user,fielddesc=*,filter=*\nC:3:CONTROL DEVICE 01010105\n\
                    C:4:SET OPTIONS A=1,B=2\nC:5:GET OPTIONS A\nC:6:DATA COUNT user\n";
        for end in 0..=body.len() {
            let _ = security(&body[..end]);
        }
        let b = security(&format!("\u{0}\u{7f}xx:yy\nDataType=\n{body}"));
        assert_eq!(b.commands.len(), 6);
        assert!(b.commands.iter().all(|c| c.command.is_ok()), "{b:?}");
    }

    #[test]
    fn truncates_long_security_batches_with_their_continuations() {
        let body: String = (0..5)
            .map(|i| {
                format!("DataType=1,CmdID={i},CmdDesc=C:{i}:DATA UPDATE user Pin={i}\nPin=x{i}\n")
            })
            .collect();
        let b = parse_batch_as(Dialect::Security, &body, 2);
        assert_eq!((b.commands.len(), b.truncated), (2, 3));
        assert!(b.rejected.is_empty(), "{b:?}");
    }
}
