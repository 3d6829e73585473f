//! The GPIO board (`driver = "gpio"`): lock relays, door contacts, exit buttons, the tamper input
//! and Wiegand readers on the kernel's GPIO character device, through gpiocdev (uAPI v2, Linux
//! 5.10+: bias, debounce, edge events with kernel timestamps and sequence numbers).
//! linux-embedded-hal is not used: its `CdevPin` (0.5) sits on the uAPI v1 `gpio-cdev` crate,
//! with no bias, no debounce and no edge events (design note §6, §9), and relays alone would not
//! justify a second GPIO stack.
//!
//! Start-up, in this order:
//! 1. [`resolve_lines`] finds every line of the board file (by name, or chip and offset); a
//!    missing one is a configuration error.
//! 2. [`open`] requests every line once, for the life of the process: each output (locks, reader
//!    LEDs and buzzers) alone, inactive in the request itself so a relay never glitches on; the
//!    inputs of each chip in one request, both edges, CLOCK_MONOTONIC timestamps and a kernel
//!    event buffer of [`KERNEL_EVENT_BUFFER`] events (a 34-bit frame is 68 edges; the default
//!    is 16 per line). Contacts get their bias and debounce; Wiegand lines get no debounce.
//!    RS485 driver-enable lines are left to the RS485 driver ([`crate::hal::osdp`]).
//! 3. [`GpioOutputs`] is the controller's [`Relays`]; [`GpioIndicators::start`] starts the
//!    thread that plays each reader's feedback on its LED and buzzer lines ([`indicators`] has
//!    the patterns) and returns the controller's [`ReaderFeedback`]; [`GpioInputLines::start`]
//!    reads the contacts' levels and starts one thread per input request, which turns edges into
//!    controller inputs ([`inputs`] does the bookkeeping) and feeds each Wiegand reader's
//!    [`WiegandDecode`]r.

pub mod indicators;
pub mod inputs;
pub mod lines;

pub use indicators::{Indicator, IndicatorDriver, IndicatorLine};
pub use inputs::{InputRole, InputStep, InputTracker, PulseEdge, WiegandEdge, door_position};
pub use lines::{
    ChipLines, GpioSystem, LineAddress, LineProblem, LineProblems, LinuxGpio, ResolvedLine,
    resolve_lines,
};

