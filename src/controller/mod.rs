//! The access controller of the security dialect: credentials, door inputs and remote commands in;
//! relay levels, `rtlog` records and the `rtstate` snapshot out.
//!
//! A hardware event never waits for the network [note §7.6]: the decision
//! ([`crate::access::control::decide`]) and the relay come first, then the record is committed
//! and the uploader is woken. Everything here runs under one lock held by the board's threads
//! (the sim socket, the timer thread) and, for remote commands, by the network thread after its
//! command batch was committed, so a command never holds the store's write lock while it waits
//! for the doors.

pub mod capabilities;

use crate::access::Credential;
use crate::access::control::{
    AccessRequest, AccessState, AccessView, Decision, DoorAction, DoorStates as AccessDoorStates,
    Verdict, decide,
};
use crate::access::model::{DeviceRules, Direction, DoorId, DoorSettings, Holiday, TimeZone};
use crate::access::timezone::zone_contains;
use crate::clock::DeviceClock;
use crate::door::{Door, DoorEvent, DoorPosition, Grant, Input, Output, Remote, TAMPER_DOOR};
use crate::hal::Relays;
use crate::protocol::civil::LocalDateTime;
use crate::protocol::security::rtlog::{InOutStatus, RtLog, VerifyType};
use crate::protocol::security::rtstate::DoorState;
use crate::protocol::session::Mono;
use crate::store::{Store, StoreError, Tx};
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
}

/// What the controller did about one input, after its records were committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    /// The `index` of each record written, in order.
    pub indexes: Vec<i64>,
    /// The decision on a credential, if the input was one and the door takes credentials.
    pub decision: Option<Decision>,
    /// One line for the operator.
    pub summary: String,
}

/// A remote door command, already checked against the doors this controller has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoorCommand {
    /// For one door, or every door (`None`).
    Door {
        door: Option<DoorId>,
        remote: Remote,
    },
}

/// The `rtstate` snapshot shared with the network side: a version that moves on every change,
/// and each door's state.
#[derive(Debug, Clone, Default)]
pub struct SharedStatus {
    inner: Arc<Mutex<(u64, Vec<DoorState>)>>,
}

