//! An embedded PUSH management server: a small, real HTTP/1.1 server on loopback that plays the
//! server side of the attendance PUSH protocol for `push-agent demo` and integration tests.
//!
//! It hands out an option block (E1), records uploads (E9) and acks them, queues commands for
//! `getrequest` polls (E6) and redelivers unanswered ones, parses command replies (E8) in the
//! dialects of server-dialects.md, and can inject faults. Every request is recorded byte for byte.
//!
//! Started with [`Preset::Security`] it plays a Security PUSH server instead [note §2–§3]: init
//! answers `OK` until the device registers, registry hands out a `RegistryCode` and the session
//! cookie (or HTTP 406 while [`PushServer::refuse_registry`] is set), and every later request
//! must carry `Cookie: token=md5hex(RegistryCode+SN+SessionID)` or is refused with HTTP 401
//! (AMB-4: the device then starts over). `push` and the registered init answer send the option
//! list as server parameters; `rtlog` lines are read as [`RtEvent`]s, `rtstate` and other plain
//! uploads land in [`PushServer::uploads`], `querydata` packages are kept as
//! [`QueryPackage`]s, `rtdata?type=time` answers the time in App 5 seconds; commands and replies
//! go through the same queue as in the attendance dialect. The preset, rather than a separate
//! dialect switch, chooses it, because the presets already are the server families the fake server
//! can imitate; the attendance presets never see any of this.
//!
//! Recorded requests, uploads and replies are kept in memory for the server's whole life, without
//! a cap: the server is meant for tests and the demo, which make a bounded number of requests, and
//! each request is itself bounded by the body limit. It reads time through
//! [`crate::clock::SystemTimeSource`], like the agent.

mod dialect;
mod http;
mod rng;
mod security;
mod state;
#[cfg(test)]
mod tests;

pub use dialect::Preset;
pub use rng::SplitMix64;
pub use security::{QueryPackage, Registration, RtEvent};
pub use state::{Outcome, ReceivedReply, RecordedRequest, ServerView};

use crate::clock::{SystemTimeSource, TimeSource};
use crate::protocol::civil::format_http_date;
use crate::protocol::session::Now;
use http::{ReadError, RequestReader};
use state::State;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How long a connection may sit idle (or stall mid-request) before it is closed.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests served on one keep-alive connection before it is closed.
const MAX_REQUESTS_PER_CONNECTION: usize = 10_000;
/// Connections served at once; more are closed on arrival.
const MAX_CONNECTIONS: usize = 64;

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The server dialect to imitate.
    pub preset: Preset,
    /// Most commands handed out per `getrequest` poll.
    pub commands_per_poll: usize,
    /// Deliver a command again when no reply arrived this long after it was sent; `None`: never.
    pub redeliver_after: Option<Duration>,
    /// Seconds added to the real clock in the `Date` header.
    pub clock_offset_secs: i64,
    /// Option block overrides applied at start, as with [`PushServer::set_option`].
    pub options: Vec<(String, String)>,
}

impl ServerConfig {
    /// The preset's defaults: its commands per poll (20, or 1 for S3), redelivery after 3 s, the
    /// real clock, no overrides.
    pub fn new(preset: Preset) -> Self {
        ServerConfig {
            preset,
            commands_per_poll: preset.commands_per_poll(),
            redeliver_after: Some(Duration::from_secs(3)),
            clock_offset_secs: 0,
            options: Vec::new(),
        }
    }
}

/// A way to make requests fail, for exercising the device's retry paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and a short body, without processing the request.
    Status(u16),
    /// Read the request, then close the connection without processing or answering.
    Drop,
    /// Process the request fully, then close the connection without answering.
    DropAfterProcessing,
}

/// Pause after a failed `accept` (out of file descriptors, say), so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Open connections, so shutdown can unblock their reads and join their threads.
#[derive(Debug, Default)]
struct Connections {
    next_id: u64,
    streams: HashMap<u64, TcpStream>,
    threads: Vec<JoinHandle<()>>,
}

struct Shared {
    config: ServerConfig,
    clock: SystemTimeSource,
    state: Mutex<State>,
    changed: Condvar,
    stopping: AtomicBool,
    connections: Mutex<Connections>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .field("state", &self.state)
            .field("stopping", &self.stopping)
            .field("connections", &self.connections)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn connections(&self) -> MutexGuard<'_, Connections> {
        self.connections.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let result = f(&mut self.state());
        self.changed.notify_all();
        result
    }

    fn date_header(&self) -> String {
        format_http_date(server_unix_secs(&self.config, self.clock.raw_now()))
    }
}

/// The server's time in Unix seconds: the real clock shifted by the configured offset.
fn server_unix_secs(config: &ServerConfig, now: Now) -> i64 {
    now.utc_ms
        .div_euclid(1000)
        .saturating_add(config.clock_offset_secs)
}

