//! The network side of the agent: drives the sans-IO [`Session`] with the store, the transport
//! and the clock.
//!
//! One [`Engine::tick`] makes at most one exchange. Everything the session must remember across a
//! restart lives in the store: records and their upload cursors, the batch in flight, replies not
//! yet accepted, running queries, the last option block and a pending CHECK. A store failure is
//! logged and retried after a pause; it never ends the agent.

use crate::clock::DeviceClock;
use crate::commands::{
    CHECK_PENDING_KEY, CommandContext, Effects, OPTION_BLOCK_KEY, answer_query, execute_batch,
    options_from_block,
};
use crate::config::AgentConfig;
use crate::config::types::ReplyBatching;
use crate::controller::RemoteCommand;
use crate::protocol::command::CmdId;
use crate::protocol::dialect::Dialect;
use crate::protocol::http::{HttpRequest, HttpResponse};
use crate::protocol::options::{OptionReply, ServerOptions, ServerStamp, StampTable};
use crate::protocol::record::batch_body;
use crate::protocol::request::{self, DeviceIdentity, DeviceInfo};
use crate::protocol::security::capabilities::Capabilities;
use crate::protocol::security::reply::ServerParams;
use crate::protocol::security::requests as security;
use crate::protocol::security::requests::PackagePosition;
use crate::protocol::security::rtlog::RtLog;
use crate::protocol::security::rtstate::{DoorState, RelayPolarity};
use crate::protocol::security::tables::{DateFmt, encode_transaction, encode_user};
use crate::protocol::session::{
    Action, Handled, Mono, Now, Outcome, Session, SessionConfig, Step, Work,
};
use crate::store::{QueryJob, QueryTarget, RecordKind, Store, StoreError, Tx, scope};
use crate::transport::Transport;
use std::sync::Arc;

/// The tables an attendance terminal produces, in upload priority order.
pub const UPLOAD_TABLES: [StampTable; 2] = [StampTable::AttLog, StampTable::OperLog];
/// The tables an access controller produces (security dialect).
pub const SECURITY_UPLOAD_TABLES: [StampTable; 1] = [StampTable::RtLog];
/// Settings keys (scope [`scope::STATE`]).
pub const LAST_CONTACT_KEY: &str = "last_contact";
pub const CLOCK_CORRECTION_KEY: &str = "clock_correction_ms";
/// Pause after a store failure before the next try.
const STORE_RETRY_MS: u64 = 5_000;
/// Records per query-result upload.
const QUERY_CHUNK: usize = 500;

/// What the network side needs from the configuration.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub session: SessionConfig,
    pub reply_batching: ReplyBatching,
    pub max_replies_per_request: usize,
    pub batch_records: usize,
    pub batch_bytes: usize,
    /// The address INFO reports, when configured; otherwise the route to the server decides.
    pub ip: Option<String>,
    /// Security dialect: what the device registers with [note §2.4, §2.7].
    pub capabilities: Option<Capabilities>,
    /// Security dialect: which relay level sets an `rtstate` relay bit [AMB-9].
    pub relay_polarity: RelayPolarity,
    /// Doors 1..=n exist (security dialect).
    pub door_count: usize,
}

impl EngineConfig {
    pub fn from_agent(cfg: &AgentConfig) -> EngineConfig {
        EngineConfig {
            session: SessionConfig {
                identity: DeviceIdentity {
                    serial: cfg.device.serial.as_str().to_owned(),
                    push_version: cfg.device.push_version(),
                    device_type: crate::config::defaults::DEVICE_TYPE.to_owned(),
                    language: cfg.device.language,
                    comm_key: cfg.server.comm_key.as_ref().map(|k| k.expose().to_owned()),
                },
                default_time_zone: cfg.device.time_zone.0,
                sync_clock: cfg.device.sync_clock,
                dialect: cfg.device.dialect,
            },
            reply_batching: cfg.server.reply_batching,
            max_replies_per_request: cfg.server.max_replies_per_request.get() as usize,
            batch_records: cfg.upload.batch_records.get() as usize,
            batch_bytes: cfg.upload.batch_bytes.get() as usize,
            ip: cfg.device.ip.clone(),
            capabilities: None,
            relay_polarity: RelayPolarity::SetWhenEnergised,
            door_count: 0,
        }
    }

