//! RS485 readers: the OSDP control panel (CP), one thread per `[[rs485]]` bus polling that bus's
//! readers (PDs) at the addresses the board file gives.
//!
//! # Why LibOSDP
//!
//! The control panel is LibOSDP (C, through the `libosdp` 0.2 crate and `libosdp-sys`), not the
//! pure-Rust `osdp` 0.3 crate. LibOSDP is field-proven and does the whole CP side: the ID and
//! capability exchange, polling, the secure channel handshake (Annex D) with SCBK enforcement,
//! retries and off-line handling, and it has a PD side for loopback tests. `osdp` 0.3 is a 2026
//! rewrite with little field use, and its ACU driver sends only plain packets: the secure
//! channel comes as building blocks the CP would have to wire into every exchange itself. The C
//! core builds with `cc` natively and through cargo-zigbuild for armv7 and aarch64 against glibc
//! 2.17 (`scripts/build-release.sh`). Its build script runs `git` (any result will do), so a
//! build host needs a `git` binary.
//!
//! # What the bus thread does
//!
//! It calls the panel's `refresh` every [`REFRESH_INTERVAL`] (LibOSDP wants at least every 50 ms)
//! and handles what the panel reports ([`reader`] does the bookkeeping):
//! - a card read (osdp_RAW) is decoded like a Wiegand frame and becomes
//!   [`ControllerInput::Credential`] at the reader's door and side; a read that does not decode
//!   is logged with its reason, never its bits, and is event 42
//!   ([`ControllerInput::BadWiegandFrame`]), as on a Wiegand reader. Keypad keys are typed
//!   passwords, as on Wiegand readers ([`crate::hal::keypad`]).
//! - a reader's tamper flag (osdp_LSTATR, asked for when the reader comes on-line and reported
//!   by it on change) is App 2 event 109 when it goes into alarm and 236 when it clears
//!   ([`ControllerInput::Reader`]).
//! - a reader going off-line (no valid reply for 8 s, or not on-line within 8 s of the panel
//!   starting) is logged with the likely cause and recorded as event 110; back on-line, it is
//!   logged and recorded as 237. Both show in [`OsdpStatus`].
//! - LibOSDP retries an off-line reader only every 300 s, so the thread rebuilds the panel
//!   while a reader is off-line, after 15, 30, 60, 120 and 240 s, and then leaves the retries to
//!   LibOSDP ([`reader::Reprobe`]). The `libosdp` 0.2 wrapper never frees a panel's boxed channel
//!   and event closure (about 100 bytes), so the rebuilds stop there: an off-line episode costs
//!   at most about 500 bytes, however long the reader stays unplugged.
//! - [`Feedback`] from the controller ([`OsdpFeedback`], which never blocks: a full queue drops
//!   the show, logged once) becomes osdp_LED (green on a grant, red on a refusal, for 1.5 s) and
//!   osdp_BUZ (two short beeps on a refusal). [`crate::hal::FeedbackFanOut`] puts it beside the
//!   GPIO readers' feedback.
//!
//! # Secure channel
//!
//! A reader with an `scbk` in the board file is polled over the secure channel only
//! (`EnforceSecure`: the install-mode key SCBK-D is never used, and a reader that does not offer
//! the secure channel, or whose key differs, stays off-line with a log line saying so). A reader
//! without one is polled in the clear, with a warning at start. The key goes to LibOSDP and is
//! never logged.

pub mod reader;
pub mod serial;

pub use reader::{LinkChange, OfflineCause, ReaderTrack, TamperChange, keypad_key};
pub use serial::{BusPort, PortError, PortsMissing, check_port, check_ports};

