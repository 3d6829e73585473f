//! The access-control tables as the decision reads them [note §5.2, §7.6; seed 003 §9.1.1, App 10,
//! App 12]. The server fills them with `DATA UPDATE` (parsed in `protocol::security`), the store
//! keeps them, and [`super`]'s decision reads them. Plain data: no I/O, no clock.
//!
//! Users are the shared [`crate::protocol::user::User`]: one user table for both dialects.

use crate::protocol::civil::LocalDateTime;

/// A door number, 1-based (`eventaddr`, `AuthorizeDoorId` bits, `Door<N>…` options).
pub type DoorId = u8;
/// The most doors a controller has: `AuthorizeDoorId` is a bitmask and fits a `u64`.
pub const MAX_DOORS: DoorId = 64;

/// Which side of the door a reader is on (`InOut` of a reader, `inoutstatus` of a record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    In,
    Out,
}

/// A time-of-day span `(start_hhmm << 16) + end_hhmm`, `hhmm = H*100 + M` [note §1.4]. Both ends
/// are inclusive minutes; `0` (both ends 00:00) means "no period".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Period {
    /// Minutes since midnight.
    pub start: u16,
    /// Minutes since midnight, inclusive.
    pub end: u16,
}

impl Period {
    pub const NONE: Period = Period { start: 0, end: 0 };
    pub const ALL_DAY: Period = Period {
        start: 0,
        end: 23 * 60 + 59,
    };

    /// Decodes a packed period `(start_hhmm << 16) + end_hhmm` [note §1.4; seed 003 §9.1.1 time
    /// rule]: 54396080 is 08:30–12:00, `0` is [`Period::NONE`]. The one decoder for every table
    /// that carries periods (`timezone`, `DiffTimezoneVS`, `gatepassrule`). Refuses an hour above
    /// 23, a minute above 59, and an end before the start (an overnight span is two periods).
    pub fn from_packed(value: u32) -> Result<Period, PackedPeriodError> {
        let minutes = |hhmm: u32| {
            let (hour, minute) = (hhmm / 100, hhmm % 100);
            if hour > 23 || minute > 59 {
                return Err(PackedPeriodError {
                    value,
                    reason: "hour above 23 or minute above 59",
                });
            }
            Ok((hour * 60 + minute) as u16)
        };
        let start = minutes(value >> 16)?;
        let end = minutes(value & 0xFFFF)?;
        if end < start {
            return Err(PackedPeriodError {
                value,
                reason: "ends before it starts",
            });
        }
        Ok(Period { start, end })
    }
}

/// A packed period [`Period::from_packed`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid packed period {value}: {reason}")]
pub struct PackedPeriodError {
    pub value: u32,
    pub reason: &'static str,
}

/// `timezone`: up to three periods per weekday and per holiday type, and the rule's own validity
/// (AccSupportFunList[60]) [note §5.2 item 6].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeZone {
    pub id: u32,
    /// Sunday first (`SunTime1..3` … `SatTime1..3`).
    pub days: [[Period; 3]; 7],
    /// Holiday types 1..=3 (`Hol1Time1..3` … `Hol3Time1..3`).
    pub holidays: [[Period; 3]; 3],
    pub valid_from: Option<LocalDateTime>,
    pub valid_until: Option<LocalDateTime>,
}

/// `holiday` [note §5.2 item 7, AMB-38].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holiday {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    /// 1..=3: which `Hol<n>Time` set of a time zone applies that day.
    pub kind: u8,
    /// `Loop=1`: every year on this month and day; otherwise the exact date.
    pub yearly: bool,
}

/// One card as the decision sees it: the user's `CardNo` or a `mulcarduser` row [note §5.2
/// items 1, 3].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub number: u64,
    pub pin: String,
    /// `LossCardFlag=1`: presenting it is refused with event 38.
    pub lost: bool,
}

/// `userauthorize`: the doors a user may open, in which time zone, and for how long [note §5.2
/// item 5, AMB-46]. Keyed by (pin, time zone); `doors` bit n−1 is door n.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub pin: String,
    pub timezone_id: u32,
    pub doors: u64,
    pub valid_from: Option<LocalDateTime>,
    pub valid_until: Option<LocalDateTime>,
}

