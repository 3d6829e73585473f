//! The security dialect's commands [note §4–§6; seed 003 §9]: the access tables, COUNT and QUERY
//! answered through `querydata`, SET/GET OPTIONS and CONTROL DEVICE. Return codes are App 1's
//! [note §9.1].
//!
//! Door commands are checked here and applied by the doors after the batch is committed
//! ([`Effects::door_commands`]), so the store's write lock is never held while a door acts.

use super::{CommandContext, Effects, Failure, Ran, refuse};
use crate::access::model::{DoorId, DoorSettings};
use crate::controller::aux::AuxCommand;
use crate::controller::{DoorCommand, RemoteCommand};
use crate::door::{Emergency as DoorEmergency, Remote};
use crate::protocol::civil::LocalDateTime;
use crate::protocol::command::{Command, DataOp, QueryFilter, ServerCommand};
use crate::protocol::fields::Fields;
use crate::protocol::options::StampTable;
use crate::protocol::reply::{Reply, ReturnCode};
use crate::protocol::security::control::{
    Control, Emergency, OutputAction, OutputKind, RestartTarget, Target,
};
use crate::protocol::security::tables::{
    DeleteCondition, DeviceParam, ParamOutcome, TableDelete, TableError, TableUpdate,
    door_option_value, parse_delete, parse_door_option, parse_update,
};
use crate::store::{AccessDelete, AccessTable};
use crate::store::{QueryJob, QueryTarget, RecordKind, Tx};

/// App 1 return codes of the security dialect [note §9.1].
pub mod code {
    use crate::protocol::reply::ReturnCode;
    /// -7 repeated command.
    pub const REPEATED: ReturnCode = ReturnCode(-7);
    /// -11 wrong data parameter.
    pub const BAD_PARAMETER: ReturnCode = ReturnCode(-11);
    /// -13 command does not exist.
    pub const NO_SUCH_COMMAND: ReturnCode = ReturnCode(-13);
    /// -108 invalid OPTIONS.
    pub const INVALID_OPTIONS: ReturnCode = ReturnCode(-108);
    /// -629 wrong table name.
    pub const NO_SUCH_TABLE: ReturnCode = ReturnCode(-629);
    /// -708 command not supported by the firmware.
    pub const NOT_SUPPORTED: ReturnCode = ReturnCode(-708);
}

pub(super) fn run(
    tx: &Tx<'_>,
    ctx: &CommandContext<'_>,
    cmd: &ServerCommand,
    command: &Command,
) -> Result<Ran, Failure> {
    match command {
        Command::Data {
            op: DataOp::Update,
            table,
            records,
        } => update(tx, ctx, cmd, table, records),
        Command::Data {
            op: DataOp::Delete,
            table,
            records,
        } => delete(tx, ctx, cmd, table, records),
        Command::DataCount { table, filter } => count(tx, cmd, table, filter),
        Command::DataQuery(query) => self::query(tx, cmd, &query.table, &query.filter),
        Command::SetOptions(fields) => set_options(tx, ctx, cmd, fields),
        Command::GetOptions(names) => get_options(tx, ctx, cmd, names),
        Command::ControlDevice(control) => control_device(tx, ctx, cmd, control),
        Command::Unsupported { name } => Err(refuse(
            code::NOT_SUPPORTED,
            format!("{name} is not supported by this controller"),
        )),
        _ => Err(refuse(code::NO_SUCH_COMMAND, "not a security PUSH command")),
    }
}

fn table_error(e: TableError) -> Failure {
    refuse(ReturnCode(e.return_code()), e.to_string())
}

