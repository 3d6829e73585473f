//! The simulated board's control socket: a Unix socket in the data directory through which a
//! person (`push-agent sim …`) or a test presents cards, types PINs and moves the door.
//!
//! One request per connection, one line each way:
//! `swipe <card>` · `pin <pin> [password]` · `door open|close` →
//! `ok <record id> <summary>` or `error <reason>`. The answer comes after the record is committed.

use crate::access::Credential;
use crate::protocol::record::parse_card;
use crate::terminal::{DoorState, Terminal, TerminalEvent};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Longest request line accepted.
const MAX_LINE: u64 = 256;
/// How long the board waits for a client's request line. Requests are served one at a time, so
/// this is also how long a stuck client can hold up the next one.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a client waits for the answer: longer than the store's busy timeout, since the answer
/// comes only after the record is committed.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// Parses one control request.
pub fn parse_request(line: &str) -> Result<TerminalEvent, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["swipe", card] => match parse_card(card) {
            Ok(Some(card)) => Ok(TerminalEvent::Credential(Credential::Card(card))),
            Ok(None) => Err("card number 0 is not a card".to_owned()),
            Err(e) => Err(e.to_string()),
        },
        ["pin", pin, rest @ ..] if rest.len() <= 1 => {
            crate::protocol::user::validate_pin(pin).map_err(|e| e.to_string())?;
            Ok(TerminalEvent::Credential(Credential::Keypad {
                pin: (*pin).to_owned(),
                password: rest.first().map(|p| (*p).to_owned()),
            }))
        }
        ["door", "open"] => Ok(TerminalEvent::Door(DoorState::Open)),
        ["door", "close"] => Ok(TerminalEvent::Door(DoorState::Closed)),
        _ => Err(format!(
            "unknown request {:?}; expected `swipe <card>`, `pin <pin> [password]` or `door open|close`",
            line.trim()
        )),
    }
}

