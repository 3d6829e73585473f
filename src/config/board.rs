//! The board file: the hardware the agent drives.
//!
//! `driver = "sim"` is the simulated board: no hardware, every input comes through the control
//! socket. `driver = "gpio"` drives each door's lock relay and reads its contacts and Wiegand
//! readers through the kernel's GPIO character device ([`crate::hal::gpio`]), and the
//! board's `[[aux_in]]` and `[[aux_out]]` lines; `[[rs485]]` buses name the RS485 (OSDP)
//! readers, which [`crate::hal::osdp`] polls.
//!
//! # Lines
//!
//! A GPIO line is written as its name, as the device tree's `gpio-line-names` gives it
//! (`lock = "LOCK1"`), or as a table naming it or its chip and offset, with its settings:
//!
//! ```toml
//! sensor = { name = "DOOR1", active_low = true, bias = "pull-up", debounce_ms = 30 }
//! lock = { chip = "/dev/gpiochip2", offset = 5 }
//! ```
//!
//! Every role has a logical *active* level, and `active_low = true` makes a low line active:
//! a lock relay is energised (the lock released), a door contact or exit button is made (closed
//! circuit), the tamper input is in alarm, a Wiegand D0/D1 line is inside a pulse (D0/D1 idle
//! high and pulse low, so a reader wired straight to the SoC needs `active_low = true`). `bias`
//! (`pull-up`, `pull-down`, `disabled`; unset leaves the pad as the device tree set it) is for
//! inputs; `debounce_ms` (default [`defaults::CONTACT_DEBOUNCE_MS`], 0 = off) is for contacts
//! only: Wiegand pulses last 20–100 µs, and any debounce would swallow them.
//!
//! Outputs start inactive (relay off) in the request itself, so they never glitch on.
//!
//! # Validation
//!
//! [`BoardConfig::validate`] refuses, naming the key (`door[2].lock`, `rs485[1].readers[1].door`):
//! a gpio door without a lock; a line used twice (a Wiegand line carries nothing else); lines on a
//! sim board; `bias` on an output, `debounce_ms` on anything but a contact; `sensor_type` without
//! a sensor; a side listed twice; on a gpio board a reader that neither Wiegand lines nor an RS485
//! reader serves; RS485 buses that share a port, readers that share an address or a door side,
//! or point at a door or side the board lacks; a `de` line missing with `mode = "de-gpio"`, or
//! given with `mode = "kernel"`. Whether the lines exist on the running system is checked
//! separately ([`crate::hal::gpio::resolve_lines`], `push-agent check-config`).

use super::defaults;
use super::types::{Bounded, Scbk};
use crate::access::model::{Direction, DoorId};
use serde::de::{self, IntoDeserializer, MapAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

/// The hardware description: the board, its doors and its reader buses.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BoardConfig {
    pub board: BoardSection,
    /// The doors, numbered 1..=n in order (`eventaddr`, `Door<N>…` options). An attendance
    /// terminal may have none.
    #[serde(default, rename = "door")]
    pub doors: Vec<DoorConfig>,
    /// RS485 buses with OSDP readers (driven by the RS485 reader driver).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rs485: Vec<Rs485Bus>,
    /// The auxiliary inputs, numbered 1..=n in order (`AuxInCount`; `eventaddr` of events 220
    /// and 221). Active = contact made.
    #[serde(default, rename = "aux_in", skip_serializing_if = "Vec::is_empty")]
    pub aux_inputs: Vec<AuxLine>,
    /// The auxiliary outputs, numbered 1..=n in order (`AuxOutCount`; CONTROL DEVICE
    /// `01 <n> 02 ..`). Active = energised.
    #[serde(default, rename = "aux_out", skip_serializing_if = "Vec::is_empty")]
    pub aux_outputs: Vec<AuxLine>,
}

/// An auxiliary input or output [seed 003 App 13 tables 22 and 23]: its line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuxLine {
    pub line: LineSpec,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BoardSection {
    pub name: String,
    pub driver: BoardDriver,
    /// The opkg architecture string of the package built for this board: an `arch` line of the
    /// device's opkg configuration (`arm_cortex-a7_neon-vfpv4`, `aarch64_cortex-a53`; design note
    /// §8).
    pub opkg_arch: String,
    /// The enclosure's tamper switch (active = in alarm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tamper: Option<LineSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BoardDriver {
    /// No hardware: readers and the door are driven through the control socket.
    Sim,
    /// GPIO lines through the kernel's character device (`/dev/gpiochipN`, uAPI v2).
    Gpio,
}

