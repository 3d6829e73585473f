//! The security dialect's access tables [note §5.2]: what `DATA UPDATE`/`DATA DELETE` write and
//! what the access decision reads. The layout and the user-delete cascade are described with
//! migration 3 in `schema.rs`.
//!
//! Every lookup on the decision path is one primary-key or index probe: the decision for one
//! credential must stay under a millisecond with a million users.

use super::{Context, Result, Tx, opt_time, scope};
use crate::access::model::{
    Authorization, Card, DeviceRules, Direction, DoorId, DoorSettings, FirstCard, FirstCardMode,
    Holiday, MAX_DOORS, MultiCardGroup, Period, SensorType, SuperUser, TimeZone,
};
use crate::hal::wiegand::Reversal;
use crate::protocol::security::tables::{
    FormatList, ReaderFormatRow, ReaderRow, ReaderTables, WiegandFormatRow,
};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{OptionalExtension, ToSql, params};

/// The access tables, for `DATA DELETE <table> *` [note §5.1].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessTable {
    /// `userauthorize`.
    Authorizations,
    /// `timezone`.
    TimeZones,
    /// `holiday`.
    Holidays,
    /// `firstcard`.
    FirstCards,
    /// `multimcard`.
    MultiCardGroups,
    /// `SuperAuthorize`.
    SuperUsers,
    /// `mulcarduser`: the users' extra cards, and every lost flag.
    ExtraCards,
}

/// One `DATA DELETE` condition of an access table [note §5.2].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessDelete {
    /// `userauthorize Pin=x`.
    AuthorizationsOfUser(String),
    /// `timezone TimezoneId=x`.
    TimeZone(u32),
    /// `holiday Holiday=x` (year, month, day).
    Holiday(i32, u8, u8),
    /// `firstcard DoorID=x`.
    FirstCardsOfDoor(DoorId),
    /// `firstcard Pin=x`.
    FirstCardsOfUser(String),
    /// `multimcard Index=x`.
    MultiCardGroup(u32),
    /// `SuperAuthorize Pin=x`: every door of the user.
    SuperUser(String),
    /// `mulcarduser Pin=x`: the user's extra cards go, their own cards are no longer lost.
    ExtraCardsOfUser(String),
    /// `<table> *`.
    All(AccessTable),
}

/// Which of a user's cards a `cards` row is (column `role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CardRole {
    /// The user's `CardNo`.
    Main,
    /// The attendance dialect's vice card.
    Vice,
    /// A `mulcarduser` card.
    Multi,
}

impl CardRole {
    fn as_str(self) -> &'static str {
        match self {
            CardRole::Main => "main",
            CardRole::Vice => "vice",
            CardRole::Multi => "multi",
        }
    }

    fn parse(text: &str) -> Option<CardRole> {
        [CardRole::Main, CardRole::Vice, CardRole::Multi]
            .into_iter()
            .find(|role| role.as_str() == text)
    }
}

impl ToSql for CardRole {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for CardRole {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        CardRole::parse(text).ok_or_else(|| corrupt(format!("card role {text:?}")))
    }
}

/// A stored value this build cannot have written.
fn corrupt(what: String) -> FromSqlError {
    FromSqlError::Other(what.into())
}

/// [`corrupt`], for text decoded after it was read.
fn corrupt_text(what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, corrupt(what).into())
}

/// A card number as SQLite stores it; numbers above `i64::MAX` cannot be stored (no card
/// format reaches them).
fn card_key(number: u64) -> Option<i64> {
    i64::try_from(number).ok()
}

/// `AuthorizeDoorId` as stored: the same 64 bits as a signed integer.
fn doors_to_sql(doors: u64) -> i64 {
    i64::from_ne_bytes(doors.to_ne_bytes())
}

fn doors_from_sql(doors: i64) -> u64 {
    u64::from_ne_bytes(doors.to_ne_bytes())
}

/// Periods as stored in `timezones`: `start-end` minutes, separated by one space.
fn periods_to_sql(periods: &[[Period; 3]]) -> String {
    let all: Vec<String> = periods
        .iter()
        .flatten()
        .map(|p| format!("{}-{}", p.start, p.end))
        .collect();
    all.join(" ")
}

fn periods_from_sql<const N: usize>(text: &str) -> rusqlite::Result<[[Period; 3]; N]> {
    let bad = || corrupt_text(format!("time zone periods {text:?}"));
    let mut out = [[Period::NONE; 3]; N];
    let mut parts = text.split(' ');
    for slot in out.iter_mut().flatten() {
        let (start, end) = parts
            .next()
            .and_then(|p| p.split_once('-'))
            .ok_or_else(bad)?;
        *slot = Period {
            start: start.parse().map_err(|_| bad())?,
            end: end.parse().map_err(|_| bad())?,
        };
    }
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok(out)
}

/// `ToSql`/`FromSql` for an enumeration stored as its App 10 code.
macro_rules! stored_as_code {
    ($ty:ty, $what:literal, { $($variant:path => $code:literal),+ $(,)? }) => {
        impl ToSql for $ty {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                let code: i64 = match self {
                    $($variant => $code,)+
                };
                Ok(ToSqlOutput::from(code))
            }
        }

        impl FromSql for $ty {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                match value.as_i64()? {
                    $($code => Ok($variant),)+
                    other => Err(corrupt(format!(concat!($what, " {}"), other))),
                }
            }
        }
    };
}

stored_as_code!(SensorType, "door sensor type", {
    SensorType::None => 0,
    SensorType::NormallyOpen => 1,
    SensorType::NormallyClosed => 2,
});

stored_as_code!(FirstCardMode, "first-card mode", {
    FirstCardMode::Off => 0,
    FirstCardMode::NormalOpen => 1,
    FirstCardMode::Activation => 2,
});

stored_as_code!(Direction, "reader side", {
    Direction::In => 0,
    Direction::Out => 1,
});

stored_as_code!(FormatList, "Wiegand format list", {
    FormatList::Default => 0,
    FormatList::Custom => 1,
});

stored_as_code!(Reversal, "ReversalType", {
    Reversal::None => 0,
    Reversal::FrameOrder => 1,
    Reversal::Inverted => 2,
    Reversal::CardBytes => 3,
    Reversal::CardBitsInBytes => 4,
});

// The decision's lookups: each is one index probe (checked against the query plan in the tests).
const CARD_BY_NUMBER: &str = "SELECT pin, lost FROM cards WHERE card = ?1";
const AUTHORIZATIONS_OF_USER: &str =
    "SELECT timezone_id, doors, valid_from, valid_until FROM authorizations
     WHERE pin = ?1 ORDER BY timezone_id";
const TIMEZONE_BY_ID: &str =
    "SELECT days, holidays, valid_from, valid_until FROM timezones WHERE id = ?1";
const FIRST_CARDS_OF_DOOR: &str =
    "SELECT pin, timezone_id FROM first_cards WHERE door = ?1 ORDER BY pin, timezone_id";
