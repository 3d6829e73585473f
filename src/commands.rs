//! Runs the server's commands against the store [spec §4].
//!
//! A batch runs inside one write transaction with a savepoint per command: a command that fails
//! leaves nothing half-done, and its reply is queued in the same commit as its effects, so a crash
//! can neither lose a reply nor run a command twice. Every command id is remembered with its reply;
//! an id seen again gets the stored reply and is not run again [spec §4.1].

pub mod security;

use crate::controller::RemoteCommand;
use crate::protocol::civil::LocalDateTime;
use crate::protocol::command::{ClearTarget, CmdId, Command, CommandBatch, DataOp, ServerCommand};
use crate::protocol::dialect::Dialect;
use crate::protocol::fields::Fields;
use crate::protocol::options::{ServerOptions, UtcOffset, parse_option_reply};
use crate::protocol::record::{OpLog, op_type};
use crate::protocol::reply::{Reply, ReturnCode};
use crate::protocol::security::capabilities::Capabilities;
use crate::protocol::user::{apply_user_update, validate_pin};
use crate::store::{NewRecord, QueryJob, QueryTarget, RecordKind, StoreError, Tx, scope};

/// Settings key of the last option block (scope [`scope::SERVER`]), edited by SET OPTION.
pub const OPTION_BLOCK_KEY: &str = "option_block";
/// Settings key (scope [`scope::STATE`]) set while a CHECK waits for its re-init.
pub const CHECK_PENDING_KEY: &str = "check_pending";
/// Settings key (scope [`scope::DEVICE`]) of the name set by `SET OPTION DeviceName=`.
pub const DEVICE_NAME_KEY: &str = "DeviceName";
/// Longest DeviceName accepted: it is echoed in INFO replies.
const MAX_DEVICE_NAME_LEN: usize = 64;

/// Option keys SET OPTION may change in the session, validated with the option-block parser.
const SESSION_OPTION_KEYS: [&str; 7] = [
    "Delay",
    "ErrorDelay",
    "TransInterval",
    "TransTimes",
    "TransFlag",
    "TimeZone",
    "Realtime",
];

/// What the commands need to know about the device and the moment.
#[derive(Debug, Clone)]
pub struct CommandContext<'a> {
    pub serial: &'a str,
    pub firmware: &'a str,
    pub ip: &'a str,
    pub options: &'a ServerOptions,
    pub zone: UtcOffset,
    pub now_utc_ms: i64,
    pub dialect: Dialect,
    /// Doors 1..=n exist (security dialect).
    pub door_count: usize,
    /// What the device registered with, for GET OPTIONS (security dialect).
    pub capabilities: Option<&'a Capabilities>,
}

impl CommandContext<'_> {
    fn local_now(&self) -> LocalDateTime {
        LocalDateTime::from_unix(self.now_utc_ms.div_euclid(1000), self.zone.0)
    }
}

/// What the session must do after a batch has been committed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effects {
    pub check: bool,
    pub sweep: bool,
    pub reboot: bool,
    /// Options changed by SET OPTION or reloaded by RELOAD OPTIONS.
    pub options: Option<ServerOptions>,
    /// SET OPTION DateTime: move the clock by this much.
    pub clock_adjust_ms: Option<i64>,
    /// CONTROL DEVICE: door and aux-output commands to apply once the batch is committed
    /// (security dialect).
    pub remote_commands: Vec<RemoteCommand>,
    /// Door parameters or device rules changed: the doors re-read them.
    pub access_changed: bool,
    /// SET OPTIONS DateTime: fetch the server's time afterwards [note §3.9, AMB-41].
    pub fetch_time: bool,
}

impl Effects {
    fn merge(&mut self, other: Effects) {
        self.check |= other.check;
        self.sweep |= other.sweep;
        self.reboot |= other.reboot;
        if other.options.is_some() {
            self.options = other.options;
        }
        if other.clock_adjust_ms.is_some() {
            self.clock_adjust_ms = other.clock_adjust_ms;
        }
        self.remote_commands.extend(other.remote_commands);
        self.access_changed |= other.access_changed;
        self.fetch_time |= other.fetch_time;
    }
}

/// Why a command ended without success: a return code for the server, or a store failure.
#[derive(Debug)]
enum Failure {
    Code(ReturnCode, String),
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

fn refuse(code: ReturnCode, why: impl Into<String>) -> Failure {
    Failure::Code(code, why.into())
}

/// A command's result: its reply, or none yet (a query answers once its data is uploaded).
struct Ran {
    reply: Option<Reply>,
    effects: Effects,
}

impl Ran {
    fn reply(reply: Reply) -> Ran {
        Ran {
            reply: Some(reply),
            effects: Effects::default(),
        }
    }