/// One door: its lock relay, sensor, exit button and the readers on each side.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DoorConfig {
    /// The door's readers, each written as its side (`"in"`, `"out"`: `inoutstatus` of its
    /// events) or as a table with the side and its wiring.
    #[serde(default = "both_sides", deserialize_with = "reader_entries")]
    pub readers: Vec<ReaderConfig>,
    /// The lock relay (active = energised = released). Required on a gpio board.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<LineSpec>,
    /// The door contact (active = contact made).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor: Option<LineSpec>,
    /// How the contact reads: `nc` (made while the door is closed) or `no` (made while it is
    /// open). Unset: the door's `SensorType` parameter from the server [App 10]; while that is 0
    /// (none) the contact is not read as a door position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor_type: Option<SensorContact>,
    /// The exit button (active = pressed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_button: Option<LineSpec>,
}

/// A door contact's wiring [App 10 `DoorSensorType` 1 and 2].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SensorContact {
    /// Normally open: the contact is made while the door is open.
    No,
    /// Normally closed: the contact is made while the door is closed.
    Nc,
}

/// One reader of a door: the side it faces and, on a gpio board, its Wiegand lines and the
/// reader's LED and buzzer inputs (driven as outputs here).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReaderConfig {
    pub side: ReaderSide,
    #[serde(default)]
    pub wiegand: Option<WiegandLines>,
    #[serde(default)]
    pub led: Option<LineSpec>,
    #[serde(default)]
    pub buzzer: Option<LineSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReaderSide {
    In,
    Out,
}

impl fmt::Display for ReaderSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReaderSide::In => "in",
            ReaderSide::Out => "out",
        })
    }
}

impl From<Direction> for ReaderSide {
    fn from(direction: Direction) -> ReaderSide {
        match direction {
            Direction::In => ReaderSide::In,
            Direction::Out => ReaderSide::Out,
        }
    }
}

impl From<ReaderSide> for Direction {
    fn from(side: ReaderSide) -> Direction {
        match side {
            ReaderSide::In => Direction::In,
            ReaderSide::Out => Direction::Out,
        }
    }
}

/// A Wiegand reader's data lines.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WiegandLines {
    pub d0: LineSpec,
    pub d1: LineSpec,
}

/// One RS485 bus of OSDP readers.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rs485Bus {
    /// The serial device, e.g. `/dev/ttyS1`.
    pub port: PathBuf,
    #[serde(default = "default_baud")]
    pub baud: Baud,
    pub mode: Rs485Mode,
    /// The transceiver's driver-enable line, with `mode = "de-gpio"` (active = driving).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub de: Option<LineSpec>,
    pub readers: Vec<Rs485Reader>,
}

/// How the transceiver's direction is switched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rs485Mode {
    /// The UART driver's RS485 mode (TIOCSRS485) switches it.
    Kernel,
    /// The agent switches the `de` GPIO line around each transmission.
    DeGpio,
}

/// An OSDP reader on a bus.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rs485Reader {
    /// OSDP address; 127 (0x7F) is the broadcast address.
    pub address: Bounded<0, 126>,
    pub door: DoorId,
    pub side: ReaderSide,
    /// Secure channel base key, 32 hex digits: the reader is then polled over the secure channel
    /// only. Without it the reader is polled in the clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scbk: Option<Scbk>,
}

/// A serial speed OSDP allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct Baud(u32);

impl Baud {
    pub const ALLOWED: [u32; 6] = [9600, 19200, 38400, 57600, 115_200, 230_400];

    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<i64> for Baud {
    type Error = String;

    fn try_from(v: i64) -> Result<Self, String> {
        match u32::try_from(v) {
            Ok(b) if Baud::ALLOWED.contains(&b) => Ok(Baud(b)),
            _ => Err(format!(
                "{v} is not an OSDP speed ({})",
                Baud::ALLOWED.map(|b| b.to_string()).join(", ")
            )),
        }
    }
}

impl From<Baud> for u32 {
    fn from(b: Baud) -> u32 {
        b.0
    }
}

fn default_baud() -> Baud {
    Baud(defaults::RS485_BAUD)
}

/// One GPIO line of the board: where it is and how it is requested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "LineTable")]
pub struct LineSpec {
    pub at: LineAt,
    pub active_low: bool,
    pub bias: Option<Bias>,
    /// Only on contacts; unset there means [`defaults::CONTACT_DEBOUNCE_MS`].
    pub debounce_ms: Option<u32>,
}

/// Where a line is: its name (found with `gpiocdev::find_named_lines`) or its chip and offset.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LineAt {
    Named(String),
    Chip { chip: PathBuf, offset: u32 },
}