/// `firstcard`: the user whose pass starts the door's normal-open period inside the time zone
/// [note §5.2 item 9].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstCard {
    pub door: DoorId,
    pub timezone_id: u32,
    pub pin: String,
}

/// `multimcard`: a door opens once one user of each listed group has passed within
/// `DoorMultiCardInterTime` [note §5.2 item 10]. Group 0 is an unused slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiCardGroup {
    pub index: u32,
    pub door: DoorId,
    pub groups: [u32; 5],
}

/// `SuperAuthorize`: a user who passes a door whatever its restrictions [note §5.2 item 30].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuperUser {
    pub pin: String,
    pub door: DoorId,
}

/// `DoorSensorType` / `SensorType` [App 10].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SensorType {
    #[default]
    None,
    NormallyOpen,
    NormallyClosed,
}

/// `DoorFirstCardOpenDoor` [App 10].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FirstCardMode {
    #[default]
    Off,
    /// 1: the first user's pass starts normal-open until the time zone ends.
    NormalOpen,
    /// 2: other users pass only after the first user has passed today.
    Activation,
}

/// One door's parameters: `DoorParameters`, `SET OPTIONS Door<N><Name>` [App 10; note §6.5].
/// Defaults are App 10's where it gives one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorSettings {
    /// `DoorDrivertime`: seconds the lock relay is driven on a pass. 255 = latched open.
    pub drive_secs: u8,
    /// `DoorDetectortime`: seconds the door may stand open before event 28; 0 = no alarm.
    pub detector_secs: u16,
    pub sensor: SensorType,
    /// `DoorCloseAndLock`: relock as soon as the door closes.
    pub close_and_lock: bool,
    /// `DoorKeepOpenTimeZone`: normal-open inside this time zone; 0 = none.
    pub keep_open_tz: u32,
    /// `DoorValidTZ`: the door accepts credentials only inside this time zone; 0 = always.
    pub valid_tz: u32,
    /// `DoorVerifyType`: App 3 verify mode; 0 = any credential.
    pub verify_mode: u16,
    /// `DoorIntertime`: least seconds between two passes of one user at this door.
    pub inter_secs: u32,
    /// `DoorSupperPassWord`: the emergency password (event 4); empty = none.
    pub super_password: String,
    /// `DoorForcePassWord`: the duress password (events 101 and pass); empty = none.
    pub duress_password: String,
    pub first_card: FirstCardMode,
    /// `DoorMultiCardOpenDoor`.
    pub multi_card: bool,
    /// `DoorMultiCardInterTime`: seconds within which a multi-card group must complete.
    pub multi_card_inter_secs: u32,
    /// `DoorInOutAntiPassback`: 0 none, 1 in, 2 out, 3 in and out.
    pub in_out_apb: u8,
    /// `DoorInTimeAPB`: seconds a timed anti-passback lasts; 0 = until the opposite pass.
    pub in_time_apb_secs: u32,
    /// `DoorMaskFlag` / CONTROL DEVICE 06: locked down; only super users pass (event 63).
    pub locked: bool,
    /// `DoorProperty.Disable`: the door ignores every credential.
    pub disabled: bool,
}

impl Default for DoorSettings {
    fn default() -> Self {
        DoorSettings {
            drive_secs: 5,
            detector_secs: 15,
            sensor: SensorType::None,
            close_and_lock: true,
            keep_open_tz: 0,
            valid_tz: 0,
            verify_mode: 0,
            inter_secs: 2,
            super_password: String::new(),
            duress_password: String::new(),
            first_card: FirstCardMode::Off,
            multi_card: false,
            multi_card_inter_secs: 10,
            in_out_apb: 0,
            in_time_apb_secs: 0,
            locked: false,
            disabled: false,
        }
    }
}

/// Device-wide rules: `AntiPassback` [App 8] and `InterLock` [App 9] codes (App 12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeviceRules {
    pub anti_passback: u16,
    pub interlock: u16,
}
