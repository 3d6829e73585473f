//! The access-control tables of `DATA UPDATE` / `DATA DELETE` as typed rows, the door and device
//! parameter names, and the `user` and `transaction` records the device uploads [note §5.1–§5.3,
//! §3.4; seed 003 §9.1.1, §9.1.2, §7.5, §9.1.4].
//!
//! The command parser has already split the line; [`parse_update`] reads one record's [`Fields`]
//! for a table, [`parse_delete`] one condition list. Both return what to store or an error whose
//! [`TableError::return_code`] the executor answers. An update replaces the row under its key
//! (note §5.2, AMB-46) except `user`, whose fields left out keep their value ([`UserPatch`]).
//! Fields a table does not use (`DevID`: one controller, AccSupportFunList[26]=0) are ignored.

use std::fmt;

use crate::access::model::{
    Authorization, Card, DeviceRules, Direction, DoorId, DoorSettings, FirstCard, FirstCardMode,
    Holiday, MAX_DOORS, MultiCardGroup, Period, SensorType, SuperUser, TimeZone,
};
use crate::hal::wiegand::{FormatError, Reversal, WiegandFormat};
use crate::protocol::civil::LocalDateTime;
use crate::protocol::fields::{Fields, FieldsError};
use crate::protocol::record::parse_card;
use crate::protocol::security::rtlog::{InOutStatus, RtLog};
use crate::protocol::user::{MAX_NAME_LEN, MAX_PASSWORD_LEN, User, validate_pin};

/// Why a record was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// Not a table of note §5.2, or one the operation does not take (`DATA UPDATE transaction`).
    #[error("unknown table {0:?}")]
    UnknownTable(String),
    /// A field is missing, or its value is malformed or out of range.
    #[error("{field}: {reason}")]
    BadField { field: String, reason: String },
    /// A `DATA DELETE` condition on a field the table is not deleted by.
    #[error("table {table} cannot be deleted by {field}")]
    UnsupportedCondition { table: String, field: String },
}

impl TableError {
    /// The `Return=` code [note §9.1, App 1]: -629 wrong table name, -11 wrong data parameter,
    /// -621 table does not support field. (-620, server data format wrong, is the command
    /// parser's answer to a record it cannot split.)
    pub fn return_code(&self) -> i32 {
        match self {
            TableError::UnknownTable(_) => -629,
            TableError::BadField { .. } => -11,
            TableError::UnsupportedCondition { .. } => -621,
        }
    }
}

fn bad(field: &str, reason: impl Into<String>) -> TableError {
    TableError::BadField {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// A password from the server (user, emergency, duress). `Debug` shows `<redacted>`, so a logged
/// update never carries it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One `DATA UPDATE` record, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableUpdate {
    /// `user`: merge into the stored user with [`UserPatch::apply`].
    User(UserPatch),
    /// `userauthorize`, keyed by (pin, time zone) [AMB-46].
    Authorization(Authorization),
    /// `timezone`, keyed by id.
    TimeZone(TimeZone),
    /// `holiday`, keyed by date.
    Holiday(Holiday),
    /// `firstcard`, keyed by (door, time zone, pin).
    FirstCard(FirstCard),
    /// `multimcard`, keyed by index.
    MultiCardGroup(MultiCardGroup),
    /// `SuperAuthorize`, keyed by (pin, door).
    SuperUser(SuperUser),
    /// `mulcarduser`, keyed by (pin, number).
    Card(Card),
    /// `DoorProperty` (its `Disable`) or one `DoorParameters` row: apply to that door's settings.
    Door { door: DoorId, param: DoorParam },
    /// `DevParameters` `AntiPassback` / `InterLock`: apply to the device rules.
    Device(DeviceParam),
    /// `ReaderProperty`, either form [AMB-16], keyed by reader id.
    Reader(ReaderRow),
    /// `WGFormat` or `DefaultWGFormat`, keyed by (list, id).
    WiegandFormat(WiegandFormatRow),
    /// `ReaderWGFormat`, keyed by (reader id, `DevID`).
    ReaderFormat(ReaderFormatRow),
    /// A table of note §5.2 this agent keeps nothing for, or a `DoorParameters` /
    /// `DevParameters` name it does not act on (App 10/12 names it does not model, and unknown
    /// names): answered 0. `what` names it for the log.
    Ignored { what: String },
}

/// A `user` update [seed 003 §9.1.1 User Information]: `None` fields were left out of the record
/// and keep their stored value ("add or update").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPatch {
    pub pin: String,
    /// `CardNo`: `Some(None)` clears the card.
    pub card: Option<Option<u64>>,
    pub password: Option<Password>,
    /// `Group`: an empty value is the default group 1 [AMB-50].
    pub group: Option<u32>,
    /// `StartTime`: `Some(None)` is "no limit" (`0`).
    pub valid_from: Option<Option<LocalDateTime>>,
    /// `EndTime`: `Some(None)` is "no limit"; a `YYYYMMDD` end is that day's 23:59:59.
    pub valid_until: Option<Option<LocalDateTime>>,
    pub name: Option<String>,
    pub privilege: Option<u8>,
    /// `Disable=1`: blocklisted.
    pub disabled: Option<bool>,
}

impl UserPatch {
    /// The user after this update: `existing` (the stored user with this PIN) or a new one, with
    /// every field the record carried replaced.
    pub fn apply(self, existing: Option<User>) -> User {
        let mut user = existing.unwrap_or_else(|| User::new(&self.pin));
        if let Some(card) = self.card {
            user.card = card;
        }
        if let Some(password) = self.password {
            user.password = password.0;
        }
        if let Some(group) = self.group {
            user.group = group;
        }
        if let Some(from) = self.valid_from {
            user.valid_from = from;
        }
        if let Some(until) = self.valid_until {
            user.valid_until = until;
        }
        if let Some(name) = self.name {
            user.name = name;
        }
        if let Some(privilege) = self.privilege {
            user.privilege = privilege;
        }
        if let Some(disabled) = self.disabled {
            user.disabled = disabled;
        }
        user
    }
}

/// `ReaderProperty` in either form [AMB-16; note §5.2 items 18, 20]: the door a reader serves and
/// the side it is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderRow {
    /// `ReaderID` (new form) or `ID` (legacy form).
    pub reader: u32,
    pub door: DoorId,
    /// `InOut`: 0 in, 1 out; in when left out.
    pub direction: Direction,
    /// `Disable=1`: the reader is not used.
    pub disabled: bool,
}

/// Which of the two format tables a [`WiegandFormatRow`] is in [seed 003 §9.1.1].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatList {
    /// `DefaultWGFormat`: the formats a reader without a `ReaderWGFormat` row matches against.
    Default,
    /// `WGFormat`: formats a `ReaderWGFormat` row names; with `IsDefault=1` (V2.0) they are
    /// matched against too.
    Custom,
}

/// A `WGFormat` / `DefaultWGFormat` row [seed 003 §9.1.1]. Its `CardFormat` (and V2.0
/// `ExtParityFormat`) were checked when it was read: [`WiegandFormatRow::format`] builds them.
/// `SiteCode`, `ExtSiteCode` and `FormatName` describe the format for the server's operators and
/// are not used to read cards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WiegandFormatRow {
    pub list: FormatList,
    pub id: u32,
    /// The format's length (`CardBit`, which must match the `CardFormat`).
    pub card_bit: u32,
    pub card_format: String,
    /// `;`-separated extra parity masks; empty when the row has none.
    pub ext_parity_format: String,
    /// `IsDefault=1`: takes part in automatic matching (V2.0; a `DefaultWGFormat` row always
    /// does).
    pub auto_match: bool,
}

impl WiegandFormatRow {
    pub fn format(&self) -> Result<WiegandFormat, FormatError> {
        WiegandFormat::from_card_format(&self.card_format)?.with_ext_parity(&self.ext_parity_format)
    }
}

/// A `ReaderWGFormat` row [seed 003 §9.1.1]: the one format a reader's frames are read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderFormatRow {
    pub reader: u32,
    pub dev_id: u32,
    /// `WGFormatID`: a `WGFormat` row (or, failing that, a `DefaultWGFormat` row).
    pub format_id: u32,
    /// `ParityVerifyDisable=0`.
    pub verify_parity: bool,
    pub reversal: Reversal,
}

/// What the reader tables hold: each reader's door and side as the server numbers it, the Wiegand
/// formats, and the format each reader uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReaderTables {
    pub readers: Vec<ReaderRow>,
    /// In list order (`DefaultWGFormat` first), then by id.
    pub formats: Vec<WiegandFormatRow>,
    pub reader_formats: Vec<ReaderFormatRow>,
}

/// The tables this module types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    User,
    UserAuthorize,
    TimeZone,
    Holiday,
    FirstCard,
    MultiCard,
    SuperAuthorize,
    MulCardUser,
    DoorProperty,
    DoorParameters,
    DevParameters,
    ReaderProperty,
    DefaultWgFormat,
    WgFormat,
    ReaderWgFormat,
    /// Access records: `DATA DELETE transaction *` only.
    Transaction,
}

const TABLES: [(&str, Table); 16] = [
    ("user", Table::User),
    ("userauthorize", Table::UserAuthorize),
    ("timezone", Table::TimeZone),
    ("holiday", Table::Holiday),
    ("firstcard", Table::FirstCard),
    ("multimcard", Table::MultiCard),
    ("SuperAuthorize", Table::SuperAuthorize),
    ("mulcarduser", Table::MulCardUser),
    ("DoorProperty", Table::DoorProperty),
    ("DoorParameters", Table::DoorParameters),
    ("DevParameters", Table::DevParameters),
    ("ReaderProperty", Table::ReaderProperty),
    ("DefaultWGFormat", Table::DefaultWgFormat),
    ("WGFormat", Table::WgFormat),
    ("ReaderWGFormat", Table::ReaderWgFormat),
    ("transaction", Table::Transaction),
];

/// Tables of note §5.2 this agent accepts and keeps nothing for (no fingerprint, face or ID-card
/// reader, linkage, expansion boards, intercom or elevator).
const IGNORED_TABLES: [&str; 30] = [
    "extuser",
    "identitycard",
    "templatev10",
    "inoutfun",
    "outrelaysetting",
    "DSTSetting",
    "DevProperty",
    "ReaderParameters",
    "ReaderParameter",
    "AuxIn",
    "AuxOut",
    "InputIOSetting",
    "DiffTimezoneVS",
    "DoorVSTimezone",
    "PersonalVSTimezone",
    "biophoto",
    "userpic",
    "biodata",
    "usereleauthorize",
    "ExtBoardID",
    "gatepassrule",
    "ntpserverlist",
    "contact_info",
    "contact_number_list",
    "contact_number_pattern_list",
    "cambindinfo",
    "TriggerList",
    "AntiPassBack",
    "InterLock",
    "DeviceAuthorize",
];

enum Lookup {
    Typed(Table),
    Ignored,
}

fn lookup(name: &str) -> Result<Lookup, TableError> {
    if let Some((_, table)) = TABLES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
        return Ok(Lookup::Typed(*table));
    }
    if IGNORED_TABLES.iter().any(|n| n.eq_ignore_ascii_case(name)) {
        return Ok(Lookup::Ignored);
    }
    Err(TableError::UnknownTable(name.to_owned()))
}

