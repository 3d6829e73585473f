//! What the fake server remembers, and how each endpoint changes it.

use super::dialect::{OptionValue, Preset};
use super::http::Request;
use super::rng::SplitMix64;
use super::{Fault, ServerConfig};
use crate::protocol::http::{query_param, target_path};
use crate::protocol::session::Mono;
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
}

impl State {
    pub(super) fn new(preset: Preset) -> State {
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
        }
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

    /// Applies any pending fault, handles the request and records it; returns what to do.
    pub(super) fn process(&mut self, config: &ServerConfig, req: Request, now: Mono) -> Outcome {
        let outcome = match self.faults.next() {
            Some(Fault::Status(status)) => Outcome::Responded {
                status,
                body: format!("injected fault {status}"),
            },
            Some(Fault::Drop) => Outcome::Dropped { processed: false },
            Some(Fault::DropAfterProcessing) => {
                self.handle(config, &req, now);
                Outcome::Dropped { processed: true }
            }
            None => {
                let (status, body) = self.handle(config, &req, now);
                Outcome::Responded { status, body }
            }
        };
        self.requests.push(RecordedRequest {
            raw: req.raw,
            method: req.method,
            target: req.target,
            body: req.body,
            outcome: outcome.clone(),
        });
        outcome
    }

    fn handle(&mut self, config: &ServerConfig, req: &Request, now: Mono) -> (u16, String) {
        let path = target_path(&req.target);
        let known = matches!(
            (req.method.as_str(), path),
            ("GET" | "POST", "/iclock/cdata")
                | ("GET", "/iclock/getrequest" | "/iclock/ping")
                | ("POST", "/iclock/devicecmd")
        );
        if !known {
            return (404, "Not Found".to_owned());
        }
        let Some(sn) = query_param(&req.target, "SN").filter(|sn| !sn.is_empty()) else {
            return (400, "missing SN".to_owned());
        };
        let body = String::from_utf8_lossy(&req.body);
        let reply = match (req.method.as_str(), path) {
            ("GET", "/iclock/cdata") => self.option_block(config.preset, &sn),
            ("POST", "/iclock/cdata") => self.upload(config.preset, &req.target, &body),
            ("GET", "/iclock/getrequest") => self.poll(config, &req.target, now),
            ("POST", "/iclock/devicecmd") => self.command_replies(config.preset, &body),
            _ => "OK".to_owned(),
        };
        (200, reply)
    }

    fn stamp_value(&self, preset: Preset, table: &str) -> String {
        self.stamp_overrides
            .get(table)
            .or_else(|| self.echo_stamps.get(table))
            .map_or_else(|| preset.fresh_stamp().to_owned(), Clone::clone)
    }

    fn option_block(&self, preset: Preset, sn: &str) -> String {
        let mut lines = vec![format!("GET OPTION FROM: {sn}")];
        for (key, value) in &self.options {
            let value = match value {
                OptionValue::Text(text) => text.clone(),
                OptionValue::Stamp(table) => self.stamp_value(preset, table.as_str()),
            };
            lines.push(format!("{key}={value}"));
        }
        preset.join_lines(&lines)
    }

    fn upload(&mut self, preset: Preset, target: &str, body: &str) -> String {
        let table = query_param(target, "table").unwrap_or_default();
        if table == "options" {
            for pair in body.trim_end_matches(['\r', '\n']).split(',') {
                if let Some((k, v)) = pair.split_once('=') {
                    self.pushed_options.push((k.to_owned(), v.to_owned()));
                }
            }
            return "OK".to_owned();
        }
        let stamp = query_param(target, "Stamp").unwrap_or_default();
        let lines: Vec<String> = body
            .split('\n')
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        let count = lines.len();
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
        Outcome::Responded { status, body } => format!("← {status} {}", shorten(body)),
        Outcome::Dropped { processed: true } => "← dropped after processing".to_owned(),
        Outcome::Dropped { processed: false } => "← dropped unprocessed".to_owned(),
    };
    [asked, answered]
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