/// A running fake server on `127.0.0.1`. Dropping it shuts the server down.
#[derive(Debug)]
pub struct PushServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

impl PushServer {
    /// Binds an ephemeral loopback port and starts serving.
    pub fn start(cfg: ServerConfig) -> io::Result<PushServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let clock = SystemTimeSource::new();
        // Registry codes need only differ between servers, not be unpredictable.
        let seed = clock.raw_now().utc_ms as u64 ^ u64::from(addr.port());
        let mut state = State::new(cfg.preset, seed);
        for (key, value) in &cfg.options {
            state.set_option(key, value);
        }
        let shared = Arc::new(Shared {
            config: cfg,
            clock,
            state: Mutex::new(state),
            changed: Condvar::new(),
            stopping: AtomicBool::new(false),
            connections: Mutex::new(Connections::default()),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("push-server-accept".into())
                .spawn(move || accept_loop(&shared, &listener))?
        };
        Ok(PushServer {
            shared,
            addr,
            acceptor: Mutex::new(Some(acceptor)),
        })
    }

    /// The base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, closes every connection and joins all server threads. Idempotent.
    pub fn shutdown(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        let acceptor = self
            .acceptor
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(acceptor) = acceptor else {
            return;
        };
        // Wake the blocking accept; it sees the flag and returns.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        let _ = acceptor.join();
        let threads = {
            let mut conns = self.shared.connections();
            for stream in conns.streams.values() {
                let _ = stream.shutdown(Shutdown::Both);
            }
            std::mem::take(&mut conns.threads)
        };
        for handle in threads {
            let _ = handle.join();
        }
    }

    /// Sets an option block key, overriding the preset's value (a stamp key stops following
    /// uploads) or adding the key at the end. In the Security dialect this is the server
    /// parameter list (`PushOptionsFlag=1`, say); `RegistryCode` and `SessionID` set here are
    /// sent as given while tokens are still checked against the real ones.
    pub fn set_option(&self, key: &str, value: &str) {
        self.shared.update(|s| s.set_option(key, value));
    }

    /// Sends `value` as `table`'s stamp until the device next uploads that table.
    pub fn set_stamp(&self, table: &str, value: &str) {
        self.shared.update(|s| s.set_stamp(table, value));
    }

    /// Queues a command with the next numeric id (`"1"`, `"2"`, …) and returns the id.
    pub fn queue_command(&self, cmd: &str) -> String {
        self.shared.update(|s| s.queue_command(None, cmd))
    }

    /// Queues a command with a caller-chosen opaque id (16 hex digits, say).
    pub fn queue_command_with_id(&self, id: &str, cmd: &str) {
        self.shared.update(|s| s.queue_command(Some(id), cmd));
    }

    /// Makes the next `n` requests (any endpoint) fail with `fault`, after faults already queued.
    pub fn fail_next(&self, n: usize, fault: Fault) {
        self.shared.update(|s| s.fail_next(n, fault));
    }

    /// Makes each request fail with `probability`, choosing among 500, 503, drop and drop after
    /// processing; deterministic for a given `seed`. Queued faults from `fail_next` come first.
    pub fn set_random_faults(&self, probability: f64, seed: u64) {
        self.shared
            .update(|s| s.set_random_faults(probability, seed));
    }

    /// Security: while `refused`, answers every registry request with HTTP 406 [note §2.4].
    pub fn refuse_registry(&self, refused: bool) {
        self.shared.update(|s| s.set_registry_refused(refused));
    }

    /// Security: forgets every registration, so init answers `OK`, every token is refused with
    /// 401, and the device must register again [AMB-4].
    pub fn forget_registrations(&self) {
        self.shared.update(State::forget_registrations);
    }

    /// Security: gives every registered device a new session id (its registry code stays); the
    /// old token is refused with 401 until the device reads the new `SessionID` from init.
    pub fn rotate_sessions(&self) {
        self.shared.update(State::rotate_sessions);
    }

    /// Security: the registration of device `serial`, if it is registered.
    pub fn registration(&self, serial: &str) -> Option<Registration> {
        self.read(|v| v.registration(serial).cloned())
    }

    /// Security: every `rtlog` event line, in arrival order (re-sent ones included and marked).
    pub fn rt_events(&self) -> Vec<RtEvent> {
        self.read(|v| v.rt_events())
    }

    /// Security: how many `rtlog` events repeated the index of an earlier one.
    pub fn duplicate_events(&self) -> usize {
        self.read(|v| v.duplicate_events())
    }

    /// Security: every `querydata` package, in arrival order.
    pub fn query_packages(&self) -> Vec<QueryPackage> {
        self.read(|v| v.query_packages().to_vec())
    }