fn update(
    tx: &Tx<'_>,
    ctx: &CommandContext<'_>,
    cmd: &ServerCommand,
    table: &str,
    records: &[Fields],
) -> Result<Ran, Failure> {
    let mut effects = Effects::default();
    for fields in records {
        match parse_update(table, fields).map_err(table_error)? {
            TableUpdate::User(patch) => {
                let previous = tx.user(&patch.pin)?;
                let user = patch.apply(previous.clone());
                tx.replace_user(&user, previous.as_ref())?;
            }
            TableUpdate::Authorization(a) => tx.upsert_authorization(&a)?,
            TableUpdate::TimeZone(tz) => tx.upsert_timezone(&tz)?,
            TableUpdate::Holiday(h) => tx.upsert_holiday(&h)?,
            TableUpdate::FirstCard(f) => {
                check_door(ctx, f.door)?;
                tx.upsert_first_card(&f)?;
            }
            TableUpdate::MultiCardGroup(g) => {
                check_door(ctx, g.door)?;
                tx.upsert_multi_card_group(&g)?;
            }
            TableUpdate::SuperUser(s) => {
                check_door(ctx, s.door)?;
                tx.upsert_super_user(&s)?;
            }
            TableUpdate::Card(card) => {
                if !tx.upsert_extra_card(&card.pin, card.number, card.lost)? {
                    return Err(refuse(
                        code::BAD_PARAMETER,
                        format!("mulcarduser: no user {}", card.pin),
                    ));
                }
            }
            TableUpdate::Door { door, param } => {
                let mut settings = door_settings(tx, ctx, door)?;
                param.apply(&mut settings);
                tx.set_door_settings(door, &settings)?;
                effects.access_changed = true;
            }
            TableUpdate::Device(param) => {
                let mut rules = tx.device_rules()?;
                param.apply(&mut rules);
                tx.set_device_rules(&rules)?;
                effects.access_changed = true;
            }
            // The board file says which door and side each reader serves; the server's
            // ReaderID numbering is kept to find a reader that ReaderWGFormat names.
            TableUpdate::Reader(row) => {
                tx.upsert_reader(&row)?;
                effects.access_changed = true;
            }
            TableUpdate::WiegandFormat(row) => {
                tx.upsert_wiegand_format(&row)?;
                effects.access_changed = true;
            }
            TableUpdate::ReaderFormat(row) => {
                tx.upsert_reader_format(&row)?;
                effects.access_changed = true;
            }
            TableUpdate::Ignored { what } => log::debug!("DATA UPDATE {what}: nothing kept"),
        }
    }
    Ok(Ran::ok(cmd).with(effects))
}

fn delete(
    tx: &Tx<'_>,
    ctx: &CommandContext<'_>,
    cmd: &ServerCommand,
    table: &str,
    records: &[Fields],
) -> Result<Ran, Failure> {
    let mut effects = Effects::default();
    let conditions: Vec<DeleteCondition> = match records {
        [] => vec![DeleteCondition::All],
        _ => records
            .iter()
            .map(|f| {
                if f.is_empty() {
                    DeleteCondition::All
                } else {
                    DeleteCondition::Match(f.clone())
                }
            })
            .collect(),
    };
    for condition in &conditions {
        let what = parse_delete(table, condition).map_err(table_error)?;
        match what {
            TableDelete::Users { pin: Some(pin) } => {
                if !tx.delete_user(&pin)? {
                    log::info!("DATA DELETE user: no user {pin}");
                }
            }
            TableDelete::Users { pin: None } => {
                let n = tx.delete_all_users()?;
                log::warn!("DATA DELETE user *: {n} users removed");
            }
            TableDelete::Transactions => {
                let (deleted, unacked) = tx.delete_records(RecordKind::RtLog)?;
                if unacked > 0 {
                    log::warn!(
                        "DATA DELETE transaction: {unacked} of {deleted} records had not been uploaded"
                    );
                }
            }
            TableDelete::DoorProperties { door } => {
                edit_doors(tx, ctx, door, |s| s.disabled = false)?;
                effects.access_changed = true;
            }
            TableDelete::DoorParameters { door } => {
                edit_doors(tx, ctx, door, |s| {
                    *s = DoorSettings {
                        disabled: s.disabled,
                        ..DoorSettings::default()
                    }
                })?;
                effects.access_changed = true;
            }
            TableDelete::DevParameters => {
                tx.set_device_rules(&Default::default())?;
                effects.access_changed = true;
            }
            TableDelete::Readers { reader } => {
                tx.delete_readers(reader)?;
                effects.access_changed = true;
            }
            TableDelete::WiegandFormats { list, id, card_bit } => {
                tx.delete_wiegand_formats(list, id, card_bit)?;
                effects.access_changed = true;
            }
            TableDelete::ReaderFormats { reader, dev_id } => {
                tx.delete_reader_formats(reader, dev_id)?;
                effects.access_changed = true;
            }
            TableDelete::Ignored { what } => log::debug!("DATA DELETE {what}: nothing kept"),
            other => {
                if let Some(access) = access_delete(table, other)? {
                    tx.delete_access(&access)?;
                }
            }
        }
    }
    Ok(Ran::ok(cmd).with(effects))
}

