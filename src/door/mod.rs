//! One door's lock relay, sensor and latched alarms as a pure state machine [note §7.5, §6.3,
//! §3.2; seed 003 §7.3, §9.4, App 2, App 10].
//!
//! A [`Door`] takes [`Input`]s with the monotonic time they happened at and returns an [`Output`]:
//! the new relay level when it changed, the App 2 events to log, and whether the `rtstate`
//! snapshot ([`Door::state`]) changed. It never reads the clock, touches a pin or sleeps: the
//! caller sleeps until [`Door::next_deadline`] and calls [`Door::tick`]. Every input first fires
//! the timers already due, so a late tick cannot reorder what happened.
//!
//! # What releases the lock
//!
//! The relay is energised (door released) while any of these hold, unless an emergency overrides
//! them (dual-on: always energised; dual-off: never):
//!
//! - a *pass*: a grant, the exit button or CONTROL 01 "open N s". It lasts `DoorDrivertime`
//!   seconds (N for the remote open), or until relocked when `DoorDrivertime` is 255 (0 gives
//!   no release: the spec names no meaning for it). With `DoorCloseAndLock` a pass ends when
//!   the door closes after having been opened during it. A second pass while one runs keeps
//!   the later end.
//! - normal-open: the keep-open time-zone window (`DoorKeepOpenTimeZone`, evaluated by the caller,
//!   reported with [`Input::KeepOpenStarted`]/[`Input::KeepOpenEnded`]) unless today's period was
//!   cancelled; a first-card pass ([`Grant::FirstCardNormalOpen`]) until
//!   [`Input::FirstCardPeriodEnded`]; a remote normal open (CONTROL 01 FF) until a remote close.
//!   Lockdown suspends the first two, not the operator's remote normal open.
//!
//! # Decisions where the spec is silent
//!
//! - Lockdown (CONTROL 06) is the door's `locked` setting (`DoorMaskFlag`): [`Door::settings`]
//!   shows it to the access decision. Locking ends the running pass; exit button → 209. Grants
//!   are still honoured (the decision only lets super users through); remote 01 commands too.
//! - Emergency (CONTROL 07) overrides every other source and ignores grants and the exit button
//!   (209 in dual-off) until it is ended by a CONTROL 01 lock command on the door (close → 9 and
//!   locked; open N s → 8; FF → 205) or replaced by the other 07 mode.
//! - Remote close (01, 00) ends every release: pass, first-card and remote normal open, and the
//!   current keep-open window (until it ends). CONTROL 04 disable cancels the keep-open window
//!   in progress, or the next one if none is, and ends a first-card normal open; the cancel
//!   lapses when that window ends. An open command during an open period is not refused with
//!   -28: it extends the release.
//! - 204 is logged when a window end ([`Input::KeepOpenEnded`], [`Input::FirstCardPeriodEnded`])
//!   takes the door out of normal-open; no event marks a window start (App 2 has none for doors).
//! - Held open (28) is watched only while the door is not expected to stand open (no normal
//!   open, no latched pass, no dual-on), from the opening or from the end of that expectation;
//!   it fires once per opening. Forced open (102) is an opening while the relay is not energised.
//! - A device-wide tamper input is reported on door [`TAMPER_DOOR`]; see there.

use crate::access::model::{DoorId, DoorSettings, SensorType};
use crate::protocol::security::rtlog::VerifyType;
use crate::protocol::security::rtstate::{AlarmFlags, DoorState, SensorState};
use crate::protocol::session::Mono;
use std::num::NonZeroU8;

/// The door sensor's logical reading (the HAL has already applied NO/NC): the terminal's own
/// door type, reused.
pub use crate::terminal::DoorState as DoorPosition;

/// `DoorDrivertime` value that latches the relay instead of pulsing it [App 10; note §7.5].
pub const LATCHED_DRIVE_SECS: u8 = 255;

/// App 3 verify type "other", written on every event a door logs itself: none is caused by a
/// verification [note §7.4].
pub const VERIFY_OTHER: u16 = 200;

/// The door that carries a device-wide tamper input: its event 100 (eventaddr 1) and its alarm
/// byte's TAMPER bit. The seed's only example, `alarm=0200000000000000`, is a tamper on door 1
/// [seed 003 §7.3]; one physical event gives one record, and cancel-alarm for door 1 or for all
/// doors (CONTROL 02 00) clears it.
pub const TAMPER_DOOR: DoorId = 1;