/// Reads one `DATA UPDATE <table>` record [seed 003 §9.1.1].
pub fn parse_update(table: &str, record: &Fields) -> Result<TableUpdate, TableError> {
    let kind = match lookup(table)? {
        Lookup::Typed(kind) => kind,
        Lookup::Ignored => {
            return Ok(TableUpdate::Ignored {
                what: format!("table {table}"),
            });
        }
    };
    Ok(match kind {
        Table::User => TableUpdate::User(user_patch(record)?),
        Table::UserAuthorize => TableUpdate::Authorization(Authorization {
            pin: pin("Pin", required(record, "Pin")?)?,
            timezone_id: number(
                "AuthorizeTimezoneId",
                required(record, "AuthorizeTimezoneId")?,
            )?,
            doors: number("AuthorizeDoorId", required(record, "AuthorizeDoorId")?)?,
            valid_from: optional(record, "StartTime", |f, t| time_bound(f, t, Bound::Start))?
                .flatten(),
            valid_until: optional(record, "EndTime", |f, t| time_bound(f, t, Bound::End))?
                .flatten(),
        }),
        Table::TimeZone => TableUpdate::TimeZone(time_zone(record)?),
        Table::Holiday => {
            let date = date("Holiday", required(record, "Holiday")?)?;
            TableUpdate::Holiday(Holiday {
                year: date.year,
                month: date.month,
                day: date.day,
                kind: choice("HolidayType", required(record, "HolidayType")?, 1..=3)?,
                // AMB-38: 1 is yearly, any other number the exact date.
                yearly: optional(record, "Loop", number::<u32>)? == Some(1),
            })
        }
        Table::FirstCard => TableUpdate::FirstCard(FirstCard {
            door: door("DoorID", required(record, "DoorID")?)?,
            timezone_id: number("TimezoneID", required(record, "TimezoneID")?)?,
            pin: pin("Pin", required(record, "Pin")?)?,
        }),
        Table::MultiCard => {
            let mut groups = [0; 5];
            for (n, slot) in groups.iter_mut().enumerate() {
                let key = format!("Group{}", n + 1);
                // A blank group is an unused slot, 0.
                *slot = match record.get(&key).map(str::trim) {
                    None | Some("") => 0,
                    Some(text) => number(&key, text)?,
                };
            }
            TableUpdate::MultiCardGroup(MultiCardGroup {
                index: number("Index", required(record, "Index")?)?,
                door: door("DoorId", required(record, "DoorId")?)?,
                groups,
            })
        }
        Table::SuperAuthorize => TableUpdate::SuperUser(SuperUser {
            pin: pin("Pin", required(record, "Pin")?)?,
            door: door("DoorID", required(record, "DoorID")?)?,
        }),
        Table::MulCardUser => {
            // CardType (0 main, 1 sub card) is checked but not kept: every card of the user
            // opens the same doors. CardBit, SiteCode and IMIE (Wiegand V2.0) are not used.
            optional(record, "CardType", |f, t| choice(f, t, 0..=1))?;
            TableUpdate::Card(Card {
                number: hex_card("CardNo", required(record, "CardNo")?)?,
                pin: pin("Pin", required(record, "Pin")?)?,
                lost: optional(record, "LossCardFlag", flag)?.unwrap_or(false),
            })
        }
        Table::DoorProperty => TableUpdate::Door {
            door: door("ID", required(record, "ID")?)?,
            // DoorProperty: 1 is disabled [seed 003 §9.1.1 Door Property; AMB-17]. A row without
            // it describes an enabled door.
            param: DoorParam::Disabled(optional(record, "Disable", flag)?.unwrap_or(false)),
        },
        Table::DoorParameters => {
            let door = door("ID", required(record, "ID")?)?;
            let name = required(record, "Name")?;
            let value = required(record, "Value")?;
            let (named_door, suffix) = split_door_name(name)?;
            if named_door.is_some_and(|n| n != door) {
                return Err(bad(
                    "Name",
                    format!("{name} is not a parameter of door {door}"),
                ));
            }
            match door_param(name, suffix, value)? {
                ParamOutcome::Set(param) => TableUpdate::Door { door, param },
                ParamOutcome::Ignored | ParamOutcome::Unknown => TableUpdate::Ignored {
                    what: format!("DoorParameters {name}"),
                },
            }
        }
        Table::DevParameters => {
            let name = required(record, "Name")?;
            match DeviceParam::parse(name, required(record, "Value")?)? {
                ParamOutcome::Set(param) => TableUpdate::Device(param),
                ParamOutcome::Ignored | ParamOutcome::Unknown => TableUpdate::Ignored {
                    what: format!("DevParameters {name}"),
                },
            }
        }
        Table::ReaderProperty => {
            // AMB-16: the new form is keyed by ReaderID, the legacy one by ID.
            let (key, id) = match record.get("ReaderID") {
                Some(id) => ("ReaderID", id),
                None => ("ID", required(record, "ID")?),
            };
            TableUpdate::Reader(ReaderRow {
                reader: number(key, id)?,
                door: door("DoorID", required(record, "DoorID")?)?,
                direction: match optional(record, "InOut", |f, t| choice(f, t, 0..=1))? {
                    Some(1) => Direction::Out,
                    _ => Direction::In,
                },
                disabled: optional(record, "Disable", flag)?.unwrap_or(false),
            })
        }
        Table::DefaultWgFormat | Table::WgFormat => {
            TableUpdate::WiegandFormat(wiegand_format_row(kind, record)?)
        }
        Table::ReaderWgFormat => TableUpdate::ReaderFormat(ReaderFormatRow {
            reader: number("ReaderID", required(record, "ReaderID")?)?,
            dev_id: optional(record, "DevID", number)?.unwrap_or(0),
            format_id: number("WGFormatID", required(record, "WGFormatID")?)?,
            verify_parity: !optional(record, "ParityVerifyDisable", flag)?.unwrap_or(false),
            reversal: optional(record, "ReversalType", |field, text| {
                Reversal::try_from(number::<u32>(field, text)?)
                    .map_err(|e| bad(field, e.to_string()))
            })?
            .unwrap_or_default(),
        }),
        Table::Transaction => return Err(TableError::UnknownTable(table.to_owned())),
    })
}

/// A `WGFormat` / `DefaultWGFormat` record. A `CardFormat` the decoder cannot use, or one whose
/// length is not `CardBit`, is refused (-11) rather than kept to fail at every card; so is an
/// `ExtParityFormat` mask with a letter other than e, o and x.
fn wiegand_format_row(kind: Table, record: &Fields) -> Result<WiegandFormatRow, TableError> {
    let list = format_list(kind);
    let id = number("ID", required(record, "ID")?)?;
    let card_format = required(record, "CardFormat")?.trim().to_owned();
    let format = WiegandFormat::from_card_format(&card_format)
        .map_err(|e| bad("CardFormat", e.to_string()))?;
    let card_bit = format.bit_count();
    if let Some(sent) = optional(record, "CardBit", number::<u32>)?
        && sent != card_bit
    {
        return Err(bad(
            "CardBit",
            format!("{sent}, but the CardFormat has {card_bit} bits"),
        ));
    }
    // The seed's own V2.0 example pairs 35-letter masks with a 26-bit CardFormat: a mask of
    // another length is left out (the CardFormat's parity still holds), not the whole format.
    let mut masks = Vec::new();
    for mask in record.get("ExtParityFormat").unwrap_or("").split(';') {
        let mask = mask.trim();
        match format.clone().with_ext_parity(mask) {
            Ok(_) if mask.is_empty() => {}
            Ok(_) => masks.push(mask),
            Err(e @ FormatError::CoverageLength { .. }) => {
                log::warn!("Wiegand format {id}: ExtParityFormat mask left out: {e}");
            }
            Err(e) => return Err(bad("ExtParityFormat", e.to_string())),
        }
    }
    Ok(WiegandFormatRow {
        list,
        id,
        card_bit,
        card_format,
        ext_parity_format: masks.join(";"),
        auto_match: list == FormatList::Default
            || optional(record, "IsDefault", flag)?.unwrap_or(false),
    })
}

fn format_list(kind: Table) -> FormatList {
    match kind {
        Table::DefaultWgFormat => FormatList::Default,
        _ => FormatList::Custom,
    }
}

fn user_patch(record: &Fields) -> Result<UserPatch, TableError> {
    // Control characters are refused so that the user can always be uploaded again.
    let text_field = |field: &str, text: &str, max: usize| {
        if text.chars().count() > max || text.chars().any(char::is_control) {
            return Err(bad(
                field,
                format!("longer than {max} characters or not printable"),
            ));
        }
        Ok(text.to_owned())
    };
    let name = optional(record, "Name", |f, t| text_field(f, t, MAX_NAME_LEN))?;
    let password = optional(record, "Password", |f, t| {
        text_field(f, t, MAX_PASSWORD_LEN).map(Password)
    })?;
    Ok(UserPatch {
        pin: pin("Pin", required(record, "Pin")?)?,
        card: optional(record, "CardNo", |field, text| {
            parse_card(text).map_err(|e| bad(field, e.reason))
        })?,
        password,
        group: optional(record, "Group", |field, text| match text.trim() {
            "" => Ok(1),
            g => number(field, g),
        })?,
        valid_from: optional(record, "StartTime", |f, t| time_bound(f, t, Bound::Start))?,
        valid_until: optional(record, "EndTime", |f, t| time_bound(f, t, Bound::End))?,
        name,
        privilege: optional(record, "Privilege", |field, text| match text.trim() {
            "" => Ok(0),
            p => number(field, p),
        })?,
        disabled: optional(record, "Disable", |field, text| match text.trim() {
            "" => Ok(false),
            d => flag(field, d),
        })?,
    })
}

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

fn time_zone(record: &Fields) -> Result<TimeZone, TableError> {
    // Three periods per weekday (`SunTime1..3` …) and per holiday type (`Hol1Time1..3` …); a
    // period left out or empty is none.
    let periods = |prefix: &str| -> Result<[Period; 3], TableError> {
        let mut periods = [Period::NONE; 3];
        for (n, slot) in periods.iter_mut().enumerate() {
            let key = format!("{prefix}Time{}", n + 1);
            if let Some(text) = record.get(&key).filter(|t| !t.trim().is_empty()) {
                *slot = Period::from_packed(number(&key, text)?)
                    .map_err(|e| bad(&key, e.to_string()))?;
            }
        }
        Ok(periods)
    };
    let mut days = [[Period::NONE; 3]; 7];
    for (day, name) in days.iter_mut().zip(WEEKDAYS) {
        *day = periods(name)?;
    }
    let mut holidays = [[Period::NONE; 3]; 3];
    for (n, set) in holidays.iter_mut().enumerate() {
        *set = periods(&format!("Hol{}", n + 1))?;
    }
    Ok(TimeZone {
        id: number("TimezoneId", required(record, "TimezoneId")?)?,
        days,
        holidays,
        valid_from: optional(record, "StartTime", |f, t| time_bound(f, t, Bound::Start))?.flatten(),
        valid_until: optional(record, "EndTime", |f, t| time_bound(f, t, Bound::End))?.flatten(),
    })
}

