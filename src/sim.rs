//! The simulated board's control socket: a Unix socket in the data directory through which a
//! person (`push-agent sim …`) or a test presents cards, types PINs and moves the doors.
//!
//! One request per connection, one line each way:
//!
//! - `swipe <card> [--door N] [--reader in|out]`
//! - `pin <pin> [password] [--door N] [--reader in|out]`
//! - `password <password> [--door N] [--reader in|out]` (a door password typed alone)
//! - `door [N] open|close` (the door sensor; N defaults to 1)
//! - `exit N` (the exit button) · `tamper` · `relays` (each door's relay level and state) ·
//!   `readers` (each RS485/OSDP reader's link; none on the simulated board)
//!
//! The answer is `ok <index…> <summary>` (the ids of the records written, then one line for the
//! operator) or `error <reason>`; it comes after the records are committed. The attendance
//! terminal has one reader and door 1's sensor: it takes `swipe`, `pin` and `door [1]`, and
//! answers the other requests with an error. `--door` defaults to 1, `--reader` to the door's
//! first reader in the board file.
//!
//! A GPIO board's agent listens on the same socket for `relays` and `readers` only, so that
//! `push-agent status` shows its doors and readers too; its inputs are the board's lines, and it
//! refuses the others.

use crate::access::Credential;
use crate::access::model::{Direction, DoorId};
use crate::config::BoardConfig;
use crate::controller::{Controller, ControllerInput, SharedStatus};
use crate::door::DoorPosition;
use crate::hal::SimRelayView;
use crate::hal::osdp::{OsdpStatus, ReaderStatus};
use crate::protocol::record::parse_card;
use crate::protocol::security::rtstate::{AlarmFlags, DoorState, SensorState};
use crate::terminal::{Terminal, TerminalEvent};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
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

/// Between the doors of a `relays` answer (`door 1: …; door 2: …`), and between the readers of
/// a `readers` answer.
pub const DOOR_SEPARATOR: &str = "; ";

const USAGE: &str = "`swipe <card>`, `pin <pin> [password]` or `password <password>` (each with \
                     [--door N] [--reader in|out]), `door [N] open|close`, `exit N`, `tamper`, \
                     `relays` or `readers`";

/// One control request, before it meets a board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimRequest {
    /// A credential at a reader; `None` takes the default door or reader.
    Credential {
        credential: Credential,
        door: Option<DoorId>,
        reader: Option<Direction>,
    },
    /// The door sensor of `door` (default 1).
    Door {
        door: Option<DoorId>,
        position: DoorPosition,
    },
    ExitButton(DoorId),
    Tamper,
    /// Each door's relay level and state.
    Relays,
    /// The RS485/OSDP readers' links.
    Readers,
}

/// Parses one control request.
pub fn parse_request(line: &str) -> Result<SimRequest, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let unknown = || format!("unknown request {:?}; expected {USAGE}", line.trim());
    let Some((verb, rest)) = words.split_first() else {
        return Err(unknown());
    };
    match *verb {
        "swipe" | "pin" | "password" => {
            let (args, ReaderOptions { door, reader }) = reader_options(rest)?;
            let credential = match (*verb, args.as_slice()) {
                ("swipe", [card]) => match parse_card(card) {
                    Ok(Some(card)) => Credential::Card(card),
                    Ok(None) => return Err("card number 0 is not a card".to_owned()),
                    Err(e) => return Err(e.to_string()),
                },
                ("pin", [pin, password @ ..]) if password.len() <= 1 => {
                    crate::protocol::user::validate_pin(pin).map_err(|e| e.to_string())?;
                    Credential::Keypad {
                        pin: (*pin).to_owned(),
                        password: password.first().map(|p| (*p).to_owned()),
                    }
                }
                ("password", [password]) => Credential::Password((*password).to_owned()),
                _ => return Err(unknown()),
            };
            Ok(SimRequest::Credential {
                credential,
                door,
                reader,
            })
        }
        "door" => {
            let (door, position) = match rest {
                [position] => (None, *position),
                [door, position] => (Some(door_number(door)?), *position),
                _ => return Err(unknown()),
            };
            let position = match position {
                "open" => DoorPosition::Open,
                "close" => DoorPosition::Closed,
                _ => return Err(unknown()),
            };
            Ok(SimRequest::Door { door, position })
        }
        "exit" => match rest {
            [door] => Ok(SimRequest::ExitButton(door_number(door)?)),
            _ => Err(unknown()),
        },
        "tamper" if rest.is_empty() => Ok(SimRequest::Tamper),
        "relays" if rest.is_empty() => Ok(SimRequest::Relays),
        "readers" if rest.is_empty() => Ok(SimRequest::Readers),
        _ => Err(unknown()),
    }
}