/// CONTROL DEVICE 07's two modes [note §6.3].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emergency {
    /// 01: every door released.
    DualOn,
    /// 02: every door locked.
    DualOff,
}

/// A grant from the access decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Release for `DoorDrivertime` seconds.
    Pass,
    /// The first user's pass (`DoorFirstCardOpenDoor` = 1): normal-open until
    /// [`Input::FirstCardPeriodEnded`] [App 10].
    FirstCardNormalOpen,
}

/// A CONTROL DEVICE command for this door, decoded by the caller [note §6.3]. Commands for "all
/// doors" (BB = 00) and 07 (device-wide) go to every door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remote {
    /// 01, lock output, DD = 00: close (event 9).
    Close,
    /// 01, lock output, DD = 01..FE: open for N seconds (event 8).
    OpenFor(NonZeroU8),
    /// 01, lock output, DD = FF: normal open (event 205).
    NormalOpen,
    /// 02: cancel alarm (event 7).
    CancelAlarm,
    /// 04, CC = 01 enable (event 11) / 00 disable (event 10) today's normal-open period.
    TodayNormalOpen(bool),
    /// 06, CC = 01 lock (event 233) / 00 unlock (event 234).
    Lockdown(bool),
    /// 07 (events 227/228).
    Emergency(Emergency),
}

impl Remote {
    /// The lock-output command for CONTROL 01's DD byte: 00 close, FF normal open, else seconds.
    pub fn lock_output(dd: u8) -> Remote {
        match (dd, NonZeroU8::new(dd)) {
            (LATCHED_DRIVE_SECS, _) => Remote::NormalOpen,
            (_, Some(secs)) => Remote::OpenFor(secs),
            (_, None) => Remote::Close,
        }
    }
}

/// Something that happened at or to the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Grant(Grant),
    /// A door-sensor reading; repeats of the current reading are not edges. Ignored while the
    /// sensor type is none.
    Sensor(DoorPosition),
    ExitButton,
    /// The tamper input tripped (see [`TAMPER_DOOR`]).
    Tamper,
    /// The door was opened with the duress password: its alarm bit latches until cancelled
    /// [note §3.2 bit 2].
    DuressAlarm,
    Remote(Remote),
    /// The `DoorKeepOpenTimeZone` window began.
    KeepOpenStarted,
    /// The `DoorKeepOpenTimeZone` window ended.
    KeepOpenEnded,
    /// The first-card time zone ended: a first-card normal open ends.
    FirstCardPeriodEnded,
}

/// An App 2 event the door logs [note §7.2]. Each is logged with [`VERIFY_OTHER`] and the door as
/// `eventaddr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoorEvent {
    AlarmCancelled,
    RemoteOpen,
    RemoteClose,
    TodayNormalOpenDisabled,
    TodayNormalOpenEnabled,
    HeldOpen,
    Tamper,
    ForcedOpen,
    Opened,
    Closed,
    ExitButton,
    NormalOpenEnded,
    RemoteNormalOpen,
    ExitButtonLocked,
    EmergencyDualOn,
    EmergencyDualOff,
    RemoteLock,
    RemoteUnlock,
}

impl DoorEvent {
    /// The App 2 code [note §7.2].
    pub fn code(self) -> u16 {
        match self {
            DoorEvent::AlarmCancelled => 7,
            DoorEvent::RemoteOpen => 8,
            DoorEvent::RemoteClose => 9,
            DoorEvent::TodayNormalOpenDisabled => 10,
            DoorEvent::TodayNormalOpenEnabled => 11,
            DoorEvent::HeldOpen => 28,
            DoorEvent::Tamper => 100,
            DoorEvent::ForcedOpen => 102,
            DoorEvent::Opened => 200,
            DoorEvent::Closed => 201,
            DoorEvent::ExitButton => 202,
            DoorEvent::NormalOpenEnded => 204,
            DoorEvent::RemoteNormalOpen => 205,
            DoorEvent::ExitButtonLocked => 209,
            DoorEvent::EmergencyDualOn => 227,
            DoorEvent::EmergencyDualOff => 228,
            DoorEvent::RemoteLock => 233,
            DoorEvent::RemoteUnlock => 234,
        }
    }