    fn upload_tables(&self) -> &'static [StampTable] {
        match self.session.dialect {
            Dialect::Attendance => &UPLOAD_TABLES,
            Dialect::Security => &SECURITY_UPLOAD_TABLES,
        }
    }
}

/// The doors as the network side sees them (security dialect): their live state, reported
/// through `rtstate` [note §3.2], and the remote commands of a committed batch.
pub trait DoorLink: Send {
    /// A number that changes whenever any door's state changes, and the state of doors 1..=n.
    fn door_states(&self) -> (u64, Vec<DoorState>);

    /// Applies CONTROL DEVICE commands, then re-reads the door parameters when `reload`.
    fn apply(&self, commands: &[RemoteCommand], reload: bool);
}

/// The firmware version the device reports (INFO, `FWVersion`).
pub fn firmware_version() -> String {
    format!("Ver {}", env!("CARGO_PKG_VERSION"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// An exchange (or local step) was made; call again.
    Worked,
    /// Nothing to do before `until` (or until new work arrives, when `None`).
    Idle { until: Option<Mono> },
    /// REBOOT: the agent should exit so the service manager restarts it.
    Restart,
}

/// What was prepared in the store for the exchange in progress.
enum Prepared {
    Nothing,
    Replies(Vec<i64>),
    Upload {
        table: StampTable,
        last_id: i64,
        count: usize,
    },
    Query {
        job: QueryJob,
        next_key: String,
        count: usize,
    },
    /// The `rtstate` upload of this state version.
    State(u64),
}

pub struct Engine {
    cfg: EngineConfig,
    session: Session,
    store: Store,
    transport: Box<dyn Transport + Send>,
    clock: Arc<DeviceClock>,
    ip: String,
    /// The last failure reported, so an outage is logged once, not at every retry.
    last_failure: Option<String>,
    last_store_error: Option<String>,
    /// What was wrong with the last option block, so a server's quirks are logged once.
    last_option_warnings: Vec<String>,
    doors: Option<Box<dyn DoorLink>>,
    /// The door-state version the server last acknowledged.
    sent_state_version: Option<u64>,
}

impl Engine {
    /// Restores what the store remembers (the last options, the clock correction, a pending
    /// CHECK) and starts a session that connects at once.
    pub fn new(
        cfg: EngineConfig,
        mut store: Store,
        transport: Box<dyn Transport + Send>,
        clock: Arc<DeviceClock>,
    ) -> Result<Engine, StoreError> {
        let serial = cfg.session.identity.serial.clone();
        let (block, correction, check) = store.read(|tx| {
            Ok((
                tx.setting(scope::SERVER, OPTION_BLOCK_KEY)?,
                tx.setting(scope::STATE, CLOCK_CORRECTION_KEY)?,
                tx.setting(scope::STATE, CHECK_PENDING_KEY)?,
            ))
        })?;
        if let Some(ms) = correction.and_then(|c| c.parse::<i64>().ok()) {
            clock.adjust(ms - clock.correction_ms());
        }
        let known = block
            .map(|b| match cfg.session.dialect {
                Dialect::Attendance => options_from_block(&b, &serial),
                Dialect::Security => ServerParams::parse(&b).to_options(),
            })
            .unwrap_or_default();
        let mut session = Session::new(cfg.session.clone(), known, clock.now());
        if check.is_some() {
            session.request_check();
        }
        clock.set_zone(session.time_zone());
        let ip = cfg.ip.clone().unwrap_or_else(|| "0.0.0.0".to_owned());
        Ok(Engine {
            cfg,
            session,
            store,
            transport,
            clock,
            ip,
            last_failure: None,
            last_store_error: None,
            last_option_warnings: Vec::new(),
            doors: None,
            sent_state_version: None,
        })
    }

    /// Security dialect: the doors `rtstate` reports and CONTROL DEVICE drives.
    pub fn set_doors(&mut self, doors: Box<dyn DoorLink>) {
        self.doors = Some(doors);
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn store(&mut self) -> &mut Store {
        &mut self.store
    }

    /// Makes the next exchange the session asks for, or says how long to wait.
    pub fn tick(&mut self) -> Tick {
        let now = self.clock.now();
        let tables = self.cfg.upload_tables();
        let mut work = match self.store.read(|tx| work_summary(tx, tables)) {
            Ok(w) => w,
            Err(e) => return self.store_failed(now, e),
        };
        if let Some(doors) = &self.doors {
            work.state_changed = Some(doors.door_states().0) != self.sent_state_version;
        }
        match self.session.step(now, &work) {
            Step::Idle { until } => Tick::Idle { until },
            Step::Act(Action::Restart) => Tick::Restart,
            Step::Act(action) => match self.act(&action) {
                Ok(()) => {
                    self.last_store_error = None;
                    Tick::Worked
                }
                Err(e) => self.store_failed(now, e),
            },
        }
    }

    fn store_failed(&mut self, now: Now, e: StoreError) -> Tick {
        let text = e.to_string();
        if self.last_store_error.as_deref() != Some(text.as_str()) {
            log::error!("{text}; retrying every {} s", STORE_RETRY_MS / 1000);
            self.last_store_error = Some(text);
        }
        Tick::Idle {
            until: Some(now.mono.plus_millis(STORE_RETRY_MS)),
        }
    }

    fn act(&mut self, action: &Action) -> Result<(), StoreError> {
        let check = self.session.check_in_progress();
        let Some((req, prepared)) = self.prepare(action)? else {
            self.session.skipped(self.clock.now(), action);
            return Ok(());
        };
        let token = self.session.token();
        self.transport
            .set_session_token(token.as_ref().map(|t| t.as_str()));
        let result = self.transport.exchange(&req);
        let after = self.clock.now();
        let handled = self.session.handle(after, action, result.as_ref());
        if let Some(delta) = handled.clock_adjust_ms {
            self.adjust_clock(delta)?;
        }
        self.apply(after, handled, prepared, check, result.as_ref().ok())
    }

    /// Builds the request for `action`, noting in the store what it carries. `None` when there
    /// turned out to be nothing to send.
    fn prepare(&mut self, action: &Action) -> Result<Option<(HttpRequest, Prepared)>, StoreError> {
        let serial = self.cfg.session.identity.serial.clone();
        Ok(Some(match action {
            Action::Init => {
                if let Some(ip) = self.transport.local_ip().filter(|_| self.cfg.ip.is_none()) {
                    self.ip = ip.to_string();
                }
                (self.session.init_request(), Prepared::Nothing)
            }
            Action::Register => {
                let Some(caps) = &self.cfg.capabilities else {
                    log::error!("no capability list to register with; check the board");
                    return Ok(None);
                };
                match security::registry(&serial, caps) {
                    Ok(req) => (req, Prepared::Nothing),
                    Err(e) => {
                        log::error!("capability list cannot be sent: {e}");
                        return Ok(None);
                    }
                }
            }
            Action::FetchConfig => (security::push(&serial), Prepared::Nothing),
            Action::FetchTime => (security::rtdata_time(&serial), Prepared::Nothing),
            Action::SendState => {
                let Some(link) = &self.doors else {
                    return Ok(None);
                };
                let (version, doors) = link.door_states();
                let time = self.clock.local_now();
                match security::rtstate(&serial, &time, &doors, self.cfg.relay_polarity) {
                    Ok(req) => (req, Prepared::State(version)),
                    Err(e) => {
                        log::error!("door state cannot be reported: {e:?}");
                        return Ok(None);
                    }
                }
            }
            Action::PushOptions => {
                let pairs = match self.cfg.session.dialect {
                    Dialect::Attendance => capabilities(self.session.options()),
                    Dialect::Security => self.device_parameters()?,
                };
                (request::push_options(&serial, &pairs), Prepared::Nothing)
            }
            Action::Ping => (self.session.ping_request(), Prepared::Nothing),
            Action::Poll => {
                let info = self.device_info()?;
                (self.session.poll_request(info), Prepared::Nothing)
            }
            Action::SendReplies => {
                let limit = match self.cfg.reply_batching {
                    ReplyBatching::OnePerRequest => 1,
                    ReplyBatching::Batched => self.cfg.max_replies_per_request,
                };
                let pending = self.store.read(|tx| tx.pending_replies(limit))?;
                // Multi-line replies (INFO) travel alone [spec §4.1, AMB-13].
                let batch: Vec<_> = match pending.first() {
                    Some(first) if first.multi_line => vec![first.clone()],
                    _ => pending.into_iter().take_while(|r| !r.multi_line).collect(),
                };
                if batch.is_empty() {
                    return Ok(None);
                }
                let bodies: Vec<&str> = batch.iter().map(|r| r.body.as_str()).collect();
                (
                    request::devicecmd(&serial, &bodies),
                    Prepared::Replies(batch.iter().map(|r| r.seq).collect()),
                )
            }
            Action::Upload(table) => {
                // One event per rtlog POST [AMB-33].
                let limit = match table {
                    StampTable::RtLog => 1,
                    _ => self.cfg.batch_records,
                };
                let bytes = self.cfg.batch_bytes;
                let table = *table;
                let batch = self.store.write(|tx| {
                    let batch = tx.backlog(table, limit, bytes)?;
                    if let (Some(first), Some(last)) = (batch.first(), batch.last()) {
                        tx.mark_inflight(table, first.0, last.0)?;
                    }
                    Ok(batch)
                })?;
                let Some(&(last_id, _)) = batch.last() else {
                    return Ok(None);
                };
                let lines: Vec<&str> = batch.iter().map(|(_, l)| l.as_str()).collect();
                // The stamp is the id of the newest record: non-zero and increasing [spec §6.1].
                let stamp = u64::try_from(last_id).unwrap_or(0);
                let req = match table {
                    StampTable::RtLog => security::rtlog_line(&serial, &lines.join("\n")),
                    _ => request::upload(&serial, table.as_str(), stamp, batch_body(&lines)),
                };
                (
                    req,
                    Prepared::Upload {
                        table,
                        last_id,
                        count: batch.len(),
                    },
                )
            }
            Action::QueryUpload => {
                let next = self.store.read(|tx| match tx.next_query_job()? {
                    Some(job) => query_chunk(tx, &job).map(|chunk| Some((job, chunk))),
                    None => Ok(None),
                })?;
                let Some((job, (lines, next_key))) = next else {
                    return Ok(None);
                };
                if lines.is_empty() {
                    self.finish_query(&job)?;
                    return Ok(None);
                }
                let req = match query_request(&serial, &job, &lines) {
                    Ok(req) => req,
                    Err(e) => {
                        log::error!("query {} cannot be answered: {e}", job.cmd_id);
                        self.finish_query(&job)?;
                        return Ok(None);
                    }
                };
                (
                    req,
                    Prepared::Query {
                        count: lines.len(),
                        job,
                        next_key,
                    },
                )
            }
            Action::Restart => return Ok(None),
        }))
    }

    fn apply(
        &mut self,
        now: Now,
        handled: Handled,
        prepared: Prepared,
        check: bool,
        response: Option<&HttpResponse>,
    ) -> Result<(), StoreError> {
        match handled.outcome {
            Outcome::Failed { reason, retry_at } => {
                let wait_s = retry_at.0.saturating_sub(now.mono.0) / 1000;
                if self.last_failure.as_deref() == Some(reason.as_str()) {
                    log::debug!("exchange failed again: {reason}");
                } else {
                    log::warn!("exchange failed: {reason}; reconnecting in {wait_s} s");
                    self.last_failure = Some(reason);
                }
            }
            Outcome::Connected(reply) => {
                if self.last_failure.take().is_some() {
                    log::info!("connected to the server again");
                } else {
                    log::info!(
                        "connected; protocol version {} in force",
                        self.session.version()
                    );
                }
                let block = response.map(HttpResponse::text).unwrap_or_default();
                self.connected(now, &reply, check, &block)?;
            }
            Outcome::Commands(batch) => {
                if batch.commands.is_empty() && batch.rejected.is_empty() {
                    return Ok(());
                }
                let options = self.session.options().clone();
                let firmware = firmware_version();
                let ctx = CommandContext {
                    serial: &self.cfg.session.identity.serial,
                    firmware: &firmware,
                    ip: &self.ip,
                    options: &options,
                    zone: self.clock.zone(),
                    now_utc_ms: now.utc_ms,
                    dialect: self.cfg.session.dialect,
                    door_count: self.cfg.door_count,
                    capabilities: self.cfg.capabilities.as_ref(),
                };
                let effects = self.store.write(|tx| execute_batch(tx, &ctx, &batch))?;
                self.apply_effects(now, effects)?;
            }
            Outcome::Handshaking => {}
            Outcome::Delivered => match prepared {
                Prepared::Replies(seqs) => self.store.write(|tx| tx.delete_replies(&seqs))?,
                Prepared::State(version) => self.sent_state_version = Some(version),
                _ => {}
            },
            Outcome::Uploaded { server_count } => self.uploaded(now, prepared, server_count)?,
        }
        Ok(())
    }

    fn uploaded(
        &mut self,
        now: Now,
        prepared: Prepared,
        server_count: Option<u64>,
    ) -> Result<(), StoreError> {
        match prepared {
            Prepared::Upload {
                table,
                last_id,
                count,
            } => {
                // A smaller count than sent: some servers count only the lines they liked. The
                // batch was received; re-sending it would duplicate the good lines (AMB-6).
                let partial = server_count.is_some_and(|n| n < count as u64);
                if partial {
                    log::warn!(
                        "server acknowledged {} of {count} {table} records; not re-sending",
                        server_count.unwrap_or(0)
                    );
                }
                let unix = now.utc_ms.div_euclid(1000);
                self.store
                    .write(|tx| tx.ack_upload(table, last_id, count, partial, unix))?;
            }
            Prepared::Query {
                job,
                next_key,
                count,
            } => {
                // A short chunk, or the rows announced, was the last: answer now rather than after
                // an empty round.
                let announced = job.total > 0 && job.uploaded + count as i64 >= job.total;
                let last = count < QUERY_CHUNK || announced;
                let unix = now.utc_ms.div_euclid(1000);
                self.store.write(|tx| {
                    // A NewRecord answer delivered records the rtlog upload had not: they are
                    // with the server now and do not go up a second time [note §5.1, §8.3].
                    if job.target == QueryTarget::NewTransactions
                        && let Ok(last_id) = next_key.parse::<i64>()
                    {
                        tx.ack_upload(StampTable::RtLog, last_id, count, false, unix)?;
                    }
                    if last {
                        answer_finished_query(tx, &job, unix)
                    } else {
                        tx.advance_query_job(&job.cmd_id, &next_key, count)
                    }
                })?;
            }
            Prepared::Nothing | Prepared::Replies(_) | Prepared::State(_) => {}
        }
        Ok(())
    }

    /// Ends a query that has nothing (more) to send: its reply goes now.
    fn finish_query(&mut self, job: &QueryJob) -> Result<(), StoreError> {
        let unix = self.clock.now().utc_ms.div_euclid(1000);
        self.store.write(|tx| answer_finished_query(tx, job, unix))
    }

    /// After init: keep the option block, settle the batch that was in flight, and honour a
    /// stamp of 0 [spec §6.1, AMB-4].
    fn connected(
        &mut self,
        now: Now,
        reply: &OptionReply,
        check: bool,
        body: &str,
    ) -> Result<(), StoreError> {
        if reply.warnings != self.last_option_warnings {
            for w in &reply.warnings {
                log::warn!("option block: {w}");
            }
            self.last_option_warnings.clone_from(&reply.warnings);
        }
        let unix = now.utc_ms.div_euclid(1000);
        let tables = self.cfg.upload_tables();
        // A new connection: the server hears the door state again.
        self.sent_state_version = None;
        self.store.write(|tx| {
            tx.set_setting(scope::SERVER, OPTION_BLOCK_KEY, body)?;
            for &table in tables {
                settle_stamp(tx, table, reply.options.stamp(table), check, unix)?;
            }
            tx.set_setting(scope::STATE, LAST_CONTACT_KEY, &unix.to_string())?;
            tx.delete_setting(scope::STATE, CHECK_PENDING_KEY)
        })?;
        self.clock.set_zone(self.session.time_zone());
        Ok(())
    }

    fn apply_effects(&mut self, now: Now, effects: Effects) -> Result<(), StoreError> {
        if let Some(options) = effects.options {
            self.session.apply_local_options(options, now);
            self.clock.set_zone(self.session.time_zone());
        }
        if let Some(delta) = effects.clock_adjust_ms {
            self.adjust_clock(delta)?;
        }
        if effects.check {
            self.session.request_check();
        }
        if effects.sweep {
            self.session.request_sweep();
        }
        if !effects.remote_commands.is_empty() || effects.access_changed {
            match &self.doors {
                Some(doors) => doors.apply(&effects.remote_commands, effects.access_changed),
                None => log::warn!("door commands for a device without doors ignored"),
            }
        }
        if effects.fetch_time {
            self.session.request_time_fetch();
        }
        if effects.reboot {
            log::warn!("REBOOT requested by the server: restarting after the replies");
            self.session.request_reboot();
        }
        Ok(())
    }

    fn adjust_clock(&mut self, delta_ms: i64) -> Result<(), StoreError> {
        let total = self.clock.adjust(delta_ms);
        log::info!("clock moved by {delta_ms} ms (correction now {total} ms)");
        self.store
            .write(|tx| tx.set_setting(scope::STATE, CLOCK_CORRECTION_KEY, &total.to_string()))
    }

    /// The security dialect's parameter upload (`table=options`, note §2.12): what the device is
    /// and holds. Capacities come from the registered capabilities; there is no biometric
    /// hardware, so every biometric function is off.
    fn device_parameters(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        let (users, records) = self
            .store
            .read(|tx| Ok((tx.count_users()?, tx.count_records(RecordKind::RtLog)?)))?;
        let caps = self.cfg.capabilities.as_ref();
        let cap = |f: fn(&Capabilities) -> String| caps.map(f).unwrap_or_default();
        let pairs = [
            ("~DeviceName", cap(|c| c.device_name.clone())),
            ("TransactionCount", records.to_string()),
            ("~MaxAttLogCount", cap(|c| c.max_att_log_count.to_string())),
            ("UserCount", users.to_string()),
            ("~MaxUserCount", cap(|c| c.max_user_count.to_string())),
            ("LockCount", cap(|c| c.lock_count.to_string())),
            ("ReaderCount", cap(|c| c.reader_count.to_string())),
            ("FingerFunOn", "0".to_owned()),
            ("FaceFunOn", "0".to_owned()),
            ("FvFunOn", "0".to_owned()),
            ("PvFunOn", "0".to_owned()),
            ("IPAddress", self.ip.clone()),
            ("FWVersion", firmware_version()),
            (
                "PushVersion",
                self.cfg.session.identity.push_version.to_string(),
            ),
        ];
        Ok(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    fn device_info(&mut self) -> Result<DeviceInfo, StoreError> {
        let (users, attlogs) = self
            .store
            .read(|tx| Ok((tx.count_users()?, tx.count_records(RecordKind::AttLog)?)))?;
        Ok(DeviceInfo {
            firmware: firmware_version(),
            users: users.max(0) as u64,
            fingerprints: 0,
            attendance_records: attlogs.max(0) as u64,
            ip: self.ip.clone(),
            fingerprint_algorithm: "0".to_owned(),
            face_algorithm: "-1".to_owned(),
            face_templates_per_user: 0,
            faces: 0,
            functions: "000".to_owned(),
        })
    }
}

/// What the session needs to know about the store.
fn work_summary(tx: &Tx<'_>, tables: &[StampTable]) -> Result<Work, StoreError> {
    let mut backlog = Vec::new();
    for &table in tables {
        if tx.has_backlog(table)? {
            backlog.push(table);
        }
    }
    Ok(Work {
        pending_replies: tx.count_pending_replies()? > 0,
        backlog,
        query_job: tx.has_query_job()?,
        state_changed: false,
    })
}

/// Applies the server's stamp for `table` at init:
/// * `0` re-uploads the table, when the stamp has just become 0 or CHECK asked for it;
/// * an echo of the stamp of the batch in flight means the server has it (its reply was lost);
/// * anything else leaves our own cursor alone. A batch still in flight is sent again.
fn settle_stamp(
    tx: &Tx<'_>,
    table: StampTable,
    stamp: &ServerStamp,
    check: bool,
    unix: i64,
) -> Result<(), StoreError> {
    let state = tx.upload_state(table)?;
    let text = match stamp {
        ServerStamp::Unset => "",
        ServerStamp::Zero => "0",
        ServerStamp::Value(v) => v.as_str(),
    };
    match (stamp, state.inflight) {
        (ServerStamp::Zero, _) if state.server_stamp != "0" || check => {
            log::info!("server stamp for {table} is 0: uploading the whole table again");
            tx.restart_upload(table)?;
        }
        (ServerStamp::Value(v), Some((first, last))) if *v == last.to_string() => {
            log::info!("server already has the {table} batch ending at {last}");
            let count = usize::try_from(last - first + 1).unwrap_or(0);
            tx.ack_upload(table, last, count, false, unix)?;
        }
        _ => tx.clear_inflight(table)?,
    }
    tx.set_server_stamp(table, text)
}

/// The query's data is all with the server: its job ends and its reply is queued, in one
/// transaction [spec §4.5, AMB-23].
fn answer_finished_query(tx: &Tx<'_>, job: &QueryJob, now_unix: i64) -> Result<(), StoreError> {
    tx.finish_query_job(&job.cmd_id)?;
    answer_query(tx, &job.cmd_id, job.reply.as_deref(), now_unix)
}

/// The request that carries `lines`, the next chunk of `job`: an attendance upload with Stamp=0
/// (so the server can tell query results apart, 004), or a security `querydata` package.
fn query_request(serial: &str, job: &QueryJob, lines: &[String]) -> Result<HttpRequest, String> {
    let cmd_id = || CmdId::parse(&job.cmd_id).ok_or_else(|| "bad command id".to_owned());
    let package = || PackagePosition {
        index: usize::try_from(job.uploaded).unwrap_or(0) / QUERY_CHUNK + 1,
        count: usize::try_from(job.total)
            .unwrap_or(0)
            .div_ceil(QUERY_CHUNK)
            .max(1),
    };
    Ok(match job.target {
        QueryTarget::AttLog | QueryTarget::UserInfo => {
            let table = job.target.upload_table().as_str();
            request::upload(serial, table, 0, batch_body(lines))
        }
        QueryTarget::Count => {
            let payload = lines.first().map(String::as_str).unwrap_or("");
            let (table, rows) = payload
                .split_once('=')
                .and_then(|(t, n)| Some((t, n.parse().ok()?)))
                .ok_or_else(|| format!("count {payload:?}"))?;
            security::querydata_count(serial, &cmd_id()?, table, rows)
        }
        QueryTarget::Options => {
            let pairs: Vec<(String, String)> = lines
                .first()
                .map(String::as_str)
                .unwrap_or("")
                .split(',')
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            security::querydata_options(serial, &cmd_id()?, &pairs).map_err(|e| e.to_string())?
        }
        QueryTarget::Transactions | QueryTarget::NewTransactions => {
            security::querydata_tabledata(serial, &cmd_id()?, "transaction", lines, package())
        }
        QueryTarget::Users => {
            security::querydata_tabledata(serial, &cmd_id()?, "user", lines, package())
        }
    })
}

/// The next chunk of a query's results and the key to continue after.
fn query_chunk(tx: &Tx<'_>, job: &QueryJob) -> Result<(Vec<String>, String), StoreError> {
    let after_id = || job.after_key.parse::<i64>().unwrap_or(0);
    let upto = job.upto_id.unwrap_or(i64::MAX);
    // Transaction rows: stored rtlog lines, within the records the query covers, in the §5.3 form.
    let transactions = |rows: Vec<(i64, String)>| {
        let rows: Vec<(i64, String)> = rows.into_iter().filter(|(id, _)| *id <= upto).collect();
        let next = rows
            .last()
            .map_or_else(|| job.after_key.clone(), |r| r.0.to_string());
        let lines = rows
            .iter()
            .filter_map(|(_, line)| RtLog::parse(line))
            .filter_map(|log| encode_transaction(&log, 0).ok())
            .collect();
        (lines, next)
    };
    match job.target {
        QueryTarget::Count | QueryTarget::Options => {
            let once = (job.uploaded == 0).then(|| job.payload.clone().unwrap_or_default());
            return Ok((once.into_iter().collect(), job.after_key.clone()));
        }
        QueryTarget::Transactions => {
            let rows = match (job.time_from, job.time_to) {
                (Some(from), Some(to)) => {
                    tx.records_between(RecordKind::RtLog, from, to, after_id(), QUERY_CHUNK)?
                }
                _ => tx.records_after(StampTable::RtLog, after_id(), QUERY_CHUNK, usize::MAX)?,
            };
            return Ok(transactions(rows));
        }
        QueryTarget::NewTransactions => {
            let rows = tx.backlog_after(StampTable::RtLog, after_id(), QUERY_CHUNK, usize::MAX)?;
            return Ok(transactions(rows));
        }
        QueryTarget::Users => {
            let users = tx.users_after(&job.after_key, QUERY_CHUNK)?;
            let next = users
                .last()
                .map_or_else(|| job.after_key.clone(), |u| u.pin.clone());
            let first_uid = u64::try_from(job.uploaded).unwrap_or(0) + 1;
            let lines = users
                .iter()
                .zip(first_uid..)
                .filter_map(|(u, uid)| encode_user(uid, u, DateFmt::Seconds).ok())
                .collect();
            return Ok((lines, next));
        }
        QueryTarget::AttLog | QueryTarget::UserInfo => {}
    }
    match job.target {
        QueryTarget::AttLog => {
            let (Some(from), Some(to)) = (job.time_from, job.time_to) else {
                return Ok((Vec::new(), job.after_key.clone()));
            };
            let after: i64 = job.after_key.parse().unwrap_or(0);
            let rows = tx.attlogs_between(from, to, after, QUERY_CHUNK)?;
            let next = rows
                .last()
                .map_or_else(|| job.after_key.clone(), |r| r.0.to_string());
            Ok((rows.into_iter().map(|r| r.1).collect(), next))
        }
        _ => {
            let users = match &job.pin {
                Some(pin) if job.after_key.is_empty() => tx.user(pin)?.into_iter().collect(),
                Some(_) => Vec::new(),
                None => tx.users_after(&job.after_key, QUERY_CHUNK)?,
            };
            let next = users
                .last()
                .map_or_else(|| job.after_key.clone(), |u| u.pin.clone());
            Ok((users.iter().map(|u| u.encode_upload()).collect(), next))
        }
    }
}

/// The options push (E4): what the server asked for in `PushOptions`, then what this terminal
/// can do. It has no biometric hardware, so every per-type list is zeros (App 10: ten types).
fn capabilities(options: &ServerOptions) -> Vec<(String, String)> {
    const BIO_TYPES: usize = 10;
    let zeros = ["0"; BIO_TYPES].join(":");
    let ours: Vec<(&str, String)> = vec![
        ("FingerFunOn", "0".into()),
        ("FaceFunOn", "0".into()),
        ("UserPicURLFunOn", "0".into()),
        ("MultiBioDataSupport", zeros.clone()),
        ("MultiBioPhotoSupport", zeros.clone()),
        ("MultiBioVersion", zeros.clone()),
        ("MaxMultiBioDataCount", zeros.clone()),
        ("MaxMultiBioPhotoCount", zeros.clone()),
        ("MultiBioDataCount", zeros.clone()),
        ("MultiBioPhotoCount", zeros),
        ("SubcontractingUpgradeFunOn", "0".into()),
        ("IRTempDetectionFunOn", "0".into()),
        ("MaskDetectionFunOn", "0".into()),
        ("IsSupportQRcode", "0".into()),
    ];
    // The asked-for keys first, in the server's order and each once, then the rest: the body
    // never outgrows our own list, whatever the server asks for.
    let mut out: Vec<(String, String)> = Vec::with_capacity(ours.len());
    let mut unknown = 0;
    for asked in &options.push_options {
        match ours.iter().find(|(k, _)| k.eq_ignore_ascii_case(asked)) {
            Some((k, v)) if !out.iter().any(|(o, _)| o == k) => {
                out.push(((*k).to_owned(), v.clone()));
            }
            Some(_) => {}
            None => unknown += 1,
        }
    }
    if unknown > 0 {
        log::info!("server asked for {unknown} options this device does not have");
    }
    for (k, v) in ours {
        if !out.iter().any(|(o, _)| o == k) {
            out.push((k.to_owned(), v));
        }
    }
    out
}

#[cfg(test)]
mod security_tests;
#[cfg(test)]
mod tests;