/// `--door N` and `--reader in|out` of a credential.
struct ReaderOptions {
    door: Option<DoorId>,
    reader: Option<Direction>,
}

/// Splits `--door N` and `--reader in|out` (each at most once) from the other words.
fn reader_options<'a>(words: &[&'a str]) -> Result<(Vec<&'a str>, ReaderOptions), String> {
    let (mut args, mut door, mut reader) = (Vec::new(), None, None);
    let mut it = words.iter();
    while let Some(word) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{word} needs a value"));
        match *word {
            "--door" if door.is_none() => door = Some(door_number(value()?)?),
            "--reader" if reader.is_none() => {
                reader = Some(match *value()? {
                    "in" => Direction::In,
                    "out" => Direction::Out,
                    other => return Err(format!("--reader {other:?}: expected in or out")),
                });
            }
            "--door" | "--reader" => return Err(format!("{word} given twice")),
            w if w.starts_with("--") => return Err(format!("unknown option {w}")),
            w => args.push(w),
        }
    }
    Ok((args, ReaderOptions { door, reader }))
}

fn door_number(text: &str) -> Result<DoorId, String> {
    text.parse::<DoorId>()
        .ok()
        .filter(|d| *d >= 1)
        .ok_or_else(|| format!("door {text:?}: expected a door number from 1"))
}

/// What the socket drives: the attendance terminal or the security dialect's controller, or on a
/// GPIO board nothing: it reports the doors' state (the controller's snapshot) and the OSDP
/// readers' links.
pub enum SimBoard {
    Terminal(Arc<Mutex<Terminal>>),
    Controller(SimController),
    Gpio {
        doors: SharedStatus,
        readers: OsdpStatus,
    },
}

/// The security dialect's controller as the socket sees it.
pub struct SimController {
    controller: Arc<Mutex<Controller>>,
    relays: SimRelayView,
    status: SharedStatus,
    /// The sides with a reader, per door (door 1 first), from the board file.
    readers: Vec<Vec<Direction>>,
}

impl SimController {
    pub fn new(
        controller: Arc<Mutex<Controller>>,
        relays: SimRelayView,
        board: &BoardConfig,
    ) -> SimController {
        let status = lock(&controller).status();
        let readers = board
            .doors
            .iter()
            .map(|d| {
                d.readers
                    .iter()
                    .map(|reader| Direction::from(reader.side))
                    .collect()
            })
            .collect();
        SimController {
            controller,
            relays,
            status,
            readers,
        }
    }

    /// The answer line, and whether records were committed or a door's state changed.
    fn answer(&self, request: &SimRequest) -> (String, bool) {
        match request {
            SimRequest::Relays => return (format!("ok {}", self.describe_doors()), false),
            // The simulated board has no RS485 readers.
            SimRequest::Readers => return ("ok".to_owned(), false),
            _ => {}
        }
        let input = match self.input(request) {
            Ok(input) => input,
            Err(e) => return (format!("error {e}"), false),
        };
        let (handled, changed) = lock(&self.controller).noting_change(|c| c.handle(&input));
        match handled {
            Ok(h) => {
                let mut words: Vec<String> = h.indexes.iter().map(i64::to_string).collect();
                words.push(h.summary);
                (format!("ok {}", words.join(" ")), changed)
            }
            Err(e) => {
                log::error!("sim input not recorded: {e}");
                (format!("error not recorded: {e}"), changed)
            }
        }
    }