impl fmt::Display for LineAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineAt::Named(name) => write!(f, "{name:?}"),
            LineAt::Chip { chip, offset } => write!(f, "{} offset {offset}", chip.display()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bias {
    PullUp,
    PullDown,
    Disabled,
}

/// The longest debounce accepted: a contact that bounces for longer is broken.
const MAX_DEBOUNCE_MS: u32 = 1000;

/// A line as written in the file, before the checks that make it a [`LineSpec`].
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct LineTable {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    chip: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    offset: Option<u32>,
    #[serde(default)]
    active_low: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bias: Option<Bias>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    debounce_ms: Option<u32>,
}

impl TryFrom<LineTable> for LineSpec {
    type Error = String;

    fn try_from(t: LineTable) -> Result<LineSpec, String> {
        let at = match (t.name, t.chip, t.offset) {
            (Some(name), None, None) if name.trim().is_empty() => {
                return Err("a line name cannot be empty".into());
            }
            (Some(name), None, None) => LineAt::Named(name),
            (None, Some(chip), Some(offset)) if !chip.as_os_str().is_empty() => {
                LineAt::Chip { chip, offset }
            }
            (None, None, None) => return Err("a line needs `name`, or `chip` and `offset`".into()),
            (Some(_), _, _) => {
                return Err("give a line's `name`, or its `chip` and `offset`, not both".into());
            }
            (None, _, _) => return Err("`chip` and `offset` go together".into()),
        };
        if let Some(ms) = t.debounce_ms
            && ms > MAX_DEBOUNCE_MS
        {
            return Err(format!(
                "debounce_ms = {ms} is outside 0..={MAX_DEBOUNCE_MS}"
            ));
        }
        Ok(LineSpec {
            at,
            active_low: t.active_low,
            bias: t.bias,
            debounce_ms: t.debounce_ms,
        })
    }
}

impl From<LineSpec> for LineTable {
    fn from(spec: LineSpec) -> LineTable {
        let (name, chip, offset) = match spec.at {
            LineAt::Named(name) => (Some(name), None, None),
            LineAt::Chip { chip, offset } => (None, Some(chip), Some(offset)),
        };
        LineTable {
            name,
            chip,
            offset,
            active_low: spec.active_low,
            bias: spec.bias,
            debounce_ms: spec.debounce_ms,
        }
    }
}

impl<'de> Deserialize<'de> for LineSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<LineSpec, D::Error> {
        let table = string_or_table(d, |name| {
            Ok(LineTable {
                name: Some(name.to_owned()),
                ..LineTable::default()
            })
        })?;
        LineSpec::try_from(table).map_err(de::Error::custom)
    }
}

/// A reader written as its side alone (`"in"`) or as a table.
struct ReaderEntry(ReaderConfig);

impl<'de> Deserialize<'de> for ReaderEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ReaderEntry, D::Error> {
        string_or_table(d, |side| {
            let side: Result<ReaderSide, de::value::Error> =
                ReaderSide::deserialize(side.into_deserializer());
            Ok(ReaderConfig::side_only(side.map_err(|e| e.to_string())?))
        })
        .map(ReaderEntry)
    }
}

fn reader_entries<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ReaderConfig>, D::Error> {
    let entries = Vec::<ReaderEntry>::deserialize(d)?;
    Ok(entries.into_iter().map(|e| e.0).collect())
}

/// Deserializes `T` from its table form, or from a bare string through `from_str`.
fn string_or_table<'de, D, T>(d: D, from_str: fn(&str) -> Result<T, String>) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct StringOrTable<T>(fn(&str) -> Result<T, String>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for StringOrTable<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a table")
        }

        fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
            (self.0)(s).map_err(E::custom)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(map))
        }
    }

    d.deserialize_any(StringOrTable(from_str))
}

impl ReaderConfig {
    pub fn side_only(side: ReaderSide) -> ReaderConfig {
        ReaderConfig {
            side,
            wiegand: None,
            led: None,
            buzzer: None,
        }
    }
}