use super::formats::SharedReaderTables;
use super::reads::{FrameRead, ReaderReads, frame_input};
use super::{Feedback, ReaderFeedback, Relays, wiegand};
use crate::access::model::{DoorId, SensorType};
use crate::clock::DeviceClock;
use crate::config::board::{Bias, LineKind, LineRole, ReaderAt, WiegandWire};
use crate::config::{BoardConfig, defaults};
use crate::controller::ControllerInput;
use crate::protocol::session::Mono;
use gpiocdev::Request;
use gpiocdev::line::{EdgeDetection, EventClock, Offset, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

/// The consumer name the kernel shows for our lines (`gpioinfo`).
pub const CONSUMER: &str = "push-agent";
/// Edge events the kernel keeps per input request before it drops new ones.
pub const KERNEL_EVENT_BUFFER: u32 = 256;
/// Edge events read per system call.
const EVENTS_PER_READ: usize = 64;
/// Pause after a failed wait or read before an input thread tries again.
const ERROR_BACKOFF: Duration = Duration::from_secs(1);

/// Why the board's lines could not be requested or watched.
#[derive(Debug, thiserror::Error)]
pub enum GpioError {
    #[error("cannot request {lines}: {source}")]
    Request {
        lines: String,
        source: gpiocdev::Error,
    },
    #[error("cannot read {lines}: {source}")]
    Read {
        lines: String,
        source: gpiocdev::Error,
    },
    #[error("cannot start the input thread of {chip}: {source}")]
    Thread {
        chip: String,
        source: std::io::Error,
    },
    #[error("cannot start the reader feedback thread: {0}")]
    FeedbackThread(std::io::Error),
}

/// The lock relays and the aux outputs.
pub struct GpioOutputs {
    locks: BTreeMap<DoorId, OutputLine>,
    aux_outputs: BTreeMap<u8, OutputLine>,
}

struct OutputLine {
    key: String,
    request: Request,
}

impl OutputLine {
    /// Makes the line active (`true`) or inactive.
    fn set(&self, active: bool) -> Result<(), gpiocdev::Error> {
        let value = if active {
            Value::Active
        } else {
            Value::Inactive
        };
        self.request.set_lone_value(value)
    }

    /// [`OutputLine::set`], a failure logged with the line's key.
    fn set_logged(&self, energised: bool) {
        if let Err(e) = self.set(energised) {
            let act = if energised { "energise" } else { "de-energise" };
            log::error!("{}: cannot {act} the output: {e}", self.key);
        }
    }
}

impl IndicatorLine for OutputLine {
    fn set(&mut self, active: bool) -> Result<(), String> {
        OutputLine::set(self, active).map_err(|e| e.to_string())
    }
}

/// The readers' LED and buzzer lines, requested and inactive, before their thread starts.
pub struct GpioIndicators {
    lines: Vec<((ReaderAt, Indicator), OutputLine)>,
}

/// Feedback shows waiting for the indicator thread; more are dropped (and logged): a burst that
/// long is no user at a reader.
const FEEDBACK_QUEUE: usize = 16;

impl GpioIndicators {
    /// Starts the thread that drives the lines on `clock`, the controller's.
    pub fn start(self, clock: Arc<DeviceClock>) -> Result<GpioFeedback, GpioError> {
        let lines = self.lines.into_iter().map(|(at, line)| {
            let key = line.key.clone();
            (at, key, Box::new(line) as Box<dyn IndicatorLine>)
        });
        GpioFeedback::start(IndicatorDriver::new(lines), clock)
    }
}

/// The controller's [`ReaderFeedback`] on a GPIO board: hands each show to the indicator thread
/// without waiting. Dropping it sets the lines inactive and stops the thread.
pub struct GpioFeedback {
    /// The readers with an LED or a buzzer line: the others show nothing here.
    readers: Vec<ReaderAt>,
    shows: Option<SyncSender<(ReaderAt, Feedback, Mono)>>,
    thread: Option<JoinHandle<()>>,
    /// A show was dropped and not yet followed by one that went through (logged once).
    dropping: bool,
}

impl GpioFeedback {
    /// Starts the thread that steps `driver` on `clock`; none when it drives no line.
    pub fn start(
        driver: IndicatorDriver,
        clock: Arc<DeviceClock>,
    ) -> Result<GpioFeedback, GpioError> {
        let readers = driver.readers();
        if readers.is_empty() {
            return Ok(GpioFeedback {
                readers,
                shows: None,
                thread: None,
                dropping: false,
            });
        }
        let (shows, queue) = mpsc::sync_channel(FEEDBACK_QUEUE);
        let thread = std::thread::Builder::new()
            .name("reader-feedback".into())
            .spawn(move || play(driver, &queue, &clock))
            .map_err(GpioError::FeedbackThread)?;
        Ok(GpioFeedback {
            readers,
            shows: Some(shows),
            thread: Some(thread),
            dropping: false,
        })
    }
}

impl ReaderFeedback for GpioFeedback {
    fn show(&mut self, reader: ReaderAt, feedback: Feedback, now: Mono) {
        let Some(shows) = self
            .shows
            .as_ref()
            .filter(|_| self.readers.contains(&reader))
        else {
            return;
        };
        match shows.try_send((reader, feedback, now)) {
            Ok(()) => self.dropping = false,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                if !self.dropping {
                    log::warn!(
                        "{reader} reader: feedback {feedback:?} not shown: the feedback thread \
                         is behind or gone"
                    );
                }
                self.dropping = true;
            }
        }
    }
}

