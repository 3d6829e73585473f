//! The bookkeeping of one input request (one chip), pure: kernel edge events in, with their
//! timestamps; controller inputs, Wiegand edges and frame ends out. The thread in
//! [`super`] only waits and reads.
//!
//! Contacts: the kernel debounces them (uAPI v2 `debounce_period`) and reports logical edges
//! (active-low already applied). An edge that does not change the level last seen is dropped:
//! one that happened between the request and the first read of the levels is reported again.
//! A door contact becomes [`ControllerInput::Sensor`] through its wiring ([`SensorContact`], else
//! the door's `SensorType` parameter); an exit button becomes [`ControllerInput::ExitButton`] when
//! pressed, the tamper input [`ControllerInput::Tamper`] when it goes into alarm.
//!
//! Wiegand: every edge goes to the reader's decoder as a [`WiegandEdge`]. A reader's frame ends
//! when its lines have been quiet for [`WIEGAND_FRAME_GAP`]: seen from a later edge's kernel
//! timestamp (another reader on the same chip kept the thread busy), or from a wait for events
//! that timed out.

use crate::access::model::{DoorId, SensorType};
use crate::config::board::{ReaderAt, SensorContact, WiegandWire};
use crate::controller::ControllerInput;
use crate::door::DoorPosition;
use gpiocdev::line::{EdgeEvent, EdgeKind, Offset};
use std::collections::BTreeMap;
use std::time::Duration;

/// Silence that ends a Wiegand frame: above the longest gap between two bits (SIA: 20 ms),
/// within the 25–50 ms the design note recommends (§2).
pub const WIEGAND_FRAME_GAP: Duration = Duration::from_millis(30);
/// How long an input thread waits for edges when no frame is open, before it looks at its stop
/// flag again.
pub const IDLE_WAIT: Duration = Duration::from_millis(250);

/// What an input line is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputRole {
    Sensor {
        door: DoorId,
        /// The board's wiring; `None` follows the door's `SensorType` parameter.
        contact: Option<SensorContact>,
    },
    ExitButton(DoorId),
    Tamper,
    Wiegand(ReaderAt, WiegandWire),
    /// Auxiliary input `n` (1-based): each change is an event (220/221).
    AuxIn(u8),
}

/// The start or the end of a pulse on a Wiegand line: the line going active or inactive (the
/// board's `active_low` makes a low pulse active).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PulseEdge {
    Start,
    End,
}

/// One edge on a Wiegand data line, as the decoder (`src/hal/wiegand.rs`) takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WiegandEdge {
    pub reader: ReaderAt,
    pub wire: WiegandWire,
    pub edge: PulseEdge,
    /// CLOCK_MONOTONIC nanoseconds, taken by the kernel's interrupt handler.
    pub timestamp_ns: u64,
    /// The kernel's count of this line's edges: a gap means edges were lost (its event buffer
    /// overflowed).
    pub seqno: u32,
}

/// What the input thread does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputStep {
    Controller(ControllerInput),
    Wiegand(WiegandEdge),
    /// The reader's lines were quiet for [`WIEGAND_FRAME_GAP`]: its frame is complete.
    FrameEnd(ReaderAt),
}

/// The door's position from its contact: `None` while the sensor type is none.
pub fn door_position(sensor: SensorType, contact_made: bool) -> Option<DoorPosition> {
    match (sensor, contact_made) {
        (SensorType::None, _) => None,
        (SensorType::NormallyClosed, true) | (SensorType::NormallyOpen, false) => {
            Some(DoorPosition::Closed)
        }
        (SensorType::NormallyClosed, false) | (SensorType::NormallyOpen, true) => {
            Some(DoorPosition::Open)
        }
    }
}

impl From<SensorContact> for SensorType {
    fn from(contact: SensorContact) -> SensorType {
        match contact {
            SensorContact::No => SensorType::NormallyOpen,
            SensorContact::Nc => SensorType::NormallyClosed,
        }
    }
}

/// The state of one input request.
#[derive(Debug, Clone)]
pub struct InputTracker {
    roles: BTreeMap<Offset, InputRole>,
    /// Each contact's logical level, as last reported.
    levels: BTreeMap<Offset, bool>,
    /// Readers with a frame in progress, and the kernel time of their last edge.
    frames: BTreeMap<ReaderAt, u64>,
}

impl InputTracker {
    pub fn new(roles: impl IntoIterator<Item = (Offset, InputRole)>) -> InputTracker {
        InputTracker {
            roles: roles.into_iter().collect(),
            levels: BTreeMap::new(),
            frames: BTreeMap::new(),
        }
    }