/// A reader with no wiring is written back as its side alone, as the sim board writes it.
impl Serialize for ReaderConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if *self == ReaderConfig::side_only(self.side) {
            return self.side.serialize(s);
        }
        let mut table = s.serialize_struct("ReaderConfig", 4)?;
        table.serialize_field("side", &self.side)?;
        for (key, value) in [("led", &self.led), ("buzzer", &self.buzzer)] {
            match value {
                Some(line) => table.serialize_field(key, line)?,
                None => table.skip_field(key)?,
            }
        }
        match &self.wiegand {
            Some(lines) => table.serialize_field("wiegand", lines)?,
            None => table.skip_field("wiegand")?,
        }
        table.end()
    }
}

fn both_sides() -> Vec<ReaderConfig> {
    vec![
        ReaderConfig::side_only(ReaderSide::In),
        ReaderConfig::side_only(ReaderSide::Out),
    ]
}

/// A reader's place: its door and the side it faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReaderAt {
    pub door: DoorId,
    pub side: ReaderSide,
}

impl fmt::Display for ReaderAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "door {} {}", self.door, self.side)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WiegandWire {
    D0,
    D1,
}

/// What a board line does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineRole {
    Lock(DoorId),
    Sensor(DoorId),
    ExitButton(DoorId),
    Tamper,
    Wiegand(ReaderAt, WiegandWire),
    Led(ReaderAt),
    Buzzer(ReaderAt),
    /// The driver-enable line of RS485 bus `n` (1-based).
    Rs485De(usize),
    /// Auxiliary input `n` (1-based).
    AuxIn(u8),
    /// Auxiliary output `n` (1-based).
    AuxOut(u8),
}

/// How a line is requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Output,
    /// A debounced input whose level matters: sensor, exit button, tamper.
    Contact,
    /// A Wiegand data line: every edge, never debounced.
    Wiegand,
}

impl LineRole {
    pub fn kind(self) -> LineKind {
        match self {
            LineRole::Lock(_)
            | LineRole::Led(_)
            | LineRole::Buzzer(_)
            | LineRole::Rs485De(_)
            | LineRole::AuxOut(_) => LineKind::Output,
            LineRole::Sensor(_)
            | LineRole::ExitButton(_)
            | LineRole::Tamper
            | LineRole::AuxIn(_) => LineKind::Contact,
            LineRole::Wiegand(..) => LineKind::Wiegand,
        }
    }
}

/// One line of the board file with its key (`door[1].lock`) and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardLine<'a> {
    pub key: String,
    pub role: LineRole,
    pub spec: &'a LineSpec,
}

/// Why a board file is refused after it parsed: the key (`door[2].lock`) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardInvalid {
    pub key: String,
    pub reason: String,
}