/// The listening socket and its thread. Dropping it stops the thread and removes the socket.
pub struct SimControl {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SimControl {
    /// Listens on `path`. `on_record` is called after each committed record (to wake the uploader).
    pub fn start(
        path: &Path,
        terminal: Arc<Mutex<Terminal>>,
        on_record: impl Fn() + Send + 'static,
    ) -> io::Result<SimControl> {
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is in use by another agent", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("sim-control".into())
                .spawn(move || serve(&listener, &stop, &terminal, &on_record))?
        };
        Ok(SimControl {
            path: path.to_owned(),
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for SimControl {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept call so the thread sees the flag.
        let _ = UnixStream::connect(&self.path);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve(
    listener: &UnixListener,
    stop: &AtomicBool,
    terminal: &Mutex<Terminal>,
    on_record: &dyn Fn(),
) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let answer = match conn {
            Ok(stream) => answer(stream, terminal),
            Err(e) => {
                log::warn!("sim control socket: {e}");
                continue;
            }
        };
        if answer {
            on_record();
        }
    }
}

/// Handles one connection; true when a record was written.
fn answer(stream: UnixStream, terminal: &Mutex<Terminal>) -> bool {
    let _ = stream.set_read_timeout(Some(REQUEST_TIMEOUT));
    let _ = stream.set_write_timeout(Some(REQUEST_TIMEOUT));
    let mut line = String::new();
    let read = match stream.try_clone() {
        Ok(s) => BufReader::new(s.take(MAX_LINE)).read_line(&mut line),
        Err(e) => Err(e),
    };
    let (reply, recorded) = match read {
        Ok(0) => return false,
        Ok(_) if !line.ends_with('\n') => (
            "error request too long or not ended by a newline".to_owned(),
            false,
        ),
        Ok(_) => match parse_request(&line) {
            Ok(event) => {
                let mut t = terminal.lock().unwrap_or_else(|e| e.into_inner());
                match t.handle(&event) {
                    Ok(out) => (format!("ok {} {}", out.record_id, out.summary), true),
                    Err(e) => {
                        log::error!("sim event not recorded: {e}");
                        (format!("error not recorded: {e}"), false)
                    }
                }
            }
            Err(e) => (format!("error {e}"), false),
        },
        Err(e) => (format!("error {e}"), false),
    };
    let mut stream = stream;
    let _ = stream.write_all(format!("{reply}\n").as_bytes());
    recorded
}

/// Sends one request to a running agent and returns its answer line.
pub fn request(path: &Path, line: &str) -> io::Result<String> {
    let mut stream = UnixStream::connect(path).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot reach the agent at {}: {e} (is `push-agent run` going?)",
                path.display()
            ),
        )
    })?;
    stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    stream.set_write_timeout(Some(ANSWER_TIMEOUT))?;
    stream.write_all(format!("{}\n", line.trim()).as_bytes())?;
    let mut answer = String::new();
    BufReader::new(stream.take(4096)).read_line(&mut answer)?;
    Ok(answer.trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{DeviceClock, ManualClock};
    use crate::protocol::options::UtcOffset;
    use crate::protocol::record::VerifyCodes;
    use crate::protocol::session::{Mono, Now};
    use crate::protocol::user::User;
    use crate::store::{RecordKind, Store};
    use std::sync::mpsc;

    #[test]
    fn parses_the_requests() {
        assert_eq!(
            parse_request("swipe 123456789\n"),
            Ok(TerminalEvent::Credential(Credential::Card(123_456_789)))
        );
        assert_eq!(
            parse_request("pin 7 1234"),
            Ok(TerminalEvent::Credential(Credential::Keypad {
                pin: "7".into(),
                password: Some("1234".into())
            }))
        );
        assert_eq!(
            parse_request("door close"),
            Ok(TerminalEvent::Door(DoorState::Closed))
        );
        assert!(parse_request("swipe twelve").is_err());
        assert!(parse_request("swipe 0").is_err());
        assert!(parse_request("pin").is_err());
        assert!(parse_request("open sesame").is_err());
    }

    #[test]
    fn answers_over_the_socket_after_the_record_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("agent.db");
        let clock = Arc::new(DeviceClock::new(
            Box::new(ManualClock::new(Now {
                mono: Mono(0),
                utc_ms: 1_795_420_800_000,
            })),
            0,
            UtcOffset(0),
        ));
        let mut store = Store::open(&db).unwrap();
        let mut user = User::new("7");
        user.card = Some(42);
        store.write(|tx| tx.upsert_user(&user)).unwrap();
        let terminal = Arc::new(Mutex::new(Terminal::new(store, clock, VerifyCodes::App7)));
        let (tx, rx) = mpsc::channel();
        let sock = dir.path().join("sim.sock");
        let control = SimControl::start(&sock, terminal, move || {
            let _ = tx.send(());
        })
        .unwrap();
        let answer = request(&sock, "swipe 42").unwrap();
        assert_eq!(answer, "ok 1 accepted user 7 at 2026-11-23 08:00:00");
        assert!(
            request(&sock, "swipe 43")
                .unwrap()
                .starts_with("ok 2 rejected: unknown card")
        );
        assert!(
            request(&sock, "fly away")
                .unwrap()
                .starts_with("error unknown request")
        );
        assert_eq!(rx.try_iter().count(), 2);
        let mut check = Store::open(&db).unwrap();
        assert_eq!(
            check.read(|t| t.count_records(RecordKind::AttLog)).unwrap(),
            1
        );
        assert_eq!(
            check.read(|t| t.count_records(RecordKind::OpLog)).unwrap(),
            1
        );
        // A second agent on the same directory is refused while the first is listening.
        let dup = SimControl::start(
            &sock,
            Arc::new(Mutex::new(Terminal::new(
                Store::open_in_memory().unwrap(),
                Arc::new(DeviceClock::new(
                    Box::new(ManualClock::new(Now {
                        mono: Mono(0),
                        utc_ms: 0,
                    })),
                    0,
                    UtcOffset(0),
                )),
                VerifyCodes::App7,
            ))),
            || {},
        );
        assert!(dup.is_err());
        drop(control);
        assert!(!sock.exists());
    }
}