/// The `<Cond>` of `DATA DELETE <table> <Cond>` [seed 003 §9.1.2].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteCondition {
    /// `*`: clear the table.
    All,
    /// `field=value` conditions, ANDed.
    Match(Fields),
}

impl DeleteCondition {
    /// `*` (or `\*`, AMB-27) clears the table; anything else is a field list.
    pub fn parse(text: &str) -> Result<DeleteCondition, FieldsError> {
        match text.trim() {
            "*" | "\\*" => Ok(DeleteCondition::All),
            cond => Fields::parse(cond).map(DeleteCondition::Match),
        }
    }
}

/// One `DATA DELETE`, typed. Every condition is optional: all `None` is `*`, the whole table; set
/// ones are ANDed. Deleting rows that do not exist succeeds [note §5.1].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableDelete {
    /// `user`. Rows of other tables (authorizations, cards) are deleted by their own commands.
    Users { pin: Option<String> },
    /// `userauthorize`.
    Authorizations {
        pin: Option<String>,
        timezone_id: Option<u32>,
    },
    /// `timezone`.
    TimeZones { id: Option<u32> },
    /// `holiday`: by date (`Holiday=YYYYMMDD`).
    Holidays { date: Option<LocalDateTime> },
    /// `firstcard`.
    FirstCards {
        door: Option<DoorId>,
        pin: Option<String>,
        timezone_id: Option<u32>,
    },
    /// `multimcard`.
    MultiCardGroups { index: Option<u32> },
    /// `SuperAuthorize`.
    SuperUsers {
        pin: Option<String>,
        door: Option<DoorId>,
    },
    /// `mulcarduser`.
    Cards {
        pin: Option<String>,
        number: Option<u64>,
    },
    /// `DoorProperty`: the door(s) are enabled again.
    DoorProperties { door: Option<DoorId> },
    /// `DoorParameters`: the door(s) go back to [`DoorSettings::default`] (keeping `disabled`,
    /// which is `DoorProperty`'s).
    DoorParameters { door: Option<DoorId> },
    /// `DevParameters *`: the device rules go back to [`DeviceRules::default`].
    DevParameters,
    /// `ReaderProperty`, either form.
    Readers { reader: Option<u32> },
    /// `WGFormat` / `DefaultWGFormat` by `ID` or `CardBit`, or all of the list.
    WiegandFormats {
        list: FormatList,
        id: Option<u32>,
        card_bit: Option<u32>,
    },
    /// `ReaderWGFormat`, also written `WGFormat ReaderID=x` / `WGFormat DevID=x` [AMB-15].
    ReaderFormats {
        reader: Option<u32>,
        dev_id: Option<u32>,
    },
    /// `transaction *`: every stored access record.
    Transactions,
    /// A table of note §5.2 this agent keeps nothing for: answered 0.
    Ignored { what: String },
}

/// Reads `DATA DELETE <table> <Cond>` [seed 003 §9.1.2]. The seed's `ReaderProperty*` (the `*`
/// glued to the table, AMB-26) is `*`. An empty condition list is refused: only `*` clears.
pub fn parse_delete(table: &str, condition: &DeleteCondition) -> Result<TableDelete, TableError> {
    let glued_star = table.strip_suffix('*').map(str::trim_end);
    let (table, conditions) = match (condition, glued_star) {
        (DeleteCondition::All, _) => (glued_star.unwrap_or(table), None),
        (DeleteCondition::Match(f), Some(name)) if f.is_empty() => (name, None),
        (DeleteCondition::Match(f), _) if f.is_empty() => {
            return Err(bad("condition", "empty; `*` clears the table"));
        }
        (DeleteCondition::Match(f), _) => (table, Some(f)),
    };
    let mut kind = match lookup(table)? {
        Lookup::Typed(kind) => kind,
        Lookup::Ignored => {
            return Ok(TableDelete::Ignored {
                what: format!("table {table}"),
            });
        }
    };
    let none = Fields::default();
    let cond = conditions.unwrap_or(&none);
    // AMB-15: the seed deletes reader formats as `WGFormat ReaderID=x` / `WGFormat DevID=x`.
    if kind == Table::WgFormat && (cond.get("ReaderID").is_some() || cond.get("DevID").is_some()) {
        kind = Table::ReaderWgFormat;
    }
    let allowed: &[&str] = match kind {
        Table::User => &["Pin"],
        Table::UserAuthorize => &["Pin", "AuthorizeTimezoneId"],
        Table::TimeZone => &["TimezoneId"],
        Table::Holiday => &["Holiday"],
        Table::FirstCard => &["DoorID", "Pin", "TimezoneID"],
        Table::MultiCard => &["Index"],
        Table::SuperAuthorize => &["Pin", "DoorID"],
        Table::MulCardUser => &["Pin", "CardNo"],
        Table::DoorProperty | Table::DoorParameters => &["ID"],
        Table::ReaderProperty => &["ReaderID", "ID"],
        Table::DefaultWgFormat | Table::WgFormat => &["ID", "CardBit"],
        Table::ReaderWgFormat => &["ReaderID", "DevID"],
        Table::DevParameters | Table::Transaction => &[],
    };
    if let Some((field, _)) = cond
        .iter()
        .find(|(key, _)| !allowed.iter().any(|a| a.eq_ignore_ascii_case(key)))
    {
        return Err(TableError::UnsupportedCondition {
            table: table.to_owned(),
            field: field.to_owned(),
        });
    }
    let pin_of = || optional(cond, "Pin", pin);
    Ok(match kind {
        Table::User => TableDelete::Users { pin: pin_of()? },
        Table::UserAuthorize => TableDelete::Authorizations {
            pin: pin_of()?,
            timezone_id: optional(cond, "AuthorizeTimezoneId", number)?,
        },
        Table::TimeZone => TableDelete::TimeZones {
            id: optional(cond, "TimezoneId", number)?,
        },
        Table::Holiday => TableDelete::Holidays {
            date: optional(cond, "Holiday", date)?,
        },
        Table::FirstCard => TableDelete::FirstCards {
            door: optional(cond, "DoorID", door)?,
            pin: pin_of()?,
            timezone_id: optional(cond, "TimezoneID", number)?,
        },
        Table::MultiCard => TableDelete::MultiCardGroups {
            index: optional(cond, "Index", number)?,
        },
        Table::SuperAuthorize => TableDelete::SuperUsers {
            pin: pin_of()?,
            door: optional(cond, "DoorID", door)?,
        },
        Table::MulCardUser => TableDelete::Cards {
            pin: pin_of()?,
            number: optional(cond, "CardNo", hex_card)?,
        },
        Table::DoorProperty => TableDelete::DoorProperties {
            door: optional(cond, "ID", door)?,
        },
        Table::DoorParameters => TableDelete::DoorParameters {
            door: optional(cond, "ID", door)?,
        },
        Table::DevParameters => TableDelete::DevParameters,
        Table::ReaderProperty => TableDelete::Readers {
            reader: match optional(cond, "ReaderID", number)? {
                Some(id) => Some(id),
                None => optional(cond, "ID", number)?,
            },
        },
        Table::DefaultWgFormat | Table::WgFormat => TableDelete::WiegandFormats {
            list: format_list(kind),
            id: optional(cond, "ID", number)?,
            card_bit: optional(cond, "CardBit", number)?,
        },
        Table::ReaderWgFormat => TableDelete::ReaderFormats {
            reader: optional(cond, "ReaderID", number)?,
            dev_id: optional(cond, "DevID", number)?,
        },
        Table::Transaction => TableDelete::Transactions,
    })
}

/// What a parameter name and value come to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamOutcome<T> {
    /// A parameter this agent acts on, with its checked value.
    Set(T),
    /// Named in App 10 / App 12 but not acted on here (`DoorAutoMatch`, `NtpFunOn`, …); its value
    /// is not checked.
    Ignored,
    /// Not a name of that appendix (`SET OPTIONS` passes over it, AMB-36).
    Unknown,
}

/// One door parameter with a checked value [App 10; note §6.5]. [`DoorParam::apply`] writes it to
/// a [`DoorSettings`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DoorParam {
    /// `Drivertime`, 0..=255 s; 255 latches open.
    DriveSecs(u8),
    /// `Detectortime`, s; 0 = no held-open alarm.
    DetectorSecs(u16),
    /// `SensorType`: 0 none, 1 normally open, 2 normally closed.
    Sensor(SensorType),
    /// `CloseAndLock`: 0 or 1.
    CloseAndLock(bool),
    /// `KeepOpenTimeZone`: a time zone id, 0 = none.
    KeepOpenTz(u32),
    /// `ValidTZ`: a time zone id, 0 = always.
    ValidTz(u32),
    /// `VerifyType`: an App 3 code (0..=29, 200).
    VerifyMode(u16),
    /// `Intertime`, s.
    InterSecs(u32),
    /// `SupperPassWord`: up to 8 digits, empty = none.
    SuperPassword(Password),
    /// `ForcePassWord`: up to 6 digits, empty = none.
    DuressPassword(Password),
    /// `FirstCardOpenDoor`: 0 off, 1 normal open, 2 activation.
    FirstCard(FirstCardMode),
    /// `MultiCardOpenDoor`: 0 or 1.
    MultiCard(bool),
    /// `MultiCardInterTime`, s.
    MultiCardInterSecs(u32),
    /// `InOutAntiPassback`: 0 none, 1 in, 2 out, 3 both.
    InOutApb(u8),
    /// `InTimeAPB`, s.
    InTimeApbSecs(u32),
    /// `MaskFlag`: 1 locks the door down.
    Locked(bool),
    /// `DoorProperty.Disable=1`, or App 10 `DoorDisable=0` ("1: Enable. 0: Disable", AMB-17).
    Disabled(bool),
}

impl DoorParam {
    pub fn apply(&self, door: &mut DoorSettings) {
        match self {
            DoorParam::DriveSecs(v) => door.drive_secs = *v,
            DoorParam::DetectorSecs(v) => door.detector_secs = *v,
            DoorParam::Sensor(v) => door.sensor = *v,
            DoorParam::CloseAndLock(v) => door.close_and_lock = *v,
            DoorParam::KeepOpenTz(v) => door.keep_open_tz = *v,
            DoorParam::ValidTz(v) => door.valid_tz = *v,
            DoorParam::VerifyMode(v) => door.verify_mode = *v,
            DoorParam::InterSecs(v) => door.inter_secs = *v,
            DoorParam::SuperPassword(v) => door.super_password = v.0.clone(),
            DoorParam::DuressPassword(v) => door.duress_password = v.0.clone(),
            DoorParam::FirstCard(v) => door.first_card = *v,
            DoorParam::MultiCard(v) => door.multi_card = *v,
            DoorParam::MultiCardInterSecs(v) => door.multi_card_inter_secs = *v,
            DoorParam::InOutApb(v) => door.in_out_apb = *v,
            DoorParam::InTimeApbSecs(v) => door.in_time_apb_secs = *v,
            DoorParam::Locked(v) => door.locked = *v,
            DoorParam::Disabled(v) => door.disabled = *v,
        }
    }
}

