//! The attendance session as a pure state machine [spec §2, §6].
//!
//! The shell calls [`Session::step`] with the time and a summary of the work waiting in the store;
//! the session answers with the next exchange to make or how long to sleep. The shell performs the
//! exchange and feeds the result to [`Session::handle`]. Nothing here reads a clock, a socket or a
//! file, so tests drive it with a manual clock.
//!
//! Lifecycle: `Offline` → init (E1) → `Online`; any failure → `Offline` until `ErrorDelay` has
//! passed, then init again [000 §5, spec §6.4]. The security dialect adds a handshake between
//! init and `Online` [note §2.1]: registration when the server does not know the device, then the
//! configuration download (`/iclock/push`) that completes the connection. Every request after
//! registration carries the token [`Session::token`]; a server that rejects it (401, 403, 406)
//! sends the device back to init and registration [AMB-4]. Online, each step picks, in order: a REBOOT restart,
//! a requested re-init (CHECK), waiting command replies, the options push (E4), the getrequest poll
//! when `Delay` has passed (a ping instead while a long upload runs and the server said
//! `SupportPing`), query results, then record uploads as Realtime / TransInterval / TransTimes allow.

use super::civil::LocalDateTime;
use super::command::{CommandBatch, parse_batch_as};
use super::dialect::Dialect;
use super::http::{HttpRequest, HttpResponse, TransportError};
use super::options::{
    OptionReply, ServerOptions, StampTable, TransData, UtcOffset, parse_option_reply,
};
use super::request::{self, DeviceIdentity, DeviceInfo};
use super::security::reply::{ServerParams, registry_code, rtdata_time};
use super::security::requests as security;
use super::security::token::{Token, session_id_from_set_cookie};
use super::version::{Feature, PushVersion};

/// Milliseconds on a monotonic clock with an arbitrary origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mono(pub u64);

impl Mono {
    pub fn plus_secs(self, secs: u64) -> Mono {
        Mono(self.0.saturating_add(secs.saturating_mul(1000)))
    }

    pub fn plus_millis(self, ms: u64) -> Mono {
        Mono(self.0.saturating_add(ms))
    }
}

/// The time as the session sees it: monotonic for delays, the device's (already corrected) UTC
/// wall clock for fixed upload times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub mono: Mono,
    pub utc_ms: i64,
}

/// Most commands taken from one getrequest reply. 004 caps a batch at 200; a server that sends
/// more gets the rest on the next poll.
pub const MAX_COMMANDS_PER_POLL: usize = 200;
/// Longest hold on a table the server refused with a 4xx status.
pub const MAX_TABLE_HOLD_SECS: u64 = 3600;
/// Clock drift, in milliseconds, beyond which the server's `Date` corrects our clock.
pub const CLOCK_SYNC_THRESHOLD_MS: i64 = 2000;
/// Seconds between two `rtstate` uploads when nothing changed (security dialect): the note asks
/// for the state "periodically" without a period [note §3.2].
pub const RTSTATE_PERIOD_SECS: u64 = 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    pub identity: DeviceIdentity,
    /// Offset used for fixed upload times until the server sends `TimeZone`.
    pub default_time_zone: UtcOffset,
    /// Correct the clock from the server's `Date` header [spec §6.5].
    pub sync_clock: bool,
    pub dialect: Dialect,
}

#[cfg(test)]
impl SessionConfig {
    /// A 2.4.1 attendance device at UTC that syncs its clock: the setup the unit tests share.
    pub(crate) fn for_tests(serial: &str) -> SessionConfig {
        SessionConfig {
            identity: DeviceIdentity {
                serial: serial.into(),
                push_version: PushVersion::new(2, 4, 1),
                device_type: "att".into(),
                language: 69,
                comm_key: None,
            },
            default_time_zone: UtcOffset(0),
            sync_clock: true,
            dialect: Dialect::Attendance,
        }
    }
}

/// What the store holds right now, as far as the session needs to know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Work {
    pub pending_replies: bool,
    /// Tables with records the server has not acknowledged.
    pub backlog: Vec<StampTable>,
    /// A DATA QUERY has results left to upload.
    pub query_job: bool,
    /// The door state changed since the last `rtstate` upload (security dialect).
    pub state_changed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Init,
    /// Security: `POST /iclock/registry` with the capability list (E4).
    Register,
    /// Security: `POST /iclock/push` for the server parameters (E5).
    FetchConfig,
    /// Security: `POST …table=rtstate` with the door state (E10).
    SendState,
    /// Security: `GET /iclock/rtdata?type=time` after `SET OPTIONS DateTime` (E32).
    FetchTime,
    PushOptions,
    SendReplies,
    Poll,
    Ping,
    QueryUpload,
    Upload(StampTable),
    /// REBOOT: the replies went out (or could not); exit so the service manager restarts us.
    Restart,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Act(Action),
    /// Nothing to do before `until` unless new work arrives (`None`: only new work wakes us).
    Idle {
        until: Option<Mono>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Connected(Box<OptionReply>),
    /// A handshake step succeeded; the next one follows (security dialect).
    Handshaking,
    Commands(CommandBatch),
    /// Replies, options push or ping accepted.
    Delivered,
    /// An upload was acknowledged; `server_count` is N of `OK:N`, when given.
    Uploaded {
        server_count: Option<u64>,
    },
    /// The exchange failed; the session is offline until `retry_at`.
    Failed {
        reason: String,
        retry_at: Mono,
    },
}