    fn input(&self, request: &SimRequest) -> Result<ControllerInput, String> {
        Ok(match request {
            SimRequest::Credential {
                credential,
                door,
                reader,
            } => {
                let door = door.unwrap_or(1);
                let sides = self.sides(door)?;
                let side = match reader {
                    Some(side) if sides.contains(side) => *side,
                    Some(side) => {
                        return Err(format!("door {door} has no {} reader", side_name(*side)));
                    }
                    None => *sides
                        .first()
                        .ok_or_else(|| format!("door {door} has no reader"))?,
                };
                ControllerInput::Credential {
                    credential: credential.clone(),
                    door,
                    side,
                }
            }
            SimRequest::Door { door, position } => {
                let door = door.unwrap_or(1);
                self.sides(door)?;
                ControllerInput::Sensor {
                    door,
                    position: *position,
                }
            }
            SimRequest::ExitButton(door) => {
                self.sides(*door)?;
                ControllerInput::ExitButton { door: *door }
            }
            SimRequest::Tamper => ControllerInput::Tamper,
            SimRequest::Relays | SimRequest::Readers => {
                return Err("relays and readers are no inputs".to_owned());
            }
        })
    }

    fn sides(&self, door: DoorId) -> Result<&[Direction], String> {
        usize::from(door)
            .checked_sub(1)
            .and_then(|i| self.readers.get(i))
            .map(Vec::as_slice)
            .ok_or_else(|| {
                format!(
                    "there is no door {door} (the board has {})",
                    self.readers.len()
                )
            })
    }

    fn describe_doors(&self) -> String {
        let (_, states) = self.status.door_states();
        describe_doors(&self.relays.levels(), &states)
    }
}

/// `rs485[1] address 2, on-line, secure channel, tamper`: an OSDP reader's bus, address and link.
fn describe_reader(status: &ReaderStatus) -> String {
    let link = match (status.online, status.offline_cause) {
        (None, _) => "not seen yet".to_owned(),
        (Some(true), _) if status.secure => "on-line, secure channel".to_owned(),
        (Some(true), _) => "on-line, in the clear".to_owned(),
        (Some(false), Some(cause)) => format!("off-line: {}", cause.describe()),
        (Some(false), None) => "off-line".to_owned(),
    };
    let tamper = if status.tamper { ", tamper" } else { "" };
    format!(
        "rs485[{}] address {}, {link}{tamper}",
        status.bus, status.address
    )
}

/// `door 1: relay on, sensor closed, alarms none; door 2: …`: each relay's level, and the
/// state of its door.
fn describe_doors(relays: &[bool], states: &[DoorState]) -> String {
    relays
        .iter()
        .enumerate()
        .map(|(i, energised)| {
            let mut text = format!(
                "door {}: relay {}",
                i + 1,
                if *energised { "on" } else { "off" }
            );
            if let Some(state) = states.get(i) {
                text.push_str(&format!(", {}", describe_state(state)));
            }
            text
        })
        .collect::<Vec<_>>()
        .join(DOOR_SEPARATOR)
}

fn side_name(side: Direction) -> &'static str {
    match side {
        Direction::In => "in",
        Direction::Out => "out",
    }
}

/// `sensor closed, alarms held-open+tamper`.
fn describe_state(state: &DoorState) -> String {
    let sensor = match state.sensor {
        SensorState::NoSensor => "none",
        SensorState::Closed => "closed",
        SensorState::Open => "open",
    };
    const NAMES: [(AlarmFlags, &str); 8] = [
        (AlarmFlags::FORCED_OPEN, "forced-open"),
        (AlarmFlags::TAMPER, "tamper"),
        (AlarmFlags::DURESS_PASSWORD, "duress-password"),
        (AlarmFlags::DURESS_FINGERPRINT, "duress-fingerprint"),
        (AlarmFlags::DOOR_HELD_OPEN, "held-open"),
        (AlarmFlags::MAINS_FAILURE, "mains-failure"),
        (AlarmFlags::BATTERY_FAILURE, "battery-failure"),
        (AlarmFlags::READER_TAMPER, "reader-tamper"),
    ];
    let alarms: Vec<&str> = NAMES
        .iter()
        .filter(|(flag, _)| state.alarms.0 & flag.0 != 0)
        .map(|(_, name)| *name)
        .collect();
    let alarms = if alarms.is_empty() {
        "none".to_owned()
    } else {
        alarms.join("+")
    };
    format!("sensor {sensor}, alarms {alarms}")
}