/// App 10 names this agent accepts and does not act on, without their `Door` prefix.
const IGNORED_DOOR_PARAMS: [&str; 14] = [
    "AutoMatch",
    "CancelKeepOpenDelay",
    "ReaderType",
    "REXInput",
    "REXTimeOut",
    "WiegandIDIn",
    "WiegandID",
    "DelayOpenTime",
    "ExtDoorDelayDrivertime",
    "REXButtonType",
    "REXButtonInputMode",
    "REXButtonSupervisedResistor",
    "SensorInputMode",
    "SensorSupervisedResistor",
];

/// The value of `GET OPTIONS Door<N><Name>` [note §6.6: what SET OPTIONS sets, GET OPTIONS
/// reads], from `doors` (door 1 first). `None` for a key that is not such a name, a door that does
/// not exist, and the two passwords, which are never sent back.
pub fn door_option_value(key: &str, doors: &[DoorSettings]) -> Option<String> {
    let (Some(door), suffix) = split_door_name(key).ok()? else {
        return None;
    };
    let d = doors.get(usize::from(door).checked_sub(1)?)?;
    door_param_spec(suffix)?.show.map(|show| show(d))
}

/// `SET OPTIONS Door<N><Name>=<Value>` [note §6.5; AMB-17]: the door and the checked parameter.
/// A key that is not `Door<N>…` with an App 10 name is [`ParamOutcome::Unknown`].
pub fn parse_door_option(
    key: &str,
    value: &str,
) -> Result<ParamOutcome<(DoorId, DoorParam)>, TableError> {
    let (Some(door), suffix) = split_door_name(key)? else {
        return Ok(ParamOutcome::Unknown);
    };
    Ok(match door_param(key, suffix, value)? {
        ParamOutcome::Set(param) => ParamOutcome::Set((door, param)),
        ParamOutcome::Ignored => ParamOutcome::Ignored,
        ParamOutcome::Unknown => ParamOutcome::Unknown,
    })
}

/// Splits `Door<N><Name>`, `Door<Name>` or `<Name>` (any case) into the door number, when one is
/// written, and the App 10 name without `Door` [AMB-17]: `Door2MaskFlag`, `DoorMaskFlag` and
/// `maskflag` all name `MaskFlag`.
fn split_door_name(name: &str) -> Result<(Option<DoorId>, &str), TableError> {
    let Some(rest) = name
        .get(..4)
        .filter(|prefix| prefix.eq_ignore_ascii_case("door"))
        .map(|_| &name[4..])
    else {
        return Ok((None, name));
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Ok((None, rest));
    }
    Ok((Some(door(name, &rest[..digits])?), &rest[digits..]))
}

/// One App 10 door parameter this agent acts on: its name without `Door`, how a value is read
/// (`field` is the name as the server wrote it, for errors), and how the stored value is shown to
/// GET OPTIONS (`None` for the passwords, which are never sent back).
struct DoorParamSpec {
    name: &'static str,
    parse: fn(&str, &str) -> Result<DoorParam, TableError>,
    show: Option<fn(&DoorSettings) -> String>,
}

/// Every door parameter [App 10], one entry each: SET OPTIONS, DoorParameters and GET OPTIONS
/// read the same list.
const DOOR_PARAMS: [DoorParamSpec; 17] = [
    DoorParamSpec {
        name: "Drivertime",
        parse: |f, v| Ok(DoorParam::DriveSecs(number(f, v)?)),
        show: Some(|d| d.drive_secs.to_string()),
    },
    DoorParamSpec {
        name: "Detectortime",
        parse: |f, v| Ok(DoorParam::DetectorSecs(number(f, v)?)),
        show: Some(|d| d.detector_secs.to_string()),
    },
    DoorParamSpec {
        name: "SensorType",
        parse: |f, v| {
            Ok(DoorParam::Sensor(match choice(f, v, 0..=2)? {
                1 => SensorType::NormallyOpen,
                2 => SensorType::NormallyClosed,
                _ => SensorType::None,
            }))
        },
        show: Some(|d| {
            match d.sensor {
                SensorType::None => "0",
                SensorType::NormallyOpen => "1",
                SensorType::NormallyClosed => "2",
            }
            .to_owned()
        }),
    },
    DoorParamSpec {
        name: "CloseAndLock",
        parse: |f, v| Ok(DoorParam::CloseAndLock(flag(f, v)?)),
        show: Some(|d| u8::from(d.close_and_lock).to_string()),
    },
    DoorParamSpec {
        name: "KeepOpenTimeZone",
        parse: |f, v| Ok(DoorParam::KeepOpenTz(number(f, v)?)),
        show: Some(|d| d.keep_open_tz.to_string()),
    },
    DoorParamSpec {
        name: "ValidTZ",
        parse: |f, v| Ok(DoorParam::ValidTz(number(f, v)?)),
        show: Some(|d| d.valid_tz.to_string()),
    },
    DoorParamSpec {
        name: "VerifyType",
        parse: |f, v| Ok(DoorParam::VerifyMode(app3_verify_mode(f, v)?)),
        show: Some(|d| d.verify_mode.to_string()),
    },
    DoorParamSpec {
        name: "Intertime",
        parse: |f, v| Ok(DoorParam::InterSecs(number(f, v)?)),
        show: Some(|d| d.inter_secs.to_string()),
    },
    DoorParamSpec {
        name: "SupperPassWord",
        parse: |f, v| Ok(DoorParam::SuperPassword(keypad_password(f, v, 8)?)),
        show: None,
    },
    DoorParamSpec {
        name: "ForcePassWord",
        parse: |f, v| Ok(DoorParam::DuressPassword(keypad_password(f, v, 6)?)),
        show: None,
    },
    DoorParamSpec {
        name: "FirstCardOpenDoor",
        parse: |f, v| {
            Ok(DoorParam::FirstCard(match choice(f, v, 0..=2)? {
                1 => FirstCardMode::NormalOpen,
                2 => FirstCardMode::Activation,
                _ => FirstCardMode::Off,
            }))
        },
        show: Some(|d| {
            match d.first_card {
                FirstCardMode::Off => "0",
                FirstCardMode::NormalOpen => "1",
                FirstCardMode::Activation => "2",
            }
            .to_owned()
        }),
    },
    DoorParamSpec {
        name: "MultiCardOpenDoor",
        parse: |f, v| Ok(DoorParam::MultiCard(flag(f, v)?)),
        show: Some(|d| u8::from(d.multi_card).to_string()),
    },
    DoorParamSpec {
        name: "MultiCardInterTime",
        parse: |f, v| Ok(DoorParam::MultiCardInterSecs(number(f, v)?)),
        show: Some(|d| d.multi_card_inter_secs.to_string()),
    },
    DoorParamSpec {
        name: "InOutAntiPassback",
        parse: |f, v| Ok(DoorParam::InOutApb(choice(f, v, 0..=3)?)),
        show: Some(|d| d.in_out_apb.to_string()),
    },
    DoorParamSpec {
        name: "InTimeAPB",
        parse: |f, v| Ok(DoorParam::InTimeApbSecs(number(f, v)?)),
        show: Some(|d| d.in_time_apb_secs.to_string()),
    },
    DoorParamSpec {
        name: "MaskFlag",
        parse: |f, v| Ok(DoorParam::Locked(flag(f, v)?)),
        show: Some(|d| u8::from(d.locked).to_string()),
    },
    // App 10 literally: 1 enables, 0 disables (AMB-17; DoorProperty.Disable is the reverse).
    DoorParamSpec {
        name: "Disable",
        parse: |f, v| Ok(DoorParam::Disabled(!flag(f, v)?)),
        show: Some(|d| u8::from(!d.disabled).to_string()),
    },
];

fn door_param_spec(suffix: &str) -> Option<&'static DoorParamSpec> {
    DOOR_PARAMS
        .iter()
        .find(|spec| spec.name.eq_ignore_ascii_case(suffix))
}

/// The parameter `suffix` (an App 10 name without `Door`) set to `value`; `field` is the name as
/// the server wrote it, for errors.
fn door_param(
    field: &str,
    suffix: &str,
    value: &str,
) -> Result<ParamOutcome<DoorParam>, TableError> {
    if let Some(spec) = door_param_spec(suffix) {
        return Ok(ParamOutcome::Set((spec.parse)(field, value)?));
    }
    if IGNORED_DOOR_PARAMS
        .iter()
        .any(|name| suffix.eq_ignore_ascii_case(name))
    {
        return Ok(ParamOutcome::Ignored);
    }
    Ok(ParamOutcome::Unknown)
}

/// A device-wide rule [App 12]: `DevParameters` `Name`/`Value` or a `SET OPTIONS` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceParam {
    /// `AntiPassback`, an App 8 code; the seed's 196 is read as 192 (AMB-32).
    AntiPassback(u16),
    /// `InterLock`, an App 9 code 0..=5.
    InterLock(u16),
}

/// App 12 names this agent accepts and does not act on (`IsSupportReaderEncrypt` is in the seed's
/// `DevParameters` example).
const IGNORED_DEVICE_PARAMS: [&str; 15] = [
    "DSTOn",
    "CurTimeMode",
    "DLSTMode",
    "IPAddress",
    "GATEIPAddress",
    "NetMask",
    "BackupTime",
    "DelRecord",
    "MachineTZ",
    "NtpFunOn",
    "fireAlarmType",
    "fireAlarmRunMode",
    "fireAlarmInputMode",
    "fireAlarmSupervisedResistor",
    "IsSupportReaderEncrypt",
];

impl DeviceParam {
    /// `name` (any case) set to `value`.
    pub fn parse(name: &str, value: &str) -> Result<ParamOutcome<DeviceParam>, TableError> {
        if name.eq_ignore_ascii_case("AntiPassback") {
            let code: u16 = number(name, value)?;
            // App 8: door rules 0..=6, reader rules 16 × a door bitmask up to 240.
            let code = if code == 196 { 192 } else { code };
            if code > 6 && (code % 16 != 0 || code > 240) {
                return Err(bad(name, format!("{code} is not an App 8 code")));
            }
            Ok(ParamOutcome::Set(DeviceParam::AntiPassback(code)))
        } else if name.eq_ignore_ascii_case("InterLock") {
            Ok(ParamOutcome::Set(DeviceParam::InterLock(
                choice(name, value, 0..=5)?.into(),
            )))
        } else if IGNORED_DEVICE_PARAMS
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
        {
            Ok(ParamOutcome::Ignored)
        } else {
            Ok(ParamOutcome::Unknown)
        }
    }

    pub fn apply(&self, rules: &mut DeviceRules) {
        match self {
            DeviceParam::AntiPassback(code) => rules.anti_passback = *code,
            DeviceParam::InterLock(code) => rules.interlock = *code,
        }
    }
}

// --- Field readers: each takes the field's name (for the error) and its text. ---

fn required<'a>(record: &'a Fields, key: &str) -> Result<&'a str, TableError> {
    record.get(key).ok_or_else(|| bad(key, "missing"))
}

/// `Some(parsed)` when the record has `key`, `None` when it was left out.
fn optional<T>(
    record: &Fields,
    key: &str,
    parse: impl Fn(&str, &str) -> Result<T, TableError>,
) -> Result<Option<T>, TableError> {
    record.get(key).map(|text| parse(key, text)).transpose()
}