    /// `verifytype` of the event's rtlog record: always "other" [note §7.4].
    pub fn verify_type(self) -> VerifyType {
        VerifyType::Code(VERIFY_OTHER)
    }
}

/// What one input or tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// The relay's new level when it changed: `true` = energised (door released).
    pub relay_energised: Option<bool>,
    /// Events in the order they happened.
    pub events: Vec<DoorEvent>,
    /// [`Door::state`] differs from before: upload `rtstate` [note §3.2, §7.5].
    pub state_changed: bool,
}

/// What [`Door::step`] applies after the due timers.
enum Step {
    Tick,
    Input(Input),
    Settings(DoorSettings),
}

/// A running release for one pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pass {
    /// `None`: latched (`DoorDrivertime` 255) until relocked.
    until: Option<Mono>,
    /// The door opened during the pass, so closing it relocks under `DoorCloseAndLock`.
    door_opened: bool,
}

/// One door [note §7.5]. See the module documentation for the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Door {
    settings: DoorSettings,
    position: DoorPosition,
    relay_energised: bool,
    alarms: AlarmFlags,
    pass: Option<Pass>,
    keep_open_window: bool,
    keep_open_cancelled: bool,
    first_card_open: bool,
    remote_normal_open: bool,
    emergency: Option<Emergency>,
    /// When the door began standing open unexpectedly: the held-open timer's start.
    held_since: Option<Mono>,
    /// Event 28 was logged for this opening.
    held_reported: bool,
}

impl Door {
    /// A locked door whose sensor currently reads `position`.
    pub fn new(settings: DoorSettings, position: DoorPosition, now: Mono) -> Door {
        let mut door = Door {
            settings,
            position,
            relay_energised: false,
            alarms: AlarmFlags::NONE,
            pass: None,
            keep_open_window: false,
            keep_open_cancelled: false,
            first_card_open: false,
            remote_normal_open: false,
            emergency: None,
            held_since: None,
            held_reported: false,
        };
        door.settle(now, Vec::new());
        door
    }

    /// The door's parameters, with `locked` following CONTROL 06.
    pub fn settings(&self) -> &DoorSettings {
        &self.settings
    }

    /// New parameters (SET OPTIONS / DoorParameters). No event; a running pass keeps its end, a
    /// running held-open timer uses the new `DoorDetectortime`.
    pub fn set_settings(&mut self, now: Mono, settings: DoorSettings) -> Output {
        self.step(now, Step::Settings(settings))
    }

    /// The door's `rtstate` slot [note §3.2].
    pub fn state(&self) -> DoorState {
        DoorState {
            sensor: match (self.settings.sensor, self.position) {
                (SensorType::None, _) => SensorState::NoSensor,
                (_, DoorPosition::Open) => SensorState::Open,
                (_, DoorPosition::Closed) => SensorState::Closed,
            },
            relay_energised: self.relay_energised,
            alarms: self.alarms,
        }
    }

    /// The door counts as open for interlock [App 9]: the sensor reads open, or, without a
    /// sensor, the lock is released (the only evidence there is).
    pub fn is_open(&self) -> bool {
        if self.has_sensor() {
            self.position == DoorPosition::Open
        } else {
            self.relay_energised
        }
    }

    /// A normal-open period holds the door released: the decision logs event 1 instead of 0.
    pub fn in_normal_open(&self) -> bool {
        self.emergency.is_none()
            && (self.remote_normal_open
                || (!self.settings.locked
                    && (self.first_card_open
                        || (self.keep_open_window && !self.keep_open_cancelled))))
    }

    /// The CONTROL 07 mode in force: grants and the exit button do nothing meanwhile.
    pub fn emergency(&self) -> Option<Emergency> {
        self.emergency
    }