impl BoardInvalid {
    fn new(key: impl Into<String>, reason: impl Into<String>) -> BoardInvalid {
        BoardInvalid {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// Door numbers are 1-based and at most [`crate::protocol::security::rtstate::MAX_DOORS`], which
/// [`BoardConfig::validate`] checks first.
fn door_id(index: usize) -> DoorId {
    DoorId::try_from(index + 1).unwrap_or(DoorId::MAX)
}

impl BoardConfig {
    /// The number of readers over all doors (`ReaderCount`).
    pub fn reader_count(&self) -> usize {
        self.doors.iter().map(|d| d.readers.len()).sum()
    }

    /// Every GPIO line the file names, in file order: the tamper input, each door's lines and
    /// readers, the RS485 driver-enable lines, then the aux inputs and outputs.
    pub fn lines(&self) -> Vec<BoardLine<'_>> {
        fn add<'a>(
            lines: &mut Vec<BoardLine<'a>>,
            key: String,
            role: LineRole,
            spec: Option<&'a LineSpec>,
        ) {
            if let Some(spec) = spec {
                lines.push(BoardLine { key, role, spec });
            }
        }
        let mut lines = Vec::new();
        let tamper = self.board.tamper.as_ref();
        add(&mut lines, "board.tamper".into(), LineRole::Tamper, tamper);
        for (i, door) in self.doors.iter().enumerate() {
            let id = door_id(i);
            let key = |field: &str| format!("door[{}].{field}", i + 1);
            add(
                &mut lines,
                key("lock"),
                LineRole::Lock(id),
                door.lock.as_ref(),
            );
            add(
                &mut lines,
                key("sensor"),
                LineRole::Sensor(id),
                door.sensor.as_ref(),
            );
            let exit = door.exit_button.as_ref();
            add(
                &mut lines,
                key("exit_button"),
                LineRole::ExitButton(id),
                exit,
            );
            for (r, reader) in door.readers.iter().enumerate() {
                let at = ReaderAt {
                    door: id,
                    side: reader.side,
                };
                let key = |field: &str| key(&format!("readers[{}].{field}", r + 1));
                if let Some(w) = &reader.wiegand {
                    let d0 = LineRole::Wiegand(at, WiegandWire::D0);
                    add(&mut lines, key("wiegand.d0"), d0, Some(&w.d0));
                    let d1 = LineRole::Wiegand(at, WiegandWire::D1);
                    add(&mut lines, key("wiegand.d1"), d1, Some(&w.d1));
                }
                add(
                    &mut lines,
                    key("led"),
                    LineRole::Led(at),
                    reader.led.as_ref(),
                );
                add(
                    &mut lines,
                    key("buzzer"),
                    LineRole::Buzzer(at),
                    reader.buzzer.as_ref(),
                );
            }
        }
        for (b, bus) in self.rs485.iter().enumerate() {
            let key = format!("rs485[{}].de", b + 1);
            add(&mut lines, key, LineRole::Rs485De(b + 1), bus.de.as_ref());
        }
        let aux = [
            (
                "aux_in",
                &self.aux_inputs,
                LineRole::AuxIn as fn(u8) -> LineRole,
            ),
            ("aux_out", &self.aux_outputs, LineRole::AuxOut),
        ];
        for (table, entries, role) in aux {
            // validate() refuses more than u8::MAX of either before it looks at lines.
            for (n, entry) in (1..=u8::MAX).zip(entries) {
                let key = format!("{table}[{n}].line");
                add(&mut lines, key, role(n), Some(&entry.line));
            }
        }
        lines
    }

    /// The checks that need the whole file (see the module doc); the first failure found.
    pub fn validate(&self) -> Result<(), BoardInvalid> {
        // rtstate reports at most 8 doors [note §3.2].
        let max = crate::protocol::security::rtstate::MAX_DOORS;
        if self.doors.len() > max {
            return Err(BoardInvalid::new(
                "door",
                format!("{} doors; a board has at most {max}", self.doors.len()),
            ));
        }
        for (table, count) in [
            ("aux_in", self.aux_inputs.len()),
            ("aux_out", self.aux_outputs.len()),
        ] {
            if count > usize::from(u8::MAX) {
                return Err(BoardInvalid::new(
                    table,
                    format!(
                        "{count} entries; CONTROL DEVICE addresses at most {}",
                        u8::MAX
                    ),
                ));
            }
        }
        self.validate_doors()?;
        self.validate_lines()?;
        self.validate_rs485()?;
        if self.board.driver == BoardDriver::Gpio {
            self.validate_reader_sources()?;
        }
        Ok(())
    }

    fn validate_doors(&self) -> Result<(), BoardInvalid> {
        for (i, door) in self.doors.iter().enumerate() {
            let key = |field: &str| format!("door[{}].{field}", i + 1);
            let mut sides = Vec::new();
            for reader in &door.readers {
                if sides.contains(&reader.side) {
                    return Err(BoardInvalid::new(
                        key("readers"),
                        format!("side `{}` has two readers", reader.side),
                    ));
                }
                sides.push(reader.side);
            }
            if door.sensor_type.is_some() && door.sensor.is_none() {
                return Err(BoardInvalid::new(
                    key("sensor_type"),
                    "sensor_type without a sensor line",
                ));
            }
            if self.board.driver == BoardDriver::Gpio && door.lock.is_none() {
                return Err(BoardInvalid::new(
                    key("lock"),
                    "missing: a gpio board drives every door's lock relay",
                ));
            }
        }
        Ok(())
    }

    fn validate_lines(&self) -> Result<(), BoardInvalid> {
        let lines = self.lines();
        if self.board.driver == BoardDriver::Sim
            && let Some(line) = lines.first()
        {
            return Err(BoardInvalid::new(
                &line.key,
                "the sim driver has no GPIO lines (driver = \"gpio\" drives them)",
            ));
        }
        let mut seen: HashMap<&LineAt, &BoardLine<'_>> = HashMap::new();
        for line in &lines {
            let kind = line.role.kind();
            if kind == LineKind::Output && line.spec.bias.is_some() {
                return Err(BoardInvalid::new(&line.key, "bias applies to inputs only"));
            }
            if line.spec.debounce_ms.is_some() {
                match kind {
                    LineKind::Contact => {}
                    LineKind::Wiegand => {
                        return Err(BoardInvalid::new(
                            &line.key,
                            "a Wiegand line is never debounced: debounce would swallow its \
                             20-100 us pulses",
                        ));
                    }
                    LineKind::Output => {
                        return Err(BoardInvalid::new(
                            &line.key,
                            "debounce_ms applies to contact inputs only (sensor, exit_button, \
                             tamper, aux_in)",
                        ));
                    }
                }
            }
            if let Some(first) = seen.insert(&line.spec.at, line) {
                let wiegand = [first, line]
                    .into_iter()
                    .any(|l| l.role.kind() == LineKind::Wiegand);
                let reason = if wiegand {
                    format!(
                        "line {} is also {}: a Wiegand line carries nothing else",
                        line.spec.at, first.key
                    )
                } else {
                    format!("line {} is also {}", line.spec.at, first.key)
                };
                return Err(BoardInvalid::new(&line.key, reason));
            }
        }
        Ok(())
    }

    fn validate_rs485(&self) -> Result<(), BoardInvalid> {
        let mut ports = HashMap::new();
        let mut served: HashMap<ReaderAt, String> = HashMap::new();
        for (b, bus) in self.rs485.iter().enumerate() {
            let key = |field: &str| format!("rs485[{}].{field}", b + 1);
            if bus.port.as_os_str().is_empty() {
                return Err(BoardInvalid::new(key("port"), "empty"));
            }
            if let Some(first) = ports.insert(&bus.port, b + 1) {
                return Err(BoardInvalid::new(
                    key("port"),
                    format!("{} is also rs485[{first}].port", bus.port.display()),
                ));
            }
            match (bus.mode, &bus.de) {
                (Rs485Mode::DeGpio, None) => {
                    return Err(BoardInvalid::new(
                        key("de"),
                        "missing: mode = \"de-gpio\" needs the driver-enable line",
                    ));
                }
                (Rs485Mode::Kernel, Some(_)) => {
                    return Err(BoardInvalid::new(
                        key("de"),
                        "mode = \"kernel\" switches the transceiver itself; remove `de` or set \
                         mode = \"de-gpio\"",
                    ));
                }
                _ => {}
            }
            if bus.readers.is_empty() {
                return Err(BoardInvalid::new(key("readers"), "a bus needs a reader"));
            }
            let mut addresses = HashMap::new();
            for (r, reader) in bus.readers.iter().enumerate() {
                let key = |field: &str| key(&format!("readers[{}].{field}", r + 1));
                if let Some(first) = addresses.insert(reader.address.get(), r + 1) {
                    return Err(BoardInvalid::new(
                        key("address"),
                        format!(
                            "address {} is also rs485[{}].readers[{first}]'s",
                            reader.address.get(),
                            b + 1
                        ),
                    ));
                }
                let Some(door) = usize::from(reader.door)
                    .checked_sub(1)
                    .and_then(|i| self.doors.get(i))
                else {
                    return Err(BoardInvalid::new(
                        key("door"),
                        format!(
                            "door {} does not exist (the board has {})",
                            reader.door,
                            self.doors.len()
                        ),
                    ));
                };
                let place = ReaderAt {
                    door: reader.door,
                    side: reader.side,
                };
                let Some(local) = door.readers.iter().find(|l| l.side == reader.side) else {
                    return Err(BoardInvalid::new(
                        key("side"),
                        format!(
                            "door[{}].readers has no `{}` reader",
                            reader.door, reader.side
                        ),
                    ));
                };
                if local.wiegand.is_some() {
                    return Err(BoardInvalid::new(
                        key("side"),
                        format!("{place} is a Wiegand reader already"),
                    ));
                }
                if let Some(first) = served.insert(place, key("side")) {
                    return Err(BoardInvalid::new(
                        key("side"),
                        format!("{place} is served by {first} already"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// On a gpio board every reader listed must have something that reads it.
    fn validate_reader_sources(&self) -> Result<(), BoardInvalid> {
        for (i, door) in self.doors.iter().enumerate() {
            for (r, reader) in door.readers.iter().enumerate() {
                let on_rs485 = self
                    .rs485
                    .iter()
                    .flat_map(|b| &b.readers)
                    .any(|osdp| usize::from(osdp.door) == i + 1 && osdp.side == reader.side);
                if reader.wiegand.is_none() && !on_rs485 {
                    return Err(BoardInvalid::new(
                        format!("door[{}].readers[{}]", i + 1, r + 1),
                        format!(
                            "the `{}` reader has no wiegand lines and no [[rs485]] reader",
                            reader.side
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
