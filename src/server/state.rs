//! What the fake server remembers, and how each endpoint changes it.

use super::dialect::{INIT_ONLY_KEYS, OptionValue, Preset};
use super::http::Request;
use super::rng::SplitMix64;
use super::security::{self, QueryPackage, Registration, RtEvent, SecurityState};
use super::{Fault, ServerConfig, server_unix_secs};
use crate::protocol::http::{query_param, target_path};
use crate::protocol::session::{Mono, Now};
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

/// One `POST /iclock/cdata` upload as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct UploadBatch {
    /// The `table=` parameter as sent (e.g. `ATTLOG`, `OPERLOG`).
    pub(super) table: String,
    /// The `Stamp=` parameter as sent; empty when absent. `0` marks query results.
    pub(super) stamp: String,
    /// Body lines split on LF, `\r` trimmed, empty lines skipped.
    pub(super) lines: Vec<String>,
}

/// One command reply found in a `POST /iclock/devicecmd` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedReply {
    /// `ID=`: the command id, echoed as an opaque string.
    pub id: String,
    /// `Return=` as a number, or the text that was not one (empty when absent).
    pub return_code: Result<i32, String>,
    /// `CMD=`; empty when absent.
    pub cmd: String,
    /// Lines after the `ID=` line that belong to this reply (the INFO body, say).
    pub details: Vec<String>,
    /// The reply's line(s) as sent, joined with LF.
    pub raw: String,
    /// A reply with this id had already been recorded.
    pub duplicate: bool,
}

/// What the server did with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A response was sent.
    Responded { status: u16, body: String },
    /// The connection was closed without a response; `processed` tells whether the request took
    /// effect first.
    Dropped { processed: bool },
}

/// One request as received, with what happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The bytes exactly as received (head and framed body).
    pub raw: Vec<u8>,
    /// Empty for a request too malformed to parse.
    pub method: String,
    /// Empty for a request too malformed to parse.
    pub target: String,
    /// The decoded body (chunked framing removed).
    pub body: Vec<u8>,
    pub outcome: Outcome,
}

/// A response header beyond those every response carries.
pub(super) type Header = (&'static str, String);

/// What a handler answers.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) body: String,
    pub(super) headers: Vec<Header>,
}

impl Answer {
    pub(super) fn ok(body: String) -> Answer {
        Answer::status(200, &body)
    }

    pub(super) fn status(status: u16, body: &str) -> Answer {
        Answer {
            status,
            body: body.to_owned(),
            headers: Vec::new(),
        }
    }
}

/// A command in the queue, delivered or not.
#[derive(Debug)]
struct QueuedCommand {
    id: String,
    cmd: String,
    delivered_at: Option<Mono>,
}

#[derive(Debug, Default)]
struct Faults {
    queued: VecDeque<Fault>,
    random: Option<(f64, SplitMix64)>,
}

impl Faults {
    fn next(&mut self) -> Option<Fault> {
        if let Some(fault) = self.queued.pop_front() {
            return Some(fault);
        }
        let (probability, rng) = self.random.as_mut()?;
        if rng.next_f64() >= *probability {
            return None;
        }
        Some(match rng.below(4) {
            0 => Fault::Status(500),
            1 => Fault::Status(503),
            2 => Fault::Drop,
            _ => Fault::DropAfterProcessing,
        })
    }
}

/// Everything the server knows; guarded by one mutex.
#[derive(Debug)]
pub(super) struct State {
    options: Vec<(String, OptionValue)>,
    /// Stamp values set with `set_stamp`, by upper-case table name, until that table's next upload.
    stamp_overrides: HashMap<String, String>,
    /// The last non-zero stamp uploaded, by upper-case table name.
    echo_stamps: HashMap<String, String>,
    batches: Vec<UploadBatch>,
    pushed_options: Vec<(String, String)>,
    last_info: Option<String>,
    commands: Vec<QueuedCommand>,
    next_command_id: u64,
    replies: Vec<ReceivedReply>,
    /// Ids of every reply in `replies`, to spot duplicates.
    replied: HashSet<String>,
    requests: Vec<RecordedRequest>,
    faults: Faults,
    security: SecurityState,
}