impl SimBoard {
    /// The answer line, and whether something was committed (wake the uploader).
    fn answer(&self, request: &SimRequest) -> (String, bool) {
        match self {
            SimBoard::Terminal(terminal) => match terminal_event(request) {
                Ok(event) => match lock(terminal).handle(&event) {
                    Ok(out) => (format!("ok {} {}", out.record_id, out.summary), true),
                    Err(e) => {
                        log::error!("sim event not recorded: {e}");
                        (format!("error not recorded: {e}"), false)
                    }
                },
                Err(e) => (format!("error {e}"), false),
            },
            SimBoard::Controller(controller) => controller.answer(request),
            SimBoard::Gpio { doors, readers } => match request {
                SimRequest::Relays => {
                    let (_, states) = doors.door_states();
                    let relays: Vec<bool> = states.iter().map(|s| s.relay_energised).collect();
                    (format!("ok {}", describe_doors(&relays, &states)), false)
                }
                SimRequest::Readers => {
                    let lines: Vec<String> = readers
                        .readers()
                        .iter()
                        .map(|(at, status)| format!("{at}: {}", describe_reader(status)))
                        .collect();
                    (format!("ok {}", lines.join(DOOR_SEPARATOR)), false)
                }
                _ => (
                    "error this agent runs a GPIO board: its inputs are the board's lines, and \
                     the socket answers `relays` and `readers` only"
                        .to_owned(),
                    false,
                ),
            },
        }
    }
}

/// The attendance terminal's reading of a request: one reader, door 1's sensor.
fn terminal_event(request: &SimRequest) -> Result<TerminalEvent, String> {
    const SECURITY_ONLY: &str =
        "needs the security dialect; this agent runs the attendance terminal";
    match request {
        SimRequest::Credential {
            credential: Credential::Password(_),
            ..
        } => Err(format!("a password typed alone {SECURITY_ONLY}")),
        SimRequest::Credential {
            reader: Some(_), ..
        } => Err(format!("--reader {SECURITY_ONLY}")),
        SimRequest::Credential {
            credential,
            door: None | Some(1),
            reader: None,
        } => Ok(TerminalEvent::Credential(credential.clone())),
        SimRequest::Door {
            door: None | Some(1),
            position,
        } => Ok(TerminalEvent::Door(*position)),
        SimRequest::Credential { .. } | SimRequest::Door { .. } => {
            Err("the attendance terminal has only door 1".to_owned())
        }
        SimRequest::ExitButton(_) => Err(format!("exit {SECURITY_ONLY}")),
        SimRequest::Tamper => Err(format!("tamper {SECURITY_ONLY}")),
        SimRequest::Relays => Err(format!("relays {SECURITY_ONLY}")),
        SimRequest::Readers => Err(format!("readers {SECURITY_ONLY}")),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The listening socket and its thread. Dropping it stops the thread and removes the socket.
pub struct SimControl {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SimControl {
    /// Listens on `path`. `on_change` is called after each request that committed records or
    /// changed a door's state (to wake the uploader and the door timers).
    pub fn start(
        path: &Path,
        board: SimBoard,
        on_change: impl Fn() + Send + 'static,
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
                .spawn(move || serve(&listener, &stop, &board, &on_change))?
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

fn serve(listener: &UnixListener, stop: &AtomicBool, board: &SimBoard, on_change: &dyn Fn()) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let changed = match conn {
            Ok(stream) => answer(stream, board),
            Err(e) => {
                log::warn!("sim control socket: {e}");
                continue;
            }
        };
        if changed {
            on_change();
        }
    }
}

/// Handles one connection; true when something was committed or changed.
fn answer(stream: UnixStream, board: &SimBoard) -> bool {
    let _ = stream.set_read_timeout(Some(REQUEST_TIMEOUT));
    let _ = stream.set_write_timeout(Some(REQUEST_TIMEOUT));
    let mut line = String::new();
    let read = match stream.try_clone() {
        Ok(s) => BufReader::new(s.take(MAX_LINE)).read_line(&mut line),
        Err(e) => Err(e),
    };
    let (reply, changed) = match read {
        Ok(0) => return false,
        Ok(_) if !line.ends_with('\n') => (
            "error request too long or not ended by a newline".to_owned(),
            false,
        ),
        Ok(_) => match parse_request(&line) {
            Ok(request) => board.answer(&request),
            Err(e) => (format!("error {e}"), false),
        },
        Err(e) => (format!("error {e}"), false),
    };
    let mut stream = stream;
    let _ = stream.write_all(format!("{reply}\n").as_bytes());
    changed
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
mod tests;