impl Drop for GpioFeedback {
    fn drop(&mut self) {
        // The thread sees the channel close, releases the lines and ends.
        self.shows = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The indicator thread: waits for a show or the next change in the patterns under way, and
/// steps the driver at the clock's time.
fn play(
    mut driver: IndicatorDriver,
    queue: &Receiver<(ReaderAt, Feedback, Mono)>,
    clock: &DeviceClock,
) {
    loop {
        let next = match driver.next_change() {
            None => queue
                .recv()
                .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            Some(at) => {
                let wait = at.0.saturating_sub(clock.now().mono.0);
                queue.recv_timeout(Duration::from_millis(wait))
            }
        };
        match next {
            Ok((reader, feedback, at)) => driver.show(reader, feedback, at),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        driver.step(clock.now().mono);
    }
    driver.release();
}

impl Relays for GpioOutputs {
    fn set_lock(&mut self, door: DoorId, energised: bool, _now: Mono) {
        match self.locks.get(&door) {
            Some(lock) => lock.set_logged(energised),
            None => log::error!("relay of door {door} set, but the board has no such door"),
        }
    }

    fn set_aux_output(&mut self, aux: u8, energised: bool, _now: Mono) {
        match self.aux_outputs.get(&aux) {
            Some(output) => output.set_logged(energised),
            None => log::error!("aux output {aux} set, but the board has no such output"),
        }
    }
}

/// The input requests, one per chip, before their threads start.
pub struct GpioInputLines {
    requests: Vec<InputRequest>,
}

struct InputRequest {
    chip: PathBuf,
    /// The lines' keys and addresses, for messages.
    description: String,
    request: Request,
    tracker: InputTracker,
}

/// What the input threads report to, and ask.
#[derive(Clone)]
pub struct InputWiring {
    /// Called with each controller input, from the input threads.
    pub on_input: Arc<dyn Fn(ControllerInput) + Send + Sync>,
    /// The door's `SensorType` parameter [App 10], for sensors whose wiring the board leaves
    /// to it.
    pub sensor_type: Arc<dyn Fn(DoorId) -> SensorType + Send + Sync>,
    /// A decoder for each Wiegand reader, made at its first edge.
    pub decoder: Arc<dyn Fn(ReaderAt) -> Box<dyn WiegandDecode> + Send + Sync>,
}

/// A Wiegand decoder as an input thread drives it, one per reader: every edge of the reader's
/// D0 and D1 in the kernel's order, then [`WiegandDecode::frame_end`] once the lines were quiet
/// for [`inputs::WIEGAND_FRAME_GAP`].
pub trait WiegandDecode: Send {
    fn edge(&mut self, edge: &WiegandEdge);
    /// What the frames that ended came to, in order (keys that complete no entry, and line
    /// noise, are left out).
    fn frame_end(&mut self) -> Vec<FrameRead>;
}

/// One Wiegand reader's decoding: edges to frames ([`wiegand::EdgeDecoder`], kernel timestamps),
/// frames to cards, keys and refusals ([`ReaderReads`], with the server's reader tables). A sequence-number
/// gap on a line (the kernel's event buffer overflowed) spoils the frame.
#[derive(Debug)]
pub struct ReaderDecoder {
    reader: ReaderAt,
    edges: wiegand::EdgeDecoder,
    reads: ReaderReads,
    /// The last sequence number seen on D0 and on D1.
    seqnos: [Option<u32>; 2],
    /// Frames the decoder closed on an edge's arrival, before the shell's frame end.
    closed: Vec<wiegand::FrameResult>,
    /// The kernel time of the latest edge: when a key's burst was sent.
    last_edge_ns: u64,
}

impl ReaderDecoder {
    pub fn new(reader: ReaderAt, tables: SharedReaderTables) -> ReaderDecoder {
        ReaderDecoder {
            reader,
            edges: wiegand::EdgeDecoder::new(wiegand::Timing::default()),
            reads: ReaderReads::new(tables),
            seqnos: [None; 2],
            closed: Vec::new(),
            last_edge_ns: 0,
        }
    }
}

impl WiegandDecode for ReaderDecoder {
    fn edge(&mut self, edge: &WiegandEdge) {
        let (line, slot) = match edge.wire {
            WiegandWire::D0 => (wiegand::Line::D0, 0),
            WiegandWire::D1 => (wiegand::Line::D1, 1),
        };
        self.last_edge_ns = edge.timestamp_ns;
        if self.seqnos[slot].is_some_and(|prev| edge.seqno != prev.wrapping_add(1)) {
            self.edges.events_lost(edge.timestamp_ns);
        }
        self.seqnos[slot] = Some(edge.seqno);
        let kind = match edge.edge {
            PulseEdge::Start => wiegand::EdgeKind::Falling,
            PulseEdge::End => wiegand::EdgeKind::Rising,
        };
        let event = wiegand::Edge {
            line,
            kind,
            timestamp_ns: edge.timestamp_ns,
        };
        self.closed.extend(self.edges.edge(event));
    }

    fn frame_end(&mut self) -> Vec<FrameRead> {
        // The lines were quiet for the frame gap: the frame under way is complete.
        if let Some(deadline) = self.edges.deadline() {
            self.closed.extend(self.edges.tick(deadline));
        }
        std::mem::take(&mut self.closed)
            .into_iter()
            .filter_map(|frame| self.reads.frame(self.reader, frame, self.last_edge_ns))
            .collect()
    }
}

/// Requests every line of `board` found at `lines` (see the module doc).
pub fn open(
    board: &BoardConfig,
    lines: &[ResolvedLine<'_>],
) -> Result<(GpioOutputs, GpioIndicators, GpioInputLines), GpioError> {
    let mut locks = BTreeMap::new();
    let mut aux_outputs = BTreeMap::new();
    let mut indicators = Vec::new();
    let output_line = |line: &ResolvedLine<'_>| {
        Ok::<_, GpioError>(OutputLine {
            key: line.line.key.clone(),
            request: request_output(line)?,
        })
    };
    let mut inputs_by_chip: BTreeMap<&PathBuf, Vec<&ResolvedLine<'_>>> = BTreeMap::new();
    for line in lines {
        match line.line.role {
            LineRole::Lock(door) => {
                locks.insert(door, output_line(line)?);
            }
            LineRole::Led(reader) => {
                indicators.push(((reader, Indicator::Led), output_line(line)?));
            }
            LineRole::Buzzer(reader) => {
                indicators.push(((reader, Indicator::Buzzer), output_line(line)?));
            }
            LineRole::AuxOut(aux) => {
                aux_outputs.insert(aux, output_line(line)?);
            }
            LineRole::Rs485De(_) => {}
            LineRole::Sensor(_)
            | LineRole::ExitButton(_)
            | LineRole::Tamper
            | LineRole::AuxIn(_)
            | LineRole::Wiegand(..) => {
                inputs_by_chip
                    .entry(&line.address.chip)
                    .or_default()
                    .push(line);
            }
        }
    }
    let requests = inputs_by_chip
        .into_iter()
        .map(|(chip, lines)| request_inputs(board, chip, &lines))
        .collect::<Result<_, _>>()?;
    let indicators = GpioIndicators { lines: indicators };
    Ok((
        GpioOutputs { locks, aux_outputs },
        indicators,
        GpioInputLines { requests },
    ))
}

fn describe(lines: &[&ResolvedLine<'_>]) -> String {
    lines
        .iter()
        .map(|l| format!("{} ({} at {})", l.line.key, l.line.spec.at, l.address))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Requests `line` as an output, inactive in the request itself (the RS485 driver requests its
/// driver-enable lines with it too).
pub fn request_output(line: &ResolvedLine<'_>) -> Result<Request, GpioError> {
    let mut builder = Request::builder();
    builder
        .on_chip(&line.address.chip)
        .with_consumer(CONSUMER)
        .with_line(line.address.offset);
    if line.line.spec.active_low {
        builder.as_active_low();
    }
    builder
        .as_output(Value::Inactive)
        .request()
        .map_err(|source| GpioError::Request {
            lines: describe(&[line]),
            source,
        })
}

fn request_inputs(
    board: &BoardConfig,
    chip: &PathBuf,
    lines: &[&ResolvedLine<'_>],
) -> Result<InputRequest, GpioError> {
    let mut builder = Request::builder();
    builder
        .on_chip(chip)
        .with_consumer(CONSUMER)
        .with_kernel_event_buffer_size(KERNEL_EVENT_BUFFER);
    let mut roles = Vec::new();
    for line in lines {
        let spec = line.line.spec;
        builder
            .with_line(line.address.offset)
            .as_input()
            .with_edge_detection(EdgeDetection::BothEdges)
            .with_event_clock(EventClock::Monotonic);
        if spec.active_low {
            builder.as_active_low();
        }
        if let Some(bias) = spec.bias {
            builder.with_bias(match bias {
                Bias::PullUp => gpiocdev::line::Bias::PullUp,
                Bias::PullDown => gpiocdev::line::Bias::PullDown,
                Bias::Disabled => gpiocdev::line::Bias::Disabled,
            });
        }
        if line.line.role.kind() == LineKind::Contact {
            let ms = spec.debounce_ms.unwrap_or(defaults::CONTACT_DEBOUNCE_MS);
            builder.with_debounce_period(Duration::from_millis(ms.into()));
        }
        if let Some(role) = input_role(board, line.line.role) {
            roles.push((line.address.offset, role));
        }
    }
    let description = describe(lines);
    let request = builder.request().map_err(|source| GpioError::Request {
        lines: description.clone(),
        source,
    })?;
    Ok(InputRequest {
        chip: chip.clone(),
        description,
        request,
        tracker: InputTracker::new(roles),
    })
}

fn input_role(board: &BoardConfig, role: LineRole) -> Option<InputRole> {
    Some(match role {
        LineRole::Sensor(door) => InputRole::Sensor {
            door,
            contact: usize::from(door)
                .checked_sub(1)
                .and_then(|i| board.doors.get(i))
                .and_then(|d| d.sensor_type),
        },
        LineRole::ExitButton(door) => InputRole::ExitButton(door),
        LineRole::Tamper => InputRole::Tamper,
        LineRole::Wiegand(reader, wire) => InputRole::Wiegand(reader, wire),
        LineRole::AuxIn(aux) => InputRole::AuxIn(aux),
        LineRole::Lock(_)
        | LineRole::Led(_)
        | LineRole::Buzzer(_)
        | LineRole::Rs485De(_)
        | LineRole::AuxOut(_) => {
            return None;
        }
    })
}

impl GpioInputLines {
    /// Reads the contacts' levels and starts the input threads; they stop when the returned
    /// [`GpioInputs`] is dropped.
    pub fn start(self, wiring: &InputWiring) -> Result<GpioInputs, GpioError> {
        let mut running = GpioInputs {
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
        };
        for input in self.requests {
            let levels = input
                .tracker
                .contacts()
                .map(|offset| Ok((offset, input.request.value(offset)? == Value::Active)))
                .collect::<Result<Vec<_>, gpiocdev::Error>>()
                .map_err(|source| GpioError::Read {
                    lines: input.description.clone(),
                    source,
                })?;
            let chip = input.chip.display().to_string();
            let name = input.chip.file_name().map_or_else(
                || "gpio-inputs".to_owned(),
                |n| format!("gpio-{}", n.to_string_lossy()),
            );
            let (wiring, stop) = (wiring.clone(), running.stop.clone());
            let thread = std::thread::Builder::new()
                .name(name)
                .spawn(move || watch(input, &levels, &wiring, &stop))
                .map_err(|source| GpioError::Thread { chip, source })?;
            running.threads.push(thread);
        }
        Ok(running)
    }
}

/// The running input threads; dropping it stops them (within [`inputs::IDLE_WAIT`]).
pub struct GpioInputs {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Drop for GpioInputs {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// One input request's thread: waits for edges (at most [`InputTracker::wait`]), reads them in
/// bulk and carries out the tracker's steps.
fn watch(input: InputRequest, levels: &[(Offset, bool)], wiring: &InputWiring, stop: &AtomicBool) {
    let InputRequest {
        chip,
        request,
        mut tracker,
        ..
    } = input;
    let sensor_type = &*wiring.sensor_type;
    let mut decoders: BTreeMap<ReaderAt, Box<dyn WiegandDecode>> = BTreeMap::new();
    let mut carry_out = |steps: Vec<InputStep>| {
        for step in steps {
            match step {
                InputStep::Controller(input) => (wiring.on_input)(input),
                InputStep::Wiegand(edge) => decoders
                    .entry(edge.reader)
                    .or_insert_with(|| (wiring.decoder)(edge.reader))
                    .edge(&edge),
                InputStep::FrameEnd(reader) => {
                    for read in decoders
                        .get_mut(&reader)
                        .map(|d| d.frame_end())
                        .unwrap_or_default()
                    {
                        (wiring.on_input)(frame_input(reader, read));
                    }
                }
            }
        }
    };
    carry_out(tracker.start(levels, sensor_type));
    let words_per_event = request.edge_event_u64_size();
    let mut buf = vec![0_u64; EVENTS_PER_READ * words_per_event];
    let mut failing: Option<String> = None;
    while !stop.load(Ordering::SeqCst) {
        let steps = request.wait_edge_event(tracker.wait()).and_then(|ready| {
            if !ready {
                return Ok(tracker.quiet());
            }
            let words = request.read_edge_events_into_slice(&mut buf)?;
            let mut steps = Vec::new();
            for event in buf
                .get(..words)
                .unwrap_or(&[])
                .chunks_exact(words_per_event)
            {
                steps.extend(tracker.edge(&request.edge_event_from_slice(event)?, sensor_type));
            }
            Ok(steps)
        });
        match steps {
            Ok(steps) => {
                if failing.take().is_some() {
                    log::info!("GPIO inputs on {}: reading again", chip.display());
                }
                carry_out(steps);
            }
            Err(e) => {
                let e = e.to_string();
                if failing.as_ref() != Some(&e) {
                    log::error!(
                        "GPIO inputs on {}: {e}; trying again every {} s",
                        chip.display(),
                        ERROR_BACKOFF.as_secs()
                    );
                }
                failing = Some(e);
                std::thread::sleep(ERROR_BACKOFF);
            }
        }
    }
}

#[cfg(test)]
mod tests;