impl State {
    /// `seed` feeds the Security dialect's registry codes and session ids.
    pub(super) fn new(preset: Preset, seed: u64) -> State {
        State {
            options: preset.default_options(),
            stamp_overrides: HashMap::new(),
            echo_stamps: HashMap::new(),
            batches: Vec::new(),
            pushed_options: Vec::new(),
            last_info: None,
            commands: Vec::new(),
            next_command_id: 1,
            replies: Vec::new(),
            replied: HashSet::new(),
            requests: Vec::new(),
            faults: Faults::default(),
            security: SecurityState::new(seed),
        }
    }

    pub(super) fn set_registry_refused(&mut self, refused: bool) {
        self.security.set_registry_refused(refused);
    }

    pub(super) fn forget_registrations(&mut self) {
        self.security.forget_registrations();
    }

    pub(super) fn rotate_sessions(&mut self) {
        self.security.rotate_sessions();
    }

    pub(super) fn set_option(&mut self, key: &str, value: &str) {
        let value = OptionValue::Text(value.to_owned());
        match self.options.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => self.options.push((key.to_owned(), value)),
        }
    }

    pub(super) fn set_stamp(&mut self, table: &str, value: &str) {
        self.stamp_overrides
            .insert(table.to_ascii_uppercase(), value.to_owned());
    }

    pub(super) fn queue_command(&mut self, id: Option<&str>, cmd: &str) -> String {
        let id = match id {
            Some(id) => id.to_owned(),
            None => {
                let id = self.next_command_id.to_string();
                self.next_command_id += 1;
                id
            }
        };
        self.commands.push(QueuedCommand {
            id: id.clone(),
            cmd: cmd.to_owned(),
            delivered_at: None,
        });
        id
    }

    pub(super) fn fail_next(&mut self, n: usize, fault: Fault) {
        self.faults.queued.extend(std::iter::repeat_n(fault, n));
    }

    pub(super) fn set_random_faults(&mut self, probability: f64, seed: u64) {
        let probability = if probability.is_nan() {
            0.0
        } else {
            probability
        };
        self.faults.random = Some((probability, SplitMix64::new(seed)));
    }

    pub(super) fn view(&self) -> ServerView<'_> {
        ServerView { state: self }
    }

    /// Records a request that could not be parsed and the status it was answered with.
    pub(super) fn record_malformed(&mut self, raw: Vec<u8>, status: u16, reason: String) {
        self.requests.push(RecordedRequest {
            raw,
            method: String::new(),
            target: String::new(),
            body: Vec::new(),
            outcome: Outcome::Responded {
                status,
                body: reason,
            },
        });
    }

    /// Applies any pending fault, handles the request and records it; returns what to do and the
    /// extra headers of the response.
    pub(super) fn process(
        &mut self,
        config: &ServerConfig,
        req: Request,
        now: Now,
    ) -> (Outcome, Vec<Header>) {
        let (outcome, headers) = match self.faults.next() {
            Some(Fault::Status(status)) => (
                Outcome::Responded {
                    status,
                    body: format!("injected fault {status}"),
                },
                Vec::new(),
            ),
            Some(Fault::Drop) => (Outcome::Dropped { processed: false }, Vec::new()),
            Some(Fault::DropAfterProcessing) => {
                self.handle(config, &req, now);
                (Outcome::Dropped { processed: true }, Vec::new())
            }
            None => {
                let answer = self.handle(config, &req, now);
                let outcome = Outcome::Responded {
                    status: answer.status,
                    body: answer.body,
                };
                (outcome, answer.headers)
            }
        };
        self.requests.push(RecordedRequest {
            raw: req.raw,
            method: req.method,
            target: req.target,
            body: req.body,
            outcome: outcome.clone(),
        });
        (outcome, headers)
    }

    fn handle(&mut self, config: &ServerConfig, req: &Request, now: Now) -> Answer {
        let path = target_path(&req.target);
        let security = config.preset == Preset::Security;
        let known = match (req.method.as_str(), path) {
            ("GET" | "POST", "/iclock/cdata")
            | ("GET", "/iclock/getrequest" | "/iclock/ping")
            | ("POST", "/iclock/devicecmd") => true,
            ("POST", "/iclock/registry" | "/iclock/push" | "/iclock/querydata")
            | ("GET", "/iclock/rtdata") => security,
            _ => false,
        };
        if !known {
            return Answer::status(404, "Not Found");
        }
        let Some(sn) = query_param(&req.target, "SN").filter(|sn| !sn.is_empty()) else {
            return Answer::status(400, "missing SN");
        };
        let body = String::from_utf8_lossy(&req.body);
        if security {
            return self.handle_security(config, req, &sn, &body, now);
        }
        let reply = match (req.method.as_str(), path) {
            ("GET", "/iclock/cdata") => self.option_block(config.preset, &sn),
            ("POST", "/iclock/cdata") => self.upload(config.preset, &req.target, &body),
            ("GET", "/iclock/getrequest") => self.poll(config, &req.target, now.mono),
            ("POST", "/iclock/devicecmd") => self.command_replies(config.preset, &body),
            _ => "OK".to_owned(),
        };
        Answer::ok(reply)
    }

    /// The Security dialect [note §2–§3]: init and registry are open; every other request needs
    /// the token of the device's registration, else HTTP 401, on which the device starts over
    /// and registers again [AMB-4].
    fn handle_security(
        &mut self,
        config: &ServerConfig,
        req: &Request,
        sn: &str,
        body: &str,
        now: Now,
    ) -> Answer {
        let preset = config.preset;
        let route = (req.method.as_str(), target_path(&req.target));
        match route {
            ("GET", "/iclock/cdata") => {
                return Answer::ok(self.server_parameters(preset, sn, true));
            }
            ("POST", "/iclock/registry") => return self.security.register(sn, body),
            _ => {}
        }
        if !self.security.token_accepted(sn, &req.cookie) {
            return Answer::status(401, "invalid token");
        }
        let reply = match route {
            ("POST", "/iclock/push") => self.server_parameters(preset, sn, false),
            ("POST", "/iclock/cdata") => self.upload(preset, &req.target, body),
            ("GET", "/iclock/getrequest") => self.poll(config, &req.target, now.mono),
            ("POST", "/iclock/devicecmd") => self.command_replies(preset, body),
            ("POST", "/iclock/querydata") => self.security.query_package(&req.target, body),
            ("GET", "/iclock/rtdata") => {
                if query_param(&req.target, "type").as_deref() != Some("time") {
                    return Answer::status(400, "unsupported rtdata type");
                }
                security::time_answer(server_unix_secs(config, now))
            }
            _ => "OK".to_owned(),
        };
        Answer::ok(reply)
    }

    /// The Security server parameters for `sn`: the registered init answer (E1, with `registry`,
    /// `RegistryCode` and `PushProtVer`) or the `push` answer (E5, without them)
    /// [note §2.2, §2.5]; `OK` while the device is not registered.
    fn server_parameters(&self, preset: Preset, sn: &str, init: bool) -> String {
        let Some(registration) = self.security.registration(sn) else {
            return "OK".to_owned();
        };
        let lines = self.option_lines(preset, Some(registration), |key| {
            init || !INIT_ONLY_KEYS.contains(&key)
        });
        preset.join_lines(&lines)
    }

    fn stamp_value(&self, preset: Preset, table: &str) -> String {
        self.stamp_overrides
            .get(table)
            .or_else(|| self.echo_stamps.get(table))
            .map_or_else(|| preset.fresh_stamp().to_owned(), Clone::clone)
    }

    /// The `key=value` lines of the option list whose keys `keep` accepts, values decided now;
    /// `registration` gives the Security code and session id.
    fn option_lines(
        &self,
        preset: Preset,
        registration: Option<&Registration>,
        keep: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        self.options
            .iter()
            .filter(|(key, _)| keep(key))
            .map(|(key, value)| {
                let value = match value {
                    OptionValue::Text(text) => text.clone(),
                    OptionValue::Stamp(table) => self.stamp_value(preset, table.as_str()),
                    OptionValue::RegistryCode => registration
                        .map(|r| r.registry_code.clone())
                        .unwrap_or_default(),
                    OptionValue::SessionId => registration
                        .map(|r| r.session_id.clone())
                        .unwrap_or_default(),
                };
                format!("{key}={value}")
            })
            .collect()
    }

    fn option_block(&self, preset: Preset, sn: &str) -> String {
        let mut lines = vec![format!("GET OPTION FROM: {sn}")];
        lines.extend(self.option_lines(preset, None, |_| true));
        preset.join_lines(&lines)
    }

    fn upload(&mut self, preset: Preset, target: &str, body: &str) -> String {
        let table = query_param(target, "table").unwrap_or_default();
        if table == "options" {
            self.pushed_options.extend(comma_pairs(body));
            return "OK".to_owned();
        }
        let lines = body_lines(body);
        let count = lines.len();
        // Security table data (E12–E19) is acked with its table's name [note §3.4, AMB-7].
        if preset == Preset::Security && table == "tabledata" {
            let name = query_param(target, "tablename").unwrap_or_default();
            self.batches.push(UploadBatch {
                table: name.clone(),
                stamp: String::new(),
                lines,
            });
            return format!("{name}={count}");
        }
        let stamp = query_param(target, "Stamp").unwrap_or_default();
        if !stamp.is_empty() && stamp != "0" {
            let key = table.to_ascii_uppercase();
            self.stamp_overrides.remove(&key);
            self.echo_stamps.insert(key, stamp.clone());
        }
        self.batches.push(UploadBatch {
            table,
            stamp,
            lines,
        });
        preset.ack(count)
    }

    fn poll(&mut self, config: &ServerConfig, target: &str, now: Mono) -> String {
        if let Some(info) = query_param(target, "INFO") {
            self.last_info = Some(info);
        }
        let due = |c: &QueuedCommand| match (c.delivered_at, config.redeliver_after) {
            (None, _) => true,
            (Some(at), Some(after)) => Duration::from_millis(now.0.saturating_sub(at.0)) >= after,
            (Some(_), None) => false,
        };
        let mut body = String::new();
        for command in self
            .commands
            .iter_mut()
            .filter(|c| due(c))
            .take(config.commands_per_poll)
        {
            command.delivered_at = Some(now);
            body.push_str(&format!("C:{}:{}\n", command.id, command.cmd));
        }
        if body.is_empty() {
            body.push_str("OK");
        }
        body
    }

    fn command_replies(&mut self, preset: Preset, body: &str) -> String {
        let mut answered = HashSet::new();
        for parsed in preset.result_parser().parse(body) {
            let duplicate = !self.replied.insert(parsed.id.clone());
            answered.insert(parsed.id.clone());
            self.replies.push(ReceivedReply {
                id: parsed.id,
                return_code: parsed.return_code,
                cmd: parsed.cmd,
                details: parsed.details,
                raw: parsed.raw,
                duplicate,
            });
        }
        if !answered.is_empty() {
            self.commands.retain(|c| !answered.contains(&c.id));
        }
        "OK".to_owned()
    }
}