    fn ok(cmd: &ServerCommand) -> Ran {
        Ran::reply(Reply::new(
            cmd.id.clone(),
            ReturnCode::SUCCESS,
            &cmd.reply_name,
        ))
    }

    /// No reply yet: it follows the query's data.
    fn awaiting_upload() -> Ran {
        Ran {
            reply: None,
            effects: Effects::default(),
        }
    }

    fn with(mut self, effects: Effects) -> Ran {
        self.effects = effects;
        self
    }
}

/// Runs `batch` in order and queues one reply per command id. Commands after REBOOT are left for
/// the server to send again after the restart [spec §4.1].
pub fn execute_batch(
    tx: &Tx<'_>,
    ctx: &CommandContext<'_>,
    batch: &CommandBatch,
) -> Result<Effects, StoreError> {
    // One line however many: a server sending garbage every poll must not flood the log.
    if let Some(first) = batch.rejected.first() {
        log::warn!(
            "{} command lines without a usable id ignored, the first: {first:?}",
            batch.rejected.len()
        );
    }
    if batch.truncated > 0 {
        log::warn!(
            "{} commands beyond the per-poll limit left for the next poll",
            batch.truncated
        );
    }
    let mut effects = Effects::default();
    let now_unix = ctx.now_utc_ms.div_euclid(1000);
    for cmd in &batch.commands {
        let id = cmd.id.as_str();
        if effects.reboot {
            log::warn!("command {id} after REBOOT in the same batch ignored");
            continue;
        }
        match tx.executed_reply(id)? {
            // Security: a repeated command is answered -7 [App 1, C15]. Its first reply, if the
            // server has not taken it yet, is still queued and goes first (the queue keeps one
            // reply per id).
            Some(Some(_)) if ctx.dialect == Dialect::Security => {
                log::info!("command {id} already executed; answering -7 (repeated command)");
                let repeated =
                    Reply::new(cmd.id.clone(), security::code::REPEATED, &cmd.reply_name);
                tx.queue_reply(id, &repeated.encode(), false)?;
                continue;
            }
            Some(Some((body, multi_line))) => {
                log::info!("command {id} already executed; sending its stored reply again");
                tx.queue_reply(id, &body, multi_line)?;
                continue;
            }
            Some(None) => {
                log::info!("command {id} is already running (query upload in progress)");
                continue;
            }
            None => {}
        }
        let ran = match tx.savepoint(|tx| run(tx, ctx, cmd)) {
            Ok(ran) => ran,
            Err(Failure::Code(code, why)) => {
                log::warn!(
                    "command {id} ({}) refused with {code}: {why}",
                    cmd.reply_name
                );
                Ran::reply(Reply::new(cmd.id.clone(), code, &cmd.reply_name))
            }
            Err(Failure::Store(e)) => {
                log::error!("command {id} ({}) failed in the store: {e}", cmd.reply_name);
                Ran::reply(Reply::new(
                    cmd.id.clone(),
                    ReturnCode::READ_WRITE_ERROR,
                    &cmd.reply_name,
                ))
            }
        };
        let body = ran.reply.as_ref().map(|r| (r.encode(), r.multi_line));
        tx.record_execution(
            id,
            &cmd.reply_name,
            body.as_ref().map(|(b, m)| (b.as_str(), *m)),
            now_unix,
        )?;
        effects.merge(ran.effects);
    }
    tx.prune_executed()?;
    Ok(effects)
}

fn run(tx: &Tx<'_>, ctx: &CommandContext<'_>, cmd: &ServerCommand) -> Result<Ran, Failure> {
    let command = match (&cmd.command, ctx.dialect) {
        (Ok(c), Dialect::Security) => return security::run(tx, ctx, cmd, c),
        (Ok(c), Dialect::Attendance) => c,
        (Err(e), Dialect::Security) => {
            return Err(refuse(security::code::BAD_PARAMETER, e.to_string()));
        }
        (Err(e), Dialect::Attendance) => {
            return Err(refuse(ReturnCode::PARAMETER_ERROR, e.to_string()));
        }
    };
    match command {
        Command::Data { op, table, records } => run_data(tx, cmd, *op, table, records),
        Command::Clear(target) => clear(tx, ctx, cmd, *target),
        Command::Check => {
            tx.set_setting(scope::STATE, CHECK_PENDING_KEY, "1")?;
            Ok(Ran::ok(cmd).with(Effects {
                check: true,
                ..Effects::default()
            }))
        }
        Command::Log => Ok(Ran::ok(cmd).with(Effects {
            sweep: true,
            ..Effects::default()
        })),
        Command::Info => info(tx, ctx, cmd),
        Command::SetOption(fields) => set_option(tx, ctx, cmd, fields),
        Command::ReloadOptions => {
            let options = tx
                .setting(scope::SERVER, OPTION_BLOCK_KEY)?
                .map(|block| options_from_block(&block, ctx.serial))
                .unwrap_or_else(|| ctx.options.clone());
            Ok(Ran::ok(cmd).with(Effects {
                options: Some(options),
                ..Effects::default()
            }))
        }
        Command::Reboot => Ok(Ran::ok(cmd).with(Effects {
            reboot: true,
            ..Effects::default()
        })),
        Command::VerifySum(fields) => verify_sum(tx, cmd, fields),
        // The attendance terminal has no lock or alarm output of its own (the access dialect
        // drives doors).
        Command::AcUnlock | Command::AcUnalarm | Command::Unsupported { .. } => Err(refuse(
            ReturnCode::NOT_SUPPORTED,
            "not supported by this device",
        )),
        // The security dialect's commands: this is the attendance executor.
        Command::DataCount { .. }
        | Command::DataQuery(_)
        | Command::SetOptions(_)
        | Command::GetOptions(_)
        | Command::ControlDevice(_)
        | Command::Unknown { .. } => Err(refuse(
            ReturnCode::NOT_SUPPORTED,
            "a security dialect command, not run by the attendance executor",
        )),
    }
}

fn run_data(
    tx: &Tx<'_>,
    cmd: &ServerCommand,
    op: DataOp,
    table: &str,
    records: &[Fields],
) -> Result<Ran, Failure> {
    let table = table.to_ascii_uppercase();
    match (op, table.as_str()) {
        (DataOp::Update, "USERINFO") => {
            for fields in records {
                let pin = validate_pin(fields.get("PIN").unwrap_or(""))
                    .map_err(|e| refuse(ReturnCode::PARAMETER_ERROR, e.to_string()))?;
                let previous = tx.user(pin)?;
                let user = apply_user_update(previous.clone(), fields)
                    .map_err(|e| refuse(ReturnCode::PARAMETER_ERROR, e.to_string()))?;
                tx.replace_user(&user, previous.as_ref())?;
            }
            Ok(Ran::ok(cmd))
        }
        (DataOp::Delete, "USERINFO") => {
            for fields in records {
                let pin = validate_pin(fields.get("PIN").unwrap_or(""))
                    .map_err(|e| refuse(ReturnCode::PARAMETER_ERROR, e.to_string()))?;
                // Deleting a user who is not there leaves the device as the server wants it.
                if !tx.delete_user(pin)? {
                    log::info!("DATA DELETE USERINFO: no user {pin}");
                }
            }
            Ok(Ran::ok(cmd))
        }
        (DataOp::Query, "USERINFO") => {
            let pin = match records.first().and_then(|f| f.get("PIN")) {
                Some(p) if !p.trim().is_empty() => Some(
                    validate_pin(p)
                        .map_err(|e| refuse(ReturnCode::PARAMETER_ERROR, e.to_string()))?
                        .to_owned(),
                ),
                _ => None,
            };
            start_query(tx, cmd, QueryTarget::UserInfo, pin, None)
        }
        (DataOp::Query, "ATTLOG") => {
            let fields = records.first().cloned().unwrap_or_default();
            let window = time_window(&fields)?;
            start_query(tx, cmd, QueryTarget::AttLog, None, Some(window))
        }
        _ => Err(refuse(
            ReturnCode::NOT_SUPPORTED,
            format!("table {table} is not supported by this device"),
        )),
    }
}

/// `StartTime=` and `EndTime=` of a query or VERIFY SUM, both required.
fn time_window(fields: &Fields) -> Result<(LocalDateTime, LocalDateTime), Failure> {
    let time = |key: &str| {
        let text = fields
            .get(key)
            .ok_or_else(|| refuse(ReturnCode::PARAMETER_ERROR, format!("{key} missing")))?;
        LocalDateTime::parse(text.trim())
            .map_err(|e| refuse(ReturnCode::PARAMETER_ERROR, format!("{key}: {e}")))
    };
    Ok((time("StartTime")?, time("EndTime")?))
}

fn start_query(
    tx: &Tx<'_>,
    cmd: &ServerCommand,
    target: QueryTarget,
    pin: Option<String>,
    window: Option<(LocalDateTime, LocalDateTime)>,
) -> Result<Ran, Failure> {
    tx.add_query_job(&QueryJob {
        pin,
        time_from: window.map(|w| w.0),
        time_to: window.map(|w| w.1),
        ..QueryJob::new(cmd.id.as_str(), target)
    })?;
    Ok(Ran::awaiting_upload())
}

fn clear(
    tx: &Tx<'_>,
    ctx: &CommandContext<'_>,
    cmd: &ServerCommand,
    target: ClearTarget,
) -> Result<Ran, Failure> {
    let now = ctx.local_now();
    match target {
        ClearTarget::Log => {
            let (deleted, unacked) = tx.delete_records(RecordKind::AttLog)?;
            warn_unacked("CLEAR LOG", unacked);
            let count = deleted.to_string();
            let op = OpLog::new(op_type::DELETED_RECORDS, "0", now, &[&count]);
            tx.append_record(&NewRecord::operation(&op, None))?;
        }
        ClearTarget::Data => {
            let users = tx.delete_all_users()?;
            let (attlogs, unacked_att) = tx.delete_records(RecordKind::AttLog)?;
            let (oplogs, unacked_op) = tx.delete_records(RecordKind::OpLog)?;
            warn_unacked("CLEAR DATA", unacked_att + unacked_op);
            // Queries that were uploading have nothing left to send: answer them now.
            for query in tx.delete_query_jobs()? {
                answer_query(tx, &query, None, ctx.now_utc_ms.div_euclid(1000))?;
            }
            log::warn!(
                "CLEAR DATA removed {users} users, {attlogs} attendance and {oplogs} operation records"
            );
            let op = OpLog::new(op_type::CLEARED_DATA, "0", now, &[]);
            tx.append_record(&NewRecord::operation(&op, None))?;
        }
        // No photos or templates are kept on this device: there is nothing to erase.
        ClearTarget::Photo | ClearTarget::BioData => {}
    }
    Ok(Ran::ok(cmd))
}

/// Queues the reply of a query whose results are all with the server (or gone): the reply the
/// job was started with, else the attendance `Return=0` after the data [spec §4.5, AMB-23].
pub fn answer_query(
    tx: &Tx<'_>,
    cmd_id: &str,
    reply: Option<&str>,
    now_unix: i64,
) -> Result<(), StoreError> {
    let Some(id) = CmdId::parse(cmd_id) else {
        return Ok(());
    };
    let reply = match reply {
        Some(r) => r.to_owned(),
        None => Reply::new(id, ReturnCode::SUCCESS, "DATA").encode(),
    };
    let name = reply.split("CMD=").nth(1).unwrap_or("DATA").to_owned();
    tx.record_execution(cmd_id, &name, Some((&reply, false)), now_unix)
}

fn warn_unacked(what: &str, unacked: i64) {
    if unacked > 0 {
        log::warn!("{what}: the server asked to erase {unacked} records it had not acknowledged");
    }
}

fn info(tx: &Tx<'_>, ctx: &CommandContext<'_>, cmd: &ServerCommand) -> Result<Ran, Failure> {
    let attlogs = tx.count_records(RecordKind::AttLog)?;
    let oplogs = tx.count_records(RecordKind::OpLog)?;
    let name = tx
        .setting(scope::DEVICE, DEVICE_NAME_KEY)?
        .unwrap_or_else(|| "push-agent".to_owned());
    let mut details = vec![
        ("DeviceName".to_owned(), name),
        ("SerialNumber".to_owned(), ctx.serial.to_owned()),
        ("FWVersion".to_owned(), ctx.firmware.to_owned()),
        ("IPAddress".to_owned(), ctx.ip.to_owned()),
        ("UserCount".to_owned(), tx.count_users()?.to_string()),
        ("FPCount".to_owned(), "0".to_owned()),
        ("FaceCount".to_owned(), "0".to_owned()),
        ("AttLogCount".to_owned(), attlogs.to_string()),
        (
            "TransactionCount".to_owned(),
            (attlogs + oplogs).to_string(),
        ),
        ("DateTime".to_owned(), ctx.local_now().to_string()),
    ];
    details.extend(ctx.options.summary());
    let mut reply = Reply::new(cmd.id.clone(), ReturnCode::SUCCESS, &cmd.reply_name);
    reply.details = details;
    reply.multi_line = true;
    Ok(Ran::reply(reply))
}

fn set_option(
    tx: &Tx<'_>,
    ctx: &CommandContext<'_>,
    cmd: &ServerCommand,
    fields: &Fields,
) -> Result<Ran, Failure> {
    let mut effects = Effects::default();
    for (key, value) in fields.iter() {
        if key.eq_ignore_ascii_case("DateTime") {
            let target = parse_date_time(value)
                .ok_or_else(|| refuse(ReturnCode::PARAMETER_ERROR, "DateTime: not a time"))?;
            let target_ms = target.to_unix(ctx.zone.0).saturating_mul(1000);
            effects.clock_adjust_ms = Some(target_ms - ctx.now_utc_ms);
            let op = OpLog::new(op_type::SET_TIME, "0", target, &[]);
            tx.append_record(&NewRecord::operation(&op, None))?;
        } else if key.eq_ignore_ascii_case(DEVICE_NAME_KEY) {
            if value.chars().count() > MAX_DEVICE_NAME_LEN || value.chars().any(char::is_control) {
                return Err(refuse(
                    ReturnCode::PARAMETER_ERROR,
                    format!(
                        "DeviceName: longer than {MAX_DEVICE_NAME_LEN} characters or not printable"
                    ),
                ));
            }
            tx.set_setting(scope::DEVICE, DEVICE_NAME_KEY, value)?;
        } else if let Some(canonical) = SESSION_OPTION_KEYS
            .iter()
            .find(|k| k.eq_ignore_ascii_case(key))
        {
            let line = format!("{canonical}={value}");
            let probe = parse_option_reply(
                &format!("GET OPTION FROM: {}\n{line}", ctx.serial),
                ctx.serial,
            )
            .map_err(|e| refuse(ReturnCode::PARAMETER_ERROR, e.to_string()))?;
            if let Some(w) = probe.warnings.first() {
                return Err(refuse(ReturnCode::PARAMETER_ERROR, w.clone()));
            }
            let block = tx
                .setting(scope::SERVER, OPTION_BLOCK_KEY)?
                .unwrap_or_else(|| format!("GET OPTION FROM: {}", ctx.serial));
            let block = replace_option_line(&block, canonical, &line);
            tx.set_setting(scope::SERVER, OPTION_BLOCK_KEY, &block)?;
            effects.options = Some(options_from_block(&block, ctx.serial));
        } else {
            return Err(refuse(
                ReturnCode::NOT_SUPPORTED,
                format!("option {key} is not settable on this device"),
            ));
        }
    }
    Ok(Ran::ok(cmd).with(effects))
}

/// `DateTime=` as ZK's packed integer (S1) or `YYYY-MM-DD HH:MM:SS`.
fn parse_date_time(value: &str) -> Option<LocalDateTime> {
    let value = value.trim();
    match value.parse::<u64>() {
        Ok(packed) => LocalDateTime::from_zk_packed(packed),
        Err(_) => LocalDateTime::parse(value).ok(),
    }
}

/// `block` with the line for `key` replaced by `line` (or added).
fn replace_option_line(block: &str, key: &str, line: &str) -> String {
    let mut out: Vec<&str> = block
        .lines()
        .filter(|l| {
            l.split_once('=')
                .is_none_or(|(k, _)| !k.trim().eq_ignore_ascii_case(key))
        })
        .collect();
    out.push(line);
    out.join("\n")
}

/// The options of a stored option block (warnings were logged when it arrived).
pub fn options_from_block(block: &str, serial: &str) -> ServerOptions {
    parse_option_reply(block, serial)
        .map(|r| r.options)
        .unwrap_or_default()
}

fn verify_sum(tx: &Tx<'_>, cmd: &ServerCommand, fields: &Fields) -> Result<Ran, Failure> {
    let (from, to) = time_window(fields)?;
    let count = tx.count_attlogs_between(from, to)?;
    let mut reply = Reply::new(cmd.id.clone(), ReturnCode::SUCCESS, &cmd.reply_name);
    reply.details = vec![
        ("StartTime".to_owned(), from.to_string()),
        ("EndTime".to_owned(), to.to_string()),
        ("AttlogSum".to_owned(), count.to_string()),
    ];
    Ok(Ran::reply(reply))
}

#[cfg(test)]
mod tests;