/// The store's delete for a `DATA DELETE` of an access table. The conditions are ANDed
/// [note §5.1]: a combination the store cannot delete by (`userauthorize AuthorizeTimezoneId=1`,
/// `SuperAuthorize Pin=1⇥DoorID=2`) is refused with -621 rather than widened to more rows than
/// the server named. The seed deletes these tables by `Pin`, `DoorID` (firstcard) or `*` only.
fn access_delete(table: &str, what: TableDelete) -> Result<Option<AccessDelete>, Failure> {
    let unsupported = |field: &str| {
        Err(table_error(TableError::UnsupportedCondition {
            table: table.to_owned(),
            field: field.to_owned(),
        }))
    };
    Ok(Some(match what {
        TableDelete::Authorizations {
            timezone_id: Some(_),
            ..
        } => return unsupported("AuthorizeTimezoneId"),
        TableDelete::Authorizations { pin: Some(pin), .. } => {
            AccessDelete::AuthorizationsOfUser(pin)
        }
        TableDelete::Authorizations { pin: None, .. } => {
            AccessDelete::All(AccessTable::Authorizations)
        }
        TableDelete::TimeZones { id: Some(id) } => AccessDelete::TimeZone(id),
        TableDelete::TimeZones { id: None } => AccessDelete::All(AccessTable::TimeZones),
        TableDelete::Holidays { date: Some(d) } => AccessDelete::Holiday(d.year, d.month, d.day),
        TableDelete::Holidays { date: None } => AccessDelete::All(AccessTable::Holidays),
        TableDelete::FirstCards {
            timezone_id: Some(_),
            ..
        } => return unsupported("TimezoneID"),
        TableDelete::FirstCards {
            door: Some(_),
            pin: Some(_),
            ..
        } => return unsupported("DoorID with Pin"),
        TableDelete::FirstCards {
            door: Some(door), ..
        } => AccessDelete::FirstCardsOfDoor(door),
        TableDelete::FirstCards { pin: Some(pin), .. } => AccessDelete::FirstCardsOfUser(pin),
        TableDelete::FirstCards { .. } => AccessDelete::All(AccessTable::FirstCards),
        TableDelete::MultiCardGroups { index: Some(i) } => AccessDelete::MultiCardGroup(i),
        TableDelete::MultiCardGroups { index: None } => {
            AccessDelete::All(AccessTable::MultiCardGroups)
        }
        TableDelete::SuperUsers { door: Some(_), .. } => return unsupported("DoorID"),
        TableDelete::SuperUsers { pin: Some(pin), .. } => AccessDelete::SuperUser(pin),
        TableDelete::SuperUsers { pin: None, .. } => AccessDelete::All(AccessTable::SuperUsers),
        TableDelete::Cards {
            number: Some(_), ..
        } => return unsupported("CardNo"),
        TableDelete::Cards { pin: Some(pin), .. } => AccessDelete::ExtraCardsOfUser(pin),
        TableDelete::Cards { pin: None, .. } => AccessDelete::All(AccessTable::ExtraCards),
        _ => return Ok(None),
    }))
}

fn check_door(ctx: &CommandContext<'_>, door: DoorId) -> Result<(), Failure> {
    if door == 0 || usize::from(door) > ctx.door_count {
        return Err(refuse(
            code::BAD_PARAMETER,
            format!("door {door}: this controller has {} doors", ctx.door_count),
        ));
    }
    Ok(())
}

/// The auxiliary output BB names (`None`: all), checked against the `AuxOutCount` this
/// controller registered with: none at all is -708, one it lacks -11.
fn aux_output(ctx: &CommandContext<'_>, target: Target) -> Result<Option<u8>, Failure> {
    let count = ctx.capabilities.map_or(0, |c| c.aux_out_count);
    if count == 0 {
        return Err(refuse(code::NOT_SUPPORTED, "this board has no aux outputs"));
    }
    match target {
        Target::All => Ok(None),
        Target::One(aux) if u32::from(aux.get()) <= count => Ok(Some(aux.get())),
        Target::One(aux) => Err(refuse(
            code::BAD_PARAMETER,
            format!("aux output {aux}: this controller has {count}"),
        )),
    }
}

fn door_settings(
    tx: &Tx<'_>,
    ctx: &CommandContext<'_>,
    door: DoorId,
) -> Result<DoorSettings, Failure> {
    check_door(ctx, door)?;
    Ok(tx
        .door_settings()?
        .get(usize::from(door) - 1)
        .cloned()
        .unwrap_or_default())
}