const MULTI_CARD_GROUPS_OF_DOOR: &str =
    "SELECT idx, group1, group2, group3, group4, group5 FROM multi_card_groups
     WHERE door = ?1 ORDER BY idx";
const IS_SUPER_USER: &str = "SELECT 1 FROM super_users WHERE pin = ?1 AND door = ?2";

/// Keys of [`DeviceRules`] in the [`scope::ACCESS`] settings.
const ANTI_PASSBACK_KEY: &str = "AntiPassback";
const INTERLOCK_KEY: &str = "InterLock";

impl Tx<'_> {
    // ----- cards -----

    /// The card with `number`: its holder and whether it is lost [note §5.2 items 1, 3].
    pub fn card(&self, number: u64) -> Result<Option<Card>> {
        let Some(key) = card_key(number) else {
            return Ok(None);
        };
        self.conn
            .prepare_cached(CARD_BY_NUMBER)
            .and_then(|mut s| {
                s.query_row([key], |r| {
                    Ok(Card {
                        number,
                        pin: r.get(0)?,
                        lost: r.get(1)?,
                    })
                })
                .optional()
            })
            .ctx("read card")
    }

    /// `DATA UPDATE mulcarduser`: gives card `number` to user `pin` with lost flag `lost`. The
    /// user's own card (`CardNo`) keeps its role and only takes the flag; a card another user
    /// held moves here (one card, one holder). False when there is no such user or the number
    /// cannot be stored; nothing is written then.
    pub fn upsert_extra_card(&self, pin: &str, number: u64, lost: bool) -> Result<bool> {
        let Some(key) = card_key(number) else {
            return Ok(false);
        };
        if !self.user_exists(pin)? {
            return Ok(false);
        }
        self.assign_card(key, pin, CardRole::Multi, Some(lost))?;
        Ok(true)
    }

    /// Gives card `card` to `pin` in `role`. A card held by another user leaves them (their
    /// `CardNo` or vice card is cleared). A card the user holds already keeps its lost flag
    /// unless `lost` is given, and an extra-card update does not demote it from `main`/`vice`.
    pub(super) fn assign_card(
        &self,
        card: i64,
        pin: &str,
        role: CardRole,
        lost: Option<bool>,
    ) -> Result<()> {
        let holder: Option<(String, CardRole)> = self
            .conn
            .prepare_cached("SELECT pin, role FROM cards WHERE card = ?1")
            .and_then(|mut s| {
                s.query_row([card], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .ctx("find card holder")?;
        match holder {
            Some((holder, held_as)) if holder == pin => {
                let role = if role == CardRole::Multi {
                    held_as
                } else {
                    role
                };
                self.conn
                    .prepare_cached(
                        "UPDATE cards SET role = ?2, lost = COALESCE(?3, lost) WHERE card = ?1",
                    )
                    .and_then(|mut s| s.execute(params![card, role, lost]))
                    .ctx("update card")?;
                return Ok(());
            }
            Some((other, held_as)) => {
                let column = match held_as {
                    CardRole::Main => Some("card = NULL"),
                    CardRole::Vice => Some("vice_card = ''"),
                    CardRole::Multi => None,
                };
                if let Some(column) = column {
                    self.conn
                        .prepare_cached(&format!("UPDATE users SET {column} WHERE pin = ?1"))
                        .and_then(|mut s| s.execute([&other]))
                        .ctx("take card from previous holder")?;
                }
                log::warn!("card moved from user {other} to user {pin}");
            }
            None => {}
        }
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO cards (card, pin, role, lost) VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| s.execute(params![card, pin, role, lost.unwrap_or(false)]))
            .ctx("store card")?;
        Ok(())
    }

    pub fn user_exists(&self, pin: &str) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE pin = ?1)")
            .and_then(|mut s| s.query_row([pin], |r| r.get(0)))
            .ctx("check user")
    }

    /// Removes what the access tables hold for user `pin` (the user-delete cascade of schema 3).
    pub(super) fn delete_rights_of(&self, pin: &str) -> Result<()> {
        for sql in [
            "DELETE FROM authorizations WHERE pin = ?1",
            "DELETE FROM first_cards WHERE pin = ?1",
            "DELETE FROM super_users WHERE pin = ?1",
        ] {
            self.conn
                .prepare_cached(sql)
                .and_then(|mut s| s.execute([pin]))
                .ctx("delete the user's access rights")?;
        }
        Ok(())
    }

    // ----- userauthorize -----

    /// `DATA UPDATE userauthorize`: adds the row of (pin, time zone) or replaces its doors and
    /// validity, so an update can narrow a right as well as widen it [AMB-46].
    pub fn upsert_authorization(&self, a: &Authorization) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO authorizations (pin, timezone_id, doors, valid_from, valid_until)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    a.pin,
                    a.timezone_id,
                    doors_to_sql(a.doors),
                    a.valid_from.map(|t| t.to_string()),
                    a.valid_until.map(|t| t.to_string()),
                ])
            })
            .ctx("store authorization")?;
        Ok(())
    }

    /// The authorizations of user `pin`, by time zone id.
    pub fn authorizations_of(&self, pin: &str) -> Result<Vec<Authorization>> {
        let mut stmt = self
            .conn
            .prepare_cached(AUTHORIZATIONS_OF_USER)
            .ctx("prepare authorization read")?;
        let rows = stmt
            .query_map([pin], |r| {
                Ok(Authorization {
                    pin: pin.to_owned(),
                    timezone_id: r.get(0)?,
                    doors: doors_from_sql(r.get(1)?),
                    valid_from: opt_time(r, 2)?,
                    valid_until: opt_time(r, 3)?,
                })
            })
            .ctx("read authorizations")?;
        rows.collect::<rusqlite::Result<_>>()
            .ctx("read authorization rows")
    }

    // ----- timezone -----

    pub fn upsert_timezone(&self, tz: &TimeZone) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO timezones (id, days, holidays, valid_from, valid_until)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    tz.id,
                    periods_to_sql(&tz.days),
                    periods_to_sql(&tz.holidays),
                    tz.valid_from.map(|t| t.to_string()),
                    tz.valid_until.map(|t| t.to_string()),
                ])
            })
            .ctx("store time zone")?;
        Ok(())
    }

    pub fn timezone(&self, id: u32) -> Result<Option<TimeZone>> {
        self.conn
            .prepare_cached(TIMEZONE_BY_ID)
            .and_then(|mut s| {
                s.query_row([id], |r| {
                    Ok(TimeZone {
                        id,
                        days: periods_from_sql(&r.get::<_, String>(0)?)?,
                        holidays: periods_from_sql(&r.get::<_, String>(1)?)?,
                        valid_from: opt_time(r, 2)?,
                        valid_until: opt_time(r, 3)?,
                    })
                })
                .optional()
            })
            .ctx("read time zone")
    }

    // ----- holiday -----

    pub fn upsert_holiday(&self, h: &Holiday) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO holidays (year, month, day, kind, yearly) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| s.execute(params![h.year, h.month, h.day, h.kind, h.yearly]))
            .ctx("store holiday")?;
        Ok(())
    }

    /// Every holiday, by date (a small table, read whole).
    pub fn holidays(&self) -> Result<Vec<Holiday>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT year, month, day, kind, yearly FROM holidays ORDER BY year, month, day",
            )
            .ctx("prepare holiday read")?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Holiday {
                    year: r.get(0)?,
                    month: r.get(1)?,
                    day: r.get(2)?,
                    kind: r.get(3)?,
                    yearly: r.get(4)?,
                })
            })
            .ctx("read holidays")?;
        rows.collect::<rusqlite::Result<_>>()
            .ctx("read holiday rows")
    }

    // ----- firstcard -----

    /// `DATA UPDATE firstcard`; the row is its own key, so an update of a stored row changes
    /// nothing.
    pub fn upsert_first_card(&self, f: &FirstCard) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO first_cards (door, pin, timezone_id) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut s| s.execute(params![f.door, f.pin, f.timezone_id]))
            .ctx("store first card")?;
        Ok(())
    }

    pub fn first_cards(&self, door: DoorId) -> Result<Vec<FirstCard>> {
        let mut stmt = self
            .conn
            .prepare_cached(FIRST_CARDS_OF_DOOR)
            .ctx("prepare first card read")?;
        let rows = stmt
            .query_map([door], |r| {
                Ok(FirstCard {
                    door,
                    pin: r.get(0)?,
                    timezone_id: r.get(1)?,
                })
            })
            .ctx("read first cards")?;
        rows.collect::<rusqlite::Result<_>>()
            .ctx("read first card rows")
    }

    // ----- multimcard -----

    pub fn upsert_multi_card_group(&self, g: &MultiCardGroup) -> Result<()> {
        let [g1, g2, g3, g4, g5] = g.groups;
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO multi_card_groups (idx, door, group1, group2, group3, group4, group5)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| s.execute(params![g.index, g.door, g1, g2, g3, g4, g5]))
            .ctx("store multi-card group")?;
        Ok(())
    }

    pub fn multi_card_groups(&self, door: DoorId) -> Result<Vec<MultiCardGroup>> {
        let mut stmt = self
            .conn
            .prepare_cached(MULTI_CARD_GROUPS_OF_DOOR)
            .ctx("prepare multi-card group read")?;
        let rows = stmt
            .query_map([door], |r| {
                Ok(MultiCardGroup {
                    index: r.get(0)?,
                    door,
                    groups: [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?],
                })
            })
            .ctx("read multi-card groups")?;
        rows.collect::<rusqlite::Result<_>>()
            .ctx("read multi-card group rows")
    }

    // ----- SuperAuthorize -----

    pub fn upsert_super_user(&self, s: &SuperUser) -> Result<()> {
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO super_users (pin, door) VALUES (?1, ?2)")
            .and_then(|mut st| st.execute(params![s.pin, s.door]))
            .ctx("store super user")?;
        Ok(())
    }

    pub fn is_super_user(&self, pin: &str, door: DoorId) -> Result<bool> {
        self.conn
            .prepare_cached(IS_SUPER_USER)
            .and_then(|mut s| s.query_row(params![pin, door], |_| Ok(())).optional())
            .map(|row| row.is_some())
            .ctx("check super user")
    }

    // ----- DATA DELETE -----

    /// Deletes the rows `what` names; returns how many went (0 is not an error [note §5.1]).
    /// For extra cards the count is of cards removed; lost flags cleared on the users' own
    /// cards are not counted.
    pub fn delete_access(&self, what: &AccessDelete) -> Result<usize> {
        let run = |sql: &str, args: &[&dyn ToSql]| {
            self.conn
                .prepare_cached(sql)
                .and_then(|mut s| s.execute(args))
                .ctx("delete access rows")
        };
        match what {
            AccessDelete::AuthorizationsOfUser(pin) => {
                run("DELETE FROM authorizations WHERE pin = ?1", &[pin])
            }
            AccessDelete::TimeZone(id) => run("DELETE FROM timezones WHERE id = ?1", &[id]),
            AccessDelete::Holiday(year, month, day) => run(
                "DELETE FROM holidays WHERE year = ?1 AND month = ?2 AND day = ?3",
                &[year, month, day],
            ),
            AccessDelete::FirstCardsOfDoor(door) => {
                run("DELETE FROM first_cards WHERE door = ?1", &[door])
            }
            AccessDelete::FirstCardsOfUser(pin) => {
                run("DELETE FROM first_cards WHERE pin = ?1", &[pin])
            }
            AccessDelete::MultiCardGroup(index) => {
                run("DELETE FROM multi_card_groups WHERE idx = ?1", &[index])
            }
            AccessDelete::SuperUser(pin) => run("DELETE FROM super_users WHERE pin = ?1", &[pin]),
            AccessDelete::ExtraCardsOfUser(pin) => {
                run(
                    "UPDATE cards SET lost = 0 WHERE pin = ?1 AND role != 'multi' AND lost",
                    &[pin],
                )?;
                run(
                    "DELETE FROM cards WHERE pin = ?1 AND role = 'multi'",
                    &[pin],
                )
            }
            AccessDelete::All(table) => {
                if *table == AccessTable::ExtraCards {
                    // Scans every card: `*` is a rare full resynchronisation.
                    run("UPDATE cards SET lost = 0 WHERE lost", &[])?;
                }
                let sql = match table {
                    AccessTable::Authorizations => "DELETE FROM authorizations",
                    AccessTable::TimeZones => "DELETE FROM timezones",
                    AccessTable::Holidays => "DELETE FROM holidays",
                    AccessTable::FirstCards => "DELETE FROM first_cards",
                    AccessTable::MultiCardGroups => "DELETE FROM multi_card_groups",
                    AccessTable::SuperUsers => "DELETE FROM super_users",
                    AccessTable::ExtraCards => "DELETE FROM cards WHERE role = 'multi'",
                };
                run(sql, &[])
            }
        }
    }

    // ----- door and device settings -----

    /// Stores the parameters of `door` (1..=[`MAX_DOORS`]; another number is refused).
    pub fn set_door_settings(&self, door: DoorId, d: &DoorSettings) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO door_settings (door, drive_secs, detector_secs, sensor, close_and_lock,
                   keep_open_tz, valid_tz, verify_mode, inter_secs, super_password, duress_password, first_card,
                   multi_card, multi_card_inter_secs, in_out_apb, in_time_apb_secs, locked, disabled)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    door,
                    d.drive_secs,
                    d.detector_secs,
                    d.sensor,
                    d.close_and_lock,
                    d.keep_open_tz,
                    d.valid_tz,
                    d.verify_mode,
                    d.inter_secs,
                    d.super_password,
                    d.duress_password,
                    d.first_card,
                    d.multi_card,
                    d.multi_card_inter_secs,
                    d.in_out_apb,
                    d.in_time_apb_secs,
                    d.locked,
                    d.disabled,
                ])
            })
            .ctx(&format!("store settings of door {door}"))?;
        Ok(())
    }

    /// The parameters of doors 1..=[`MAX_DOORS`], door n at index n−1; a door never configured
    /// has the defaults.
    pub fn door_settings(&self) -> Result<Vec<DoorSettings>> {
        let mut doors = vec![DoorSettings::default(); usize::from(MAX_DOORS)];
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT door, drive_secs, detector_secs, sensor, close_and_lock, keep_open_tz, valid_tz,
                   verify_mode, inter_secs, super_password, duress_password, first_card, multi_card,
                   multi_card_inter_secs, in_out_apb, in_time_apb_secs, locked, disabled
                 FROM door_settings ORDER BY door",
            )
            .ctx("prepare door settings read")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, DoorId>(0)?,
                    DoorSettings {
                        drive_secs: r.get(1)?,
                        detector_secs: r.get(2)?,
                        sensor: r.get(3)?,
                        close_and_lock: r.get(4)?,
                        keep_open_tz: r.get(5)?,
                        valid_tz: r.get(6)?,
                        verify_mode: r.get(7)?,
                        inter_secs: r.get(8)?,
                        super_password: r.get(9)?,
                        duress_password: r.get(10)?,
                        first_card: r.get(11)?,
                        multi_card: r.get(12)?,
                        multi_card_inter_secs: r.get(13)?,
                        in_out_apb: r.get(14)?,
                        in_time_apb_secs: r.get(15)?,
                        locked: r.get(16)?,
                        disabled: r.get(17)?,
                    },
                ))
            })
            .ctx("read door settings")?;
        for row in rows {
            let (door, settings) = row.ctx("read door settings row")?;
            // The schema's CHECK keeps door in 1..=MAX_DOORS.
            if let Some(slot) = usize::from(door)
                .checked_sub(1)
                .and_then(|i| doors.get_mut(i))
            {
                *slot = settings;
            }
        }
        Ok(doors)
    }

    // ----- reader tables: ReaderProperty, WGFormat, DefaultWGFormat, ReaderWGFormat -----

    pub fn upsert_reader(&self, r: &ReaderRow) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO reader_properties (reader, door, direction, disabled)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| s.execute(params![r.reader, r.door, r.direction, r.disabled]))
            .ctx("store reader property")?;
        Ok(())
    }

    /// Deletes one reader's row, or every row (`None`); returns how many went.
    pub fn delete_readers(&self, reader: Option<u32>) -> Result<usize> {
        self.conn
            .execute(
                "DELETE FROM reader_properties WHERE ?1 IS NULL OR reader = ?1",
                params![reader],
            )
            .ctx("delete reader properties")
    }

    pub fn upsert_wiegand_format(&self, f: &WiegandFormatRow) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO wiegand_formats
                   (list, id, card_bit, card_format, ext_parity_format, auto_match)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    f.list,
                    f.id,
                    f.card_bit,
                    f.card_format,
                    f.ext_parity_format,
                    f.auto_match
                ])
            })
            .ctx("store Wiegand format")?;
        Ok(())
    }

    /// Deletes the formats of `list` with this id and this length (each `None` matches any);
    /// returns how many went.
    pub fn delete_wiegand_formats(
        &self,
        list: FormatList,
        id: Option<u32>,
        card_bit: Option<u32>,
    ) -> Result<usize> {
        self.conn
            .execute(
                "DELETE FROM wiegand_formats WHERE list = ?1
                   AND (?2 IS NULL OR id = ?2) AND (?3 IS NULL OR card_bit = ?3)",
                params![list, id, card_bit],
            )
            .ctx("delete Wiegand formats")
    }

    pub fn upsert_reader_format(&self, f: &ReaderFormatRow) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO reader_formats
                   (reader, dev_id, format_id, verify_parity, reversal)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    f.reader,
                    f.dev_id,
                    f.format_id,
                    f.verify_parity,
                    f.reversal
                ])
            })
            .ctx("store reader Wiegand format")?;
        Ok(())
    }

    /// Deletes the reader formats of this reader and this `DevID` (each `None` matches any);
    /// returns how many went.
    pub fn delete_reader_formats(&self, reader: Option<u32>, dev_id: Option<u32>) -> Result<usize> {
        self.conn
            .execute(
                "DELETE FROM reader_formats
                 WHERE (?1 IS NULL OR reader = ?1) AND (?2 IS NULL OR dev_id = ?2)",
                params![reader, dev_id],
            )
            .ctx("delete reader Wiegand formats")
    }

    /// Everything the reader tables hold.
    pub fn reader_tables(&self) -> Result<ReaderTables> {
        let readers = self.all_rows(
            "SELECT reader, door, direction, disabled FROM reader_properties ORDER BY reader",
            |r| {
                Ok(ReaderRow {
                    reader: r.get(0)?,
                    door: r.get(1)?,
                    direction: r.get(2)?,
                    disabled: r.get(3)?,
                })
            },
        );
        let formats = self.all_rows(
            "SELECT list, id, card_bit, card_format, ext_parity_format, auto_match
             FROM wiegand_formats ORDER BY list, id",
            |r| {
                Ok(WiegandFormatRow {
                    list: r.get(0)?,
                    id: r.get(1)?,
                    card_bit: r.get(2)?,
                    card_format: r.get(3)?,
                    ext_parity_format: r.get(4)?,
                    auto_match: r.get(5)?,
                })
            },
        );
        let reader_formats = self.all_rows(
            "SELECT reader, dev_id, format_id, verify_parity, reversal
             FROM reader_formats ORDER BY reader, dev_id",
            |r| {
                Ok(ReaderFormatRow {
                    reader: r.get(0)?,
                    dev_id: r.get(1)?,
                    format_id: r.get(2)?,
                    verify_parity: r.get(3)?,
                    reversal: r.get(4)?,
                })
            },
        );
        Ok(ReaderTables {
            readers: readers.ctx("read reader properties")?,
            formats: formats.ctx("read Wiegand formats")?,
            reader_formats: reader_formats.ctx("read reader Wiegand formats")?,
        })
    }

    fn all_rows<T>(
        &self,
        sql: &str,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Vec<T>> {
        self.conn.prepare_cached(sql)?.query_map([], row)?.collect()
    }

    pub fn set_device_rules(&self, rules: &DeviceRules) -> Result<()> {
        self.set_setting(
            scope::ACCESS,
            ANTI_PASSBACK_KEY,
            &rules.anti_passback.to_string(),
        )?;
        self.set_setting(scope::ACCESS, INTERLOCK_KEY, &rules.interlock.to_string())
    }

    /// The device-wide rules; 0 (none) for a rule never set.
    pub fn device_rules(&self) -> Result<DeviceRules> {
        let rule = |key: &str| -> Result<u16> {
            let Some(text) = self.setting(scope::ACCESS, key)? else {
                return Ok(0);
            };
            text.parse()
                .map_err(|_| corrupt_text(format!("not a rule code: {text:?}")))
                .ctx(&format!("read device rule {key}"))
        };
        Ok(DeviceRules {
            anti_passback: rule(ANTI_PASSBACK_KEY)?,
            interlock: rule(INTERLOCK_KEY)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::civil::LocalDateTime;
    use crate::protocol::user::User;
    use crate::store::Store;

    fn t(s: &str) -> LocalDateTime {
        LocalDateTime::parse(s).unwrap()
    }

    fn user(pin: &str, card: Option<u64>) -> User {
        let mut u = User::new(pin);
        u.card = card;
        u
    }

    fn authorization(pin: &str, timezone_id: u32, doors: u64) -> Authorization {
        Authorization {
            pin: pin.into(),
            timezone_id,
            doors,
            valid_from: None,
            valid_until: None,
        }
    }

    /// A time zone whose 30 periods all differ, so a swapped slot shows.
    fn timezone(id: u32) -> TimeZone {
        let mut tz = TimeZone {
            id,
            days: [[Period::NONE; 3]; 7],
            holidays: [[Period::NONE; 3]; 3],
            valid_from: Some(t("2026-01-01 00:00:00")),
            valid_until: Some(t("2026-12-31 23:59:59")),
        };
        let slots = tz.days.iter_mut().chain(tz.holidays.iter_mut()).flatten();
        for (i, slot) in (0u16..).zip(slots) {
            *slot = Period {
                start: i * 40,
                end: i * 40 + 39,
            };
        }
        tz
    }

    fn holiday(year: i32, month: u8, day: u8, kind: u8, yearly: bool) -> Holiday {
        Holiday {
            year,
            month,
            day,
            kind,
            yearly,
        }
    }

    fn first_card(door: DoorId, pin: &str, timezone_id: u32) -> FirstCard {
        FirstCard {
            door,
            timezone_id,
            pin: pin.into(),
        }
    }

    fn group(index: u32, door: DoorId, groups: [u32; 5]) -> MultiCardGroup {
        MultiCardGroup {
            index,
            door,
            groups,
        }
    }

    fn super_user(pin: &str, door: DoorId) -> SuperUser {
        SuperUser {
            pin: pin.into(),
            door,
        }
    }

    fn card(number: u64, pin: &str, lost: bool) -> Option<Card> {
        Some(Card {
            number,
            pin: pin.into(),
            lost,
        })
    }

    #[test]
    fn every_decision_lookup_is_an_index_probe() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        for sql in [
            CARD_BY_NUMBER,
            AUTHORIZATIONS_OF_USER,
            TIMEZONE_BY_ID,
            FIRST_CARDS_OF_DOOR,
            MULTI_CARD_GROUPS_OF_DOOR,
            IS_SUPER_USER,
        ] {
            let plan: Vec<String> = s.read(|tx| {
                let mut stmt = tx
                    .conn
                    .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .ctx("plan")?;
                let params = vec![&1 as &dyn ToSql; stmt.parameter_count()];
                let rows = stmt
                    .query_map(params.as_slice(), |r| r.get::<_, String>(3))
                    .ctx("plan")?;
                rows.collect::<rusqlite::Result<_>>().ctx("plan")
            })?;
            assert!(
                plan.iter().any(|step| step.starts_with("SEARCH"))
                    && plan
                        .iter()
                        .all(|step| !step.starts_with("SCAN") && !step.contains("TEMP B-TREE")),
                "{sql}: {plan:?}"
            );
        }
        Ok(())
    }

    /// A cached statement SQLite re-prepares whenever it is bound to another key is parsed and
    /// planned again on every decision; with an ORDER BY, SQLite 3.54 does that unless the
    /// query-planner stability guarantee is on (see `Store::init`).
    #[test]
    fn the_decision_lookups_are_not_prepared_again_for_another_key() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        s.write(|tx| {
            for pin in ["1", "2"] {
                tx.upsert_user(&user(pin, None))?;
                tx.upsert_authorization(&authorization(pin, 1, 1))?;
            }
            tx.upsert_timezone(&timezone(1))?;
            tx.upsert_first_card(&first_card(1, "1", 1))?;
            tx.upsert_multi_card_group(&group(1, 1, [1, 0, 0, 0, 0]))?;
            tx.upsert_super_user(&super_user("1", 1))
        })?;
        let reprepared = s.read(|tx| {
            for (pin, door) in [("1", 1), ("2", 2), ("1", 1), ("3", 0)] {
                tx.card(u64::from(door))?;
                tx.authorizations_of(pin)?;
                tx.timezone(u32::from(door))?;
                tx.first_cards(door)?;
                tx.multi_card_groups(door)?;
                tx.is_super_user(pin, door)?;
            }
            [
                CARD_BY_NUMBER,
                AUTHORIZATIONS_OF_USER,
                TIMEZONE_BY_ID,
                FIRST_CARDS_OF_DOOR,
                MULTI_CARD_GROUPS_OF_DOOR,
                IS_SUPER_USER,
            ]
            .into_iter()
            .map(|sql| {
                let stmt = tx.conn.prepare_cached(sql).ctx("statement")?;
                Ok((sql, stmt.get_status(rusqlite::StatementStatus::RePrepare)))
            })
            .collect::<Result<Vec<_>>>()
        })?;
        for (sql, count) in reprepared {
            assert_eq!(count, 0, "{sql}");
        }
        Ok(())
    }

    #[test]
    fn authorizations_round_trip_and_an_update_replaces_the_doors() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        let mut limited = authorization("7", 1, 0b0101);
        limited.valid_from = Some(t("2026-01-01 00:00:00"));
        limited.valid_until = Some(t("2026-06-30 23:59:59"));
        // Door 64 is the sign bit of the stored integer.
        let door_64 = authorization("7", 2, 1 << 63 | 1);
        s.write(|tx| {
            tx.upsert_authorization(&door_64)?;
            tx.upsert_authorization(&limited)?;
            tx.upsert_authorization(&authorization("8", 1, 0b1111))
        })?;
        assert_eq!(
            s.read(|tx| tx.authorizations_of("7"))?,
            [limited.clone(), door_64.clone()]
        );
        let narrowed = authorization("7", 1, 0b0001);
        s.write(|tx| tx.upsert_authorization(&narrowed))?;
        assert_eq!(
            s.read(|tx| tx.authorizations_of("7"))?,
            [narrowed, door_64],
            "(pin, time zone) is the key; the update narrows the doors and drops the validity"
        );
        assert_eq!(s.read(|tx| tx.authorizations_of("9"))?, []);
        Ok(())
    }

    #[test]
    fn timezones_round_trip_every_period_and_validity() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        let mut extreme = timezone(2);
        extreme.days[6][2] = Period {
            start: u16::MAX,
            end: 0,
        };
        extreme.valid_from = None;
        s.write(|tx| {
            tx.upsert_timezone(&timezone(1))?;
            tx.upsert_timezone(&extreme)
        })?;
        assert_eq!(s.read(|tx| tx.timezone(1))?, Some(timezone(1)));
        assert_eq!(s.read(|tx| tx.timezone(2))?, Some(extreme));
        assert_eq!(s.read(|tx| tx.timezone(3))?, None);
        let mut changed = timezone(1);
        changed.days[1][0] = Period::ALL_DAY;
        s.write(|tx| tx.upsert_timezone(&changed))?;
        assert_eq!(s.read(|tx| tx.timezone(1))?, Some(changed));
        Ok(())
    }

    #[test]
    fn a_corrupt_period_list_is_an_error_not_a_panic() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        s.write(|tx| tx.upsert_timezone(&timezone(1)))?;
        for bad in ["1-2", "x-2", "", &format!("{} 0-0", "0-0 ".repeat(20))] {
            s.write(|tx| {
                tx.conn
                    .execute("UPDATE timezones SET days = ?1", [bad])
                    .ctx("corrupt")
            })?;
            let err = s.read(|tx| tx.timezone(1)).unwrap_err().to_string();
            assert!(err.contains("read time zone"), "{bad:?}: {err}");
        }
        Ok(())
    }

    #[test]
    fn holidays_are_keyed_by_date_and_read_in_date_order() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        s.write(|tx| {
            tx.upsert_holiday(&holiday(2026, 12, 25, 1, true))?;
            tx.upsert_holiday(&holiday(2026, 1, 1, 2, false))?;
            tx.upsert_holiday(&holiday(2026, 12, 25, 3, false))
        })?;
        assert_eq!(
            s.read(|tx| tx.holidays())?,
            [
                holiday(2026, 1, 1, 2, false),
                holiday(2026, 12, 25, 3, false)
            ]
        );
        Ok(())
    }

    #[test]
    fn first_cards_multi_card_groups_and_super_users_are_found_by_door() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        s.write(|tx| {
            tx.upsert_first_card(&first_card(1, "7", 2))?;
            tx.upsert_first_card(&first_card(1, "7", 2))?;
            tx.upsert_first_card(&first_card(1, "5", 3))?;
            tx.upsert_first_card(&first_card(2, "7", 2))?;
            tx.upsert_multi_card_group(&group(4, 1, [1, 2, 0, 0, 0]))?;
            tx.upsert_multi_card_group(&group(3, 1, [5, 6, 7, 8, 9]))?;
            tx.upsert_multi_card_group(&group(9, 2, [1, 0, 0, 0, 0]))?;
            tx.upsert_super_user(&super_user("7", 1))?;
            tx.upsert_super_user(&super_user("7", 1))
        })?;
        assert_eq!(
            s.read(|tx| tx.first_cards(1))?,
            [first_card(1, "5", 3), first_card(1, "7", 2)]
        );
        assert_eq!(s.read(|tx| tx.first_cards(3))?, []);
        assert_eq!(
            s.read(|tx| tx.multi_card_groups(1))?,
            [group(3, 1, [5, 6, 7, 8, 9]), group(4, 1, [1, 2, 0, 0, 0])]
        );
        // Index is the key: the group moves to door 2.
        s.write(|tx| tx.upsert_multi_card_group(&group(4, 2, [3, 0, 0, 0, 0])))?;
        assert_eq!(
            s.read(|tx| tx.multi_card_groups(2))?,
            [group(4, 2, [3, 0, 0, 0, 0]), group(9, 2, [1, 0, 0, 0, 0])]
        );
        assert!(s.read(|tx| tx.is_super_user("7", 1))?);
        assert!(!s.read(|tx| tx.is_super_user("7", 2))?);
        assert!(!s.read(|tx| tx.is_super_user("5", 1))?);
        Ok(())
    }

    /// Every row of the delete fixture, one line each, sorted.
    fn access_rows(s: &mut Store) -> Result<Vec<String>> {
        s.read(|tx| {
            let mut rows = Vec::new();
            for pin in ["1", "2"] {
                for a in tx.authorizations_of(pin)? {
                    rows.push(format!("auth {}/{}", a.pin, a.timezone_id));
                }
                for door in [1, 2] {
                    if tx.is_super_user(pin, door)? {
                        rows.push(format!("super {pin}/{door}"));
                    }
                }
            }
            for id in [10, 20] {
                if tx.timezone(id)?.is_some() {
                    rows.push(format!("tz {id}"));
                }
            }
            for h in tx.holidays()? {
                rows.push(format!("holiday {}{:02}{:02}", h.year, h.month, h.day));
            }
            for door in [1, 2] {
                for f in tx.first_cards(door)? {
                    rows.push(format!("first {}/{}/{}", f.door, f.pin, f.timezone_id));
                }
                for g in tx.multi_card_groups(door)? {
                    rows.push(format!("multi {}", g.index));
                }
            }
            for number in [100, 101, 200, 201] {
                if let Some(c) = tx.card(number)? {
                    let lost = if c.lost { " lost" } else { "" };
                    rows.push(format!("card {number} {}{lost}", c.pin));
                }
            }
            rows.sort();
            Ok(rows)
        })
    }

    fn delete_fixture() -> Result<Store> {
        let mut s = Store::open_in_memory()?;
        s.write(|tx| {
            for (pin, own, extra) in [("1", 100, 101), ("2", 200, 201)] {
                tx.upsert_user(&user(pin, Some(own)))?;
                tx.upsert_extra_card(pin, extra, false)?;
                tx.upsert_extra_card(pin, own, true)?;
                tx.upsert_authorization(&authorization(pin, 10, 1))?;
                tx.upsert_authorization(&authorization(pin, 20, 2))?;
                tx.upsert_super_user(&super_user(pin, 1))?;
                tx.upsert_super_user(&super_user(pin, 2))?;
            }
            tx.upsert_timezone(&timezone(10))?;
            tx.upsert_timezone(&timezone(20))?;
            tx.upsert_holiday(&holiday(2026, 1, 1, 1, true))?;
            tx.upsert_holiday(&holiday(2026, 5, 1, 2, false))?;
            tx.upsert_first_card(&first_card(1, "1", 10))?;
            tx.upsert_first_card(&first_card(1, "2", 10))?;
            tx.upsert_first_card(&first_card(2, "1", 20))?;
            tx.upsert_multi_card_group(&group(1, 1, [1, 2, 0, 0, 0]))?;
            tx.upsert_multi_card_group(&group(2, 2, [1, 0, 0, 0, 0]))
        })?;
        Ok(s)
    }

    #[test]
    fn deletes_exactly_the_rows_each_condition_names() -> Result<()> {
        let all = access_rows(&mut delete_fixture()?)?;
        assert_eq!(all.len(), 21, "{all:?}");
        let pin = |p: &str| p.to_owned();
        // (condition, rows reported, rows that go; lost flags cleared show as a changed row)
        let cases: Vec<(AccessDelete, usize, Vec<&str>)> = vec![
            (
                AccessDelete::AuthorizationsOfUser(pin("1")),
                2,
                vec!["auth 1/10", "auth 1/20"],
            ),
            (AccessDelete::AuthorizationsOfUser(pin("3")), 0, vec![]),
            (AccessDelete::TimeZone(10), 1, vec!["tz 10"]),
            (
                AccessDelete::Holiday(2026, 5, 1),
                1,
                vec!["holiday 20260501"],
            ),
            (AccessDelete::Holiday(2025, 5, 1), 0, vec![]),
            (
                AccessDelete::FirstCardsOfDoor(1),
                2,
                vec!["first 1/1/10", "first 1/2/10"],
            ),
            (
                AccessDelete::FirstCardsOfUser(pin("1")),
                2,
                vec!["first 1/1/10", "first 2/1/20"],
            ),
            (AccessDelete::MultiCardGroup(2), 1, vec!["multi 2"]),
            (
                AccessDelete::SuperUser(pin("2")),
                2,
                vec!["super 2/1", "super 2/2"],
            ),
            (
                AccessDelete::ExtraCardsOfUser(pin("1")),
                1,
                vec!["card 101 1", "card 100 1 lost"],
            ),
            (
                AccessDelete::All(AccessTable::Authorizations),
                4,
                vec!["auth 1/10", "auth 1/20", "auth 2/10", "auth 2/20"],
            ),
            (
                AccessDelete::All(AccessTable::TimeZones),
                2,
                vec!["tz 10", "tz 20"],
            ),
            (
                AccessDelete::All(AccessTable::Holidays),
                2,
                vec!["holiday 20260101", "holiday 20260501"],
            ),
            (
                AccessDelete::All(AccessTable::FirstCards),
                3,
                vec!["first 1/1/10", "first 1/2/10", "first 2/1/20"],
            ),
            (
                AccessDelete::All(AccessTable::MultiCardGroups),
                2,
                vec!["multi 1", "multi 2"],
            ),
            (
                AccessDelete::All(AccessTable::SuperUsers),
                4,
                vec!["super 1/1", "super 1/2", "super 2/1", "super 2/2"],
            ),
            (
                AccessDelete::All(AccessTable::ExtraCards),
                2,
                vec![
                    "card 101 1",
                    "card 201 2",
                    "card 100 1 lost",
                    "card 200 2 lost",
                ],
            ),
        ];
        for (what, count, gone) in cases {
            let mut s = delete_fixture()?;
            assert_eq!(s.write(|tx| tx.delete_access(&what))?, count, "{what:?}");
            assert_eq!(access_rows(&mut s)?, without(&all, &gone), "{what:?}");
        }
        Ok(())
    }

    /// `all` without the rows in `gone`; a `gone` row ending in " lost" leaves the card, found.
    fn without(all: &[String], gone: &[&str]) -> Vec<String> {
        let mut rows: Vec<String> = all
            .iter()
            .filter(|row| !gone.contains(&row.as_str()))
            .cloned()
            .collect();
        rows.extend(
            gone.iter()
                .filter_map(|row| row.strip_suffix(" lost"))
                .map(str::to_owned),
        );
        rows.sort();
        rows
    }

    #[test]
    fn a_card_lookup_names_its_holder_and_whether_it_is_lost() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        let mut ann = user("1", Some(100));
        s.write(|tx| {
            tx.upsert_user(&ann)?;
            assert!(tx.upsert_extra_card("1", 200, false)?);
            assert!(tx.upsert_extra_card("1", 300, true)?);
            Ok(())
        })?;
        assert_eq!(s.read(|tx| tx.card(100))?, card(100, "1", false));
        assert_eq!(s.read(|tx| tx.card(200))?, card(200, "1", false));
        assert_eq!(s.read(|tx| tx.card(300))?, card(300, "1", true));
        assert_eq!(s.read(|tx| tx.card(999))?, None);
        assert_eq!(s.read(|tx| tx.card(u64::MAX))?, None);

        // LossCardFlag on the user's own CardNo: the card stays their CardNo.
        s.write(|tx| tx.upsert_extra_card("1", 100, true))?;
        assert_eq!(s.read(|tx| tx.card(100))?, card(100, "1", true));
        assert_eq!(s.read(|tx| tx.user("1"))?.unwrap().card, Some(100));
        // Re-sending the user, even with a new vice card, keeps the flag and the extra cards.
        ann.name = "Ann".into();
        ann.vice_card = "400".into();
        s.write(|tx| tx.upsert_user(&ann))?;
        assert_eq!(s.read(|tx| tx.card(100))?, card(100, "1", true));
        assert_eq!(s.read(|tx| tx.card(300))?, card(300, "1", true));
        assert_eq!(s.read(|tx| tx.card(400))?, card(400, "1", false));
        // Found again: the flag clears. A new CardNo replaces the old one, lost or not.
        s.write(|tx| tx.upsert_extra_card("1", 300, false))?;
        assert_eq!(s.read(|tx| tx.card(300))?, card(300, "1", false));
        ann.card = Some(101);
        s.write(|tx| tx.upsert_user(&ann))?;
        assert_eq!(s.read(|tx| tx.card(100))?, None);
        assert_eq!(s.read(|tx| tx.card(101))?, card(101, "1", false));
        assert_eq!(s.read(|tx| tx.card(200))?, card(200, "1", false));
        Ok(())
    }

    #[test]
    fn a_card_moves_between_users_and_leaves_the_previous_holder() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        s.write(|tx| {
            tx.upsert_user(&user("1", Some(100)))?;
            tx.upsert_user(&user("2", None))?;
            tx.upsert_extra_card("1", 101, true)
        })?;
        // An extra card of user 2 that was user 1's CardNo.
        s.write(|tx| tx.upsert_extra_card("2", 100, false))?;
        assert_eq!(s.read(|tx| tx.card(100))?, card(100, "2", false));
        assert_eq!(s.read(|tx| tx.user("1"))?.unwrap().card, None);
        // User 2's CardNo that was user 1's lost extra card: the move clears the flag.
        s.write(|tx| tx.upsert_user(&user("2", Some(101))))?;
        assert_eq!(s.read(|tx| tx.card(101))?, card(101, "2", false));
        assert_eq!(s.read(|tx| tx.card(100))?, card(100, "2", false));
        // And back to user 1 as CardNo.
        s.write(|tx| tx.upsert_user(&user("1", Some(100))))?;
        assert_eq!(s.read(|tx| tx.card(100))?, card(100, "1", false));
        assert_eq!(s.read(|tx| tx.card(101))?, card(101, "2", false));
        Ok(())
    }

    #[test]
    fn an_extra_card_for_an_unknown_user_is_refused() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        assert!(!s.write(|tx| tx.upsert_extra_card("9", 100, false))?);
        assert_eq!(s.read(|tx| tx.card(100))?, None);
        s.write(|tx| tx.upsert_user(&user("9", None)))?;
        assert!(!s.write(|tx| tx.upsert_extra_card("9", u64::MAX, false))?);
        Ok(())
    }

    #[test]
    fn deleting_a_user_takes_their_cards_and_rights_and_no_one_elses() -> Result<()> {
        let mut s = delete_fixture()?;
        let all = access_rows(&mut s)?;
        assert!(s.write(|tx| tx.delete_user("1"))?);
        let users_rows = [
            "auth 1/10",
            "auth 1/20",
            "card 100 1 lost",
            "card 101 1",
            "first 1/1/10",
            "first 2/1/20",
            "super 1/1",
            "super 1/2",
        ];
        let others: Vec<String> = all
            .iter()
            .filter(|row| !users_rows.contains(&row.as_str()))
            .cloned()
            .collect();
        assert_eq!(access_rows(&mut s)?, others);
        s.write(|tx| tx.delete_all_users())?;
        assert_eq!(
            access_rows(&mut s)?,
            [
                "holiday 20260101",
                "holiday 20260501",
                "multi 1",
                "multi 2",
                "tz 10",
                "tz 20"
            ]
        );
        Ok(())
    }

    #[test]
    fn door_settings_round_trip_and_unset_doors_have_the_defaults() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        assert_eq!(
            s.read(|tx| tx.door_settings())?,
            vec![DoorSettings::default(); 64]
        );
        let custom = DoorSettings {
            drive_secs: 255,
            detector_secs: 600,
            sensor: SensorType::NormallyClosed,
            close_and_lock: false,
            keep_open_tz: 3,
            valid_tz: 4,
            verify_mode: 6,
            inter_secs: 9,
            super_password: "8888".into(),
            duress_password: "9999".into(),
            first_card: FirstCardMode::Activation,
            multi_card: true,
            multi_card_inter_secs: 30,
            in_out_apb: 3,
            in_time_apb_secs: 120,
            locked: true,
            disabled: true,
        };
        let open = DoorSettings {
            sensor: SensorType::NormallyOpen,
            first_card: FirstCardMode::NormalOpen,
            ..DoorSettings::default()
        };
        s.write(|tx| {
            tx.set_door_settings(1, &custom)?;
            tx.set_door_settings(64, &open)
        })?;
        let doors = s.read(|tx| tx.door_settings())?;
        assert_eq!(doors[0], custom);
        assert_eq!(doors[63], open);
        assert!(doors[1..63].iter().all(|d| *d == DoorSettings::default()));
        for door in [0, 65] {
            let err = s
                .write(|tx| tx.set_door_settings(door, &custom))
                .unwrap_err();
            assert!(err.to_string().contains(&format!("door {door}")), "{err}");
        }
        Ok(())
    }

    #[test]
    fn a_corrupt_door_setting_is_an_error() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        s.write(|tx| tx.set_door_settings(2, &DoorSettings::default()))?;
        s.write(|tx| {
            tx.conn
                .execute("UPDATE door_settings SET sensor = 7", [])
                .ctx("corrupt")
        })?;
        let err = s.read(|tx| tx.door_settings()).unwrap_err().to_string();
        assert!(err.contains("door sensor type 7"), "{err}");
        Ok(())
    }

    #[test]
    fn device_rules_round_trip_and_default_to_none() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        assert_eq!(s.read(|tx| tx.device_rules())?, DeviceRules::default());
        let rules = DeviceRules {
            anti_passback: 196,
            interlock: 4,
        };
        s.write(|tx| tx.set_device_rules(&rules))?;
        assert_eq!(s.read(|tx| tx.device_rules())?, rules);
        s.write(|tx| tx.set_setting(scope::ACCESS, INTERLOCK_KEY, "x"))?;
        let err = s.read(|tx| tx.device_rules()).unwrap_err().to_string();
        assert!(err.contains("read device rule InterLock"), "{err}");
        Ok(())
    }

    /// Not a check: prints how fast the benchmark's data set loads and how long one decision's
    /// lookups take. Run with
    /// `cargo test --release --lib store::access::tests::timing -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing print, run by hand in release"]
    fn timing_of_bulk_load_and_decision_lookups() -> Result<()> {
        use crate::clock::MonoStopwatch;
        use crate::server::SplitMix64;
        const USERS: u64 = 100_000;
        const TIMEZONES: u32 = 1_000;
        const DOORS: DoorId = 64;
        const DECISIONS: usize = 20_000;
        let own_card = |i: u64| 1_000_000_000 + i;
        let extra_card = |i: u64| 2_000_000_000 + i;

        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("agent.db"))?;
        let clock = MonoStopwatch::start();
        s.write(|tx| {
            for i in 0..USERS {
                let pin = i.to_string();
                tx.upsert_user(&user(&pin, Some(own_card(i))))?;
                tx.upsert_extra_card(&pin, extra_card(i), false)?;
            }
            Ok(())
        })?;
        let secs = clock.elapsed().as_secs_f64();
        let rows = 3 * USERS;
        println!(
            "{USERS} users + {} cards in one transaction: {secs:.2} s, {:.0} rows/s ({:.0} users/s)",
            2 * USERS,
            rows as f64 / secs,
            USERS as f64 / secs
        );

        let clock = MonoStopwatch::start();
        s.write(|tx| {
            for id in 1..=TIMEZONES {
                tx.upsert_timezone(&timezone(id))?;
            }
            for i in 0..USERS {
                let tz = u32::try_from(i % u64::from(TIMEZONES)).unwrap() + 1;
                tx.upsert_authorization(&authorization(&i.to_string(), tz, u64::MAX))?;
            }
            for door in 1..=DOORS {
                tx.upsert_first_card(&first_card(door, "0", 1))?;
                tx.upsert_multi_card_group(&group(u32::from(door), door, [1, 2, 0, 0, 0]))?;
                tx.upsert_super_user(&super_user("0", door))?;
            }
            Ok(())
        })?;
        let secs = clock.elapsed().as_secs_f64();
        println!(
            "{TIMEZONES} time zones + {USERS} authorizations: {secs:.2} s, {:.0} rows/s",
            (f64::from(TIMEZONES) + USERS as f64) / secs
        );

        let mut rng = SplitMix64::new(7);
        let mut micros = Vec::with_capacity(DECISIONS);
        for _ in 0..DECISIONS {
            let i = rng.below(USERS);
            let door = DoorId::try_from(rng.below(u64::from(DOORS))).unwrap() + 1;
            let clock = MonoStopwatch::start();
            let found = s.read(|tx| {
                let Some(card) = tx.card(extra_card(i))? else {
                    return Ok(false);
                };
                let user = tx.user(&card.pin)?;
                let authorizations = tx.authorizations_of(&card.pin)?;
                let tz = tx.timezone(authorizations[0].timezone_id)?;
                tx.is_super_user(&card.pin, door)?;
                tx.first_cards(door)?;
                tx.multi_card_groups(door)?;
                Ok(user.is_some() && tz.is_some())
            })?;
            micros.push(clock.elapsed().as_micros());
            assert!(found);
        }
        micros.sort_unstable();
        let at = |q: f64| micros[((micros.len() - 1) as f64 * q) as usize];
        println!(
            "decision lookups (card, user, authorizations, time zone, super user, first cards, \
             multi-card groups) in one read transaction, {DECISIONS} random: \
             p50 {} us, p99 {} us, max {} us",
            at(0.5),
            at(0.99),
            at(1.0)
        );
        let clock = MonoStopwatch::start();
        let cleared =
            s.write(|tx| tx.delete_access(&AccessDelete::All(AccessTable::ExtraCards)))?;
        println!(
            "mulcarduser *: {cleared} extra cards in {:.2} s",
            clock.elapsed().as_secs_f64()
        );
        Ok(())
    }
}