impl SharedStatus {
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
    relays: Box<dyn Relays>,
    access: AccessState,
    rules: DeviceRules,
    status: SharedStatus,
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
            relays,
            access: AccessState::default(),
            rules: DeviceRules::default(),
            status: SharedStatus::default(),
        };
        let (settings, rules) = c.load_settings(door_count)?;
        c.rules = rules;
        c.doors = settings
            .into_iter()
            .map(|s| DoorSlot {
                door: Door::new(s, DoorPosition::Closed, now),
                keep_open: false,
                first_card_until: None,
            })
            .collect();
        c.publish(true);
        Ok(c)
    }

    /// What the network side reads for `rtstate`.
    pub fn status(&self) -> SharedStatus {
        self.status.clone()
    }

    pub fn door_count(&self) -> usize {
        self.doors.len()
    }

    /// Records the start of the device (event 206) [note §7.2].
    pub fn started(&mut self) -> Result<i64, StoreError> {
        let now = self.clock.local_now();
        let log = event_log(now, 0, 206, None);
        self.store.write(|tx| tx.append_rtlog(&log))
    }

    /// Re-reads the door parameters and device rules after the server changed them; they apply
    /// at once, without a restart [note §6.5].
    pub fn reload(&mut self) -> Result<Handled, StoreError> {
        let (settings, rules) = self.load_settings(self.doors.len())?;
        self.rules = rules;
        let now = self.clock.now().mono;
        let mut outputs = Vec::new();
        for (i, s) in settings.into_iter().enumerate() {
            if self.doors[i].door.settings() != &s {
                let out = self.doors[i].door.set_settings(now, s);
                outputs.push((door_id(i), out));
            }
        }
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
        }
    }

    /// Applies a remote command (CONTROL DEVICE) to its doors.
    pub fn command(&mut self, command: DoorCommand) -> Result<Handled, StoreError> {
        let DoorCommand::Door { door, remote } = command;
        let now = self.clock.now().mono;
        let mut outputs = Vec::new();
        for (i, slot) in self.doors.iter_mut().enumerate() {
            if door.is_none_or(|d| d == door_id(i)) {
                outputs.push((door_id(i), slot.door.handle(now, Input::Remote(remote))));
            }
        }
        self.finish(outputs, None, format!("remote {remote:?}"))
    }

    /// Fires the doors' due timers and follows the time zones (keep-open windows, first-card
    /// periods). Call it at [`Controller::next_deadline`].
    pub fn tick(&mut self) -> Result<Handled, StoreError> {
        let mono = self.clock.now().mono;
        let local = self.clock.local_now();
        let mut outputs = Vec::new();
        let windows = self.keep_open_windows(local)?;
        for (i, slot) in self.doors.iter_mut().enumerate() {
            let mut out = slot.door.tick(mono);
            if let Some(open) = windows[i]
                && open != slot.keep_open
            {
                slot.keep_open = open;
                let input = if open {
                    Input::KeepOpenStarted
                } else {
                    Input::KeepOpenEnded
                };
                merge(&mut out, slot.door.handle(mono, input));
            }
            if slot.first_card_until.is_some_and(|until| local >= until) {
                slot.first_card_until = None;
                merge(
                    &mut out,
                    slot.door.handle(mono, Input::FirstCardPeriodEnded),
                );
            }
            outputs.push((door_id(i), out));
        }
        self.finish(outputs, None, String::new())
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
            Verdict::Grant(DoorAction::Pass | DoorAction::PassUnderDuress) => self.doors[index]
                .door
                .handle(mono, Input::Grant(Grant::Pass)),
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
            inoutstatus: match side {
                Direction::In => InOutStatus::In,
                Direction::Out => InOutStatus::Out,
            },
            verifytype: VerifyType::Code(decision.verify_type),
            index: 0,
        };
        let mut handled = self.finish(vec![(door, out)], Some(credential_log), summary)?;
        handled.decision = Some(decision);
        Ok(handled)
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

    /// Drives the relays the outputs changed, then commits one record per event (the
    /// credential's first) and publishes the new state.
    fn finish(
        &mut self,
        outputs: Vec<(DoorId, Output)>,
        credential_log: Option<RtLog>,
        summary: String,
    ) -> Result<Handled, StoreError> {
        let mono = self.clock.now().mono;
        for (door, out) in &outputs {
            if let Some(level) = out.relay_energised {
                self.relays.set_lock(*door, level, mono);
            }
        }
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
        let indexes = if logs.is_empty() {
            Vec::new()
        } else {
            self.store.write(|tx| {
                logs.iter()
                    .map(|log| tx.append_rtlog(log))
                    .collect::<Result<Vec<_>, _>>()
            })?
        };
        Ok(Handled {
            indexes,
            decision: None,
            summary,
        })
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

    /// Each door's keep-open window now: `None` for a door without a keep-open time zone.
    fn keep_open_windows(&mut self, now: LocalDateTime) -> Result<Vec<Option<bool>>, StoreError> {
        let ids: Vec<u32> = self
            .doors
            .iter()
            .map(|s| s.door.settings().keep_open_tz)
            .collect();
        if ids.iter().all(|id| *id == 0) {
            return Ok(vec![None; ids.len()]);
        }
        self.store.read(|tx| {
            let holidays = tx.holidays()?;
            ids.iter()
                .map(|&id| {
                    if id == 0 {
                        return Ok(None);
                    }
                    let zones: Vec<TimeZone> = tx.timezone(id)?.into_iter().collect();
                    Ok(Some(zone_contains(&zones, id, now, &holidays)))
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
        verifytype: from.map_or(VerifyType::Code(crate::door::VERIFY_OTHER), |e| {
            e.verify_type()
        }),
        index: 0,
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