use crate::access::model::Direction;
use crate::clock::DeviceClock;
use crate::config::BoardConfig;
use crate::config::board::{LineRole, ReaderAt, Rs485Bus};
use crate::controller::{ControllerInput, ReaderEvent};
use crate::hal::formats::SharedReaderTables;
use crate::hal::gpio::{self, ResolvedLine};
use crate::hal::{Feedback, ReaderFeedback};
use crate::protocol::session::Mono;
use libosdp::{
    Channel, ControlPanel, ControlPanelBuilder, OsdpCommand, OsdpCommandBuzzer, OsdpCommandLed,
    OsdpEvent, OsdpFlag, OsdpLedColor, OsdpLedParams, OsdpStatusReport, OsdpStatusReportType,
    PdCapEntity, PdCapability, PdInfoBuilder,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the bus thread refreshes its control panel.
pub const REFRESH_INTERVAL: Duration = Duration::from_millis(10);
/// Feedback requests a bus queues; more are dropped (logged once) rather than waited for.
const FEEDBACK_QUEUE: usize = 16;

/// Why a bus could not start.
#[derive(Debug, thiserror::Error)]
pub enum OsdpError {
    #[error("rs485[{bus}]: {source}")]
    Port { bus: usize, source: PortError },
    #[error("rs485[{bus}] ({port}): LibOSDP refused the reader list: {reason}")]
    Setup {
        bus: usize,
        port: String,
        reason: String,
    },
    #[error("rs485[{bus}]: {source}")]
    DriverEnable {
        bus: usize,
        source: crate::hal::gpio::GpioError,
    },
    #[error("rs485[{bus}] ({port}): cannot start the bus thread: {source}")]
    Thread {
        bus: usize,
        port: String,
        source: std::io::Error,
    },
}

/// One reader of a bus, as the control panel needs it.
#[derive(Clone)]
pub struct BusReader {
    pub at: ReaderAt,
    pub address: u8,
    /// The secure channel base key; `None` polls the reader in the clear.
    pub scbk: Option<[u8; 16]>,
}

impl std::fmt::Debug for BusReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BusReader")
            .field("at", &self.at)
            .field("address", &self.address)
            .field("scbk", &self.scbk.map(|_| "<redacted>"))
            .finish()
    }
}

/// A bus: its number in the board file (1-based), its port's name for messages, its speed and
/// its readers.
#[derive(Debug, Clone)]
pub struct BusConfig {
    pub number: usize,
    pub port: String,
    pub baud: u32,
    pub readers: Vec<BusReader>,
}

impl BusConfig {
    /// Bus `number` (1-based) of the board file.
    pub fn from_board(number: usize, bus: &Rs485Bus) -> BusConfig {
        BusConfig {
            number,
            port: bus.port.display().to_string(),
            baud: bus.baud.get(),
            readers: bus
                .readers
                .iter()
                .map(|r| BusReader {
                    at: ReaderAt {
                        door: r.door,
                        side: r.side,
                    },
                    // Bounded to 0..=126 by the board file.
                    address: u8::try_from(r.address.get()).unwrap_or(u8::MAX),
                    scbk: r.scbk.as_ref().map(|k| k.bytes()),
                })
                .collect(),
        }
    }

    fn describe(&self, reader: &BusReader) -> String {
        format!(
            "{} reader (OSDP address {} on {})",
            reader.at, reader.address, self.port
        )
    }
}

/// An OSDP reader's state, as the status shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderStatus {
    /// Its bus, 1-based, and address.
    pub bus: usize,
    pub address: u8,
    /// `None` until the reader first came on-line or was found off-line.
    pub online: Option<bool>,
    /// Whether the secure channel is up.
    pub secure: bool,
    /// Its tamper flag, as last reported.
    pub tamper: bool,
    /// Why it is off-line, while it is.
    pub offline_cause: Option<OfflineCause>,
    /// When `online` last changed.
    pub since: Option<Mono>,
}

/// Every OSDP reader's state, shared with whoever reports it.
#[derive(Debug, Clone, Default)]
pub struct OsdpStatus {
    readers: Arc<Mutex<BTreeMap<ReaderAt, ReaderStatus>>>,
}

impl OsdpStatus {
    /// Reader `address` of bus `bus` (1-based) at `at`, not seen yet.
    pub fn add_reader(&self, at: ReaderAt, bus: usize, address: u8) {
        let fresh = ReaderStatus {
            bus,
            address,
            online: None,
            secure: false,
            tamper: false,
            offline_cause: None,
            since: None,
        };
        self.lock().insert(at, fresh);
    }

    /// Each reader's state, by door and side.
    pub fn readers(&self) -> BTreeMap<ReaderAt, ReaderStatus> {
        self.lock().clone()
    }