/// Body lines split on LF, `\r` trimmed, empty lines skipped.
pub(super) fn body_lines(body: &str) -> Vec<String> {
    body.split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The `key=value` pairs of a comma list (options upload, registry capabilities), split at the
/// first `=`; items without `=` are skipped.
pub(super) fn comma_pairs(body: &str) -> impl Iterator<Item = (String, String)> + '_ {
    body.trim_end_matches(['\r', '\n'])
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
}

/// Read access to the server's records, for [`super::PushServer::wait_until`] predicates.
pub struct ServerView<'a> {
    state: &'a State,
}

impl ServerView<'_> {
    /// Every batch of `table` (case-insensitive), in arrival order.
    pub(super) fn batches<'b>(&'b self, table: &'b str) -> impl Iterator<Item = &'b UploadBatch> {
        self.state
            .batches
            .iter()
            .filter(move |b| b.table.eq_ignore_ascii_case(table))
    }

    /// Lines of `table`'s batches with a non-zero stamp, in arrival order (duplicates kept).
    pub fn uploads(&self, table: &str) -> Vec<String> {
        self.batches(table)
            .filter(|b| b.stamp != "0")
            .flat_map(|b| b.lines.iter().cloned())
            .collect()
    }

    /// Lines of `table`'s batches with `Stamp=0` (answers to `DATA QUERY`).
    pub fn query_uploads(&self, table: &str) -> Vec<String> {
        self.batches(table)
            .filter(|b| b.stamp == "0")
            .flat_map(|b| b.lines.iter().cloned())
            .collect()
    }

    /// Every command reply received, in arrival order.
    pub fn replies(&self) -> &[ReceivedReply] {
        &self.state.replies
    }

    /// Ids of commands queued or delivered but not yet replied to, in queue order.
    pub fn outstanding_commands(&self) -> Vec<String> {
        self.state.commands.iter().map(|c| c.id.clone()).collect()
    }

    /// `k=v` pairs received through `table=options`, in arrival order.
    pub fn pushed_options(&self) -> &[(String, String)] {
        &self.state.pushed_options
    }

    /// The decoded `INFO=` of the latest poll that carried one.
    pub fn last_info(&self) -> Option<&str> {
        self.state.last_info.as_deref()
    }

    /// Every request received, with what happened to it.
    pub fn requests(&self) -> &[RecordedRequest] {
        &self.state.requests
    }

    /// How many requests have been received (malformed ones included).
    pub fn request_count(&self) -> usize {
        self.state.requests.len()
    }

    /// Security: the registration of device `serial`, if it is registered.
    pub fn registration(&self, serial: &str) -> Option<&Registration> {
        self.state.security.registration(serial)
    }

    /// Security: every `rtlog` event line, in arrival order (re-sent ones included and marked).
    pub fn rt_events(&self) -> Vec<RtEvent> {
        security::rt_events(
            self.batches("rtlog")
                .flat_map(|b| b.lines.iter().map(String::as_str)),
        )
    }

    /// Security: how many `rtlog` events repeated the index of an earlier one.
    pub fn duplicate_events(&self) -> usize {
        self.rt_events().iter().filter(|e| e.duplicate).count()
    }

    /// Security: every `querydata` package, in arrival order.
    pub fn query_packages(&self) -> &[QueryPackage] {
        self.state.security.packages()
    }

    /// Security: how many requests were refused with HTTP 401 for a missing or wrong token.
    pub fn rejected_tokens(&self) -> usize {
        self.state.security.rejected_tokens()
    }

    /// The requests as human-readable lines, `→` for requests and `←` for what the server did.
    pub fn transcript(&self) -> Vec<String> {
        self.state
            .requests
            .iter()
            .flat_map(transcript_lines)
            .collect()
    }
}