    /// When [`Door::tick`] next has something to do.
    pub fn next_deadline(&self) -> Option<Mono> {
        let pass_end = self.pass.and_then(|pass| pass.until);
        match (pass_end, self.held_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fires the timers due at `now`.
    pub fn tick(&mut self, now: Mono) -> Output {
        self.step(now, Step::Tick)
    }

    /// Applies one input that happened at `now`, after the timers due by then.
    pub fn handle(&mut self, now: Mono, input: Input) -> Output {
        self.step(now, Step::Input(input))
    }

    /// Every change goes through here: timers due by `now` first, then the change, then the
    /// relay and timers are re-derived.
    fn step(&mut self, now: Mono, step: Step) -> Output {
        let before = self.state();
        let mut events = Vec::new();
        self.fire_timers(now, &mut events);
        match step {
            Step::Tick => {}
            Step::Settings(settings) => self.settings = settings,
            Step::Input(Input::Grant(grant)) => self.grant(now, grant),
            Step::Input(Input::Sensor(position)) => self.sensor(position, &mut events),
            Step::Input(Input::ExitButton) => self.exit_button(now, &mut events),
            Step::Input(Input::Tamper) => {
                self.alarms = self.alarms | AlarmFlags::TAMPER;
                events.push(DoorEvent::Tamper);
            }
            // The decision logged 101 with the user's record; the door only latches the bit.
            Step::Input(Input::DuressAlarm) => {
                self.alarms = self.alarms | AlarmFlags::DURESS_PASSWORD;
            }
            Step::Input(Input::Remote(remote)) => self.remote(now, remote, &mut events),
            Step::Input(Input::KeepOpenStarted) => self.keep_open_window = true,
            Step::Input(Input::KeepOpenEnded) => self.end_period(&mut events, |door| {
                door.keep_open_window = false;
                door.keep_open_cancelled = false;
            }),
            Step::Input(Input::FirstCardPeriodEnded) => {
                self.end_period(&mut events, |door| door.first_card_open = false)
            }
        }
        let mut output = self.settle(now, events);
        output.state_changed = self.state() != before;
        output
    }

    fn fire_timers(&mut self, now: Mono, events: &mut Vec<DoorEvent>) {
        if self
            .pass
            .and_then(|pass| pass.until)
            .is_some_and(|until| until <= now)
        {
            self.pass = None;
        }
        if self.held_deadline().is_some_and(|deadline| deadline <= now) {
            self.alarms = self.alarms | AlarmFlags::DOOR_HELD_OPEN;
            self.held_reported = true;
            self.held_since = None;
            events.push(DoorEvent::HeldOpen);
        }
    }

    fn grant(&mut self, now: Mono, grant: Grant) {
        if self.emergency.is_some() {
            return;
        }
        match grant {
            Grant::Pass => self.start_pass(now),
            Grant::FirstCardNormalOpen => self.first_card_open = true,
        }
    }

    fn sensor(&mut self, position: DoorPosition, events: &mut Vec<DoorEvent>) {
        if position == self.position {
            return;
        }
        self.position = position;
        if !self.has_sensor() {
            return;
        }
        match position {
            DoorPosition::Open => {
                events.push(DoorEvent::Opened);
                // The level due now, even if a pass ending at `now` has not been settled yet.
                if !self.relay_wanted() {
                    self.alarms = self.alarms | AlarmFlags::FORCED_OPEN;
                    events.push(DoorEvent::ForcedOpen);
                }
                if let Some(pass) = &mut self.pass {
                    pass.door_opened = true;
                }
            }
            DoorPosition::Closed => {
                events.push(DoorEvent::Closed);
                self.held_reported = false;
                if self.settings.close_and_lock && self.pass.is_some_and(|pass| pass.door_opened) {
                    self.pass = None;
                }
            }
        }
    }

    fn exit_button(&mut self, now: Mono, events: &mut Vec<DoorEvent>) {
        if self.settings.locked || self.emergency == Some(Emergency::DualOff) {
            events.push(DoorEvent::ExitButtonLocked);
        } else {
            events.push(DoorEvent::ExitButton);
            self.start_pass(now);
        }
    }

    fn remote(&mut self, now: Mono, remote: Remote, events: &mut Vec<DoorEvent>) {
        match remote {
            Remote::Close => {
                events.push(DoorEvent::RemoteClose);
                self.emergency = None;
                self.pass = None;
                self.first_card_open = false;
                self.remote_normal_open = false;
                self.keep_open_cancelled |= self.keep_open_window;
            }
            Remote::OpenFor(secs) => {
                events.push(DoorEvent::RemoteOpen);
                self.emergency = None;
                self.extend_pass(Some(now.plus_secs(secs.get().into())));
            }
            Remote::NormalOpen => {
                events.push(DoorEvent::RemoteNormalOpen);
                self.emergency = None;
                self.remote_normal_open = true;
            }
            Remote::CancelAlarm => {
                events.push(DoorEvent::AlarmCancelled);
                self.alarms = AlarmFlags::NONE;
            }
            Remote::TodayNormalOpen(true) => {
                events.push(DoorEvent::TodayNormalOpenEnabled);
                self.keep_open_cancelled = false;
            }
            Remote::TodayNormalOpen(false) => {
                events.push(DoorEvent::TodayNormalOpenDisabled);
                self.keep_open_cancelled = true;
                self.first_card_open = false;
            }
            Remote::Lockdown(true) => {
                events.push(DoorEvent::RemoteLock);
                self.settings.locked = true;
                self.pass = None;
            }
            Remote::Lockdown(false) => {
                events.push(DoorEvent::RemoteUnlock);
                self.settings.locked = false;
            }
            Remote::Emergency(mode) => {
                events.push(match mode {
                    Emergency::DualOn => DoorEvent::EmergencyDualOn,
                    Emergency::DualOff => DoorEvent::EmergencyDualOff,
                });
                self.emergency = Some(mode);
                self.pass = None;
            }
        }
    }

    /// Ends a normal-open source; 204 when that takes the door out of normal-open.
    fn end_period(&mut self, events: &mut Vec<DoorEvent>, end: impl FnOnce(&mut Door)) {
        let was_normal_open = self.in_normal_open();
        end(self);
        if was_normal_open && !self.in_normal_open() {
            events.push(DoorEvent::NormalOpenEnded);
        }
    }

    /// A pass for `DoorDrivertime` (0: none; 255: latched). Emergencies ignore passes.
    fn start_pass(&mut self, now: Mono) {
        if self.emergency.is_some() {
            return;
        }
        match self.settings.drive_secs {
            0 => {}
            LATCHED_DRIVE_SECS => self.extend_pass(None),
            secs => self.extend_pass(Some(now.plus_secs(secs.into()))),
        }
    }

    /// Starts a pass ending at `until` (`None`: latched), keeping a running pass's later end.
    fn extend_pass(&mut self, until: Option<Mono>) {
        let until = match (self.pass.map(|pass| pass.until), until) {
            (Some(Some(running)), Some(new)) => Some(running.max(new)),
            (Some(None), _) | (_, None) => None,
            (None, Some(new)) => Some(new),
        };
        self.pass = Some(Pass {
            until,
            door_opened: self.has_sensor() && self.position == DoorPosition::Open,
        });
    }

    /// Re-derives the relay level and the held-open timer from the state.
    fn settle(&mut self, now: Mono, events: Vec<DoorEvent>) -> Output {
        let watch_held_open = self.has_sensor()
            && self.position == DoorPosition::Open
            && !self.held_reported
            && !self.expected_open();
        if !watch_held_open {
            self.held_since = None;
        } else if self.held_since.is_none() {
            self.held_since = Some(now);
        }
        let wanted = self.relay_wanted();
        let changed = wanted != self.relay_energised;
        self.relay_energised = wanted;
        Output {
            relay_energised: changed.then_some(wanted),
            events,
            state_changed: false,
        }
    }

    fn relay_wanted(&self) -> bool {
        match self.emergency {
            Some(Emergency::DualOn) => true,
            Some(Emergency::DualOff) => false,
            None => self.pass.is_some() || self.in_normal_open(),
        }
    }

    /// The door may stand open indefinitely: no held-open alarm.
    fn expected_open(&self) -> bool {
        self.emergency == Some(Emergency::DualOn)
            || self.in_normal_open()
            || self.pass.is_some_and(|pass| pass.until.is_none())
    }

    fn held_deadline(&self) -> Option<Mono> {
        let secs = self.settings.detector_secs;
        self.held_since
            .filter(|_| secs > 0)
            .map(|since| since.plus_secs(secs.into()))
    }

    fn has_sensor(&self) -> bool {
        self.settings.sensor != SensorType::None
    }
}

#[cfg(test)]
mod tests;