    fn update(&self, at: ReaderAt, change: impl FnOnce(&mut ReaderStatus)) {
        if let Some(status) = self.lock().get_mut(&at) {
            change(status);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<ReaderAt, ReaderStatus>> {
        self.readers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Makes a fresh channel to the bus each time its control panel is built.
pub type ChannelSource = Box<dyn Fn() -> Box<dyn Channel> + Send>;

/// What the bus threads report to.
#[derive(Clone)]
pub struct OsdpWiring {
    /// Called with each controller input, from the bus threads.
    pub on_input: Arc<dyn Fn(ControllerInput) + Send + Sync>,
    pub clock: Arc<DeviceClock>,
    pub status: OsdpStatus,
    /// The server's reader tables: the Wiegand formats card reads decode with.
    pub reader_tables: SharedReaderTables,
}

/// A request for the bus thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BusRequest {
    /// Show `Feedback` on the reader at this index of the bus.
    Feedback(usize, Feedback),
    Stop,
}

/// A running bus; dropping it stops its thread.
pub struct OsdpBus {
    requests: SyncSender<BusRequest>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    routes: Vec<ReaderAt>,
}

impl OsdpBus {
    /// Builds the bus's control panel on `channels` and starts its thread.
    pub fn start(
        config: BusConfig,
        channels: ChannelSource,
        wiring: &OsdpWiring,
    ) -> Result<OsdpBus, OsdpError> {
        for reader in config.readers.iter().filter(|r| r.scbk.is_none()) {
            log::warn!(
                "{}: polled in the clear: the board file gives it no scbk",
                config.describe(reader)
            );
        }
        for reader in &config.readers {
            wiring
                .status
                .add_reader(reader.at, config.number, reader.address);
        }
        let (events_tx, events) = mpsc::channel();
        let panel =
            build_panel(&config, &channels, &events_tx).map_err(|reason| OsdpError::Setup {
                bus: config.number,
                port: config.port.clone(),
                reason,
            })?;
        let (requests, requests_rx) = mpsc::sync_channel(FEEDBACK_QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let routes = config.readers.iter().map(|r| r.at).collect();
        let (number, port) = (config.number, config.port.clone());
        let mut bus = BusThread {
            now: Mono(0),
            tracks: config
                .readers
                .iter()
                .map(|r| ReaderTrack::new(r.at, wiring.reader_tables.clone()))
                .collect(),
            reprobe: reader::Reprobe::default(),
            config,
            channels,
            panel,
            events,
            events_tx,
            wiring: wiring.clone(),
        };
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("osdp-{number}"))
                .spawn(move || bus.run(&requests_rx, &stop))
                .map_err(|source| OsdpError::Thread {
                    bus: number,
                    port,
                    source,
                })?
        };
        Ok(OsdpBus {
            requests,
            stop,
            thread: Some(thread),
            routes,
        })
    }

    /// Opens bus `number` (1-based) of the board on its serial port (`de`: its driver-enable line
    /// in `de-gpio` mode) and starts it.
    pub fn open(
        number: usize,
        bus: &Rs485Bus,
        de: Option<gpiocdev::Request>,
        wiring: &OsdpWiring,
    ) -> Result<OsdpBus, OsdpError> {
        let port = BusPort::open(bus, de).map_err(|source| OsdpError::Port {
            bus: number,
            source,
        })?;
        let id = i32::try_from(number).unwrap_or(i32::MAX);
        OsdpBus::start(
            BusConfig::from_board(number, bus),
            Box::new(move || port.channel(id)),
            wiring,
        )
    }

    /// The feedback route to each of this bus's readers.
    pub fn feedback(&self) -> OsdpFeedback {
        OsdpFeedback {
            routes: self
                .routes
                .iter()
                .enumerate()
                .map(|(index, &at)| (at, (self.requests.clone(), index)))
                .collect(),
            dropping: false,
        }
    }
}

impl Drop for OsdpBus {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // A full queue is fine: the thread sees the flag within one refresh.
        let _ = self.requests.try_send(BusRequest::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The board's buses, running; dropping it stops them.
pub struct OsdpBuses {
    buses: Vec<OsdpBus>,
    status: OsdpStatus,
}

impl OsdpBuses {
    /// Opens and starts every `[[rs485]]` bus of `board`; `lines` are the board's lines found on
    /// this system, among them the driver-enable lines of `de-gpio` buses.
    pub fn open(
        board: &BoardConfig,
        lines: &[ResolvedLine<'_>],
        on_input: Arc<dyn Fn(ControllerInput) + Send + Sync>,
        clock: Arc<DeviceClock>,
        reader_tables: SharedReaderTables,
    ) -> Result<OsdpBuses, OsdpError> {
        let wiring = OsdpWiring {
            on_input,
            clock,
            status: OsdpStatus::default(),
            reader_tables,
        };
        let buses = board
            .rs485
            .iter()
            .enumerate()
            .map(|(i, bus)| {
                let number = i + 1;
                let de = lines
                    .iter()
                    .find(|l| l.line.role == LineRole::Rs485De(number))
                    .map(gpio::request_output)
                    .transpose()
                    .map_err(|source| OsdpError::DriverEnable {
                        bus: number,
                        source,
                    })?;
                OsdpBus::open(number, bus, de, &wiring)
            })
            .collect::<Result<_, _>>()?;
        Ok(OsdpBuses {
            buses,
            status: wiring.status,
        })
    }

    /// Every OSDP reader's state.
    pub fn status(&self) -> &OsdpStatus {
        &self.status
    }

    /// Feedback for every OSDP reader of the board.
    pub fn feedback(&self) -> OsdpFeedback {
        self.buses
            .iter()
            .map(OsdpBus::feedback)
            .fold(OsdpFeedback::default(), OsdpFeedback::merge)
    }
}

/// Reader feedback for OSDP readers: queued to the reader's bus thread, never waited for.
/// Readers that are not on an OSDP bus are left to the other feedback implementations.
#[derive(Debug, Clone, Default)]
pub struct OsdpFeedback {
    routes: BTreeMap<ReaderAt, (SyncSender<BusRequest>, usize)>,
    /// A show was dropped and not yet followed by one that went through (logged once).
    dropping: bool,
}

impl OsdpFeedback {
    /// The routes of several buses together.
    pub fn merge(mut self, other: OsdpFeedback) -> OsdpFeedback {
        self.routes.extend(other.routes);
        self
    }
}

impl ReaderFeedback for OsdpFeedback {
    fn show(&mut self, reader: ReaderAt, feedback: Feedback, _now: Mono) {
        let Some((bus, index)) = self.routes.get(&reader) else {
            return;
        };
        match bus.try_send(BusRequest::Feedback(*index, feedback)) {
            Ok(()) => self.dropping = false,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                if !self.dropping {
                    log::warn!(
                        "{reader} reader: feedback {feedback:?} not shown: its RS485 bus thread \
                         is behind or gone"
                    );
                }
                self.dropping = true;
            }
        }
    }
}

type PanelEvents = Sender<(i32, OsdpEvent)>;

fn build_panel(
    config: &BusConfig,
    channels: &ChannelSource,
    events: &PanelEvents,
) -> Result<ControlPanel, String> {
    let readers = config
        .readers
        .iter()
        .map(|reader| {
            let info = PdInfoBuilder::new()
                .name(&format!("{}", reader.at))
                .and_then(|b| b.address(i32::from(reader.address)))
                .and_then(|b| b.baud_rate(i32::try_from(config.baud).unwrap_or(i32::MAX)))
                .map_err(|e| format!("{}: {e}", config.describe(reader)))?;
            Ok(match reader.scbk {
                Some(key) => info.flag(OsdpFlag::EnforceSecure).secure_channel_key(key),
                None => info,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let mut panel = ControlPanelBuilder::new()
        .add_channel(channels(), readers)
        .build()
        .map_err(|e| e.to_string())?;
    let events = events.clone();
    panel.set_event_callback(move |pd, event| {
        // The receiver lives as long as the bus thread, which owns the panel.
        let _ = events.send((pd, event));
        0
    });
    Ok(panel)
}

/// The bus thread's state.
struct BusThread {
    config: BusConfig,
    channels: ChannelSource,
    panel: ControlPanel,
    events: Receiver<(i32, OsdpEvent)>,
    events_tx: PanelEvents,
    tracks: Vec<ReaderTrack>,
    reprobe: reader::Reprobe,
    wiring: OsdpWiring,
    now: Mono,
}

impl BusThread {
    fn run(&mut self, requests: &Receiver<BusRequest>, stop: &AtomicBool) {
        self.now = self.wiring.clock.now().mono;
        for track in &mut self.tracks {
            track.link.connecting(self.now);
        }
        while !stop.load(Ordering::SeqCst) {
            self.panel.refresh();
            self.now = self.wiring.clock.now().mono;
            while let Ok((pd, event)) = self.events.try_recv() {
                self.event(pd, event);
            }
            self.watch_links();
            match requests.recv_timeout(REFRESH_INTERVAL) {
                Ok(BusRequest::Feedback(index, feedback)) => self.feedback(index, feedback),
                Ok(BusRequest::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    fn event(&mut self, pd: i32, event: OsdpEvent) {
        let Some((index, track)) = usize::try_from(pd)
            .ok()
            .and_then(|i| Some((i, self.tracks.get_mut(i)?)))
        else {
            log::error!("rs485 {}: event from unknown reader {pd}", self.config.port);
            return;
        };
        let Some(reader) = self.config.readers.get(index) else {
            return;
        };
        let name = self.config.describe(reader);
        match event {
            // Raw and Wiegand-format reads alike: most readers send their Wiegand bits raw.
            OsdpEvent::CardRead(read) => {
                if let Some(input) = track.card_read(read.nr_bits, &read.data, self.now) {
                    (self.wiring.on_input)(input);
                }
            }
            OsdpEvent::KeyPress(keys) => {
                for input in track.keys(&keys.data, self.now) {
                    (self.wiring.on_input)(input);
                }
            }
            OsdpEvent::Status(report) if report.type_ == OsdpStatusReportType::Local => {
                let tamper = report.report[0] != 0;
                match track.local_status(tamper) {
                    Some(TamperChange::Alarm) => {
                        log::warn!("{name}: tamper alarm");
                        (self.wiring.on_input)(reader_input(reader.at, ReaderEvent::TamperAlarm));
                    }
                    Some(TamperChange::Cleared) => {
                        log::info!("{name}: tamper cleared");
                        (self.wiring.on_input)(reader_input(reader.at, ReaderEvent::TamperCleared));
                    }
                    None => {}
                }
                self.wiring.status.update(reader.at, |s| s.tamper = tamper);
            }
            OsdpEvent::Status(report) => {
                log::debug!("{name}: {:?} status report ignored", report.type_);
            }
            OsdpEvent::MfgReply(_) => log::debug!("{name}: manufacturer reply ignored"),
        }
    }

    /// Samples each reader's link, reports changes, and rebuilds the panel when an off-line
    /// reader is due for a probe.
    fn watch_links(&mut self) {
        for (index, (track, reader)) in self.tracks.iter_mut().zip(&self.config.readers).enumerate()
        {
            let pd = i32::try_from(index).unwrap_or(i32::MAX);
            let online = self.panel.is_online(pd);
            let Some(change) = track.link.sample(online, self.now) else {
                continue;
            };
            let name = self.config.describe(reader);
            let now = self.now;
            match change {
                LinkChange::Online { again } => {
                    let secure = self.panel.is_sc_active(pd);
                    let channel = if secure {
                        "secure channel"
                    } else {
                        "in the clear"
                    };
                    let back = if again { "back " } else { "" };
                    log::info!("{name}: {back}on-line, {channel}");
                    // Its first on-line at start is no event; coming back after 110 is.
                    if again {
                        (self.wiring.on_input)(reader_input(reader.at, ReaderEvent::Online));
                    }
                    self.wiring.status.update(reader.at, |s| {
                        s.online = Some(true);
                        s.secure = secure;
                        s.offline_cause = None;
                        s.since = Some(now);
                    });
                    ask_local_status(&mut self.panel, pd, &name);
                }
                LinkChange::Offline => {
                    let cause = if track.link.seen_by_panel() {
                        OfflineCause::NoReply
                    } else {
                        offline_cause(&self.panel, pd, reader.scbk.is_some())
                    };
                    log::error!("{name}: off-line: {}", cause.describe());
                    (self.wiring.on_input)(reader_input(reader.at, ReaderEvent::Offline));
                    self.wiring.status.update(reader.at, |s| {
                        s.online = Some(false);
                        s.secure = false;
                        s.offline_cause = Some(cause);
                        s.since = Some(now);
                    });
                }
            }
        }
        let any_offline = self.tracks.iter().any(|t| t.link.is_offline());
        if self.reprobe.due(any_offline, self.now) {
            self.rebuild();
        }
    }

    fn rebuild(&mut self) {
        match build_panel(&self.config, &self.channels, &self.events_tx) {
            Ok(panel) => {
                log::info!(
                    "rs485 {}: probing the off-line readers again",
                    self.config.port
                );
                self.panel = panel;
                for track in &mut self.tracks {
                    track.link.connecting(self.now);
                }
            }
            Err(e) => log::error!("rs485 {}: cannot rebuild the panel: {e}", self.config.port),
        }
    }

    fn feedback(&mut self, index: usize, feedback: Feedback) {
        let pd = i32::try_from(index).unwrap_or(i32::MAX);
        let Some(reader) = self.config.readers.get(index) else {
            return;
        };
        if !self.panel.is_online(pd) {
            log::debug!(
                "{}: off-line, {feedback:?} not shown",
                self.config.describe(reader)
            );
            return;
        }
        for command in feedback_commands(feedback) {
            if let Err(e) = self.panel.send_command(pd, command) {
                log::warn!(
                    "{}: {feedback:?} not shown: {e}",
                    self.config.describe(reader)
                );
            }
        }
    }
}

/// Asks a reader that came on-line for its tamper and power flags (osdp_LSTAT).
fn ask_local_status(panel: &mut ControlPanel, pd: i32, name: &str) {
    let request = OsdpCommand::Status(OsdpStatusReport {
        type_: OsdpStatusReportType::Local,
        nr_entries: 0,
        report: [0; 64],
    });
    if let Err(e) = panel.send_command(pd, request) {
        log::warn!("{name}: cannot ask for its tamper status: {e}");
    }
}

/// Why a reader that never came on-line under this panel is off-line: it answered the
/// capability request if it reported any capability.
fn offline_cause(panel: &ControlPanel, pd: i32, enforced_secure: bool) -> OfflineCause {
    let none = PdCapEntity::default();
    let reported = |cap: fn(PdCapEntity) -> PdCapability| {
        panel
            .get_capability(pd, cap(none))
            .is_ok_and(|c| c != cap(none))
    };
    let answers: [fn(PdCapEntity) -> PdCapability; 7] = [
        PdCapability::ContactStatusMonitoring,
        PdCapability::OutputControl,
        PdCapability::CardDataFormat,
        PdCapability::LedControl,
        PdCapability::AudibleOutput,
        PdCapability::CheckCharacterSupport,
        PdCapability::ReceiveBufferSize,
    ];
    let answered = answers.into_iter().any(reported);
    OfflineCause::diagnose(
        enforced_secure,
        answered,
        reported(PdCapability::CommunicationSecurity),
    )
}

/// The osdp_LED and osdp_BUZ commands that show `feedback`: LED 0 of the reader itself, a
/// temporary colour that returns to the permanent state when its timer ends.
pub fn feedback_commands(feedback: Feedback) -> Vec<OsdpCommand> {
    let (led, beep) = reader::feedback_signals(feedback);
    let colour = if led.green {
        OsdpLedColor::Green
    } else {
        OsdpLedColor::Red
    };
    let mut commands = vec![OsdpCommand::Led(OsdpCommandLed {
        reader: 0,
        led_number: 0,
        temporary: OsdpLedParams {
            // Set the temporary state and start its timer now.
            control_code: 2,
            on_count: u8::try_from(led.tenths).unwrap_or(u8::MAX),
            off_count: 0,
            on_color: colour,
            off_color: OsdpLedColor::None,
            timer_count: led.tenths,
        },
        // Leave the permanent state alone.
        permanent: OsdpLedParams::default(),
    })];
    if let Some(beep) = beep {
        commands.push(OsdpCommand::Buzzer(OsdpCommandBuzzer {
            reader: 0,
            // The default tone.
            control_code: 2,
            on_count: beep.on_tenths,
            off_count: beep.off_tenths,
            rep_count: beep.count,
        }));
    }
    commands
}

/// The input for event `event` at the reader at `at` (App 2 109, 236, 110, 237).
fn reader_input(at: ReaderAt, event: ReaderEvent) -> ControllerInput {
    ControllerInput::Reader {
        door: at.door,
        side: Direction::from(at.side),
        event,
    }
}

#[cfg(test)]
mod tests;