    /// The contact lines, whose levels [`InputTracker::start`] needs.
    pub fn contacts(&self) -> impl Iterator<Item = Offset> + '_ {
        self.roles
            .iter()
            .filter(|(_, role)| !matches!(role, InputRole::Wiegand(..)))
            .map(|(&offset, _)| offset)
    }

    /// The contacts' levels read after the request (edges report only changes): each door's
    /// position, and the tamper input if it is already in alarm. A button held at start does
    /// nothing: only a press is a request to exit. An aux input's level at start is no event:
    /// events 220/221 report changes.
    pub fn start(
        &mut self,
        levels: &[(Offset, bool)],
        sensor_type: &dyn Fn(DoorId) -> SensorType,
    ) -> Vec<InputStep> {
        let mut steps = Vec::new();
        for &(offset, active) in levels {
            let Some(&role) = self.roles.get(&offset) else {
                continue;
            };
            self.levels.insert(offset, active);
            let input = match role {
                InputRole::Sensor { door, contact } => {
                    sensor_input(door, contact, active, sensor_type)
                }
                InputRole::Tamper if active => Some(ControllerInput::Tamper),
                InputRole::Tamper
                | InputRole::ExitButton(_)
                | InputRole::Wiegand(..)
                | InputRole::AuxIn(_) => None,
            };
            steps.extend(input.map(InputStep::Controller));
        }
        steps
    }

    /// One edge event from the kernel.
    pub fn edge(
        &mut self,
        event: &EdgeEvent,
        sensor_type: &dyn Fn(DoorId) -> SensorType,
    ) -> Vec<InputStep> {
        let Some(&role) = self.roles.get(&event.offset) else {
            return Vec::new();
        };
        let active = event.kind == EdgeKind::Rising;
        if let InputRole::Wiegand(reader, wire) = role {
            let mut steps = self.frames_quiet_at(event.timestamp_ns);
            self.frames.insert(reader, event.timestamp_ns);
            steps.push(InputStep::Wiegand(WiegandEdge {
                reader,
                wire,
                edge: if active {
                    PulseEdge::Start
                } else {
                    PulseEdge::End
                },
                timestamp_ns: event.timestamp_ns,
                seqno: event.line_seqno,
            }));
            return steps;
        }
        if self.levels.insert(event.offset, active) == Some(active) {
            return Vec::new();
        }
        let input = match role {
            InputRole::Sensor { door, contact } => sensor_input(door, contact, active, sensor_type),
            InputRole::ExitButton(door) if active => Some(ControllerInput::ExitButton { door }),
            InputRole::Tamper if active => Some(ControllerInput::Tamper),
            InputRole::AuxIn(aux) => Some(ControllerInput::AuxInput {
                aux,
                contact_made: active,
            }),
            InputRole::ExitButton(_) | InputRole::Tamper | InputRole::Wiegand(..) => None,
        };
        input.map(InputStep::Controller).into_iter().collect()
    }

    /// The wait for events that is due: [`WIEGAND_FRAME_GAP`] while a frame is open.
    pub fn wait(&self) -> Duration {
        if self.frames.is_empty() {
            IDLE_WAIT
        } else {
            WIEGAND_FRAME_GAP
        }
    }

    /// A wait of [`InputTracker::wait`] passed without an edge: every open frame has ended.
    pub fn quiet(&mut self) -> Vec<InputStep> {
        std::mem::take(&mut self.frames)
            .into_keys()
            .map(InputStep::FrameEnd)
            .collect()
    }

    /// The frames whose last edge is at least [`WIEGAND_FRAME_GAP`] before `now_ns`.
    fn frames_quiet_at(&mut self, now_ns: u64) -> Vec<InputStep> {
        let gap = u64::try_from(WIEGAND_FRAME_GAP.as_nanos()).unwrap_or(u64::MAX);
        let ended: Vec<ReaderAt> = self
            .frames
            .iter()
            .filter(|&(_, &last)| now_ns.saturating_sub(last) >= gap)
            .map(|(&reader, _)| reader)
            .collect();
        for reader in &ended {
            self.frames.remove(reader);
        }
        ended.into_iter().map(InputStep::FrameEnd).collect()
    }
}

fn sensor_input(
    door: DoorId,
    contact: Option<SensorContact>,
    contact_made: bool,
    sensor_type: &dyn Fn(DoorId) -> SensorType,
) -> Option<ControllerInput> {
    let sensor = contact.map_or_else(|| sensor_type(door), SensorType::from);
    door_position(sensor, contact_made).map(|position| ControllerInput::Sensor { door, position })
}
