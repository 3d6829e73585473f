//! The access controller of the security dialect: credentials, door inputs and remote commands in;
//! relay levels, `rtlog` records and the `rtstate` snapshot out.
//!
//! A hardware event never waits for the network [note §7.6]: the decision
//! ([`crate::access::control::decide`]) and the relay come first, then the reader's feedback
//! (LED, buzzer), then the record is committed and the uploader is woken. Everything here runs
//! under one lock held by the board's threads (the sim socket, the GPIO input threads, the timer
//! thread) and, for remote commands, by the network thread after its command batch was
//! committed, so a command never holds the store's write lock while it waits for the doors.

pub mod aux;
pub mod capabilities;

use crate::access::Credential;
use crate::access::control::{
    AccessRequest, AccessState, AccessView, Decision, DoorAction, DoorStates as AccessDoorStates,
    Verdict, decide,
};
use crate::access::model::{
    DeviceRules, Direction, DoorId, DoorSettings, Holiday, SensorType, TimeZone,
};
use crate::access::timezone::zone_contains;
use crate::clock::DeviceClock;
use crate::config::ReaderSide;
use crate::config::board::ReaderAt;
use crate::door::{
    Door, DoorEvent, DoorPosition, Grant, Input, Output, Remote, TAMPER_DOOR, VERIFY_OTHER,
};
use crate::hal::formats::SharedReaderTables;
use crate::hal::{Feedback, ReaderFeedback, Relays};
use crate::protocol::civil::LocalDateTime;
use crate::protocol::options::StampTable;
use crate::protocol::security::rtlog::{InOutStatus, RtLog, VerifyType};
use crate::protocol::security::rtstate::DoorState;
use crate::protocol::session::Mono;
use crate::store::{RecordKind, Store, StoreError, Tx, scope};
use aux::{AuxChange, AuxCommand, AuxOutputs};
use std::sync::{Arc, Mutex, PoisonError};

/// Something that happened at the controller's inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControllerInput {
    /// A credential at the reader on `side` of `door`.
    Credential {
        credential: Credential,
        door: DoorId,
        side: Direction,
    },
    Sensor {
        door: DoorId,
        position: DoorPosition,
    },
    ExitButton {
        door: DoorId,
    },
    Tamper,
    /// Auxiliary input `aux` (1-based) changed: its contact is now made or open.
    AuxInput {
        aux: u8,
        contact_made: bool,
    },
    /// A Wiegand frame at the reader on `side` of `door` that did not decode (bad parity, a
    /// length no format has, a line fault): App 2 event 42.
    BadWiegandFrame {
        door: DoorId,
        side: Direction,
    },
    /// Something happened at the reader on `side` of `door` itself (event 109, 236, 110, 237).
    Reader {
        door: DoorId,
        side: Direction,
        event: ReaderEvent,
    },
}

/// A change at a reader itself (an OSDP reader's tamper switch or link) [App 2].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderEvent {
    /// 109: the reader's tamper switch (it was taken off the wall).
    TamperAlarm,
    /// 236: the reader's tamper alarm ended.
    TamperCleared,
    /// 110: the reader stopped answering.
    Offline,
    /// 237: the reader answers again.
    Online,
}

impl ReaderEvent {
    pub fn code(self) -> u16 {
        match self {
            ReaderEvent::TamperAlarm => 109,
            ReaderEvent::TamperCleared => 236,
            ReaderEvent::Offline => 110,
            ReaderEvent::Online => 237,
        }
    }
}

/// App 2 event 42, "wrong Wiegand format" (seed 003 App 2: "Incorrect Wiegand format").
pub const WRONG_WIEGAND_FORMAT: u16 = 42;

/// App 3 verify type 4, card: what a Wiegand reader sent, even when it did not decode.
const VERIFY_CARD: u16 = 4;

/// What the controller did about one input, after its records were committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    /// The `index` of each record written, in order (a capacity warning, 6005, last).
    pub indexes: Vec<i64>,
    /// The decision on a credential, if the input was one and the door takes credentials.
    pub decision: Option<Decision>,
    /// One line for the operator.
    pub summary: String,
}

/// A remote door command, already checked against the doors this controller has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoorCommand {
    /// One door, or every door (`None`).
    pub door: Option<DoorId>,
    pub remote: Remote,
}

/// A remote command (CONTROL DEVICE 01–07) for the doors or the auxiliary outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteCommand {
    Door(DoorCommand),
    Aux(AuxCommand),
}

