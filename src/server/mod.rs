//! An embedded PUSH management server: a small, real HTTP/1.1 server on loopback that plays the
//! server side of the attendance PUSH protocol for `push-agent demo` and integration tests.
//!
//! It hands out an option block (E1), records uploads (E9) and acks them, queues commands for
//! `getrequest` polls (E6) and redelivers unanswered ones, parses command replies (E8) in the
//! dialects of server-dialects.md, and can inject faults. Every request is recorded byte for byte.

mod dialect;
mod http;
mod state;
#[cfg(test)]
mod tests;

pub use dialect::{Preset, ResultParser};
pub use state::{Outcome, ReceivedReply, RecordedRequest, ServerView, UploadBatch};

use crate::protocol::civil::format_http_date;
use http::{ReadError, RequestReader};
use state::State;
use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

/// The fixed settings request handling needs.
#[derive(Debug)]
struct Settings {
    preset: Preset,
    commands_per_poll: usize,
    redeliver_after: Option<Duration>,
    clock_offset_secs: i64,
}

/// Open connections, so shutdown can unblock their reads and join their threads.
#[derive(Debug, Default)]
struct Connections {
    next_id: u64,
    streams: HashMap<u64, TcpStream>,
    threads: Vec<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    settings: Settings,
    state: Mutex<State>,
    changed: Condvar,
    stopping: AtomicBool,
    connections: Mutex<Connections>,
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
        format_http_date(unix_now().saturating_add(self.settings.clock_offset_secs))
    }
}

// the fake server keeps real time
#[allow(clippy::disallowed_methods)]
fn instant_now() -> Instant {
    Instant::now()
}

// the fake server keeps real time
#[allow(clippy::disallowed_methods)]
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
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
        let mut state = State::new(cfg.preset);
        for (key, value) in &cfg.options {
            state.set_option(key, value);
        }
        let shared = Arc::new(Shared {
            settings: Settings {
                preset: cfg.preset,
                commands_per_poll: cfg.commands_per_poll,
                redeliver_after: cfg.redeliver_after,
                clock_offset_secs: cfg.clock_offset_secs,
            },
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
    /// uploads) or adding the key at the end.
    pub fn set_option(&self, key: &str, value: &str) {
        self.shared.update(|s| s.set_option(key, value));
    }

    /// Removes a key from the option block.
    pub fn remove_option(&self, key: &str) {
        self.shared.update(|s| s.remove_option(key));
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

    /// Removes queued and random faults.
    pub fn clear_faults(&self) {
        self.shared.update(State::clear_faults);
    }

    /// Forgets every upload batch.
    pub fn clear_uploads(&self) {
        self.shared.update(State::clear_uploads);
    }

    fn read<T>(&self, f: impl FnOnce(&ServerView<'_>) -> T) -> T {
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

    /// Every batch of `table` (case-insensitive), in arrival order.
    pub fn upload_batches(&self, table: &str) -> Vec<UploadBatch> {
        self.read(|v| v.upload_batches(table))
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
        let deadline = instant_now() + timeout;
        let mut state = self.shared.state();
        loop {
            if pred(&state.view()) {
                return true;
            }
            let left = deadline.saturating_duration_since(instant_now());
            if left.is_zero() {
                return false;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
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
        let Ok(stream) = stream else { continue };
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
        let (status, body, keep_alive) = match reader.next_request() {
            Err(ReadError::Gone) => break,
            Err(ReadError::Bad {
                status,
                reason,
                raw,
            }) => {
                shared.update(|s| s.record_malformed(raw, status, reason.clone()));
                (status, reason, false)
            }
            Ok(req) => {
                let outcome = shared.update(|s| s.process(&shared.settings, &req, instant_now()));
                match outcome {
                    Outcome::Responded { status, body } => (status, body, req.keep_alive),
                    Outcome::Dropped { .. } => break,
                }
            }
        };
        let date = shared.date_header();
        if http::write_response(&mut out, status, &body, &date, !keep_alive).is_err() || !keep_alive
        {
            break;
        }
    }
    let _ = out.flush();
    let _ = out.shutdown(Shutdown::Both);
}