/// The result of [`Session::handle`]: what happened and, when the server's clock disagrees with
/// ours, by how much ours must move.
#[derive(Debug, Clone, PartialEq)]
pub struct Handled {
    pub outcome: Outcome,
    pub clock_adjust_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Offline {
        retry_at: Mono,
    },
    /// Security: init answered; registration or the configuration download comes next.
    Handshake(Handshake),
    Online,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handshake {
    Register,
    FetchConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reboot {
    No,
    Requested,
    RepliesAttempted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hold {
    table: StampTable,
    until: Mono,
    refusals: u32,
}

#[derive(Debug, Clone)]
pub struct Session {
    cfg: SessionConfig,
    link: Link,
    options: ServerOptions,
    version: PushVersion,
    next_poll: Mono,
    last_info: Option<DeviceInfo>,
    info_in_flight: Option<DeviceInfo>,
    sweep_due: bool,
    next_interval: Option<Mono>,
    next_trans_time_utc_ms: Option<i64>,
    reinit: bool,
    check_requested: bool,
    push_options_due: bool,
    reboot: Reboot,
    uploads_since_poll: u32,
    holds: Vec<Hold>,
    /// Security: the server's `RegistryCode` and the latest `SessionID`, the token's inputs.
    registry_code: Option<String>,
    session_id: Option<String>,
    next_state_at: Option<Mono>,
    time_fetch_due: bool,
    /// The correction an `rtdata` time answer asks for, handed out with its [`Handled`].
    fetched_clock_adjust_ms: Option<i64>,
}

impl Session {
    /// A session that connects at once, using `known_options` (the last good option block, or the
    /// defaults) for ErrorDelay and the time zone until the server answers.
    pub fn new(cfg: SessionConfig, known_options: ServerOptions, now: Now) -> Session {
        let version =
            PushVersion::negotiate(cfg.identity.push_version, known_options.push_prot_ver);
        Session {
            cfg,
            link: Link::Offline { retry_at: now.mono },
            options: known_options,
            version,
            next_poll: now.mono,
            last_info: None,
            info_in_flight: None,
            sweep_due: false,
            next_interval: None,
            next_trans_time_utc_ms: None,
            reinit: false,
            check_requested: false,
            push_options_due: false,
            reboot: Reboot::No,
            uploads_since_poll: 0,
            holds: Vec::new(),
            registry_code: None,
            session_id: None,
            next_state_at: None,
            time_fetch_due: false,
            fetched_clock_adjust_ms: None,
        }
    }

    pub fn dialect(&self) -> Dialect {
        self.cfg.dialect
    }

    /// Security: the `Cookie: token=` value once registered [note §2.11, AMB-3].
    pub fn token(&self) -> Option<Token> {
        let code = self.registry_code.as_deref()?;
        Some(Token::compute(
            code,
            &self.cfg.identity.serial,
            self.session_id.as_deref(),
        ))
    }

    /// Security: fetch the server's time after `SET OPTIONS DateTime` [note §3.9, AMB-41].
    pub fn request_time_fetch(&mut self) {
        self.time_fetch_due = true;
    }

    pub fn options(&self) -> &ServerOptions {
        &self.options
    }

    pub fn version(&self) -> PushVersion {
        self.version
    }

    pub fn identity(&self) -> &DeviceIdentity {
        &self.cfg.identity
    }

    pub fn is_online(&self) -> bool {
        self.link == Link::Online
    }

    /// The offset of local time from UTC in force: the server's `TimeZone`, else the configured one.
    pub fn time_zone(&self) -> UtcOffset {
        self.options.time_zone.unwrap_or(self.cfg.default_time_zone)
    }

    /// CHECK: run init again, then re-upload any table whose stamp is 0 [000 §12.3.1].
    pub fn request_check(&mut self) {
        self.reinit = true;
        self.check_requested = true;
    }

    /// Whether the re-init in progress was asked for by CHECK (the engine then honours every
    /// zero stamp, even one it saw before, AMB-4).
    pub fn check_in_progress(&self) -> bool {
        self.check_requested
    }

    /// LOG: look for new data and upload it now [000 §12.3.2].
    pub fn request_sweep(&mut self) {
        self.sweep_due = true;
    }

    /// REBOOT: send the waiting replies, then restart [000 §12.7.1; spec §4.1].
    pub fn request_reboot(&mut self) {
        if self.reboot == Reboot::No {
            self.reboot = Reboot::Requested;
        }
    }

    /// Replaces options changed locally (SET OPTION, RELOAD OPTIONS); timers follow at once.
    pub fn apply_local_options(&mut self, options: ServerOptions, now: Now) {
        self.options = options;
        self.version =
            PushVersion::negotiate(self.cfg.identity.push_version, self.options.push_prot_ver);
        self.reset_upload_timers(now);
        self.next_poll = self
            .next_poll
            .min(now.mono.plus_secs(u64::from(self.options.delay_secs)));
    }

    /// Whether automatic uploads of `table` are allowed by TransFlag and the negotiated version.
    pub fn upload_allowed(&self, table: StampTable) -> bool {
        let flag = self.options.trans_flag;
        match table {
            StampTable::AttLog => flag.allows(TransData::AttLog),
            StampTable::OperLog => {
                self.version.supports(Feature::OperationLog) && flag.allows(TransData::OpLog)
            }
            StampTable::AttPhoto => {
                self.version.supports(Feature::OperationLog) && flag.allows(TransData::AttPhoto)
            }
            StampTable::ErrorLog => self.version.supports(Feature::ErrorLog),
            StampTable::BioData => self.version.supports(Feature::OperationLog),
            StampTable::IdCard => self.version.supports(Feature::IdCard),
            StampTable::RtLog => self.cfg.dialect == Dialect::Security,
        }
    }

    /// Decides the next exchange, or how long to sleep.
    pub fn step(&mut self, now: Now, work: &Work) -> Step {
        if self.reboot != Reboot::No {
            let try_replies = self.reboot == Reboot::Requested
                && work.pending_replies
                && self.link == Link::Online;
            return Step::Act(if try_replies {
                Action::SendReplies
            } else {
                Action::Restart
            });
        }
        match self.link {
            Link::Offline { retry_at } if now.mono >= retry_at => return Step::Act(Action::Init),
            Link::Offline { retry_at } => {
                return Step::Idle {
                    until: Some(retry_at),
                };
            }
            Link::Handshake(Handshake::Register) => return Step::Act(Action::Register),
            Link::Handshake(Handshake::FetchConfig) => return Step::Act(Action::FetchConfig),
            Link::Online => {}
        }
        if self.reinit {
            return Step::Act(Action::Init);
        }
        self.run_upload_timers(now);
        let state_due = self.next_state_at.is_some_and(|at| now.mono >= at);
        if work.pending_replies {
            return Step::Act(Action::SendReplies);
        }
        if self.push_options_due {
            return Step::Act(Action::PushOptions);
        }
        let upload = self.next_upload(now, work);
        if now.mono >= self.next_poll {
            let long_job = self.uploads_since_poll > 0 && (upload.is_some() || work.query_job);
            return Step::Act(if long_job && self.options.support_ping {
                Action::Ping
            } else {
                Action::Poll
            });
        }
        if self.time_fetch_due {
            return Step::Act(Action::FetchTime);
        }
        if self.cfg.dialect == Dialect::Security && (work.state_changed || state_due) {
            return Step::Act(Action::SendState);
        }
        if work.query_job {
            return Step::Act(Action::QueryUpload);
        }
        if let Some(table) = upload {
            return Step::Act(Action::Upload(table));
        }
        if self.sweep_due && self.uploadable(work).next().is_none() {
            self.sweep_due = false;
        }
        Step::Idle {
            until: self.next_deadline(now, work),
        }
    }

    /// The getrequest for this poll. `INFO=` goes along on the first poll after init and whenever
    /// the figures changed since the last one the server accepted [000 §9; 004 §3.2.4 note 2].
    pub fn poll_request(&mut self, info: DeviceInfo) -> HttpRequest {
        if self.cfg.dialect == Dialect::Security {
            return security::getrequest(&self.cfg.identity.serial);
        }
        let send_info = self.last_info.as_ref() != Some(&info);
        let req = request::getrequest(&self.cfg.identity.serial, send_info.then_some(&info));
        self.info_in_flight = Some(info);
        req
    }

    pub fn init_request(&self) -> HttpRequest {
        let id = &self.cfg.identity;
        match self.cfg.dialect {
            Dialect::Attendance => request::init(id),
            Dialect::Security => security::init(&id.serial, id.push_version, &[]),
        }
    }

    pub fn ping_request(&self) -> HttpRequest {
        request::ping(&self.cfg.identity.serial)
    }

    /// The shell had nothing to send for `action` (no capability list, no door state): the session
    /// moves on instead of asking again at once. Registration waits ErrorDelay.
    pub fn skipped(&mut self, now: Now, action: &Action) {
        match action {
            Action::Register => {
                self.fail(now, "nothing to register with".to_owned());
            }
            Action::SendState => {
                self.next_state_at = Some(now.mono.plus_secs(RTSTATE_PERIOD_SECS));
            }
            _ => {}
        }
    }

    /// Feeds the result of the exchange made for `action`.
    pub fn handle(
        &mut self,
        now: Now,
        action: &Action,
        result: Result<&HttpResponse, &TransportError>,
    ) -> Handled {
        let clock_adjust_ms = match result {
            Ok(resp) if self.cfg.sync_clock => resp.date().and_then(|d| clock_drift(d, now.utc_ms)),
            _ => None,
        };
        let outcome = match result {
            Err(e) => self.fail(now, format!("{e}")),
            Ok(resp) if !resp.is_success() => {
                let reason = format!("HTTP {} {}", resp.status, first_line(&resp.text()));
                if self.rejects_token(action, resp.status) {
                    log::warn!(
                        "server rejected the token (HTTP {}): registering again",
                        resp.status
                    );
                    self.registry_code = None;
                    self.session_id = None;
                }
                if let (Action::Upload(table), 400..=499) = (action, resp.status) {
                    self.hold(now, *table);
                }
                if *action == Action::PushOptions && (400..=499).contains(&resp.status) {
                    // The server asked for the push but refuses it; do not retry every reconnect.
                    self.push_options_due = false;
                }
                self.fail(now, reason)
            }
            Ok(resp) => self.handle_success(now, action, resp),
        };
        if let (Action::SendReplies, Reboot::Requested) = (action, self.reboot) {
            self.reboot = Reboot::RepliesAttempted;
        }
        Handled {
            outcome,
            clock_adjust_ms: self.fetched_clock_adjust_ms.take().or(clock_adjust_ms),
        }
    }

    fn handle_success(&mut self, now: Now, action: &Action, resp: &HttpResponse) -> Outcome {
        let text = resp.text();
        match action {
            Action::Init if self.cfg.dialect == Dialect::Security => {
                let params = ServerParams::parse(&text);
                // Registered: the answer carries the code (and perhaps a SessionID) [note §2.2].
                match params.registry_code.filter(|_| params.registered) {
                    Some(code) => {
                        self.registry_code = Some(code);
                        if params.session_id.is_some() {
                            self.session_id = params.session_id;
                        }
                        self.link = Link::Handshake(Handshake::FetchConfig);
                    }
                    None => {
                        self.registry_code = None;
                        self.session_id = None;
                        self.link = Link::Handshake(Handshake::Register);
                    }
                }
                Outcome::Handshaking
            }
            Action::Register => match registry_code(&text) {
                Some(code) => {
                    self.registry_code = Some(code);
                    let cookie_session = resp
                        .headers
                        .iter()
                        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
                        .find_map(|(_, v)| session_id_from_set_cookie(v));
                    if cookie_session.is_some() {
                        self.session_id = cookie_session;
                    }
                    self.link = Link::Handshake(Handshake::FetchConfig);
                    Outcome::Handshaking
                }
                None => self.fail(now, format!("registration refused: {}", first_line(&text))),
            },
            Action::FetchConfig => {
                let params = ServerParams::parse(&text);
                if params.session_id.is_some() {
                    self.session_id = params.session_id.clone();
                }
                let options = params.to_options();
                self.connected(now, &options);
                Outcome::Connected(Box::new(OptionReply {
                    options,
                    serial: self.cfg.identity.serial.clone(),
                    warnings: Vec::new(),
                }))
            }
            Action::FetchTime => {
                self.time_fetch_due = false;
                match rtdata_time(&text) {
                    Some((utc, zone)) => {
                        self.options.time_zone = Some(zone);
                        self.fetched_clock_adjust_ms = clock_drift(utc, now.utc_ms);
                    }
                    None => log::warn!("unreadable time answer: {}", first_line(&text)),
                }
                Outcome::Delivered
            }
            Action::Init => match parse_option_reply(&text, &self.cfg.identity.serial) {
                Ok(reply) => {
                    self.connected(now, &reply.options);
                    Outcome::Connected(Box::new(reply))
                }
                Err(e) => self.fail(now, e.to_string()),
            },
            Action::Poll => {
                self.next_poll = now.mono.plus_secs(u64::from(self.options.delay_secs));
                self.uploads_since_poll = 0;
                if let Some(info) = self.info_in_flight.take() {
                    self.last_info = Some(info);
                }
                Outcome::Commands(parse_batch_as(
                    self.cfg.dialect,
                    &text,
                    MAX_COMMANDS_PER_POLL,
                ))
            }
            Action::Upload(_) | Action::QueryUpload => match self.parse_upload_ack(&text) {
                Some(server_count) => {
                    if let Action::Upload(table) = action {
                        self.holds.retain(|h| h.table != *table);
                        self.uploads_since_poll += 1;
                    }
                    Outcome::Uploaded { server_count }
                }
                None => self.fail(
                    now,
                    format!("upload not acknowledged: {}", first_line(&text)),
                ),
            },
            Action::SendReplies | Action::PushOptions | Action::Ping | Action::SendState => {
                if parse_ack(&text).is_none() {
                    return self.fail(now, format!("expected OK, got {}", first_line(&text)));
                }
                match action {
                    Action::PushOptions => self.push_options_due = false,
                    Action::Ping => {
                        self.next_poll = now.mono.plus_secs(u64::from(self.options.delay_secs))
                    }
                    Action::SendState => {
                        self.next_state_at = Some(now.mono.plus_secs(RTSTATE_PERIOD_SECS));
                    }
                    _ => {}
                }
                Outcome::Delivered
            }
            Action::Restart => Outcome::Delivered,
        }
    }

    fn connected(&mut self, now: Now, options: &ServerOptions) {
        self.options = options.clone();
        self.version =
            PushVersion::negotiate(self.cfg.identity.push_version, options.push_prot_ver);
        self.link = Link::Online;
        self.reinit = false;
        // CHECK asks for data to go up again right after the fresh stamps [000 §12.3.1].
        self.sweep_due |= std::mem::take(&mut self.check_requested);
        self.next_poll = now.mono;
        self.last_info = None;
        self.info_in_flight = None;
        self.push_options_due = options.push_options_flag;
        self.uploads_since_poll = 0;
        // The state goes up right after connecting, then on change and periodically.
        self.next_state_at = (self.cfg.dialect == Dialect::Security).then_some(now.mono);
        self.reset_upload_timers(now);
    }

    /// Whether a refusal of `action` with `status` means the server no longer accepts our token
    /// (security dialect, AMB-4). A 406 to the registry itself is a refused registration.
    fn rejects_token(&self, action: &Action, status: u16) -> bool {
        self.cfg.dialect == Dialect::Security
            && *action != Action::Register
            && *action != Action::Init
            && matches!(status, 401 | 403 | 406)
    }

    /// An upload's acknowledgement: `OK[:N]` in both dialects; the security dialect's querydata
    /// and table uploads also answer `<table>=<n>` (AMB-7).
    fn parse_upload_ack(&self, body: &str) -> Option<Option<u64>> {
        parse_ack(body).or_else(|| match self.cfg.dialect {
            Dialect::Attendance => None,
            Dialect::Security => parse_count_ack(body).map(Some),
        })
    }

    fn fail(&mut self, now: Now, reason: String) -> Outcome {
        let retry_at = now
            .mono
            .plus_secs(u64::from(self.options.error_delay_secs.max(1)));
        self.link = Link::Offline { retry_at };
        self.info_in_flight = None;
        Outcome::Failed { reason, retry_at }
    }

    /// A table the server refused with a 4xx waits ErrorDelay, doubling per refusal up to an hour,
    /// so a permanent 400 is never retried in a fast loop (server-dialects §2.2).
    fn hold(&mut self, now: Now, table: StampTable) {
        let refusals = self
            .holds
            .iter()
            .find(|h| h.table == table)
            .map_or(1, |h| h.refusals.saturating_add(1));
        let base = u64::from(self.options.error_delay_secs.max(1));
        let secs = base
            .saturating_mul(1u64 << refusals.saturating_sub(1).min(16))
            .min(MAX_TABLE_HOLD_SECS);
        self.holds.retain(|h| h.table != table);
        self.holds.push(Hold {
            table,
            until: now.mono.plus_secs(secs),
            refusals,
        });
    }

    fn held(&self, now: Now, table: StampTable) -> bool {
        self.holds
            .iter()
            .any(|h| h.table == table && now.mono < h.until)
    }

    fn uploadable<'a>(&'a self, work: &'a Work) -> impl Iterator<Item = StampTable> + 'a {
        work.backlog
            .iter()
            .copied()
            .filter(|t| self.upload_allowed(*t))
    }

    fn next_upload(&self, now: Now, work: &Work) -> Option<StampTable> {
        if !(self.options.realtime || self.sweep_due) {
            return None;
        }
        self.uploadable(work).find(|t| !self.held(now, *t))
    }

    fn reset_upload_timers(&mut self, now: Now) {
        let interval_secs = u64::from(self.options.trans_interval_min) * 60;
        self.next_interval = (interval_secs > 0).then(|| now.mono.plus_secs(interval_secs));
        self.next_trans_time_utc_ms = self.next_trans_time_after(now.utc_ms);
    }

    /// Interval and fixed-time timers run whatever Realtime says; they retry anything still
    /// unacknowledged (AMB-5).
    fn run_upload_timers(&mut self, now: Now) {
        if let Some(at) = self.next_interval
            && now.mono >= at
        {
            self.sweep_due = true;
            let interval = u64::from(self.options.trans_interval_min) * 60;
            self.next_interval = Some(now.mono.plus_secs(interval));
        }
        match self.next_trans_time_utc_ms {
            Some(at) if now.utc_ms >= at => {
                self.sweep_due = true;
                self.next_trans_time_utc_ms = self.next_trans_time_after(now.utc_ms);
            }
            // The clock moved back by more than a day: aim again from the new time.
            Some(at) if at - now.utc_ms > 86_400_000 => {
                self.next_trans_time_utc_ms = self.next_trans_time_after(now.utc_ms);
            }
            _ => {}
        }
    }

    /// The first TransTimes moment strictly after `utc_ms`, in UTC milliseconds.
    fn next_trans_time_after(&self, utc_ms: i64) -> Option<i64> {
        let first = self.options.trans_times.first()?;
        let offset = self.time_zone().0;
        let local = LocalDateTime::from_unix(utc_ms.div_euclid(1000), offset);
        let midnight_utc_ms = (local.to_unix(offset) - i64::from(local.seconds_of_day())) * 1000;
        let today = self
            .options
            .trans_times
            .iter()
            .map(|t| midnight_utc_ms + i64::from(t.0) * 60_000)
            .find(|at| *at > utc_ms);
        Some(today.unwrap_or(midnight_utc_ms + 86_400_000 + i64::from(first.0) * 60_000))
    }

    fn next_deadline(&self, now: Now, work: &Work) -> Option<Mono> {
        let trans_time = self.next_trans_time_utc_ms.map(|at| {
            now.mono
                .plus_millis(u64::try_from(at.saturating_sub(now.utc_ms)).unwrap_or(0))
        });
        let hold_expiry = self
            .holds
            .iter()
            .filter(|h| work.backlog.contains(&h.table))
            .map(|h| h.until)
            .min();
        [
            Some(self.next_poll),
            self.next_state_at,
            self.next_interval,
            trans_time,
            hold_expiry,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// Reads an upload or reply acknowledgement: any body starting with `OK` (AMB-6), with the count of
/// `OK:N` / `OK: N` when present.
pub fn parse_ack(body: &str) -> Option<Option<u64>> {
    let rest = body.trim_start().strip_prefix("OK")?;
    let count = rest
        .trim_start()
        .strip_prefix(':')
        .and_then(|n| n.trim().parse().ok());
    Some(count)
}

/// `<table>=<n>` or `<table>: <n>` (AMB-7): the security dialect's count acknowledgement.
pub fn parse_count_ack(body: &str) -> Option<u64> {
    let line = body.lines().next()?.trim();
    let (name, count) = line.split_once(['=', ':'])?;
    let name_ok = !name.trim().is_empty()
        && name
            .trim()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !name_ok {
        return None;
    }
    count.trim().parse().ok()
}

/// How far the clock must move to agree with a server `Date` (1 s resolution), if beyond the
/// threshold.
fn clock_drift(server_unix_secs: i64, our_utc_ms: i64) -> Option<i64> {
    let server_mid_ms = server_unix_secs.saturating_mul(1000) + 500;
    let drift = server_mid_ms - our_utc_ms;
    (drift.abs() > CLOCK_SYNC_THRESHOLD_MS).then_some(drift)
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(120)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::civil::format_http_date;
    use crate::protocol::options::TimeOfDay;

    const SN: &str = "TEST0001";
    /// 2026-11-23 00:00:00 UTC.
    const T0_UTC_MS: i64 = 1_795_392_000_000;

    /// A manual clock: monotonic and wall time advance together.
    struct Clock {
        now: Now,
    }

    impl Clock {
        fn new() -> Clock {
            Clock {
                now: Now {
                    mono: Mono(1_000),
                    utc_ms: T0_UTC_MS,
                },
            }
        }
        fn advance_secs(&mut self, secs: u64) {
            self.now.mono = self.now.mono.plus_secs(secs);
            self.now.utc_ms += secs as i64 * 1000;
        }
        fn advance_to(&mut self, at: Mono) {
            let delta = at.0.saturating_sub(self.now.mono.0);
            self.now.mono = at;
            self.now.utc_ms += delta as i64;
        }
    }

    fn session(clock: &Clock) -> Session {
        Session::new(
            SessionConfig::for_tests(SN),
            ServerOptions::default(),
            clock.now,
        )
    }

    fn ok(body: &str) -> HttpResponse {
        HttpResponse::new(200, body)
    }

    fn options_body(lines: &[&str]) -> String {
        let mut body = format!("GET OPTION FROM: {SN}\n");
        for l in lines {
            body.push_str(l);
            body.push('\n');
        }
        body
    }

    fn connect(s: &mut Session, clock: &Clock, lines: &[&str]) {
        assert_eq!(s.step(clock.now, &Work::default()), Step::Act(Action::Init));
        let h = s.handle(clock.now, &Action::Init, Ok(&ok(&options_body(lines))));
        assert!(matches!(h.outcome, Outcome::Connected(_)), "{h:?}");
    }

    fn info(records: u64) -> DeviceInfo {
        DeviceInfo {
            firmware: "Ver 1".into(),
            users: 0,
            fingerprints: 0,
            attendance_records: records,
            ip: "127.0.0.1".into(),
            fingerprint_algorithm: "0".into(),
            face_algorithm: "-1".into(),
            face_templates_per_user: 0,
            faces: 0,
            functions: "000".into(),
        }
    }

    fn poll(s: &mut Session, clock: &Clock, records: u64, body: &str) -> HttpRequest {
        let req = s.poll_request(info(records));
        s.handle(clock.now, &Action::Poll, Ok(&ok(body)));
        req
    }

    fn backlog(tables: &[StampTable]) -> Work {
        Work {
            backlog: tables.to_vec(),
            ..Work::default()
        }
    }

    #[test]
    fn polls_every_delay_seconds_with_info_only_when_it_changed() {
        let mut clock = Clock::new();
        let mut s = session(&clock);
        connect(&mut s, &clock, &["Delay=5"]);
        assert_eq!(s.step(clock.now, &Work::default()), Step::Act(Action::Poll));
        assert!(
            poll(&mut s, &clock, 0, "OK").target.contains("&INFO="),
            "first poll carries INFO"
        );
        let wake = clock.now.mono.plus_secs(5);
        assert_eq!(
            s.step(clock.now, &Work::default()),
            Step::Idle { until: Some(wake) }
        );
        clock.advance_secs(4);
        assert!(matches!(
            s.step(clock.now, &Work::default()),
            Step::Idle { .. }
        ));
        clock.advance_secs(1);
        assert_eq!(s.step(clock.now, &Work::default()), Step::Act(Action::Poll));
        assert!(
            !poll(&mut s, &clock, 0, "OK").target.contains("INFO"),
            "unchanged figures: no INFO"
        );
        clock.advance_secs(5);
        assert!(
            poll(&mut s, &clock, 1, "OK").target.contains("INFO="),
            "a new record: INFO again"
        );
    }

    #[test]
    fn waits_error_delay_after_a_failure_then_runs_init_again() {
        let mut clock = Clock::new();
        let mut s = session(&clock);
        connect(&mut s, &clock, &["ErrorDelay=45", "Delay=5"]);
        assert_eq!(s.step(clock.now, &Work::default()), Step::Act(Action::Poll));
        s.poll_request(info(0));
        let h = s.handle(
            clock.now,
            &Action::Poll,
            Err(&TransportError::Io("reset".into())),
        );
        let Outcome::Failed { retry_at, .. } = h.outcome else {
            panic!("{h:?}")
        };
        assert_eq!(retry_at, clock.now.mono.plus_secs(45));
        assert_eq!(
            s.step(clock.now, &backlog(&[StampTable::AttLog])),
            Step::Idle {
                until: Some(retry_at)
            }
        );
        clock.advance_secs(44);
        assert!(matches!(
            s.step(clock.now, &Work::default()),
            Step::Idle { .. }
        ));
        clock.advance_secs(1);
        assert_eq!(s.step(clock.now, &Work::default()), Step::Act(Action::Init));
    }

    #[test]
    fn treats_error_statuses_and_unacknowledged_uploads_as_failures() {
        let mut clock = Clock::new();
        let mut s = session(&clock);
        connect(&mut s, &clock, &["ErrorDelay=30"]);
        let h = s.handle(
            clock.now,
            &Action::Upload(StampTable::AttLog),
            Ok(&HttpResponse::new(500, "boom")),
        );
        assert!(matches!(h.outcome, Outcome::Failed { .. }));
        clock.advance_secs(30);
        connect(&mut s, &clock, &["ErrorDelay=30"]);
        let h = s.handle(
            clock.now,
            &Action::Upload(StampTable::AttLog),
            Ok(&ok("FAIL")),
        );
        assert!(
            matches!(h.outcome, Outcome::Failed { .. }),
            "FAIL with HTTP 200 is not an ack"
        );
        assert!(!s.is_online());
    }

    #[test]
    fn failed_init_uses_the_last_known_error_delay() {
        let clock = Clock::new();
        let mut s = session(&clock);
        assert_eq!(s.step(clock.now, &Work::default()), Step::Act(Action::Init));
        let h = s.handle(
            clock.now,
            &Action::Init,
            Ok(&ok("<html>maintenance</html>")),
        );
        let Outcome::Failed { retry_at, reason } = h.outcome else {
            panic!()
        };
        assert_eq!(retry_at, clock.now.mono.plus_secs(30), "default ErrorDelay");
        assert!(reason.contains("not an option block"), "{reason}");
    }

    #[test]
    fn realtime_one_uploads_as_soon_as_records_exist() {
        let mut clock = Clock::new();
        let mut s = session(&clock);
        connect(&mut s, &clock, &["Realtime=1", "Delay=10"]);
        poll(&mut s, &clock, 0, "OK");
        clock.advance_secs(1);
        assert_eq!(
            s.step(clock.now, &backlog(&[StampTable::AttLog])),
            Step::Act(Action::Upload(StampTable::AttLog))
        );
    }

    #[test]
    fn realtime_zero_waits_for_the_trans_interval() {
        let mut clock = Clock::new();
        let mut s = session(&clock);
        connect(
            &mut s,
            &clock,
            &["Realtime=0", "TransInterval=2", "Delay=600"],
        );
        poll(&mut s, &clock, 0, "OK");
        let work = backlog(&[StampTable::AttLog]);
        let Step::Idle { until: Some(wake) } = s.step(clock.now, &work) else {
            panic!()
        };
        assert_eq!(
            wake,
            clock.now.mono.plus_secs(120),
            "woken by the interval, not by the records"
        );
        clock.advance_to(wake);
        assert_eq!(
            s.step(clock.now, &work),
            Step::Act(Action::Upload(StampTable::AttLog))
        );
        s.handle(
            clock.now,
            &Action::Upload(StampTable::AttLog),
            Ok(&ok("OK:1")),
        );
        // The sweep ends once the backlog is empty; new records then wait for the next tick.
        assert!(matches!(
            s.step(clock.now, &Work::default()),
            Step::Idle { .. }
        ));
        assert!(matches!(s.step(clock.now, &work), Step::Idle { .. }));
    }

    #[test]
    fn realtime_zero_uploads_at_each_trans_time_in_local_time() {
        let mut clock = Clock::new();
        let mut s = session(&clock);
        // Local time is UTC+05:30, so 14:05 local is 08:35 UTC.
        connect(
            &mut s,
            &clock,
            &[
                "Realtime=0",
                "TransInterval=0",
                "TransTimes=00: 00;14: 05",
                "TimeZone=330",
                "Delay=86400",
            ],
        );
        poll(&mut s, &clock, 0, "OK");
        let work = backlog(&[StampTable::AttLog]);
        let Step::Idle { until: Some(wake) } = s.step(clock.now, &work) else {
            panic!()
        };
        // T0 is 05:30 local; the next fixed time is 14:05 local, 8 h 35 min later.
        assert_eq!(wake, clock.now.mono.plus_secs(8 * 3600 + 35 * 60));
        clock.advance_to(wake);
        assert_eq!(
            s.step(clock.now, &work),
            Step::Act(Action::Upload(StampTable::AttLog))
        );
        assert_eq!(
            s.options().trans_times,
            vec![TimeOfDay(0), TimeOfDay(14 * 60 + 5)]
        );
    }

    #[test]
    fn log_command_forces_a_sweep_with_realtime_zero() {
        let clock = Clock::new();
        let mut s = session(&clock);
        connect(
            &mut s,
            &clock,
            &["Realtime=0", "TransInterval=0", "Delay=600"],
        );
        poll(&mut s, &clock, 0, "OK");
        let work = backlog(&[StampTable::OperLog]);
        assert!(matches!(s.step(clock.now, &work), Step::Idle { .. }));
        s.request_sweep();
        assert_eq!(
            s.step(clock.now, &work),
            Step::Act(Action::Upload(StampTable::OperLog))
        );
    }

    #[test]
    fn trans_flag_and_version_gate_uploads() {
        let clock = Clock::new();
        let mut s = session(&clock);
        connect(
            &mut s,
            &clock,
            &["TransFlag=TransData AttLog", "PushProtVer=2.4.1"],
        );
        poll(&mut s, &clock, 0, "OK");
        let work = backlog(&[StampTable::OperLog]);
        assert!(
            matches!(s.step(clock.now, &work), Step::Idle { .. }),
            "OpLog not in TransFlag"
        );
        connect_again(
            &mut s,
            &clock,
            &["TransFlag=TransData AttLog OpLog", "PushProtVer=2.2.9"],
        );
        assert!(
            !s.upload_allowed(StampTable::OperLog),
            "OPERLOG needs 2.2.14"
        );
        connect_again(
            &mut s,
            &clock,
            &["TransFlag=TransData AttLog OpLog", "PushProtVer=2.3.0"],
        );
        assert_eq!(s.version(), PushVersion::new(2, 3, 0));
        assert!(s.upload_allowed(StampTable::OperLog));
        assert!(
            !s.upload_allowed(StampTable::ErrorLog),
            "ERRORLOG needs 2.4.1"
        );
    }

    fn connect_again(s: &mut Session, clock: &Clock, lines: &[&str]) {
        s.request_check();
        connect(s, clock, lines);
        poll(s, clock, 0, "OK");
    }

    #[test]
    fn replies_go_before_the_next_poll_and_check_reinits() {
        let clock = Clock::new();
        let mut s = session(&clock);
        connect(&mut s, &clock, &[]);
        let work = Work {
            pending_replies: true,
            ..Work::default()
        };
        assert_eq!(s.step(clock.now, &work), Step::Act(Action::SendReplies));
        s.request_check();
        assert_eq!(
            s.step(clock.now, &work),
            Step::Act(Action::Init),
            "CHECK re-inits first"
        );
        assert!(s.check_in_progress());
        connect_after_check(&mut s, &clock);
        assert!(!s.check_in_progress());
    }

    fn connect_after_check(s: &mut Session, clock: &Clock) {
        let h = s.handle(
            clock.now,
            &Action::Init,
            Ok(&ok(&options_body(&["Realtime=0", "TransInterval=0"]))),
        );
        assert!(matches!(h.outcome, Outcome::Connected(_)));
        poll(s, clock, 0, "OK");
        assert_eq!(
            s.step(clock.now, &backlog(&[StampTable::AttLog])),
            Step::Act(Action::Upload(StampTable::AttLog)),
            "CHECK sweeps even with Realtime=0"
        );
    }

    #[test]
    fn reboot_sends_replies_first_then_restarts() {
        let clock = Clock::new();
        let mut s = session(&clock);
        connect(&mut s, &clock, &[]);
        s.request_reboot();
        let work = Work {
            pending_replies: true,
            ..Work::default()
        };
        assert_eq!(s.step(clock.now, &work), Step::Act(Action::SendReplies));
        s.handle(
            clock.now,
            &Action::SendReplies,
            Err(&TransportError::Io("down".into())),
        );
        assert_eq!(
            s.step(clock.now, &work),
            Step::Act(Action::Restart),
            "one attempt, then restart anyway"
        );
    }

    #[test]
    fn pings_instead_of_polling_during_a_long_upload_when_supported() {
        let mut clock = Clock::new();
        for (support_ping, expected) in [
            ("SupportPing=1", Action::Ping),
            ("SupportPing=0", Action::Poll),
        ] {
            let mut s = session(&clock);
            connect(&mut s, &clock, &[support_ping, "Delay=5"]);
            poll(&mut s, &clock, 0, "OK");
            let work = backlog(&[StampTable::AttLog]);
            assert_eq!(
                s.step(clock.now, &work),
                Step::Act(Action::Upload(StampTable::AttLog))
            );
            s.handle(
                clock.now,
                &Action::Upload(StampTable::AttLog),
                Ok(&ok("OK: 500")),
            );
            clock.advance_secs(5);
            assert_eq!(s.step(clock.now, &work), Step::Act(expected.clone()));
            s.handle(clock.now, &expected, Ok(&ok("OK")));
            assert_eq!(
                s.step(clock.now, &work),
                Step::Act(Action::Upload(StampTable::AttLog))
            );
        }
    }

    #[test]
    fn holds_a_table_the_server_refuses_with_4xx_doubling_each_time() {
        let mut clock = Clock::new();
        let mut s = session(&clock);
        connect(&mut s, &clock, &["ErrorDelay=10", "Delay=3600"]);
        poll(&mut s, &clock, 0, "OK");
        let work = backlog(&[StampTable::OperLog, StampTable::AttLog]);
        for expected_hold in [10u64, 20, 40] {
            assert_eq!(
                s.step(clock.now, &work),
                Step::Act(Action::Upload(StampTable::OperLog))
            );
            s.handle(
                clock.now,
                &Action::Upload(StampTable::OperLog),
                Ok(&HttpResponse::new(400, "Unsupported table: OPERLOG")),
            );
            let refused_at = clock.now.mono;
            clock.advance_secs(10);
            connect(&mut s, &clock, &["ErrorDelay=10", "Delay=3600"]);
            poll(&mut s, &clock, 0, "OK");
            if expected_hold > 10 {
                assert_eq!(
                    s.step(clock.now, &work),
                    Step::Act(Action::Upload(StampTable::AttLog)),
                    "other tables go on"
                );
                s.handle(
                    clock.now,
                    &Action::Upload(StampTable::AttLog),
                    Ok(&ok("OK")),
                );
                let Step::Idle { until: Some(until) } =
                    s.step(clock.now, &backlog(&[StampTable::OperLog]))
                else {
                    panic!()
                };
                assert_eq!(until, refused_at.plus_secs(expected_hold));
                clock.advance_to(until);
            }
        }
    }

    #[test]
    fn reports_clock_drift_from_the_date_header() {
        let clock = Clock::new();
        let mut s = session(&clock);
        let server_secs = T0_UTC_MS / 1000 + 3600;
        let resp = ok(&options_body(&[])).with_header("Date", &format_http_date(server_secs));
        let h = s.handle(clock.now, &Action::Init, Ok(&resp));
        assert_eq!(h.clock_adjust_ms, Some(3_600_500));
        let resp = ok("OK").with_header("Date", &format_http_date(T0_UTC_MS / 1000 + 1));
        assert_eq!(
            s.handle(clock.now, &Action::Poll, Ok(&resp))
                .clock_adjust_ms,
            None,
            "within threshold"
        );
    }

    #[test]
    fn parses_every_acknowledgement_form() {
        assert_eq!(parse_ack("OK"), Some(None));
        assert_eq!(parse_ack("OK:9"), Some(Some(9)));
        assert_eq!(parse_ack("OK: 9"), Some(Some(9)));
        assert_eq!(parse_ack("OK\n"), Some(None));
        assert_eq!(parse_ack("FAIL"), None);
        assert_eq!(parse_ack("ERROR: 3"), None);
        assert_eq!(parse_ack(""), None);
    }

    #[test]
    fn executes_commands_from_a_poll() {
        let clock = Clock::new();
        let mut s = session(&clock);
        connect(&mut s, &clock, &[]);
        s.poll_request(info(0));
        let h = s.handle(clock.now, &Action::Poll, Ok(&ok("C:1:INFO\nC:2:CHECK\n")));
        let Outcome::Commands(batch) = h.outcome else {
            panic!()
        };
        assert_eq!(batch.commands.len(), 2);
    }

    fn security_session(clock: &Clock) -> Session {
        let mut cfg = SessionConfig::for_tests(SN);
        cfg.dialect = Dialect::Security;
        cfg.identity.push_version = PushVersion::new(3, 1, 2);
        Session::new(cfg, ServerOptions::default(), clock.now)
    }

    const PUSH_ANSWER: &str = "ServerVersion=3.1.2\nRequestDelay=5\nErrorDelay=40\nSessionID=S2\n";

    /// Init (unregistered), registry, push: the handshake of note §2.1.
    fn security_connect(s: &mut Session, clock: &Clock) {
        assert_eq!(s.step(clock.now, &Work::default()), Step::Act(Action::Init));
        assert_eq!(
            s.init_request().target,
            format!("/iclock/cdata?SN={SN}&options=all&pushver=3.1.2")
        );
        let h = s.handle(clock.now, &Action::Init, Ok(&ok("OK")));
        assert_eq!(h.outcome, Outcome::Handshaking);
        assert_eq!(s.token(), None, "no token before registration");
        assert_eq!(
            s.step(clock.now, &Work::default()),
            Step::Act(Action::Register)
        );
        let registered =
            ok("RegistryCode=Uy47fxftP3").with_header("Set-Cookie", "JSESSIONID=S1; Path=/");
        let h = s.handle(clock.now, &Action::Register, Ok(&registered));
        assert_eq!(h.outcome, Outcome::Handshaking);
        assert_eq!(
            s.token().unwrap().as_str(),
            Token::compute("Uy47fxftP3", SN, Some("S1")).as_str(),
            "the registry cookie's session id counts until push sends one"
        );
        assert_eq!(
            s.step(clock.now, &Work::default()),
            Step::Act(Action::FetchConfig)
        );
        let h = s.handle(clock.now, &Action::FetchConfig, Ok(&ok(PUSH_ANSWER)));
        assert!(matches!(h.outcome, Outcome::Connected(_)), "{h:?}");
    }

    #[test]
    fn security_handshake_registers_then_downloads_the_configuration() {
        let clock = Clock::new();
        let mut s = security_session(&clock);
        security_connect(&mut s, &clock);
        assert!(s.is_online());
        assert_eq!(
            s.token().unwrap().as_str(),
            Token::compute("Uy47fxftP3", SN, Some("S2")).as_str()
        );
        assert_eq!(s.options().delay_secs, 5);
        assert_eq!(s.options().error_delay_secs, 40);
        // The state goes up first, then the poll, without INFO.
        let work = Work {
            state_changed: true,
            ..Work::default()
        };
        assert_eq!(s.step(clock.now, &Work::default()), Step::Act(Action::Poll));
        assert_eq!(
            s.poll_request(info(0)).target,
            format!("/iclock/getrequest?SN={SN}")
        );
        s.handle(clock.now, &Action::Poll, Ok(&ok("OK")));
        assert_eq!(s.step(clock.now, &work), Step::Act(Action::SendState));
    }

    #[test]
    fn a_registered_device_goes_straight_to_the_configuration_download() {
        let clock = Clock::new();
        let mut s = security_session(&clock);
        s.step(clock.now, &Work::default());
        let answer = "registry=ok\nRegistryCode=abc\nSessionID=S9\n";
        s.handle(clock.now, &Action::Init, Ok(&ok(answer)));
        assert_eq!(
            s.step(clock.now, &Work::default()),
            Step::Act(Action::FetchConfig)
        );
        assert_eq!(
            s.token().unwrap().as_str(),
            Token::compute("abc", SN, Some("S9")).as_str()
        );
    }

    #[test]
    fn a_refused_registration_waits_error_delay_and_starts_over() {
        let mut clock = Clock::new();
        let mut s = security_session(&clock);
        s.step(clock.now, &Work::default());
        s.handle(clock.now, &Action::Init, Ok(&ok("OK")));
        let h = s.handle(
            clock.now,
            &Action::Register,
            Ok(&HttpResponse::new(406, "406")),
        );
        let Outcome::Failed { retry_at, .. } = h.outcome else {
            panic!("{h:?}")
        };
        assert_eq!(retry_at, clock.now.mono.plus_secs(30), "default ErrorDelay");
        // A 200 answer without a code is a refusal too.
        clock.advance_to(retry_at);
        assert_eq!(s.step(clock.now, &Work::default()), Step::Act(Action::Init));
        s.handle(clock.now, &Action::Init, Ok(&ok("OK")));
        let h = s.handle(clock.now, &Action::Register, Ok(&ok("406")));
        assert!(matches!(h.outcome, Outcome::Failed { .. }));
        assert_eq!(s.token(), None);
    }

    #[test]
    fn a_rejected_token_sends_the_device_back_to_registration() {
        for status in [401, 403, 406] {
            let mut clock = Clock::new();
            let mut s = security_session(&clock);
            security_connect(&mut s, &clock);
            s.poll_request(info(0));
            let h = s.handle(clock.now, &Action::Poll, Ok(&HttpResponse::new(status, "")));
            let Outcome::Failed { retry_at, .. } = h.outcome else {
                panic!("{h:?}")
            };
            assert_eq!(s.token(), None, "{status}");
            clock.advance_to(retry_at);
            assert_eq!(s.step(clock.now, &Work::default()), Step::Act(Action::Init));
            s.handle(clock.now, &Action::Init, Ok(&ok("OK")));
            assert_eq!(
                s.step(clock.now, &Work::default()),
                Step::Act(Action::Register),
                "{status}"
            );
        }
    }

    #[test]
    fn a_server_error_keeps_the_registration() {
        let clock = Clock::new();
        let mut s = security_session(&clock);
        security_connect(&mut s, &clock);
        s.poll_request(info(0));
        s.handle(clock.now, &Action::Poll, Ok(&HttpResponse::new(503, "")));
        assert!(s.token().is_some());
    }

    #[test]
    fn the_door_state_goes_up_on_change_and_every_period() {
        let mut clock = Clock::new();
        let mut s = security_session(&clock);
        security_connect(&mut s, &clock);
        s.poll_request(info(0));
        s.handle(clock.now, &Action::Poll, Ok(&ok("OK")));
        // Right after connecting, even without a change.
        assert_eq!(
            s.step(clock.now, &Work::default()),
            Step::Act(Action::SendState)
        );
        s.handle(clock.now, &Action::SendState, Ok(&ok("OK")));
        let period_end = clock.now.mono.plus_secs(RTSTATE_PERIOD_SECS);
        clock.advance_secs(1);
        let Step::Idle { until } = s.step(clock.now, &Work::default()) else {
            panic!()
        };
        assert!(until.is_some_and(|u| u <= period_end));
        let changed = Work {
            state_changed: true,
            ..Work::default()
        };
        assert_eq!(s.step(clock.now, &changed), Step::Act(Action::SendState));
        s.handle(clock.now, &Action::SendState, Ok(&ok("OK")));
        clock.advance_to(period_end.plus_secs(1));
        // The poll is due too and comes first.
        if s.step(clock.now, &Work::default()) == Step::Act(Action::Poll) {
            s.poll_request(info(0));
            s.handle(clock.now, &Action::Poll, Ok(&ok("OK")));
        }
        assert_eq!(
            s.step(clock.now, &Work::default()),
            Step::Act(Action::SendState)
        );
    }

    #[test]
    fn rtlog_records_go_up_one_by_one_and_count_acks_are_accepted() {
        let clock = Clock::new();
        let mut s = security_session(&clock);
        security_connect(&mut s, &clock);
        s.poll_request(info(0));
        s.handle(clock.now, &Action::Poll, Ok(&ok("OK")));
        s.handle(clock.now, &Action::SendState, Ok(&ok("OK")));
        let work = backlog(&[StampTable::RtLog]);
        let up = Action::Upload(StampTable::RtLog);
        assert_eq!(s.step(clock.now, &work), Step::Act(up.clone()));
        assert_eq!(
            s.handle(clock.now, &up, Ok(&ok("OK"))).outcome,
            Outcome::Uploaded { server_count: None }
        );
        assert_eq!(
            s.handle(clock.now, &Action::QueryUpload, Ok(&ok("transaction=12")))
                .outcome,
            Outcome::Uploaded {
                server_count: Some(12)
            }
        );
        assert!(matches!(
            s.handle(clock.now, &up, Ok(&ok("error: table locked")))
                .outcome,
            Outcome::Failed { .. }
        ));
    }

    #[test]
    fn the_time_fetch_moves_the_clock_and_takes_the_server_zone() {
        let clock = Clock::new();
        let mut s = security_session(&clock);
        security_connect(&mut s, &clock);
        s.request_time_fetch();
        s.poll_request(info(0));
        s.handle(clock.now, &Action::Poll, Ok(&ok("OK")));
        assert_eq!(
            s.step(clock.now, &Work::default()),
            Step::Act(Action::FetchTime)
        );
        // 2026-11-23 00:01:00 GMT in App 5 seconds, an hour ahead of the manual clock.
        let server = LocalDateTime::new(2026, 11, 23, 1, 0, 0).unwrap();
        let body = format!("DateTime={},ServerTZ=+0800", server.to_zk_packed());
        let h = s.handle(clock.now, &Action::FetchTime, Ok(&ok(&body)));
        assert_eq!(h.clock_adjust_ms, Some(3_600_500));
        assert_eq!(s.time_zone(), UtcOffset(480));
        assert_ne!(
            s.step(clock.now, &Work::default()),
            Step::Act(Action::FetchTime)
        );
    }

    #[test]
    fn parses_count_acknowledgements() {
        assert_eq!(parse_count_ack("user=5"), Some(5));
        assert_eq!(parse_count_ack("user: 5\n"), Some(5));
        assert_eq!(parse_count_ack("transaction=0"), Some(0));
        assert_eq!(parse_count_ack("error description"), None);
        assert_eq!(parse_count_ack("=5"), None);
        assert_eq!(parse_count_ack("a b=5"), None);
    }

    #[test]
    fn a_skipped_action_is_not_asked_for_again_at_once() {
        let clock = Clock::new();
        let mut s = security_session(&clock);
        s.step(clock.now, &Work::default());
        s.handle(clock.now, &Action::Init, Ok(&ok("OK")));
        s.skipped(clock.now, &Action::Register);
        assert_eq!(
            s.step(clock.now, &Work::default()),
            Step::Idle {
                until: Some(clock.now.mono.plus_secs(30))
            }
        );
        let mut s = security_session(&clock);
        security_connect(&mut s, &clock);
        s.poll_request(info(0));
        s.handle(clock.now, &Action::Poll, Ok(&ok("OK")));
        assert_eq!(
            s.step(clock.now, &Work::default()),
            Step::Act(Action::SendState)
        );
        s.skipped(clock.now, &Action::SendState);
        assert!(matches!(
            s.step(clock.now, &Work::default()),
            Step::Idle { .. }
        ));
    }
}