/// Applies `edit` to one door's stored settings, or every door's.
fn edit_doors(
    tx: &Tx<'_>,
    ctx: &CommandContext<'_>,
    door: Option<DoorId>,
    edit: impl Fn(&mut DoorSettings),
) -> Result<(), Failure> {
    let doors: Vec<DoorId> = match door {
        Some(d) => vec![d],
        None => (1..=ctx.door_count)
            .filter_map(|d| DoorId::try_from(d).ok())
            .collect(),
    };
    for d in doors {
        let mut settings = door_settings(tx, ctx, d)?;
        edit(&mut settings);
        tx.set_door_settings(d, &settings)?;
    }
    Ok(())
}

/// The conditions a transaction COUNT or QUERY filters by [note §5.1].
const WINDOW: [&str; 2] = ["starttime", "endtime"];

/// Refuses a COUNT or QUERY condition on a field outside `allowed` with -621, rather than
/// answering for more rows than the server asked about.
fn check_conditions(table: &str, filter: &Fields, allowed: &[&str]) -> Result<(), Failure> {
    match filter
        .iter()
        .find(|(key, _)| !allowed.iter().any(|a| a.eq_ignore_ascii_case(key)))
    {
        Some((field, _)) => Err(table_error(TableError::UnsupportedCondition {
            table: table.to_owned(),
            field: field.to_owned(),
        })),
        None => Ok(()),
    }
}

/// `DATA COUNT`: the count goes up through `querydata`, then `Return=0` [note §5.1, AMB-22].
fn count(tx: &Tx<'_>, cmd: &ServerCommand, table: &str, filter: &Fields) -> Result<Ran, Failure> {
    let rows = match table.to_ascii_lowercase().as_str() {
        "user" => {
            check_conditions(table, filter, &[])?;
            tx.count_users()?
        }
        "transaction" => {
            check_conditions(table, filter, &WINDOW)?;
            match window(filter)? {
                Some((from, to)) => tx.count_records_between(RecordKind::RtLog, from, to)?,
                None => tx.count_records(RecordKind::RtLog)?,
            }
        }
        // Known tables this controller keeps nothing in.
        "templatev10" | "biophoto" | "biodata" => 0,
        _ => {
            return Err(refuse(
                code::NO_SUCH_TABLE,
                format!("DATA COUNT {table}: unknown table"),
            ));
        }
    };
    start_job(
        tx,
        cmd,
        QueryTarget::Count,
        Some(format!("{table}={rows}")),
        Reply::new(cmd.id.clone(), ReturnCode::SUCCESS, &cmd.reply_name),
        |_| {},
    )
}

/// `DATA QUERY`: matching rows go up in numbered packages, then `Return=<rows>` [note §5.1].
fn query(
    tx: &Tx<'_>,
    cmd: &ServerCommand,
    table: &str,
    filter: &QueryFilter,
) -> Result<Ran, Failure> {
    let (target, rows, window, upto) = match (table.to_ascii_lowercase().as_str(), filter) {
        ("transaction", QueryFilter::NewRecords) => {
            let (rows, upto) = (tx.backlog_count(StampTable::RtLog)?, tx.last_record_id()?);
            (QueryTarget::NewTransactions, rows, None, Some(upto))
        }
        ("transaction", QueryFilter::Matching(fields)) => {
            check_conditions(table, fields, &WINDOW)?;
            let window = window(fields)?;
            let (rows, upto) = match window {
                Some((from, to)) => (
                    tx.count_records_between(RecordKind::RtLog, from, to)?,
                    tx.last_record_id()?,
                ),
                None => (tx.count_records(RecordKind::RtLog)?, tx.last_record_id()?),
            };
            (QueryTarget::Transactions, rows, window, Some(upto))
        }
        ("user", QueryFilter::Matching(fields)) => {
            check_conditions(table, fields, &[])?;
            (QueryTarget::Users, tx.count_users()?, None, None)
        }
        ("user", QueryFilter::NewRecords) => {
            return Err(table_error(TableError::UnsupportedCondition {
                table: table.to_owned(),
                field: "NewRecord".to_owned(),
            }));
        }
        ("templatev10" | "biophoto" | "biodata" | "[aplist]", _) => {
            // Nothing kept: no upload, Return=0 [note §5.1 "zero rows"].
            return Ok(Ran::ok(cmd));
        }
        _ => {
            return Err(refuse(
                code::NO_SUCH_TABLE,
                format!("DATA QUERY {table}: unknown table"),
            ));
        }
    };
    if rows == 0 {
        return Ok(Ran::ok(cmd));
    }
    let reply = Reply::new(cmd.id.clone(), ReturnCode(saturate(rows)), &cmd.reply_name);
    start_job(tx, cmd, target, None, reply, |job| {
        job.time_from = window.map(|w| w.0);
        job.time_to = window.map(|w| w.1);
        job.upto_id = upto;
        job.total = rows;
    })
}