/// Longest response text shown whole in the transcript.
const SHOWN_CHARS: usize = 100;

fn transcript_lines(req: &RecordedRequest) -> [String; 2] {
    let body = String::from_utf8_lossy(&req.body);
    let lines = body.lines().filter(|l| !l.is_empty()).count();
    let path = target_path(&req.target);
    let asked = match (req.method.as_str(), path) {
        ("", _) => format!("→ malformed request ({} bytes)", req.raw.len()),
        ("POST", "/iclock/cdata") => {
            let table = query_param(&req.target, "table").unwrap_or_default();
            match query_param(&req.target, "Stamp") {
                Some(stamp) => format!("→ POST cdata {table} Stamp={stamp} ({lines} records)"),
                None => format!("→ POST cdata {table} ({})", shorten(&body)),
            }
        }
        ("POST", "/iclock/devicecmd") => {
            format!("→ POST devicecmd ({lines} lines) {}", shorten(&body))
        }
        (method, _) => format!("→ {method} {}", req.target),
    };
    let answered = match &req.outcome {
        Outcome::Responded { status, body } => {
            format!("← {status} {}", shorten(&mask_secrets(body)))
        }
        Outcome::Dropped { processed: true } => "← dropped after processing".to_owned(),
        Outcome::Dropped { processed: false } => "← dropped unprocessed".to_owned(),
    };
    [asked, answered]
}

/// `text` with the values of the Security token's inputs (`RegistryCode`, `SessionID`) masked:
/// the transcript is printed by the demo, and tokens are not to be logged.
fn mask_secrets(text: &str) -> String {
    text.split('\n')
        .map(|line| match line.split_once('=') {
            Some((key, _)) if ["RegistryCode", "SessionID"].contains(&key) => format!("{key}=***"),
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first line of `text` cut to [`SHOWN_CHARS`], with a note of what was left out.
fn shorten(text: &str) -> String {
    let mut lines = text.lines().filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("");
    let more = lines.count();
    let mut shown: String = first.chars().take(SHOWN_CHARS).collect();
    if shown.len() < first.len() {
        shown.push('…');
    }
    if more > 0 {
        shown.push_str(&format!(" (+{more} lines)"));
    }
    shown
}