/// A whole number of type `T`, digits only.
fn number<T: std::str::FromStr>(field: &str, text: &str) -> Result<T, TableError> {
    let t = text.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(field, format!("{t:?} is not a whole number")));
    }
    t.parse()
        .map_err(|_| bad(field, format!("{t} is out of range")))
}

fn choice(
    field: &str,
    text: &str,
    allowed: std::ops::RangeInclusive<u8>,
) -> Result<u8, TableError> {
    let value: u8 = number(field, text)?;
    if !allowed.contains(&value) {
        return Err(bad(
            field,
            format!("{value} is not in {}..={}", allowed.start(), allowed.end()),
        ));
    }
    Ok(value)
}

fn flag(field: &str, text: &str) -> Result<bool, TableError> {
    Ok(choice(field, text, 0..=1)? == 1)
}

fn door(field: &str, text: &str) -> Result<DoorId, TableError> {
    let n: u32 = number(field, text)?;
    match DoorId::try_from(n) {
        Ok(d) if (1..=MAX_DOORS).contains(&d) => Ok(d),
        _ => Err(bad(field, format!("door {n} is not in 1..={MAX_DOORS}"))),
    }
}

fn pin(field: &str, text: &str) -> Result<String, TableError> {
    validate_pin(text)
        .map(str::to_owned)
        .map_err(|e| bad(field, e.reason))
}

fn date(field: &str, text: &str) -> Result<LocalDateTime, TableError> {
    LocalDateTime::parse_date(text).map_err(|e| bad(field, e.reason))
}

/// `mulcarduser.CardNo`: a hex string of up to 8 bytes, most significant digit first
/// (`CC9932DD` is 0xCC9932DD) [seed 003 §9.1.1 MulCardUser; note §1.5]; the bracketed
/// little-endian form of `user.CardNo` is taken too.
fn hex_card(field: &str, text: &str) -> Result<u64, TableError> {
    let t = text.trim();
    let number = if t.starts_with('[') {
        parse_card(t).map_err(|e| bad(field, e.reason))?
    } else if (1..=16).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        u64::from_str_radix(t, 16).ok()
    } else {
        return Err(bad(field, "expected 1 to 16 hex digits"));
    };
    number
        .filter(|n| *n != 0)
        .ok_or_else(|| bad(field, "no card number"))
}

/// An App 3 verify mode [note §7.4]. The 16-digit factor form (new verification) is refused: the
/// door settings hold an App 3 code only.
fn app3_verify_mode(field: &str, text: &str) -> Result<u16, TableError> {
    let t = text.trim();
    if t.len() == 16 && t.bytes().all(|b| b == b'0' || b == b'1') {
        return Err(bad(
            field,
            "the 16-digit verification-factor form is not supported",
        ));
    }
    let code: u16 = number(field, t)?;
    if code > 29 && code != 200 {
        return Err(bad(field, format!("{code} is not an App 3 verify mode")));
    }
    Ok(code)
}