/// `starttime=…\tendtime=…` of a transaction filter, both or neither [note §5.1].
fn window(fields: &Fields) -> Result<Option<(LocalDateTime, LocalDateTime)>, Failure> {
    let time = |key: &str| {
        fields
            .get(key)
            .map(|t| {
                LocalDateTime::parse(t.trim())
                    .map_err(|e| refuse(code::BAD_PARAMETER, format!("{key}: {e}")))
            })
            .transpose()
    };
    match (time("starttime")?, time("endtime")?) {
        (Some(from), Some(to)) => Ok(Some((from, to))),
        (None, None) => Ok(None),
        _ => Err(refuse(
            code::BAD_PARAMETER,
            "starttime and endtime go together",
        )),
    }
}

fn saturate(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Queues a `querydata` job; its reply is sent once the data is up.
fn start_job(
    tx: &Tx<'_>,
    cmd: &ServerCommand,
    target: QueryTarget,
    payload: Option<String>,
    reply: Reply,
    fill: impl FnOnce(&mut QueryJob),
) -> Result<Ran, Failure> {
    let mut job = QueryJob {
        payload,
        reply: Some(reply.encode()),
        ..QueryJob::new(cmd.id.as_str(), target)
    };
    fill(&mut job);
    tx.add_query_job(&job)?;
    Ok(Ran::awaiting_upload())
}

/// `SET OPTIONS`: door parameters, device rules and the clock; names this controller does not
/// know are passed over (AMB-36). `-108` when none was usable.
fn set_options(
    tx: &Tx<'_>,
    ctx: &CommandContext<'_>,
    cmd: &ServerCommand,
    fields: &Fields,
) -> Result<Ran, Failure> {
    let mut effects = Effects::default();
    let mut applied = 0;
    for (key, value) in fields.iter() {
        if key.eq_ignore_ascii_case("DateTime") {
            let local = value
                .trim()
                .parse::<u64>()
                .ok()
                .and_then(LocalDateTime::from_zk_packed)
                .ok_or_else(|| refuse(code::BAD_PARAMETER, format!("DateTime {value:?}")))?;
            // The server's local time (AMB-41); the rtdata fetch then gives GMT and its zone.
            let target_ms = local.to_unix(ctx.zone.0) * 1000;
            effects.clock_adjust_ms = Some(target_ms - ctx.now_utc_ms);
            effects.fetch_time = true;
            applied += 1;
            continue;
        }
        match parse_door_option(key, value).map_err(table_error)? {
            ParamOutcome::Set((door, param)) => {
                let mut settings = door_settings(tx, ctx, door)?;
                param.apply(&mut settings);
                tx.set_door_settings(door, &settings)?;
                effects.access_changed = true;
                applied += 1;
                continue;
            }
            ParamOutcome::Ignored => {
                applied += 1;
                continue;
            }
            ParamOutcome::Unknown => {}
        }
        match DeviceParam::parse(key, value).map_err(table_error)? {
            ParamOutcome::Set(param) => {
                let mut rules = tx.device_rules()?;
                param.apply(&mut rules);
                tx.set_device_rules(&rules)?;
                effects.access_changed = true;
                applied += 1;
            }
            ParamOutcome::Ignored => applied += 1,
            ParamOutcome::Unknown => log::info!("SET OPTIONS {key}: not an option of this device"),
        }
    }
    if applied == 0 {
        return Err(refuse(code::INVALID_OPTIONS, "no known option"));
    }
    Ok(Ran::ok(cmd).with(effects))
}

/// Options holding a secret, never sent back by GET OPTIONS: the communication password, and the
/// registry's `authKey` (the comm key) [note §6.6, §2.7]. The door passwords are left out by
/// [`door_option_value`].
const SECRET_OPTIONS: [&str; 2] = ["ComPwd", "authKey"];

/// `GET OPTIONS`: the values go up through `querydata type=options`, then `Return=0`; unknown
/// names are left out (AMB-36).
fn get_options(
    tx: &Tx<'_>,
    ctx: &CommandContext<'_>,
    cmd: &ServerCommand,
    names: &[String],
) -> Result<Ran, Failure> {
    let mut doors = tx.door_settings()?;
    // A door this controller does not have is a name it does not know.
    doors.truncate(ctx.door_count);
    let rules = tx.device_rules()?;
    let capabilities: Vec<(String, String)> = ctx
        .capabilities
        .and_then(|c| c.encode().ok())
        .map(|body| {
            body.split(',')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let bare = |name: &str| name.trim_start_matches('~').to_ascii_lowercase();
    let mut pairs = Vec::new();
    for name in names {
        if SECRET_OPTIONS
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&bare(name)))
        {
            log::debug!("GET OPTIONS {name}: never sent");
            continue;
        }
        let value = match bare(name).as_str() {
            "serialnumber" => Some(ctx.serial.to_owned()),
            "firmver" | "fwversion" => Some(ctx.firmware.to_owned()),
            "ipaddress" => Some(ctx.ip.to_owned()),
            "antipassback" => Some(rules.anti_passback.to_string()),
            "interlock" => Some(rules.interlock.to_string()),
            _ => door_option_value(name, &doors).or_else(|| {
                capabilities
                    .iter()
                    .find(|(k, _)| bare(k) == bare(name))
                    .map(|(_, v)| v.clone())
            }),
        };
        match value {
            // A value that would break the comma list is left out like an unknown name.
            Some(v) if !v.contains([',', '\r', '\n']) => pairs.push(format!("{name}={v}")),
            _ => log::debug!("GET OPTIONS {name}: no value"),
        }
    }
    start_job(
        tx,
        cmd,
        QueryTarget::Options,
        Some(pairs.join(",")),
        Reply::new(cmd.id.clone(), ReturnCode::SUCCESS, &cmd.reply_name),
        |_| {},
    )
}

/// `CONTROL DEVICE` [note §6.3]: checked here, applied by the doors after the commit.
fn control_device(
    tx: &Tx<'_>,
    ctx: &CommandContext<'_>,
    cmd: &ServerCommand,
    control: &Control,
) -> Result<Ran, Failure> {
    let door = |target: Target| -> Result<Option<DoorId>, Failure> {
        match target {
            Target::All => Ok(None),
            Target::One(d) => {
                check_door(ctx, d.get())?;
                Ok(Some(d.get()))
            }
        }
    };
    let mut effects = Effects::default();
    let mut command = |door: Option<DoorId>, remote: Remote| {
        effects
            .remote_commands
            .push(RemoteCommand::Door(DoorCommand { door, remote }));
    };
    match *control {
        Control::Output {
            kind: OutputKind::Lock,
            target,
            action,
        } => {
            let remote = match action {
                OutputAction::Close => Remote::Close,
                OutputAction::OpenFor(secs) => Remote::OpenFor(secs),
                OutputAction::NormallyOpen => Remote::NormalOpen,
            };
            command(door(target)?, remote);
        }
        Control::Output {
            kind: OutputKind::AuxOutput,
            target,
            action,
        } => {
            let aux = aux_output(ctx, target)?;
            effects
                .remote_commands
                .push(RemoteCommand::Aux(AuxCommand { aux, action }));
        }
        Control::CancelAlarm(target) => command(door(target)?, Remote::CancelAlarm),
        Control::Restart(RestartTarget::ThisDevice) => effects.reboot = true,
        Control::Restart(RestartTarget::SubDevice(_)) => {
            return Err(refuse(code::NOT_SUPPORTED, "no sub-devices"));
        }
        Control::NormalOpen {
            door: target,
            enable,
        } => command(door(target)?, Remote::TodayNormalOpen(enable)),
        Control::Lockdown { door: target, lock } => {
            let which = door(target)?;
            // Kept in the door parameters, so it survives a reload and a restart.
            edit_doors(tx, ctx, which, |s| s.locked = lock)?;
            command(which, Remote::Lockdown(lock));
        }
        Control::Emergency(mode) => command(
            None,
            Remote::Emergency(match mode {
                Emergency::AllOpen => DoorEmergency::DualOn,
                Emergency::AllClosed => DoorEmergency::DualOff,
            }),
        ),
        Control::Unsupported(op) => {
            return Err(refuse(
                code::NOT_SUPPORTED,
                format!("CONTROL DEVICE operation {op:02X} is not supported"),
            ));
        }
    }
    Ok(Ran::ok(cmd).with(effects))
}

#[cfg(test)]
mod tests;