    /// Security: how many requests were refused with HTTP 401 for a missing or wrong token.
    pub fn rejected_tokens(&self) -> usize {
        self.read(|v| v.rejected_tokens())
    }

    /// Runs `f` on the records as they are now, without copying them (under the server's lock,
    /// so keep `f` short).
    pub fn read<T>(&self, f: impl FnOnce(&ServerView<'_>) -> T) -> T {
        f(&self.shared.state().view())
    }

    /// Lines of `table`'s batches with a non-zero stamp, in arrival order (duplicates kept).
    pub fn uploads(&self, table: &str) -> Vec<String> {
        self.read(|v| v.uploads(table))
    }

    /// Lines of `table`'s batches with `Stamp=0` (answers to `DATA QUERY`).
    pub fn query_uploads(&self, table: &str) -> Vec<String> {
        self.read(|v| v.query_uploads(table))
    }

    /// Every command reply received, in arrival order.
    pub fn replies(&self) -> Vec<ReceivedReply> {
        self.read(|v| v.replies().to_vec())
    }

    /// Ids of commands queued or delivered but not yet replied to, in queue order.
    pub fn outstanding_commands(&self) -> Vec<String> {
        self.read(|v| v.outstanding_commands())
    }

    /// `k=v` pairs received through `table=options`, in arrival order.
    pub fn pushed_options(&self) -> Vec<(String, String)> {
        self.read(|v| v.pushed_options().to_vec())
    }

    /// The decoded `INFO=` of the latest poll that carried one.
    pub fn last_info(&self) -> Option<String> {
        self.read(|v| v.last_info().map(str::to_owned))
    }

    /// Every request received, with what happened to it.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.read(|v| v.requests().to_vec())
    }

    /// The requests as human-readable lines, `→` for requests and `←` for what the server did.
    pub fn transcript(&self) -> Vec<String> {
        self.read(|v| v.transcript())
    }

    /// How many requests have been received (malformed ones included).
    pub fn request_count(&self) -> usize {
        self.read(|v| v.request_count())
    }

    /// Waits until `pred` holds, re-checking after every request and every change made through
    /// this handle. Returns `false` if `timeout` passes first.
    pub fn wait_until(&self, timeout: Duration, pred: impl Fn(&ServerView<'_>) -> bool) -> bool {
        let (_state, waited) = self
            .shared
            .changed
            .wait_timeout_while(self.shared.state(), timeout, |s| !pred(&s.view()))
            .unwrap_or_else(|e| e.into_inner());
        // `timed_out` means the predicate still failed when the time ran out.
        !waited.timed_out()
    }
}

impl Drop for PushServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else {
            thread::sleep(ACCEPT_ERROR_PAUSE);
            continue;
        };
        let mut conns = shared.connections();
        conns.threads.retain(|t| !t.is_finished());
        if conns.streams.len() >= MAX_CONNECTIONS {
            continue;
        }
        let Ok(registered) = stream.try_clone() else {
            continue;
        };
        let id = conns.next_id;
        conns.next_id += 1;
        conns.streams.insert(id, registered);
        let worker = {
            let shared = Arc::clone(shared);
            thread::Builder::new()
                .name("push-server-conn".into())
                .spawn(move || {
                    serve_connection(&shared, stream);
                    shared.connections().streams.remove(&id);
                })
        };
        match worker {
            Ok(handle) => conns.threads.push(handle),
            Err(_) => {
                conns.streams.remove(&id);
            }
        }
    }
}

fn serve_connection(shared: &Shared, stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(READ_TIMEOUT));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = RequestReader::new(read_half);
    let mut out = stream;
    for _ in 0..MAX_REQUESTS_PER_CONNECTION {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let (status, body, headers, keep_alive) = match reader.next_request() {
            Err(ReadError::Gone) => break,
            Err(ReadError::Bad {
                status,
                reason,
                raw,
            }) => {
                shared.update(|s| s.record_malformed(raw, status, reason.clone()));
                (status, reason, Vec::new(), false)
            }
            Ok(req) => {
                let keep_alive = req.keep_alive;
                let now = shared.clock.raw_now();
                match shared.update(|s| s.process(&shared.config, req, now)) {
                    (Outcome::Responded { status, body }, headers) => {
                        (status, body, headers, keep_alive)
                    }
                    (Outcome::Dropped { .. }, _) => break,
                }
            }
        };
        let date = shared.date_header();
        let written = http::write_response(&mut out, status, &body, &date, &headers, !keep_alive);
        if written.is_err() || !keep_alive {
            break;
        }
    }
    let _ = out.flush();
    let _ = out.shutdown(Shutdown::Both);
}