/// The `rtstate` snapshot shared with the network side: a version that moves on every change,
/// and each door's state.
#[derive(Debug, Clone, Default)]
pub struct SharedStatus {
    inner: Arc<Mutex<(u64, Vec<DoorState>)>>,
}

impl SharedStatus {
    /// The number that moves on every change.
    pub fn version(&self) -> u64 {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).0
    }

    pub fn door_states(&self) -> (u64, Vec<DoorState>) {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

struct DoorSlot {
    door: Door,
    /// The keep-open time zone's window as last evaluated.
    keep_open: bool,
    /// A first-card normal open runs until this local time.
    first_card_until: Option<LocalDateTime>,
}

pub struct Controller {
    store: Store,
    clock: Arc<DeviceClock>,
    doors: Vec<DoorSlot>,
    aux_outputs: AuxOutputs,
    relays: Box<dyn Relays>,
    feedback: Option<Box<dyn ReaderFeedback>>,
    access: AccessState,
    rules: DeviceRules,
    /// The reader tables, for the readers' decoding ([`SharedReaderTables`]).
    reader_tables: SharedReaderTables,
    status: SharedStatus,
    capacity: RecordCapacity,
    tally: RecordTally,
}

impl Controller {
    /// A controller for `settings.len()` doors (door 1 first), all closed and locked, with the
    /// device rules and door parameters the store holds.
    pub fn new(
        store: Store,
        clock: Arc<DeviceClock>,
        relays: Box<dyn Relays>,
        door_count: usize,
    ) -> Result<Controller, StoreError> {
        let now = clock.now().mono;
        let mut c = Controller {
            store,
            clock,
            doors: Vec::new(),
            aux_outputs: AuxOutputs::default(),
            relays,
            feedback: None,
            access: AccessState::default(),
            rules: DeviceRules::default(),
            reader_tables: SharedReaderTables::default(),
            status: SharedStatus::default(),
            capacity: RecordCapacity::default(),
            tally: RecordTally::default(),
        };
        c.tally = c.store.read(RecordTally::load)?;
        let (settings, rules) = c.load_settings(door_count)?;
        c.rules = rules;
        c.reader_tables
            .publish(c.store.read(|tx| tx.reader_tables())?);
        c.doors = settings
            .into_iter()
            .map(|s| DoorSlot {
                door: Door::new(s, DoorPosition::Closed, now),
                keep_open: false,
                first_card_until: None,
            })
            .collect();
        // A start inside a keep-open window opens the door now, not at the next minute.
        let mut outputs = c.idle_outputs();
        c.follow_zones(now, &mut outputs)?;
        c.finish(outputs, None, String::new())?;
        c.publish(true);
        Ok(c)
    }

    /// The same controller with `count` auxiliary outputs (1..=count), all off.
    pub fn with_aux_outputs(mut self, count: usize) -> Controller {
        self.aux_outputs = AuxOutputs::new(count);
        self
    }

    /// Where the readers show each decision: called after the relay moved (a grant) or after the
    /// refusal, before the record is committed. Without it the readers show nothing.
    pub fn set_reader_feedback(&mut self, feedback: Box<dyn ReaderFeedback>) {
        self.feedback = Some(feedback);
    }

    /// What the network side reads for `rtstate`.
    pub fn status(&self) -> SharedStatus {
        self.status.clone()
    }

    /// Door `door`'s `SensorType` parameter [App 10]; none for a door the controller lacks.
    pub fn sensor_type(&self, door: DoorId) -> SensorType {
        self.door_index(door)
            .map_or(SensorType::None, |i| self.doors[i].door.settings().sensor)
    }

    pub fn door_count(&self) -> usize {
        self.doors.len()
    }

    /// Records the start of the device (event 206) [note §7.2].
    pub fn started(&mut self) -> Result<i64, StoreError> {
        let now = self.clock.local_now();
        let indexes = self.append(&[event_log(now, 0, 206, None)])?;
        Ok(indexes.first().copied().unwrap_or_default())
    }

    /// Sets how many records the store keeps [C20]; it applies from the next record.
    pub fn set_record_capacity(&mut self, capacity: RecordCapacity) {
        self.capacity = capacity;
    }

    /// The reader tables as the controller last loaded them; readers decode with them.
    pub fn reader_tables(&self) -> SharedReaderTables {
        self.reader_tables.clone()
    }

    /// Re-reads the door parameters, device rules and reader tables after the server changed
    /// them; they apply at once, without a restart [note §6.5].
    pub fn reload(&mut self) -> Result<Handled, StoreError> {
        let (settings, rules) = self.load_settings(self.doors.len())?;
        self.rules = rules;
        self.reader_tables
            .publish(self.store.read(|tx| tx.reader_tables())?);
        let now = self.clock.now().mono;
        let mut outputs = self.idle_outputs();
        for ((slot, s), (_, out)) in self.doors.iter_mut().zip(settings).zip(&mut outputs) {
            if slot.door.settings() != &s {
                *out = slot.door.set_settings(now, s);
            }
        }
        // A keep-open time zone changed or removed applies now, not at the next minute.
        self.follow_zones(now, &mut outputs)?;
        self.finish(outputs, None, "door parameters reloaded".into())
    }

    pub fn handle(&mut self, input: &ControllerInput) -> Result<Handled, StoreError> {
        match input {
            ControllerInput::Credential {
                credential,
                door,
                side,
            } => self.credential(credential, *door, *side),
            ControllerInput::Sensor { door, position } => {
                self.door_input(*door, Input::Sensor(*position), "door sensor")
            }
            ControllerInput::ExitButton { door } => {
                self.door_input(*door, Input::ExitButton, "exit button")
            }
            ControllerInput::Tamper => self.door_input(TAMPER_DOOR, Input::Tamper, "tamper"),
            ControllerInput::AuxInput { aux, contact_made } => {
                let event = aux::aux_input_event(*contact_made);
                let log = event_log(self.clock.local_now(), u32::from(*aux), event, None);
                self.record(
                    Vec::new(),
                    Some(log),
                    format!("aux input {aux}: event {event}"),
                )
            }
            // Refused at the reader; verify type card: what it sent, though it did not decode.
            ControllerInput::BadWiegandFrame { door, side } => self.reader_event(
                (*door, *side),
                (WRONG_WIEGAND_FORMAT, VERIFY_CARD),
                Some(Feedback::Denied),
                "unreadable card",
            ),
            ControllerInput::Reader { door, side, event } => {
                let what = format!("{} reader {event:?}", ReaderSide::from(*side));
                self.reader_event((*door, *side), (event.code(), VERIFY_OTHER), None, &what)
            }
        }
    }

    /// Runs `step` (an input, a tick), and says whether the uploader has news: records were
    /// committed or a door's state moved. The relays and the state move before the records are
    /// written, so they count even when the write then fails.
    pub fn noting_change(
        &mut self,
        step: impl FnOnce(&mut Controller) -> Result<Handled, StoreError>,
    ) -> (Result<Handled, StoreError>, bool) {
        let version = self.status.version();
        let handled = step(self);
        let state_changed = self.status.version() != version;
        let recorded = handled.as_ref().is_ok_and(|h| !h.indexes.is_empty());
        (handled, state_changed || recorded)
    }

    /// Applies a remote command (CONTROL DEVICE) to its doors or auxiliary outputs.
    pub fn command(&mut self, command: RemoteCommand) -> Result<Handled, StoreError> {
        match command {
            RemoteCommand::Door(command) => self.door_command(command),
            RemoteCommand::Aux(command) => {
                let mono = self.clock.now().mono;
                let changes = self.aux_outputs.command(command, mono);
                let indexes = self.drive_aux(&changes)?;
                Ok(Handled {
                    indexes,
                    decision: None,
                    summary: format!("aux outputs: remote {:?}", command.action),
                })
            }
        }
    }

    /// Moves the auxiliary outputs that changed, then commits their events.
    fn drive_aux(&mut self, changes: &[AuxChange]) -> Result<Vec<i64>, StoreError> {
        let mono = self.clock.now().mono;
        for change in changes {
            self.relays
                .set_aux_output(change.aux, change.energised, mono);
        }
        let now = self.clock.local_now();
        let logs: Vec<RtLog> = changes
            .iter()
            .filter_map(|c| c.event.map(|e| event_log(now, u32::from(c.aux), e, None)))
            .collect();
        self.append(&logs)
    }

    fn door_command(&mut self, command: DoorCommand) -> Result<Handled, StoreError> {
        let DoorCommand { door, remote } = command;
        let now = self.clock.now().mono;
        let mut outputs = Vec::new();
        for (i, slot) in self.doors.iter_mut().enumerate() {
            if door.is_none_or(|d| d == door_id(i)) {
                outputs.push((door_id(i), slot.door.handle(now, Input::Remote(remote))));
            }
        }
        self.finish(outputs, None, format!("remote {remote:?}"))
    }

    /// Fires the doors' and aux outputs' due timers and follows the time zones (keep-open
    /// windows, first-card periods). Call it at [`Controller::next_deadline`].
    pub fn tick(&mut self) -> Result<Handled, StoreError> {
        let mono = self.clock.now().mono;
        let aux_ended = self.aux_outputs.tick(mono);
        self.drive_aux(&aux_ended)?;
        let mut outputs: Vec<(DoorId, Output)> = self
            .doors
            .iter_mut()
            .enumerate()
            .map(|(i, slot)| (door_id(i), slot.door.tick(mono)))
            .collect();
        self.follow_zones(mono, &mut outputs)?;
        self.finish(outputs, None, String::new())
    }

    /// One empty output per door, door 1 first.
    fn idle_outputs(&self) -> Vec<(DoorId, Output)> {
        (0..self.doors.len())
            .map(|i| (door_id(i), Output::default()))
            .collect()
    }

    /// Brings the normal-open periods in line with the time zones now: a keep-open window that
    /// began or ended (a door whose keep-open zone was removed has no window), a first-card
    /// period that ended. `outputs` holds one entry per door, door 1 first.
    fn follow_zones(
        &mut self,
        mono: Mono,
        outputs: &mut [(DoorId, Output)],
    ) -> Result<(), StoreError> {
        let local = self.clock.local_now();
        let windows = self.keep_open_windows(local)?;
        for ((slot, open), (_, out)) in self.doors.iter_mut().zip(windows).zip(outputs) {
            if open != slot.keep_open {
                slot.keep_open = open;
                let input = if open {
                    Input::KeepOpenStarted
                } else {
                    Input::KeepOpenEnded
                };
                merge(out, slot.door.handle(mono, input));
            }
            if slot.first_card_until.is_some_and(|until| local >= until) {
                slot.first_card_until = None;
                merge(out, slot.door.handle(mono, Input::FirstCardPeriodEnded));
            }
        }
        Ok(())
    }

    /// When [`Controller::tick`] is next due: a door timer, or the next minute while a time zone
    /// is being followed.
    pub fn next_deadline(&self) -> Option<Mono> {
        let now = self.clock.now();
        let follows_zones = self
            .doors
            .iter()
            .any(|s| s.door.settings().keep_open_tz != 0 || s.first_card_until.is_some());
        let next_minute = follows_zones.then(|| {
            let into_minute = u64::try_from(now.utc_ms.rem_euclid(60_000)).unwrap_or(0);
            now.mono.plus_millis(60_000 - into_minute)
        });
        self.doors
            .iter()
            .filter_map(|s| s.door.next_deadline())
            .chain(self.aux_outputs.next_deadline())
            .chain(next_minute)
            .min()
    }

    fn credential(
        &mut self,
        credential: &Credential,
        door: DoorId,
        side: Direction,
    ) -> Result<Handled, StoreError> {
        let Some(index) = self.door_index(door) else {
            return Ok(no_such_door(door));
        };
        let request = AccessRequest {
            credential: credential.clone(),
            door,
            direction: side,
            now: self.clock.local_now(),
        };
        let doors = AccessDoorStates {
            open_doors: self.open_doors(),
            normal_open: self.doors[index].door.in_normal_open(),
        };
        let settings = self.doors[index].door.settings().clone();
        let rows = self.store.read(|tx| Rows::load(tx, &request, &settings))?;
        let view = rows.view(&settings, self.rules);
        let Some(decision) = decide(&request, &view, doors, &self.access) else {
            return Ok(Handled {
                indexes: Vec::new(),
                decision: None,
                summary: format!("door {door} is disabled: credential ignored"),
            });
        };
        // The relay first; the record after [note §7.6].
        let mono = self.clock.now().mono;
        let out = match decision.verdict {
            Verdict::Grant(DoorAction::Pass) => self.doors[index]
                .door
                .handle(mono, Input::Grant(Grant::Pass)),
            Verdict::Grant(DoorAction::PassUnderDuress) => {
                let door = &mut self.doors[index].door;
                let mut out = door.handle(mono, Input::Grant(Grant::Pass));
                merge(&mut out, door.handle(mono, Input::DuressAlarm));
                out
            }
            Verdict::Grant(DoorAction::StartNormalOpen { until }) => {
                self.doors[index].first_card_until = Some(until);
                self.doors[index]
                    .door
                    .handle(mono, Input::Grant(Grant::FirstCardNormalOpen))
            }
            Verdict::Grant(DoorAction::AlreadyOpen) | Verdict::Deny | Verdict::Waiting => {
                Output::default()
            }
        };
        self.access.record(&request, &decision);
        if matches!(decision.verdict, Verdict::Deny) {
            log::warn!(
                "door {door}: credential refused (event {}){}",
                decision.event,
                decision
                    .pin
                    .as_deref()
                    .map_or_else(String::new, |p| format!(" for user {p}"))
            );
        }
        let summary = format!(
            "door {door}: {} (event {})",
            match decision.verdict {
                Verdict::Grant(_) => "granted",
                Verdict::Deny => "denied",
                Verdict::Waiting => "waiting for the rest of the group",
            },
            decision.event
        );
        let credential_log = RtLog {
            time: request.now,
            pin: decision.pin.clone().unwrap_or_else(|| "0".to_owned()),
            cardno: decision
                .card
                .map_or_else(|| "0".to_owned(), |c| c.to_string()),
            sitecode: 0,
            linkid: 0,
            eventaddr: u32::from(door),
            event: decision.event,
            inoutstatus: in_out(side),
            verifytype: VerifyType::Code(decision.verify_type),
            index: 0,
        };
        let outputs = vec![(door, out)];
        self.drive(&outputs);
        let feedback = match decision.verdict {
            Verdict::Grant(_) => Some(Feedback::Granted),
            Verdict::Deny => Some(Feedback::Denied),
            // Not refused, not yet let through: the rest of the group is still to come.
            Verdict::Waiting => None,
        };
        if let Some(feedback) = feedback {
            self.show(door, side, feedback);
        }
        let mut handled = self.record(outputs, Some(credential_log), summary)?;
        handled.decision = Some(decision);
        Ok(handled)
    }

    /// Records `event` with `verify_type` at the reader on `side` of `door`, after the reader
    /// shows `feedback`; without a user or card number (event 42 has bits that are not one; the
    /// others are about the reader itself).
    fn reader_event(
        &mut self,
        (door, side): (DoorId, Direction),
        (event, verify_type): (u16, u16),
        feedback: Option<Feedback>,
        what: &str,
    ) -> Result<Handled, StoreError> {
        if self.door_index(door).is_none() {
            return Ok(no_such_door(door));
        }
        if let Some(feedback) = feedback {
            self.show(door, side, feedback);
        }
        let log = RtLog {
            inoutstatus: in_out(side),
            verifytype: VerifyType::Code(verify_type),
            ..event_log(self.clock.local_now(), u32::from(door), event, None)
        };
        let summary = format!("door {door}: {what} (event {event})");
        self.record(Vec::new(), Some(log), summary)
    }

    fn show(&mut self, door: DoorId, side: Direction, feedback: Feedback) {
        let Some(readers) = self.feedback.as_mut() else {
            return;
        };
        let reader = ReaderAt {
            door,
            side: ReaderSide::from(side),
        };
        readers.show(reader, feedback, self.clock.now().mono);
    }

    fn door_input(
        &mut self,
        door: DoorId,
        input: Input,
        what: &str,
    ) -> Result<Handled, StoreError> {
        let Some(index) = self.door_index(door) else {
            return Ok(no_such_door(door));
        };
        let mono = self.clock.now().mono;
        let out = self.doors[index].door.handle(mono, input);
        self.finish(vec![(door, out)], None, format!("door {door}: {what}"))
    }

    /// Drives the relays the outputs changed, then records them ([`Controller::record`]).
    fn finish(
        &mut self,
        outputs: Vec<(DoorId, Output)>,
        credential_log: Option<RtLog>,
        summary: String,
    ) -> Result<Handled, StoreError> {
        self.drive(&outputs);
        self.record(outputs, credential_log, summary)
    }

    /// Drives the relays the outputs changed.
    fn drive(&mut self, outputs: &[(DoorId, Output)]) {
        let mono = self.clock.now().mono;
        for (door, out) in outputs {
            if let Some(level) = out.relay_energised {
                self.relays.set_lock(*door, level, mono);
            }
        }
    }

    /// Publishes the new state, then commits one record per event (the credential's first).
    fn record(
        &mut self,
        outputs: Vec<(DoorId, Output)>,
        credential_log: Option<RtLog>,
        summary: String,
    ) -> Result<Handled, StoreError> {
        let now = self.clock.local_now();
        let logs: Vec<RtLog> = credential_log
            .into_iter()
            .chain(outputs.iter().flat_map(|(door, out)| {
                out.events
                    .iter()
                    .map(move |e| event_log(now, u32::from(*door), e.code(), Some(*e)))
            }))
            .collect();
        let changed = outputs.iter().any(|(_, o)| o.state_changed);
        self.publish(changed);
        let indexes = self.append(&logs)?;
        Ok(Handled {
            indexes,
            decision: None,
            summary,
        })
    }

    /// Commits `logs` in one transaction, keeping the store within its capacity [C20; note
    /// §8.3]: when a record does not fit, the `DelRecord` oldest go first; the record that takes
    /// the store to 90 % is followed by event 6005 [App 19]. Returns the indexes written, 6005's
    /// last.
    fn append(&mut self, logs: &[RtLog]) -> Result<Vec<i64>, StoreError> {
        if logs.is_empty() {
            return Ok(Vec::new());
        }
        let capacity = self.capacity;
        let warning = event_log(self.clock.local_now(), 0, RECORDS_NEARLY_FULL, None);
        let mut tally = self.tally;
        let mut trimmed = Trimmed::default();
        let mut warned_now = false;
        let indexes = self.store.write(|tx| {
            let mut indexes = logs
                .iter()
                .map(|log| tally.append(tx, capacity, log, &mut trimmed))
                .collect::<Result<Vec<_>, _>>()?;
            if !tally.warned && tally.stored >= capacity.warning_level() {
                tally.recount(tx, capacity)?;
                if tally.stored >= capacity.warning_level() {
                    indexes.push(tally.append(tx, capacity, &warning, &mut trimmed)?);
                    tally.set_warned(tx, true)?;
                    warned_now = true;
                }
            }
            Ok(indexes)
        })?;
        self.tally = tally;
        if warned_now {
            log::warn!(
                "record store at 90 % of its {} records (event {RECORDS_NEARLY_FULL}): the \
                 oldest will be deleted when it is full",
                capacity.max_records
            );
        }
        trimmed.report(capacity);
        Ok(indexes)
    }

    fn publish(&self, changed: bool) {
        if !changed {
            return;
        }
        let states: Vec<DoorState> = self.doors.iter().map(|s| s.door.state()).collect();
        let mut shared = self
            .status
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        shared.0 = shared.0.wrapping_add(1);
        shared.1 = states;
    }

    fn open_doors(&self) -> u64 {
        self.doors
            .iter()
            .enumerate()
            .filter(|(_, s)| s.door.is_open())
            .fold(0, |mask, (i, _)| mask | 1 << i)
    }

    fn door_index(&self, door: DoorId) -> Option<usize> {
        usize::from(door)
            .checked_sub(1)
            .filter(|i| *i < self.doors.len())
    }

    /// Whether each door is inside its keep-open window now; a door without a keep-open time
    /// zone (0) never is.
    fn keep_open_windows(&mut self, now: LocalDateTime) -> Result<Vec<bool>, StoreError> {
        let ids: Vec<u32> = self
            .doors
            .iter()
            .map(|s| s.door.settings().keep_open_tz)
            .collect();
        if ids.iter().all(|id| *id == 0) {
            return Ok(vec![false; ids.len()]);
        }
        self.store.read(|tx| {
            let holidays = tx.holidays()?;
            ids.iter()
                .map(|&id| {
                    if id == 0 {
                        return Ok(false);
                    }
                    let zones: Vec<TimeZone> = tx.timezone(id)?.into_iter().collect();
                    Ok(zone_contains(&zones, id, now, &holidays))
                })
                .collect()
        })
    }

    fn load_settings(
        &mut self,
        door_count: usize,
    ) -> Result<(Vec<DoorSettings>, DeviceRules), StoreError> {
        self.store.read(|tx| {
            let stored = tx.door_settings()?;
            let settings = stored.into_iter().take(door_count).collect();
            Ok((settings, tx.device_rules()?))
        })
    }
}

/// App 19 event 6005: the record store reached 90 % of its capacity [note §7.3].
pub const RECORDS_NEARLY_FULL: u16 = 6005;

/// Settings key (scope [`scope::STATE`]): how many records were deleted to make room before the
/// server had them, since the store was made [C20]. `push-agent status` shows it.
pub const RECORDS_LOST_KEY: &str = "rtlog_records_lost";

/// Settings key (scope [`scope::STATE`]): event 6005 was logged and the store has not dropped
/// below 90 % since, so it is not logged again (after a restart either).
const CAPACITY_WARNED_KEY: &str = "rtlog_capacity_warned";

/// How often the running record count is checked against the store: the server's `DATA DELETE
/// transaction` removes records behind the controller's back.
const RECOUNT_EVERY: u64 = 1000;

/// The records lost to the server so far: deleted to make room before they were uploaded.
pub fn records_lost(tx: &Tx<'_>) -> Result<u64, StoreError> {
    Ok(tx
        .setting(scope::STATE, RECORDS_LOST_KEY)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

/// How many `rtlog` records the store keeps and how many go when it is full [C20; note §8.3].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordCapacity {
    /// `~MaxAttLogCount`: the most records kept (at least 1).
    pub max_records: u64,
    /// `DelRecord` [App 12]: how many of the oldest records go when one more does not fit (at
    /// least the one needed).
    pub delete_batch: u64,
}

impl RecordCapacity {
    /// `max_records` kept, `DelRecord` 1 % of them.
    pub fn new(max_records: u64) -> RecordCapacity {
        let max_records = max_records.max(1);
        RecordCapacity {
            max_records,
            delete_batch: (max_records / 100).max(1),
        }
    }

    /// The count at which event 6005 is logged: 90 %, rounded up.
    fn warning_level(self) -> u64 {
        (self.max_records.saturating_mul(9)).div_ceil(10)
    }
}

impl Default for RecordCapacity {
    fn default() -> Self {
        RecordCapacity::new(crate::config::defaults::MAX_RECORDS)
    }
}

/// The capacity check's running count, so that an append does not count the table [C20].
#[derive(Debug, Clone, Copy, Default)]
struct RecordTally {
    /// `rtlog` records stored, as last counted plus appended minus deleted here. Never below the
    /// truth (only the server's `DATA DELETE` removes records elsewhere), so it is recounted
    /// before it triggers anything, and every [`RECOUNT_EVERY`] appends.
    stored: u64,
    appended_since_count: u64,
    /// See [`CAPACITY_WARNED_KEY`].
    warned: bool,
}

impl RecordTally {
    fn load(tx: &Tx<'_>) -> Result<RecordTally, StoreError> {
        Ok(RecordTally {
            stored: to_u64(tx.count_records(RecordKind::RtLog)?),
            appended_since_count: 0,
            warned: tx.setting(scope::STATE, CAPACITY_WARNED_KEY)?.is_some(),
        })
    }

    /// Appends `log`, first deleting the oldest records when the store is full.
    fn append(
        &mut self,
        tx: &Tx<'_>,
        capacity: RecordCapacity,
        log: &RtLog,
        trimmed: &mut Trimmed,
    ) -> Result<i64, StoreError> {
        if self.stored >= capacity.max_records {
            self.recount(tx, capacity)?;
        }
        if self.stored >= capacity.max_records {
            let needed = self.stored + 1 - capacity.max_records;
            let batch = usize::try_from(capacity.delete_batch.max(needed)).unwrap_or(usize::MAX);
            let (deleted, unacked) = tx.delete_oldest(StampTable::RtLog, batch)?;
            let (deleted, unacked) = (to_u64(deleted), to_u64(unacked));
            self.stored = self.stored.saturating_sub(deleted);
            trimmed.deleted += deleted;
            if unacked > 0 {
                trimmed.unacked += unacked;
                trimmed.lost_total = records_lost(tx)? + unacked;
                tx.set_setting(
                    scope::STATE,
                    RECORDS_LOST_KEY,
                    &trimmed.lost_total.to_string(),
                )?;
            }
            self.rearm(tx, capacity)?;
        }
        let id = tx.append_rtlog(log)?;
        self.stored += 1;
        self.appended_since_count += 1;
        if self.appended_since_count >= RECOUNT_EVERY {
            self.recount(tx, capacity)?;
        }
        Ok(id)
    }

    fn recount(&mut self, tx: &Tx<'_>, capacity: RecordCapacity) -> Result<(), StoreError> {
        self.stored = to_u64(tx.count_records(RecordKind::RtLog)?);
        self.appended_since_count = 0;
        self.rearm(tx, capacity)
    }

    /// With an exact count below 90 %, the next crossing logs 6005 again.
    fn rearm(&mut self, tx: &Tx<'_>, capacity: RecordCapacity) -> Result<(), StoreError> {
        if self.warned && self.stored < capacity.warning_level() {
            self.set_warned(tx, false)?;
        }
        Ok(())
    }

    fn set_warned(&mut self, tx: &Tx<'_>, warned: bool) -> Result<(), StoreError> {
        self.warned = warned;
        if warned {
            tx.set_setting(scope::STATE, CAPACITY_WARNED_KEY, "1")
        } else {
            tx.delete_setting(scope::STATE, CAPACITY_WARNED_KEY)
        }
    }
}

/// What making room deleted in one commit, reported once it is committed.
#[derive(Debug, Default)]
struct Trimmed {
    deleted: u64,
    /// Of those, not yet acknowledged by the server: lost to it.
    unacked: u64,
    /// [`records_lost`] after this commit.
    lost_total: u64,
}

impl Trimmed {
    fn report(&self, capacity: RecordCapacity) {
        if self.unacked > 0 {
            log::warn!(
                "record store full ({} records): deleted the {} oldest, {} of them not yet \
                 uploaded and lost to the server ({} lost so far)",
                capacity.max_records,
                self.deleted,
                self.unacked,
                self.lost_total
            );
        } else if self.deleted > 0 {
            log::info!(
                "record store full ({} records): deleted the {} oldest, all uploaded",
                capacity.max_records,
                self.deleted
            );
        }
    }
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The rows one decision reads, each looked up by key [note §7.6].
struct Rows {
    user: Option<crate::protocol::user::User>,
    card: Option<crate::access::model::Card>,
    authorizations: Vec<crate::access::model::Authorization>,
    timezones: Vec<TimeZone>,
    holidays: Vec<Holiday>,
    first_cards: Vec<crate::access::model::FirstCard>,
    multi_card_groups: Vec<crate::access::model::MultiCardGroup>,
    super_user: bool,
}

impl Rows {
    fn load(tx: &Tx<'_>, request: &AccessRequest, door: &DoorSettings) -> Result<Rows, StoreError> {
        let (card, user) = match &request.credential {
            Credential::Card(number) => match tx.card(*number)? {
                Some(card) => {
                    let user = tx.user(&card.pin)?;
                    (Some(card), user)
                }
                None => (None, None),
            },
            Credential::Keypad { pin, .. } => (None, tx.user(pin)?),
            Credential::Password(_) => (None, None),
        };
        let pin = user.as_ref().map(|u| u.pin.clone());
        let authorizations = match &pin {
            Some(pin) => tx.authorizations_of(pin)?,
            None => Vec::new(),
        };
        let first_cards = tx.first_cards(request.door)?;
        let mut zone_ids: Vec<u32> = authorizations
            .iter()
            .map(|a| a.timezone_id)
            .chain([door.valid_tz])
            .chain(first_cards.iter().map(|f| f.timezone_id))
            .filter(|id| *id != 0)
            .collect();
        zone_ids.sort_unstable();
        zone_ids.dedup();
        let mut timezones = Vec::with_capacity(zone_ids.len());
        for id in zone_ids {
            timezones.extend(tx.timezone(id)?);
        }
        let today = (request.now.month, request.now.day);
        let holidays = tx
            .holidays()?
            .into_iter()
            .filter(|h| (h.month, h.day) == today)
            .collect();
        let super_user = match &pin {
            Some(pin) => tx.is_super_user(pin, request.door)?,
            None => false,
        };
        Ok(Rows {
            user,
            card,
            authorizations,
            timezones,
            holidays,
            first_cards,
            multi_card_groups: tx.multi_card_groups(request.door)?,
            super_user,
        })
    }

    fn view<'a>(&'a self, door: &'a DoorSettings, rules: DeviceRules) -> AccessView<'a> {
        AccessView {
            user: self.user.as_ref(),
            card: self.card.as_ref(),
            authorizations: &self.authorizations,
            timezones: &self.timezones,
            holidays: &self.holidays,
            door,
            rules,
            first_cards: &self.first_cards,
            multi_card_groups: &self.multi_card_groups,
            super_user: self.super_user,
        }
    }
}

/// An event that no credential caused: pin and card 0, verify type "other" [note §7.4].
fn event_log(time: LocalDateTime, door: u32, event: u16, from: Option<DoorEvent>) -> RtLog {
    RtLog {
        time,
        pin: "0".to_owned(),
        cardno: "0".to_owned(),
        sitecode: 0,
        linkid: 0,
        eventaddr: door,
        event,
        inoutstatus: InOutStatus::In,
        verifytype: from.map_or(VerifyType::Code(VERIFY_OTHER), |e| e.verify_type()),
        index: 0,
    }
}

fn in_out(side: Direction) -> InOutStatus {
    match side {
        Direction::In => InOutStatus::In,
        Direction::Out => InOutStatus::Out,
    }
}

fn merge(into: &mut Output, more: Output) {
    if more.relay_energised.is_some() {
        into.relay_energised = more.relay_energised;
    }
    into.events.extend(more.events);
    into.state_changed |= more.state_changed;
}

fn door_id(index: usize) -> DoorId {
    DoorId::try_from(index + 1).unwrap_or(DoorId::MAX)
}

fn no_such_door(door: DoorId) -> Handled {
    Handled {
        indexes: Vec::new(),
        decision: None,
        summary: format!("there is no door {door}"),
    }
}

#[cfg(test)]
mod tests;