/// A keypad password of at most `max_digits` digits; empty is none.
fn keypad_password(field: &str, text: &str, max_digits: usize) -> Result<Password, TableError> {
    let t = text.trim();
    if t.len() > max_digits || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(field, format!("expected at most {max_digits} digits")));
    }
    Ok(Password(t.to_owned()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    Start,
    End,
}

/// A validity bound [note §1.4; seed 003 §9.1.1]: `0` or empty is no limit; a valid `YYYYMMDD`
/// date (`DateFmtFunOn=0`) is that day, an end taken to 23:59:59 so the whole day counts; any
/// other number is App 5 seconds (`DateFmtFunOn=1`). An 8-digit App 5 value is a time in
/// 2000–2003, which no server sends as a validity, so reading 8 digits that form a date as a date
/// is safe.
fn time_bound(field: &str, text: &str, bound: Bound) -> Result<Option<LocalDateTime>, TableError> {
    let t = text.trim();
    if t.is_empty() || t == "0" {
        return Ok(None);
    }
    if t.len() == 8
        && let Ok(day) = LocalDateTime::parse_date(t)
    {
        return Ok(Some(match bound {
            Bound::Start => day,
            Bound::End => LocalDateTime {
                hour: 23,
                minute: 59,
                second: 59,
                ..day
            },
        }));
    }
    let seconds: u64 = number(field, t)?;
    LocalDateTime::from_zk_packed(seconds)
        .map(Some)
        .ok_or_else(|| bad(field, format!("{seconds} is not an App 5 time")))
}

// --- Upload records ---

/// A record field that would break the HT/LF record syntax [note §1.3].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{table} record field {field} contains a tab, CR or LF")]
pub struct RecordSyntaxError {
    pub table: &'static str,
    /// The field's key as written on the wire.
    pub field: &'static str,
}

fn check_syntax(
    table: &'static str,
    fields: &[(&'static str, &str)],
) -> Result<(), RecordSyntaxError> {
    match fields
        .iter()
        .find(|(_, value)| value.contains(['\t', '\r', '\n']))
    {
        Some((field, _)) => Err(RecordSyntaxError { table, field }),
        None => Ok(()),
    }
}

/// How the `user` record writes `starttime`/`endtime`: the device's `DateFmtFunOn`
/// [note §3.4, §1.4].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateFmt {
    /// `DateFmtFunOn=1`: App 5 seconds.
    Seconds,
    /// `DateFmtFunOn=0`: `YYYYMMDD`.
    YearMonthDay,
}

/// The `user` record of a `tabledata` upload or a `DATA QUERY user` answer [note §3.4 item 1;
/// seed 003 §7.5]: `user uid=…⇥cardno=…⇥pin=…⇥password=…⇥group=…⇥starttime=…⇥endtime=…⇥name=…⇥
/// privilege=…⇥disable=…⇥verify=…`. `uid` is the user's row id in the store [AMB-50]. The card is
/// decimal, empty when none; an unlimited bound is `0`; `verify` is the user's App 3 mode, `0`
/// (auto) for "the group's mode" [AMB-50].
pub fn encode_user(uid: u64, user: &User, dates: DateFmt) -> Result<String, RecordSyntaxError> {
    check_syntax(
        "user",
        &[
            ("pin", &user.pin),
            ("password", &user.password),
            ("name", &user.name),
        ],
    )?;
    let bound = |t: Option<LocalDateTime>| match (t, dates) {
        (None, _) => "0".to_owned(),
        (Some(t), DateFmt::Seconds) => t.to_zk_packed().to_string(),
        (Some(t), DateFmt::YearMonthDay) => format!("{:04}{:02}{:02}", t.year, t.month, t.day),
    };
    Ok(format!(
        "user uid={uid}\tcardno={}\tpin={}\tpassword={}\tgroup={}\tstarttime={}\tendtime={}\t\
         name={}\tprivilege={}\tdisable={}\tverify={}",
        user.card.map(|c| c.to_string()).unwrap_or_default(),
        user.pin,
        user.password,
        user.group,
        bound(user.valid_from),
        bound(user.valid_until),
        user.name,
        user.privilege,
        u8::from(user.disabled),
        user.verify.max(0),
    ))
}

/// The `transaction` record of a `DATA QUERY transaction` answer [note §5.3; seed 003 §9.1.4],
/// from the stored event: `transaction cardno=…⇥pin=…⇥verified=…⇥doorid=…⇥eventtype=…⇥
/// inoutstate=…⇥time_second=<App 5>⇥index=…⇥sitecode=…⇥devid=…`. `devid` is this controller's
/// device id. `maskflag`, `temperature` and `convtemperature` are left out, as in the seed's own
/// example: this agent measures neither, and `maskflag=0` would claim "no mask". `sn=` (only in
/// the example) is left out too: the URL carries it. `inoutstate` is 0 or 1 [AMB-20].
pub fn encode_transaction(log: &RtLog, devid: u32) -> Result<String, RecordSyntaxError> {
    check_syntax("transaction", &[("cardno", &log.cardno), ("pin", &log.pin)])?;
    let inout = match log.inoutstatus {
        InOutStatus::In => 0,
        InOutStatus::Out => 1,
    };
    Ok(format!(
        "transaction cardno={}\tpin={}\tverified={}\tdoorid={}\teventtype={}\tinoutstate={inout}\t\
         time_second={}\tindex={}\tsitecode={}\tdevid={devid}",
        log.cardno,
        log.pin,
        log.verifytype,
        log.eventaddr,
        log.event,
        log.time.to_zk_packed(),
        log.index,
        log.sitecode,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::timezone::tests::period;
    use crate::protocol::security::rtlog::{VerifyType, tests::seed_example};

    fn update(table: &str, record: &str) -> Result<TableUpdate, TableError> {
        parse_update(table, &Fields::parse(record).unwrap())
    }

    fn delete(table: &str, condition: &str) -> Result<TableDelete, TableError> {
        parse_delete(table, &DeleteCondition::parse(condition).unwrap())
    }

    fn at(text: &str) -> LocalDateTime {
        LocalDateTime::parse(text).unwrap()
    }

    fn password(text: &str) -> Password {
        Password(text.to_owned())
    }

    #[test]
    fn decodes_packed_periods() {
        // [note §1.4; seed 003 §9.1.1 time rule]
        for (packed, want) in [
            (54_396_080, period("08:30", "12:00")),
            (65_539, period("00:01", "00:03")),
            (65_537_100, period("10:00", "11:00")),
            (2359, period("00:00", "23:59")),
            (0, Period::NONE),
        ] {
            assert_eq!(Period::from_packed(packed), Ok(want), "{packed}");
        }
        for (packed, reason) in [
            (2400 << 16, "hour above 23 or minute above 59"),
            ((860 << 16) + 900, "hour above 23 or minute above 59"),
            (2360, "hour above 23 or minute above 59"),
            ((1200 << 16) + 830, "ends before it starts"),
        ] {
            assert_eq!(
                Period::from_packed(packed).unwrap_err().reason,
                reason,
                "{packed}"
            );
        }
    }

    #[test]
    fn reads_the_seed_user_example_as_sent() {
        // C:295, spaces as the seed's PDF renders the tabs.
        let got = update(
            "user",
            "CardNo= Pin=1                          Password=234             Group=0 \
             StartTime=0 EndTime=0               Name=        Privilege=0",
        );
        assert_eq!(
            got,
            Ok(TableUpdate::User(UserPatch {
                pin: "1".into(),
                card: Some(None),
                password: Some(password("234")),
                group: Some(0),
                valid_from: Some(None),
                valid_until: Some(None),
                name: Some(String::new()),
                privilege: Some(0),
                disabled: None,
            }))
        );
    }

    #[test]
    fn builds_a_user_from_every_field() {
        let Ok(TableUpdate::User(patch)) = update(
            "USER",
            "CardNo=[15CD5B07]\tPin=36234\tPassword=1234\tGroup=2\tStartTime=583512660\t\
             EndTime=20261231\tName=Ann Lee\tPrivilege=14\tDisable=1\tDevID=1",
        ) else {
            panic!("not a user update");
        };
        let user = patch.apply(None);
        assert_eq!(
            user,
            User {
                card: Some(123_456_789),
                password: "1234".into(),
                group: 2,
                valid_from: Some(at("2018-02-27 14:51:00")),
                valid_until: Some(at("2026-12-31 23:59:59")),
                name: "Ann Lee".into(),
                privilege: 14,
                disabled: true,
                ..User::new("36234")
            }
        );
    }

    #[test]
    fn tells_app5_seconds_from_dates_in_validity_bounds() {
        for (text, bound, want) in [
            ("583512660", Bound::Start, Some("2018-02-27 14:51:00")),
            ("752688180", Bound::Start, Some("2023-06-01 16:03:00")),
            ("755193780", Bound::End, Some("2023-06-30 16:03:00")),
            ("20260101", Bound::Start, Some("2026-01-01 00:00:00")),
            ("20261231", Bound::End, Some("2026-12-31 23:59:59")),
            // Eight digits that are no date: App 5 seconds.
            ("20261332", Bound::Start, Some("2000-08-18 12:08:52")),
            ("0", Bound::End, None),
            ("", Bound::Start, None),
        ] {
            assert_eq!(
                time_bound("StartTime", text, bound),
                Ok(want.map(at)),
                "{text}"
            );
        }
        for text in [
            "2026-01-01",
            "12:00",
            "-5",
            "18446744073709551615",
            "99999999999999999999",
        ] {
            assert!(time_bound("EndTime", text, Bound::End).is_err(), "{text}");
        }
    }

    #[test]
    fn keeps_user_fields_the_update_leaves_out() {
        let apply = |existing: Option<User>, record: &str| match update("user", record) {
            Ok(TableUpdate::User(patch)) => patch.apply(existing),
            other => panic!("{other:?}"),
        };
        let first = apply(
            None,
            "Pin=1\tName=A\tCardNo=55\tPassword=9\tStartTime=20260101\tDisable=1",
        );
        let renamed = apply(Some(first.clone()), "Pin=1\tName=B");
        assert_eq!(
            renamed,
            User {
                name: "B".into(),
                ..first.clone()
            }
        );
        let cleared = apply(
            Some(renamed),
            "Pin=1\tCardNo=\tStartTime=0\tDisable=0\tGroup=",
        );
        assert_eq!(
            cleared,
            User {
                name: "B".into(),
                card: None,
                valid_from: None,
                disabled: false,
                group: 1,
                ..first
            }
        );
    }

    #[test]
    fn never_shows_passwords_in_debug_output() {
        let shown = format!("{:?}", update("user", "Pin=1\tPassword=4711").unwrap());
        assert!(!shown.contains("4711"), "{shown}");
        let shown = format!(
            "{:?}",
            parse_door_option("Door1ForcePassWord", "9876").unwrap()
        );
        assert!(!shown.contains("9876"), "{shown}");
    }

    /// The seed's example of every typed table, spaced as printed [seed 003 §9.1.1].
    #[test]
    fn reads_the_seed_examples_of_every_table() {
        let mut monday = [Period::NONE; 3];
        monday[0] = period("00:01", "00:03");
        monday[1] = period("10:00", "11:00");
        let mut days = [[Period::NONE; 3]; 7];
        days[1] = monday;
        let cases: Vec<(&str, &str, TableUpdate)> = vec![
            (
                "userauthorize",
                "Pin=1                    AuthorizeTimezoneId=1 AuthorizeDoorId=1         DevID=1",
                TableUpdate::Authorization(Authorization {
                    pin: "1".into(),
                    timezone_id: 1,
                    doors: 1,
                    valid_from: None,
                    valid_until: None,
                }),
            ),
            (
                "userauthorize",
                "Pin=7\tAuthorizeTimezoneId=3\tAuthorizeDoorId=15\tDevID=1\t\
                 StartTime=752688180\tEndTime=755193780",
                TableUpdate::Authorization(Authorization {
                    pin: "7".into(),
                    timezone_id: 3,
                    doors: 0b1111,
                    valid_from: Some(at("2023-06-01 16:03:00")),
                    valid_until: Some(at("2023-06-30 16:03:00")),
                }),
            ),
            (
                "timezone",
                "TimezoneId=2 SunTime1=0 SunTime2=0 SunTime3=0 MonTime1=65539           \
                 MonTime2=65537100            MonTime3=0          TueTime1=0            TueTime2=0 \
                 TueTime3=0        WedTime1=0         WedTime2=0         WedTime3=0         \
                 ThuTime1=0           ThuTime2=0 ThuTime3=0        FriTime1=0         FriTime2=0         \
                 FriTime3=0         SatTime1=0           SatTime2=0 SatTime3=0 Hol1Time1=0 \
                 Hol1Time2=0 Hol1Time3=0 Hol2Time1=0 Hol2Time2=0 Hol2Time3=0 Hol3Time1=0 \
                 Hol3Time2=0 Hol3Time3=0",
                TableUpdate::TimeZone(TimeZone {
                    id: 2,
                    days,
                    holidays: [[Period::NONE; 3]; 3],
                    valid_from: None,
                    valid_until: None,
                }),
            ),
            (
                "holiday",
                "Holiday=20100101 HolidayType=1                                 Loop=1",
                TableUpdate::Holiday(Holiday {
                    year: 2010,
                    month: 1,
                    day: 1,
                    kind: 1,
                    yearly: true,
                }),
            ),
            (
                "firstcard",
                "DoorID=1                          TimezoneID=1          Pin=1        DevID=1",
                TableUpdate::FirstCard(FirstCard {
                    door: 1,
                    timezone_id: 1,
                    pin: "1".into(),
                }),
            ),
            (
                "multimcard",
                "Index=1                         DoorId=1           Group1=1            Group2=3 \
                 Group3= Group4= Group5= DevID=1",
                TableUpdate::MultiCardGroup(MultiCardGroup {
                    index: 1,
                    door: 1,
                    groups: [1, 3, 0, 0, 0],
                }),
            ),
            (
                "SuperAuthorize",
                "Pin=1 DoorID=4                             DevID=14",
                TableUpdate::SuperUser(SuperUser {
                    pin: "1".into(),
                    door: 4,
                }),
            ),
            (
                "mulcarduser",
                "Pin=1 CardNo=CC9932DD LossCardFlag=0 CardType=0",
                TableUpdate::Card(Card {
                    number: 0xCC99_32DD,
                    pin: "1".into(),
                    lost: false,
                }),
            ),
            (
                "mulcarduser",
                "Pin=1 CardNo=CC9932DD LossCardFlag=1 CardType=1 CardBit=26 SiteCode=10010 \
                 IMIE=356591106",
                TableUpdate::Card(Card {
                    number: 0xCC99_32DD,
                    pin: "1".into(),
                    lost: true,
                }),
            ),
            (
                "DoorProperty",
                "ID=1 DevID=14                         Address=1           Disable=0",
                TableUpdate::Door {
                    door: 1,
                    param: DoorParam::Disabled(false),
                },
            ),
            (
                "DoorParameters",
                "ID=1                     Name=MaskFlag           Value=0 DevID=14",
                TableUpdate::Door {
                    door: 1,
                    param: DoorParam::Locked(false),
                },
            ),
            (
                "DevParameters",
                "ID=14                  Name=IsSupportReaderEncrypt Value=0",
                TableUpdate::Ignored {
                    what: "DevParameters IsSupportReaderEncrypt".into(),
                },
            ),
            (
                "ReaderProperty",
                "ID=1                   DoorID=1        Type=2 Address=1 IPAddress= Port=4376            \
                 MAC=        InOut=0 Disable=0          VerifyType=0 Multicast= DevID=14             \
                 OfflineRefuse=0",
                TableUpdate::Reader(ReaderRow {
                    reader: 1,
                    door: 1,
                    direction: Direction::In,
                    disabled: false,
                }),
            ),
            (
                "ReaderProperty",
                "ReaderID=1 DoorID=1                              BusType=1 InOut=0 Address=1 Disable=0",
                TableUpdate::Reader(ReaderRow {
                    reader: 1,
                    door: 1,
                    direction: Direction::In,
                    disabled: false,
                }),
            ),
            (
                "extuser",
                "Pin=1     FunSwitch=1          FirstName=             LastName= PersonalVS=0",
                TableUpdate::Ignored {
                    what: "table extuser".into(),
                },
            ),
            (
                "DevProperty",
                "ID=14 Type=0                          BusType=0            MachineType=28 \
                 Address=0           Mac=         IPAddress=192.168.223.222                 \
                 SN=DDG7050067042500078 IsMaster=0",
                TableUpdate::Ignored {
                    what: "table DevProperty".into(),
                },
            ),
        ];
        for (table, record, want) in cases {
            assert_eq!(update(table, record), Ok(want), "{table} {record}");
        }
    }

    #[test]
    fn reads_other_values_of_the_typed_tables() {
        for (table, record, want) in [
            (
                "holiday",
                "Holiday=20260501\tHolidayType=3\tLoop=2",
                TableUpdate::Holiday(Holiday {
                    year: 2026,
                    month: 5,
                    day: 1,
                    kind: 3,
                    yearly: false,
                }),
            ),
            (
                "mulcarduser",
                "Pin=2\tCardNo=DF349C3BEA5277ED",
                TableUpdate::Card(Card {
                    number: 0xDF34_9C3B_EA52_77ED,
                    pin: "2".into(),
                    lost: false,
                }),
            ),
            (
                "mulcarduser",
                "Pin=2\tCardNo=[15CD5B07]",
                TableUpdate::Card(Card {
                    number: 123_456_789,
                    pin: "2".into(),
                    lost: false,
                }),
            ),
            (
                "DoorProperty",
                "ID=3\tDisable=1",
                TableUpdate::Door {
                    door: 3,
                    param: DoorParam::Disabled(true),
                },
            ),
            (
                "DevParameters",
                "ID=1\tName=AntiPassback\tValue=196",
                TableUpdate::Device(DeviceParam::AntiPassback(192)),
            ),
            (
                "readerproperty",
                "ReaderID=4\tDoorID=2\tInOut=1\tDisable=1",
                TableUpdate::Reader(ReaderRow {
                    reader: 4,
                    door: 2,
                    direction: Direction::Out,
                    disabled: true,
                }),
            ),
        ] {
            assert_eq!(update(table, record), Ok(want), "{table} {record}");
        }
        let Ok(TableUpdate::TimeZone(tz)) = update(
            "timezone",
            "TimezoneId=9\tSatTime3=54396080\tHol2Time1=2359\tStartTime=752688180\tEndTime=20231231",
        ) else {
            panic!("not a time zone");
        };
        assert_eq!(tz.days[6][2], period("08:30", "12:00"));
        assert_eq!(tz.holidays[1][0], period("00:00", "23:59"));
        assert_eq!(tz.valid_from, Some(at("2023-06-01 16:03:00")));
        assert_eq!(tz.valid_until, Some(at("2023-12-31 23:59:59")));
    }

    #[test]
    fn refuses_bad_values_naming_the_field() {
        for (table, record, field) in [
            ("user", "Name=x", "Pin"),
            ("user", "Pin=", "Pin"),
            ("user", "Pin=1\tCardNo=12x", "CardNo"),
            ("user", "Pin=1\tGroup=-1", "Group"),
            ("user", "Pin=1\tPrivilege=256", "Privilege"),
            ("user", "Pin=1\tDisable=2", "Disable"),
            ("user", "Pin=1\tStartTime=2026-01-01", "StartTime"),
            ("user", "Pin=1\tPassword=12345678901234567", "Password"),
            ("user", "Pin=1\tName=A\rB", "Name"),
            (
                "userauthorize",
                "Pin=1\tAuthorizeTimezoneId=1",
                "AuthorizeDoorId",
            ),
            (
                "userauthorize",
                "Pin=1\tAuthorizeTimezoneId=x\tAuthorizeDoorId=1",
                "AuthorizeTimezoneId",
            ),
            (
                "userauthorize",
                "Pin=1\tAuthorizeTimezoneId=1\tAuthorizeDoorId=1\tEndTime=x",
                "EndTime",
            ),
            ("timezone", "SunTime1=0", "TimezoneId"),
            ("timezone", "TimezoneId=1\tMonTime2=157286400", "MonTime2"),
            ("timezone", "TimezoneId=1\tHol3Time3=78644030", "Hol3Time3"),
            ("holiday", "Holiday=20260230\tHolidayType=1", "Holiday"),
            ("holiday", "Holiday=20260101\tHolidayType=4", "HolidayType"),
            ("holiday", "Holiday=20260101", "HolidayType"),
            ("firstcard", "DoorID=0\tTimezoneID=1\tPin=1", "DoorID"),
            ("firstcard", "DoorID=1\tPin=1", "TimezoneID"),
            ("multimcard", "Index=1\tDoorId=1\tGroup2=a", "Group2"),
            ("SuperAuthorize", "Pin=1\tDoorID=65", "DoorID"),
            ("mulcarduser", "Pin=1\tCardNo=XYZ", "CardNo"),
            ("mulcarduser", "Pin=1\tCardNo=0", "CardNo"),
            ("mulcarduser", "Pin=1\tCardNo=11223344556677889", "CardNo"),
            ("mulcarduser", "Pin=1\tCardNo=1\tCardType=2", "CardType"),
            (
                "mulcarduser",
                "Pin=1\tCardNo=1\tLossCardFlag=x",
                "LossCardFlag",
            ),
            ("DoorProperty", "ID=1\tDisable=yes", "Disable"),
            (
                "DoorParameters",
                "ID=1\tName=Drivertime\tValue=256",
                "Drivertime",
            ),
            (
                "DoorParameters",
                "ID=2\tName=Door1Drivertime\tValue=5",
                "Name",
            ),
            ("DoorParameters", "ID=1\tName=Drivertime", "Value"),
            ("DevParameters", "Name=InterLock\tValue=6", "InterLock"),
            ("ReaderProperty", "DoorID=1", "ID"),
            ("ReaderProperty", "ReaderID=1\tDoorID=1\tInOut=2", "InOut"),
        ] {
            let err = update(table, record).unwrap_err();
            assert!(
                matches!(&err, TableError::BadField { field: f, .. } if f == field),
                "{table} {record}: {err:?}"
            );
            assert_eq!(err.return_code(), -11);
        }
    }

    #[test]
    fn refuses_unknown_tables_with_629() {
        for table in ["nosuchtable", "transaction", "Door", ""] {
            let err = update(table, "Pin=1").unwrap_err();
            assert_eq!(err, TableError::UnknownTable(table.into()));
            assert_eq!(err.return_code(), -629);
        }
        assert_eq!(delete("nosuchtable", "*").unwrap_err().return_code(), -629);
    }

    #[test]
    fn reads_the_seed_delete_examples() {
        // [seed 003 §9.1.2], including its `ReaderProperty*` (AMB-26).
        for (table, condition, want) in [
            (
                "userauthorize",
                "Pin=1",
                TableDelete::Authorizations {
                    pin: Some("1".into()),
                    timezone_id: None,
                },
            ),
            (
                "templatev10",
                "Pin=1",
                TableDelete::Ignored {
                    what: "table templatev10".into(),
                },
            ),
            (
                "user",
                "Pin=1",
                TableDelete::Users {
                    pin: Some("1".into()),
                },
            ),
            (
                "mulcarduser",
                "Pin=1",
                TableDelete::Cards {
                    pin: Some("1".into()),
                    number: None,
                },
            ),
            ("transaction", "*", TableDelete::Transactions),
            ("holiday", "*", TableDelete::Holidays { date: None }),
            (
                "timezone",
                "TimezoneId=1",
                TableDelete::TimeZones { id: Some(1) },
            ),
            (
                "firstcard",
                "DoorID=1",
                TableDelete::FirstCards {
                    door: Some(1),
                    pin: None,
                    timezone_id: None,
                },
            ),
            (
                "firstcard",
                "Pin=1",
                TableDelete::FirstCards {
                    door: None,
                    pin: Some("1".into()),
                    timezone_id: None,
                },
            ),
            (
                "multimcard",
                "Index=1",
                TableDelete::MultiCardGroups { index: Some(1) },
            ),
            (
                "DSTSetting",
                "*",
                TableDelete::Ignored {
                    what: "table DSTSetting".into(),
                },
            ),
            ("DevParameters", "*", TableDelete::DevParameters),
            (
                "DoorProperty",
                "*",
                TableDelete::DoorProperties { door: None },
            ),
            (
                "DoorParameters",
                "*",
                TableDelete::DoorParameters { door: None },
            ),
            ("ReaderProperty*", "", TableDelete::Readers { reader: None }),
            (
                "SuperAuthorize",
                "Pin=1",
                TableDelete::SuperUsers {
                    pin: Some("1".into()),
                    door: None,
                },
            ),
        ] {
            assert_eq!(delete(table, condition), Ok(want), "{table} {condition}");
        }
    }

    #[test]
    fn clears_every_typed_table_on_star() {
        for (table, want) in [
            ("user", TableDelete::Users { pin: None }),
            (
                "userauthorize",
                TableDelete::Authorizations {
                    pin: None,
                    timezone_id: None,
                },
            ),
            ("timezone", TableDelete::TimeZones { id: None }),
            ("holiday", TableDelete::Holidays { date: None }),
            (
                "firstcard",
                TableDelete::FirstCards {
                    door: None,
                    pin: None,
                    timezone_id: None,
                },
            ),
            ("multimcard", TableDelete::MultiCardGroups { index: None }),
            (
                "superauthorize",
                TableDelete::SuperUsers {
                    pin: None,
                    door: None,
                },
            ),
            (
                "MULCARDUSER",
                TableDelete::Cards {
                    pin: None,
                    number: None,
                },
            ),
            ("DoorProperty", TableDelete::DoorProperties { door: None }),
            ("DoorParameters", TableDelete::DoorParameters { door: None }),
            ("DevParameters", TableDelete::DevParameters),
            ("ReaderProperty", TableDelete::Readers { reader: None }),
            ("transaction", TableDelete::Transactions),
        ] {
            assert_eq!(
                parse_delete(table, &DeleteCondition::All),
                Ok(want.clone()),
                "{table}"
            );
            assert_eq!(delete(table, "\\*"), Ok(want), "{table} \\*");
        }
    }

    #[test]
    fn ands_delete_conditions() {
        for (table, condition, want) in [
            (
                "userauthorize",
                "Pin=5\tAuthorizeTimezoneId=2",
                TableDelete::Authorizations {
                    pin: Some("5".into()),
                    timezone_id: Some(2),
                },
            ),
            (
                "firstcard",
                "DoorID=2\tPin=5\tTimezoneID=3",
                TableDelete::FirstCards {
                    door: Some(2),
                    pin: Some("5".into()),
                    timezone_id: Some(3),
                },
            ),
            (
                "SuperAuthorize",
                "Pin=5\tDoorID=4",
                TableDelete::SuperUsers {
                    pin: Some("5".into()),
                    door: Some(4),
                },
            ),
            (
                "mulcarduser",
                "Pin=5\tCardNo=CC9932DD",
                TableDelete::Cards {
                    pin: Some("5".into()),
                    number: Some(0xCC99_32DD),
                },
            ),
            (
                "holiday",
                "Holiday=20100101",
                TableDelete::Holidays {
                    date: Some(at("2010-01-01 00:00:00")),
                },
            ),
            (
                "DoorProperty",
                "ID=2",
                TableDelete::DoorProperties { door: Some(2) },
            ),
            (
                "DoorParameters",
                "ID=3",
                TableDelete::DoorParameters { door: Some(3) },
            ),
            (
                "ReaderProperty",
                "ReaderID=2",
                TableDelete::Readers { reader: Some(2) },
            ),
            (
                "ReaderProperty",
                "ID=3",
                TableDelete::Readers { reader: Some(3) },
            ),
        ] {
            assert_eq!(delete(table, condition), Ok(want), "{table} {condition}");
        }
    }

    #[test]
    fn refuses_delete_conditions_the_table_does_not_take() {
        for (table, condition, code) in [
            ("user", "Name=x", -621),
            ("user", "Pin=1\tCardNo=5", -621),
            ("transaction", "Pin=1", -621),
            ("DevParameters", "Name=AntiPassback", -621),
            ("user", "", -11),
            ("user", "Pin=", -11),
            ("firstcard", "DoorID=0", -11),
            ("timezone", "TimezoneId=x", -11),
        ] {
            assert_eq!(
                delete(table, condition).unwrap_err().return_code(),
                code,
                "{table} {condition:?}"
            );
        }
    }

    #[test]
    fn reads_delete_conditions() {
        assert_eq!(DeleteCondition::parse(" * "), Ok(DeleteCondition::All));
        assert_eq!(DeleteCondition::parse("\\*"), Ok(DeleteCondition::All));
        assert_eq!(
            DeleteCondition::parse("Pin=1\tFingerID=6"),
            Ok(DeleteCondition::Match(
                Fields::parse("Pin=1\tFingerID=6").unwrap()
            ))
        );
        assert!(DeleteCondition::parse("garbage").is_err());
    }

    #[test]
    fn normalises_door_option_names() {
        use ParamOutcome::{Ignored, Set, Unknown};
        for (key, value, want) in [
            ("Door1Drivertime", "10", Set((1, DoorParam::DriveSecs(10)))),
            ("door2maskflag", "1", Set((2, DoorParam::Locked(true)))),
            (
                "DOOR3SENSORTYPE",
                "2",
                Set((3, DoorParam::Sensor(SensorType::NormallyClosed))),
            ),
            (
                "Door4Detectortime",
                "0",
                Set((4, DoorParam::DetectorSecs(0))),
            ),
            (
                "Door1CloseAndLock",
                "0",
                Set((1, DoorParam::CloseAndLock(false))),
            ),
            (
                "Door1KeepOpenTimeZone",
                "2",
                Set((1, DoorParam::KeepOpenTz(2))),
            ),
            ("Door1ValidTZ", "3", Set((1, DoorParam::ValidTz(3)))),
            (
                "Door1VerifyType",
                "200",
                Set((1, DoorParam::VerifyMode(200))),
            ),
            ("Door1Intertime", "4", Set((1, DoorParam::InterSecs(4)))),
            (
                "Door1SupperPassWord",
                "12345678",
                Set((1, DoorParam::SuperPassword(password("12345678")))),
            ),
            (
                "Door1ForcePassWord",
                "",
                Set((1, DoorParam::DuressPassword(password("")))),
            ),
            (
                "Door1FirstCardOpenDoor",
                "2",
                Set((1, DoorParam::FirstCard(FirstCardMode::Activation))),
            ),
            (
                "Door1MultiCardOpenDoor",
                "1",
                Set((1, DoorParam::MultiCard(true))),
            ),
            (
                "Door1MultiCardInterTime",
                "15",
                Set((1, DoorParam::MultiCardInterSecs(15))),
            ),
            (
                "Door1InOutAntiPassback",
                "3",
                Set((1, DoorParam::InOutApb(3))),
            ),
            (
                "Door1InTimeAPB",
                "60",
                Set((1, DoorParam::InTimeApbSecs(60))),
            ),
            // App 10 DoorDisable: 1 enables, 0 disables (AMB-17).
            ("Door64Disable", "1", Set((64, DoorParam::Disabled(false)))),
            ("Door1Disable", "0", Set((1, DoorParam::Disabled(true)))),
            ("Door1AutoMatch", "1", Ignored),
            ("Door2REXButtonType", "9", Ignored),
            ("Door1ExtDoorDelayDrivertime", "5", Ignored),
            ("Door1Foo", "1", Unknown),
            ("DoorDrivertime", "5", Unknown),
            ("IPAddress", "10.0.0.2", Unknown),
            ("AntiPassback", "1", Unknown),
        ] {
            assert_eq!(parse_door_option(key, value), Ok(want), "{key}={value}");
        }
    }

    #[test]
    fn refuses_door_values_out_of_range() {
        for (key, value) in [
            ("Door0Drivertime", "5"),
            ("Door65Drivertime", "5"),
            ("Door99999999999Drivertime", "5"),
            ("Door1Drivertime", "256"),
            ("Door1Drivertime", ""),
            ("Door1Detectortime", "65536"),
            ("Door1SensorType", "3"),
            ("Door1CloseAndLock", "2"),
            ("Door1VerifyType", "30"),
            ("Door1VerifyType", "0000000000000010"),
            ("Door1SupperPassWord", "123456789"),
            ("Door1ForcePassWord", "1234567"),
            ("Door1ForcePassWord", "12ab"),
            ("Door1FirstCardOpenDoor", "3"),
            ("Door1MultiCardOpenDoor", "-1"),
            ("Door1InOutAntiPassback", "4"),
            ("Door1MaskFlag", "on"),
            ("Door1Intertime", "4294967296"),
        ] {
            let err = parse_door_option(key, value).unwrap_err();
            assert_eq!(err.return_code(), -11, "{key}={value}");
        }
    }

    #[test]
    fn reads_door_parameter_names_with_or_without_the_door_prefix() {
        for (record, want) in [
            (
                "ID=1\tName=DoorDrivertime\tValue=7",
                Some((1, DoorParam::DriveSecs(7))),
            ),
            (
                "ID=2\tName=drivertime\tValue=7",
                Some((2, DoorParam::DriveSecs(7))),
            ),
            (
                "ID=2\tName=Door2Drivertime\tValue=7",
                Some((2, DoorParam::DriveSecs(7))),
            ),
            (
                "ID=1\tName=DoorMaskFlag\tValue=1",
                Some((1, DoorParam::Locked(true))),
            ),
            (
                "ID=1\tName=DoorDisable\tValue=0",
                Some((1, DoorParam::Disabled(true))),
            ),
            ("ID=1\tName=DoorAutoMatch\tValue=1", None),
            ("ID=1\tName=Garbage\tValue=1", None),
        ] {
            let got = update("DoorParameters", record).unwrap();
            match want {
                Some((door, param)) => {
                    assert_eq!(got, TableUpdate::Door { door, param }, "{record}")
                }
                None => assert!(
                    matches!(got, TableUpdate::Ignored { .. }),
                    "{record}: {got:?}"
                ),
            }
        }
    }

    #[test]
    fn applies_door_parameters_to_the_settings() {
        let mut door = DoorSettings::default();
        for param in [
            DoorParam::DriveSecs(255),
            DoorParam::DetectorSecs(30),
            DoorParam::Sensor(SensorType::NormallyOpen),
            DoorParam::CloseAndLock(false),
            DoorParam::KeepOpenTz(2),
            DoorParam::ValidTz(3),
            DoorParam::VerifyMode(11),
            DoorParam::InterSecs(0),
            DoorParam::SuperPassword(password("1234")),
            DoorParam::DuressPassword(password("999")),
            DoorParam::FirstCard(FirstCardMode::NormalOpen),
            DoorParam::MultiCard(true),
            DoorParam::MultiCardInterSecs(20),
            DoorParam::InOutApb(1),
            DoorParam::InTimeApbSecs(300),
            DoorParam::Locked(true),
            DoorParam::Disabled(true),
        ] {
            param.apply(&mut door);
        }
        assert_eq!(
            door,
            DoorSettings {
                drive_secs: 255,
                detector_secs: 30,
                sensor: SensorType::NormallyOpen,
                close_and_lock: false,
                keep_open_tz: 2,
                valid_tz: 3,
                verify_mode: 11,
                inter_secs: 0,
                super_password: "1234".into(),
                duress_password: "999".into(),
                first_card: FirstCardMode::NormalOpen,
                multi_card: true,
                multi_card_inter_secs: 20,
                in_out_apb: 1,
                in_time_apb_secs: 300,
                locked: true,
                disabled: true,
            }
        );
    }

    #[test]
    fn reads_device_parameters() {
        use ParamOutcome::{Ignored, Set, Unknown};
        for (name, value, want) in [
            ("AntiPassback", "0", Set(DeviceParam::AntiPassback(0))),
            ("antipassback", "6", Set(DeviceParam::AntiPassback(6))),
            ("AntiPassback", "16", Set(DeviceParam::AntiPassback(16))),
            ("AntiPassback", "240", Set(DeviceParam::AntiPassback(240))),
            // AMB-32: the seed's 196 is readers of doors 3 and 4.
            ("AntiPassback", "196", Set(DeviceParam::AntiPassback(192))),
            ("InterLock", "5", Set(DeviceParam::InterLock(5))),
            ("NtpFunOn", "1", Ignored),
            ("Door1Drivertime", "5", Unknown),
        ] {
            assert_eq!(DeviceParam::parse(name, value), Ok(want), "{name}={value}");
        }
        for (name, value) in [
            ("AntiPassback", "7"),
            ("AntiPassback", "17"),
            ("AntiPassback", "256"),
            ("InterLock", "6"),
            ("InterLock", "x"),
        ] {
            assert_eq!(
                DeviceParam::parse(name, value).unwrap_err().return_code(),
                -11,
                "{name}={value}"
            );
        }
        let mut rules = DeviceRules::default();
        DeviceParam::AntiPassback(2).apply(&mut rules);
        DeviceParam::InterLock(1).apply(&mut rules);
        assert_eq!(
            rules,
            DeviceRules {
                anti_passback: 2,
                interlock: 1
            }
        );
    }

    #[test]
    fn encodes_the_seed_user_record() {
        // [seed 003 §7.5] example, tabs where the PDF shows spaces.
        assert_eq!(
            encode_user(5, &User::new("4"), DateFmt::Seconds).unwrap(),
            "user uid=5\tcardno=\tpin=4\tpassword=\tgroup=1\tstarttime=0\tendtime=0\tname=\t\
             privilege=0\tdisable=0\tverify=0"
        );
    }

    #[test]
    fn encodes_user_validity_in_either_date_format() {
        let user = User {
            card: Some(123_456_789),
            password: "1234".into(),
            group: 2,
            valid_from: Some(at("2018-02-27 14:51:00")),
            valid_until: Some(at("2026-12-31 23:59:59")),
            name: "Ann Lee".into(),
            privilege: 14,
            disabled: true,
            verify: 4,
            ..User::new("36234")
        };
        assert_eq!(
            encode_user(17, &user, DateFmt::Seconds).unwrap(),
            "user uid=17\tcardno=123456789\tpin=36234\tpassword=1234\tgroup=2\tstarttime=583512660\t\
             endtime=867801599\tname=Ann Lee\tprivilege=14\tdisable=1\tverify=4"
        );
        assert_eq!(
            encode_user(17, &user, DateFmt::YearMonthDay).unwrap(),
            "user uid=17\tcardno=123456789\tpin=36234\tpassword=1234\tgroup=2\tstarttime=20180227\t\
             endtime=20261231\tname=Ann Lee\tprivilege=14\tdisable=1\tverify=4"
        );
    }

    #[test]
    fn refuses_user_fields_that_would_split_the_record() {
        for (user, field) in [
            (User::new("1\t2"), "pin"),
            (
                User {
                    password: "12\r".into(),
                    ..User::new("1")
                },
                "password",
            ),
            (
                User {
                    name: "Ann\nLee".into(),
                    ..User::new("1")
                },
                "name",
            ),
        ] {
            assert_eq!(
                encode_user(1, &user, DateFmt::Seconds),
                Err(RecordSyntaxError {
                    table: "user",
                    field
                })
            );
        }
    }

    #[test]
    fn encodes_transaction_records() {
        // The rtlog seed event (door 1, event 27, going out, record 21), as a stored record.
        assert_eq!(
            encode_transaction(&seed_example(), 1).unwrap(),
            "transaction cardno=0\tpin=0\tverified=0\tdoorid=1\teventtype=27\tinoutstate=1\t\
             time_second=547213772\tindex=21\tsitecode=0\tdevid=1"
        );
        // The values of the seed's transaction example [seed 003 §9.1.4] (its inoutstate=2 is
        // written 0 or 1 here, AMB-20).
        let log = RtLog {
            time: LocalDateTime::from_zk_packed(548_003_688).unwrap(),
            eventaddr: 1,
            event: 100,
            inoutstatus: InOutStatus::In,
            verifytype: VerifyType::Code(200),
            index: 92,
            ..seed_example()
        };
        assert_eq!(
            encode_transaction(&log, 1).unwrap(),
            "transaction cardno=0\tpin=0\tverified=200\tdoorid=1\teventtype=100\tinoutstate=0\t\
             time_second=548003688\tindex=92\tsitecode=0\tdevid=1"
        );
        let card = RtLog {
            pin: "36234".into(),
            cardno: "123456789".into(),
            sitecode: 17,
            eventaddr: 2,
            event: 0,
            verifytype: VerifyType::Factors(0b10),
            ..seed_example()
        };
        assert_eq!(
            encode_transaction(&card, 14).unwrap(),
            "transaction cardno=123456789\tpin=36234\tverified=0000000000000010\tdoorid=2\t\
             eventtype=0\tinoutstate=1\ttime_second=547213772\tindex=21\tsitecode=17\tdevid=14"
        );
    }

    #[test]
    fn refuses_transaction_fields_that_would_split_the_record() {
        for (log, field) in [
            (
                RtLog {
                    pin: "1\t2".into(),
                    ..seed_example()
                },
                "pin",
            ),
            (
                RtLog {
                    cardno: "9\n".into(),
                    ..seed_example()
                },
                "cardno",
            ),
        ] {
            assert_eq!(
                encode_transaction(&log, 1),
                Err(RecordSyntaxError {
                    table: "transaction",
                    field
                })
            );
        }
    }
}
