//! The security dialect's decision on a credential presented at a door: pure code, no store, no
//! clock [note §7.6]. [`decide`] is a pure function of the request, the rows the shell looked up
//! for it ([`AccessView`]), the door states the shell knows ([`DoorStates`]) and the runtime memory
//! in [`AccessState`]; the shell calls [`AccessState::record`] with the decision afterwards.
//!
//! The seed gives no evaluation order; the note's chain (§7.6) is a recommendation. This one is,
//! first failing check wins:
//!
//! | # | Check | Event |
//! |---|---|---|
//! | 1 | door disabled (`DoorProperty.Disable`): no decision, nothing recorded | — |
//! | 2 | the door's duress password, typed alone or in place of a user's password: opens, alarm | 101 |
//! | 3 | a password typed alone: lockdown 63, the emergency password opens (4), else 30 | 63 / 4 / 30 |
//! | 4 | the card or PIN names a user | 27 |
//! | 5 | user not blocklisted | 39 |
//! | 6 | card not reported lost | 38 |
//! | 7 | user validity window | 29 / 53 |
//! | 8 | door verify mode vs the credential (App 3) | 41 |
//! | 9 | the typed password is the user's | 30 |
//! | 10 | super user for the door (`SuperAuthorize`): opens, whatever follows | 208 |
//! | 11 | door locked down (`DoorMaskFlag`, CONTROL 06) | 63 |
//! | 12 | an authorization for the door, valid now, whose time zone contains now | 23 / 21 / 49 |
//! | 13 | the door's valid time zone (`DoorValidTZ`; 0 = always, a missing zone = never) | 22 |
//! | 14 | door in normal-open: verified, nothing to drive | 1 / 216 |
//! | 15 | anti-passback (App 8, `DoorInOutAntiPassback`, `DoorInTimeAPB`) | 24 |
//! | 16 | interlock (App 9) against the doors now open | 25 |
//! | 17 | punch interval (`DoorIntertime`) | 20 / 50 |
//! | 18 | first card: normal-open start (2 / 215) or activation (22 until activated today) | 2 / 215 / 22 |
//! | 19 | multi-card groups: waiting, opened, not a member | 26 / 51, 3, 48 / 52 |
//! | 20 | opens | 0 / 207 |
//!
//! Why this order:
//! - Identity is proved (4–9) before anything is charged to the user: a wrong password must not
//!   log an anti-passback violation under someone else's PIN, and a super user must prove who
//!   they are before bypassing the door's rules.
//! - The duress password is always valid: refusing it would show the coercer a refusal and drop the
//!   alarm, so it opens even a locked door and whatever PIN precedes it (the common practice of
//!   keypads; the seed says nothing). The emergency password is a shared secret, not a person: a
//!   lockdown stops it, as it stops everyone but super users (AccSupportFunList[48]).
//! - A super user passes the door whatever its restrictions [note §5.2 item 30], so the check sits
//!   before lockdown and every door rule; blocklist, lost card and validity still apply.
//! - Lockdown comes before the privilege checks so a locked door reports 63, the real reason.
//! - Normal-open (event 1: "verified during normal-open") needs a verified, authorized user; the
//!   door is open anyway, so the passage rules after it (anti-passback, interlock, interval, first
//!   card, multi-card) do not apply.
//! - First card comes before multi-card: activation decides whether the door is usable today, and a
//!   swipe must not count towards a multi-card group at a door that is not activated.
//! - User validity: 29 (53 for a password), not App 19 5024/5025: the classic code is reportable
//!   by every server, the App 19 ones only when the device advertises `NewErrorEventTypes` (AMB-29),
//!   and 29 sits in the SimpleEventType group {29,33,53} (AMB-30).
//!
//! Card-class codes (0, 1, 2, 20, 21, 26, 29, 48) are used for a card and for a PIN alone; their
//! password twins (207, 216, 215, 50, 49, 51, 53, 52) when a password was typed [note §7.2].
//!
//! Lookups: every row in [`AccessView`] is found by a key the credential or the door gives (card
//! number, PIN, time zone id, door id, today's month and day), never by scanning a table.

use super::attendance::Credential;
use super::model::{
    Authorization, Card, DeviceRules, Direction, DoorId, DoorSettings, FirstCard, FirstCardMode,
    Holiday, MultiCardGroup, Period, TimeZone,
};
use super::timezone::{self, in_window, zone_contains};
use crate::protocol::civil::{LocalDateTime, days_from_civil};
use crate::protocol::record::VerifyMethod;
use crate::protocol::user::User;
use std::collections::HashMap;

/// The App 2 event codes the decision reports [note §7.2].
pub mod event {
    pub const OPENED: u16 = 0;
    pub const VERIFIED_DURING_NORMAL_OPEN: u16 = 1;
    pub const FIRST_USER_OPENED: u16 = 2;
    pub const MULTI_USER_OPENED: u16 = 3;
    pub const EMERGENCY_PASSWORD_OPENED: u16 = 4;
    pub const INTERVAL_TOO_SHORT: u16 = 20;
    pub const OUTSIDE_TIME_ZONE: u16 = 21;
    pub const INVALID_TIME_PERIOD: u16 = 22;
    pub const NO_PRIVILEGE: u16 = 23;
    pub const ANTI_PASSBACK: u16 = 24;
    pub const INTERLOCK: u16 = 25;
    pub const MULTI_USER_WAITING: u16 = 26;
    pub const NOT_REGISTERED: u16 = 27;
    pub const EXPIRED: u16 = 29;
    pub const WRONG_PASSWORD: u16 = 30;
    pub const CARD_LOST: u16 = 38;
    pub const BLOCKLISTED: u16 = 39;
    pub const WRONG_VERIFY_MODE: u16 = 41;
    pub const MULTI_USER_FAILED: u16 = 48;
    pub const PASSWORD_OUTSIDE_TIME_ZONE: u16 = 49;
    pub const PASSWORD_INTERVAL_TOO_SHORT: u16 = 50;
    pub const MULTI_USER_WAITING_PASSWORD: u16 = 51;
    pub const MULTI_USER_FAILED_PASSWORD: u16 = 52;
    pub const PASSWORD_EXPIRED: u16 = 53;
    pub const DOOR_LOCKED: u16 = 63;
    pub const DURESS_PASSWORD_OPENED: u16 = 101;
    pub const OPENED_BY_PASSWORD: u16 = 207;
    pub const SUPER_USER_OPENED: u16 = 208;
    pub const FIRST_USER_OPENED_BY_PASSWORD: u16 = 215;
    pub const PASSWORD_DURING_NORMAL_OPEN: u16 = 216;
}

/// One credential presented at one reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    pub credential: Credential,
    pub door: DoorId,
    /// The reader's side of the door.
    pub direction: Direction,
    /// Device local time.
    pub now: LocalDateTime,
}

/// The rows the shell looked up for one request, each by key.
#[derive(Debug, Clone, Copy)]
pub struct AccessView<'a> {
    /// The user the card row or the typed PIN names (none for a password typed alone).
    pub user: Option<&'a User>,
    /// The row of the presented card (user `CardNo` or `mulcarduser`); none for the keypad.
    pub card: Option<&'a Card>,
    /// The user's `userauthorize` rows.
    pub authorizations: &'a [Authorization],
    /// The time zones the authorizations, the door's `DoorValidTZ` and the door's first-card rows
    /// name.
    pub timezones: &'a [TimeZone],
    /// The holidays on today's month and day, a keyed lookup (rows of other dates are ignored).
    pub holidays: &'a [Holiday],
    /// This door's parameters.
    pub door: &'a DoorSettings,
    pub rules: DeviceRules,
    /// `firstcard` rows of this door.
    pub first_cards: &'a [FirstCard],
    /// `multimcard` rows of this door.
    pub multi_card_groups: &'a [MultiCardGroup],
    /// Whether `SuperAuthorize` holds (user, this door).
    pub super_user: bool,
}

/// What the shell knows about the doors right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DoorStates {
    /// Bit n−1 set: door n is open (sensor), for interlock.
    pub open_doors: u64,
    /// This door is in a normal-open period (time zone, first card or remote).
    pub normal_open: bool,
}

/// What the door must do on a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoorAction {
    /// Drive the lock for `DoorDrivertime`.
    Pass,
    /// The door is normal-open already: nothing to drive.
    AlreadyOpen,
    /// Pass, then keep the door open until `until` (first-card normal open, event 2 / 215).
    StartNormalOpen { until: LocalDateTime },
    /// Pass and raise the duress alarm (event 101).
    PassUnderDuress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Grant(DoorAction),
    Deny,
    /// Multi-card: the swipe counts; the door waits for the rest of a group.
    Waiting,
}

/// The decision and the record the shell writes for it (rtlog / transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    /// App 2 code [note §7.2].
    pub event: u16,
    /// App 3 code of the credential presented: 4 card, 3 password, 2 user ID [note §7.4].
    pub verify_type: u16,
    /// The user, when the credential named a known one.
    pub pin: Option<String>,
    /// The card presented, if any.
    pub card: Option<u64>,
    memo: Memo,
}

/// What [`AccessState::record`] must remember of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Memo {
    Nothing,
    /// The user passed the door.
    Pass,
    /// A first-card user passed and activated the door for today.
    Activate,
    /// A multi-card swipe counts for `group`; `restart` drops the expired swipes first.
    Wait {
        group: u32,
        restart: bool,
    },
    /// A multi-card group completed: everyone waiting passes with this user.
    GroupPass,
}

/// An event code with a card twin and a password twin [note §7.2].
#[derive(Clone, Copy)]
struct Twin {
    card: u16,
    password: u16,
}

const OPENED: Twin = Twin {
    card: event::OPENED,
    password: event::OPENED_BY_PASSWORD,
};
const DURING_NORMAL_OPEN: Twin = Twin {
    card: event::VERIFIED_DURING_NORMAL_OPEN,
    password: event::PASSWORD_DURING_NORMAL_OPEN,
};
const FIRST_USER: Twin = Twin {
    card: event::FIRST_USER_OPENED,
    password: event::FIRST_USER_OPENED_BY_PASSWORD,
};
const INTERVAL: Twin = Twin {
    card: event::INTERVAL_TOO_SHORT,
    password: event::PASSWORD_INTERVAL_TOO_SHORT,
};
const OUTSIDE_ZONE: Twin = Twin {
    card: event::OUTSIDE_TIME_ZONE,
    password: event::PASSWORD_OUTSIDE_TIME_ZONE,
};
const WAITING: Twin = Twin {
    card: event::MULTI_USER_WAITING,
    password: event::MULTI_USER_WAITING_PASSWORD,
};
const EXPIRED: Twin = Twin {
    card: event::EXPIRED,
    password: event::PASSWORD_EXPIRED,
};
const MULTI_FAILED: Twin = Twin {
    card: event::MULTI_USER_FAILED,
    password: event::MULTI_USER_FAILED_PASSWORD,
};

/// Decides on `request`. `None`: the door is disabled and ignores every credential; there is
/// nothing to record. Pure: the same inputs give the same decision.
pub fn decide(
    request: &AccessRequest,
    view: &AccessView<'_>,
    doors: DoorStates,
    state: &AccessState,
) -> Option<Decision> {
    if view.door.disabled {
        return None;
    }
    let judge = Judge {
        request,
        view,
        doors,
        state,
        method: presented_method(&request.credential),
        now_secs: local_seconds(request.now),
    };
    Some(judge.run())
}

/// The password typed, if any; an empty one counts as none.
fn typed_password(credential: &Credential) -> Option<&str> {
    match credential {
        Credential::Keypad {
            password: Some(p), ..
        }
        | Credential::Password(p)
            if !p.is_empty() =>
        {
            Some(p)
        }
        _ => None,
    }
}

fn presented_method(credential: &Credential) -> VerifyMethod {
    match credential {
        Credential::Card(_) => VerifyMethod::Card,
        Credential::Keypad { .. } if typed_password(credential).is_none() => VerifyMethod::UserId,
        Credential::Keypad { .. } | Credential::Password(_) => VerifyMethod::Password,
    }
}

/// App 3's code for what was presented [note §7.4].
fn app3_code(method: VerifyMethod) -> u16 {
    match method {
        VerifyMethod::UserId => 2,
        VerifyMethod::Password => 3,
        VerifyMethod::Card => 4,
    }
}

/// Whether App 3 door mode `mode` accepts what was presented [note §7.4]. Modes that need a
/// biometric, a combination one credential cannot carry (11 card + password) or an unknown code
/// accept nothing: the door's demand is not met.
fn verify_mode_accepts(mode: u16, method: VerifyMethod) -> bool {
    use VerifyMethod::{Card, Password, UserId};
    matches!(
        (mode, method),
        // 0 auto, 7 card or password
        (0 | 7, Card | Password)
        // 2 user ID (a password typed too is checked like any other)
        | (2, UserId | Password)
        // 3 password only, 5 fingerprint or password
        | (3 | 5, Password)
        // 4 card only, 6 fingerprint or card
        | (4 | 6, Card)
    )
}

/// Whether `typed` is the door password `configured`; an empty configured password is none.
fn is_door_password(configured: &str, typed: &str) -> bool {
    !configured.is_empty() && configured == typed
}

/// Bit n−1 for door n; 0 for a door number no bitmask can name.
fn door_bit(door: DoorId) -> u64 {
    u32::from(door)
        .checked_sub(1)
        .and_then(|shift| 1u64.checked_shl(shift))
        .unwrap_or(0)
}

/// Seconds on the local wall clock, for differences between two local times.
fn local_seconds(t: LocalDateTime) -> i64 {
    t.to_unix(0)
}

fn day_number(t: LocalDateTime) -> i64 {
    days_from_civil(t.year, t.month, t.day)
}

/// App 8 door-level rules: pairs of door sets (bitmasks); after a pass on one side the next
/// pass among both sides must be on the other [note §9.5].
fn door_apb_sides(code: u16) -> &'static [(u64, u64)] {
    match code {
        1 => &[(0b0001, 0b0010)],
        2 => &[(0b0100, 0b1000)],
        3 => &[(0b0001, 0b0010), (0b0100, 0b1000)],
        4 => &[(0b0011, 0b1100)],
        5 => &[(0b0001, 0b0110)],
        6 => &[(0b0001, 0b1110)],
        _ => &[],
    }
}

/// App 8 reader-level rules: the doors whose in and out readers must alternate. The values are
/// bitmasks `16 << (door − 1)`, so the doors are the high nibble; the low bits are ignored, which
/// reads the seed's 196 as 192 (doors 3 and 4) [AMB-32]. Values below 16 are door rules.
fn reader_apb_doors(code: u16) -> u64 {
    u64::from(code >> 4) & 0b1111
}

/// App 9: the groups of doors of which only one may be open at a time [note §9.6].
fn interlock_groups(code: u16) -> &'static [u64] {
    match code {
        1 => &[0b0011],
        2 => &[0b1100],
        3 => &[0b0111],
        4 => &[0b0011, 0b1100],
        5 => &[0b1111],
        _ => &[],
    }
}

struct Judge<'r, 'v> {
    request: &'r AccessRequest,
    view: &'r AccessView<'v>,
    doors: DoorStates,
    state: &'r AccessState,
    method: VerifyMethod,
    now_secs: i64,
}

impl Judge<'_, '_> {
    fn run(&self) -> Decision {
        let door = self.view.door;
        let now = self.request.now;
        let password = typed_password(&self.request.credential);
        if let Some(typed) = password
            && is_door_password(&door.duress_password, typed)
        {
            let user = match &self.request.credential {
                Credential::Keypad { pin, .. } => self.view.user.filter(|u| u.pin == *pin),
                _ => None,
            };
            let memo = if user.is_some() {
                Memo::Pass
            } else {
                Memo::Nothing
            };
            return self.grant(
                event::DURESS_PASSWORD_OPENED,
                DoorAction::PassUnderDuress,
                user,
                memo,
            );
        }
        let (user, card) = match &self.request.credential {
            Credential::Password(typed) => return self.door_password(typed),
            Credential::Card(number) => {
                let card = self.view.card.filter(|c| c.number == *number);
                (
                    card.and_then(|c| self.view.user.filter(|u| u.pin == c.pin)),
                    card,
                )
            }
            Credential::Keypad { pin, .. } => (self.view.user.filter(|u| u.pin == *pin), None),
        };
        let Some(user) = user else {
            return self.deny(event::NOT_REGISTERED, None);
        };
        if user.disabled {
            return self.deny(event::BLOCKLISTED, Some(user));
        }
        if card.is_some_and(|c| c.lost) {
            return self.deny(event::CARD_LOST, Some(user));
        }
        if !user.valid_on(now) {
            return self.deny(self.code(EXPIRED), Some(user));
        }
        if !verify_mode_accepts(door.verify_mode, self.method) {
            return self.deny(event::WRONG_VERIFY_MODE, Some(user));
        }
        if password.is_some_and(|typed| user.password.is_empty() || typed != user.password) {
            return self.deny(event::WRONG_PASSWORD, Some(user));
        }
        if self.view.super_user {
            return self.pass(event::SUPER_USER_OPENED, user);
        }
        if door.locked {
            return self.deny(event::DOOR_LOCKED, Some(user));
        }
        if let Some(code) = self.privilege_denial(user) {
            return self.deny(code, Some(user));
        }
        if door.valid_tz != 0
            && !zone_contains(self.view.timezones, door.valid_tz, now, self.view.holidays)
        {
            return self.deny(event::INVALID_TIME_PERIOD, Some(user));
        }
        if self.doors.normal_open {
            let code = self.code(DURING_NORMAL_OPEN);
            return self.grant(code, DoorAction::AlreadyOpen, Some(user), Memo::Pass);
        }
        if self.violates_anti_passback(user) {
            return self.deny(event::ANTI_PASSBACK, Some(user));
        }
        if self.violates_interlock() {
            return self.deny(event::INTERLOCK, Some(user));
        }
        if self
            .state
            .passes(&user.pin)
            .iter()
            .any(|p| p.door == self.request.door && self.within(p.at, door.inter_secs))
        {
            return self.deny(self.code(INTERVAL), Some(user));
        }
        if let Some(decision) = self.first_card(user) {
            return decision;
        }
        if let Some(decision) = self.multi_card(user) {
            return decision;
        }
        self.pass(self.code(OPENED), user)
    }

    /// A password typed alone that is not the duress password (checked before).
    fn door_password(&self, typed: &str) -> Decision {
        let door = self.view.door;
        if door.locked {
            self.deny(event::DOOR_LOCKED, None)
        } else if is_door_password(&door.super_password, typed) {
            self.grant(
                event::EMERGENCY_PASSWORD_OPENED,
                DoorAction::Pass,
                None,
                Memo::Nothing,
            )
        } else {
            self.deny(event::WRONG_PASSWORD, None)
        }
    }

    /// `None` when an authorization opens this door now; else 23 when none covers the door at
    /// this date, 21 / 49 when those that do are outside their time zones.
    fn privilege_denial(&self, user: &User) -> Option<u16> {
        let now = self.request.now;
        let bit = door_bit(self.request.door);
        let mut covers_door = false;
        for authorization in self.view.authorizations.iter().filter(|a| {
            a.pin == user.pin && a.doors & bit != 0 && in_window(a.valid_from, a.valid_until, now)
        }) {
            covers_door = true;
            let zone = authorization.timezone_id;
            if zone_contains(self.view.timezones, zone, now, self.view.holidays) {
                return None;
            }
        }
        Some(if covers_door {
            self.code(OUTSIDE_ZONE)
        } else {
            event::NO_PRIVILEGE
        })
    }

    /// Whether the user's last pass forbids this one. With `DoorInTimeAPB` > 0 a pass forbids
    /// only for that many seconds; 0 forbids until a pass the other way.
    fn violates_anti_passback(&self, user: &User) -> bool {
        let door = self.request.door;
        let settings = self.view.door;
        let bit = door_bit(door);
        let passes = self.state.passes(&user.pin);
        let lasting = |p: &DoorPass| {
            settings.in_time_apb_secs == 0 || self.within(p.at, settings.in_time_apb_secs)
        };
        // Per door (`DoorInOutAntiPassback`: bit 0 in, bit 1 out) and App 8's reader rules: the
        // last pass at this door must not be in this direction.
        let guarded = match self.request.direction {
            Direction::In => settings.in_out_apb & 1 != 0,
            Direction::Out => settings.in_out_apb & 2 != 0,
        } || reader_apb_doors(self.view.rules.anti_passback) & bit != 0;
        if guarded
            && passes
                .iter()
                .any(|p| p.door == door && p.direction == self.request.direction && lasting(p))
        {
            return true;
        }
        // App 8's door rules: the last pass among both sides must not be on this door's side.
        door_apb_sides(self.view.rules.anti_passback)
            .iter()
            .any(|&(a, b)| {
                let side = if a & bit != 0 {
                    a
                } else if b & bit != 0 {
                    b
                } else {
                    return false;
                };
                passes
                    .iter()
                    .filter(|p| door_bit(p.door) & (a | b) != 0)
                    .max_by_key(|p| p.at)
                    .is_some_and(|p| door_bit(p.door) & side != 0 && lasting(p))
            })
    }

    fn violates_interlock(&self) -> bool {
        let bit = door_bit(self.request.door);
        interlock_groups(self.view.rules.interlock)
            .iter()
            .any(|group| group & bit != 0 && self.doors.open_doors & group & !bit != 0)
    }

    /// `DoorFirstCardOpenDoor` [App 10]. `None`: first card has nothing to say here.
    fn first_card(&self, user: &User) -> Option<Decision> {
        let mode = self.view.door.first_card;
        if mode == FirstCardMode::Off {
            return None;
        }
        let now = self.request.now;
        let mut rows = self
            .view
            .first_cards
            .iter()
            .filter(|f| f.door == self.request.door)
            .peekable();
        // A rule without rows is not configured (activation would otherwise refuse everyone).
        rows.peek()?;
        let period = rows
            .filter(|f| f.pin == user.pin)
            .filter_map(|f| timezone::find(self.view.timezones, f.timezone_id))
            .filter_map(|tz| tz.period_at(now, self.view.holidays))
            .max_by_key(|p| p.end);
        match mode {
            FirstCardMode::Off => None,
            FirstCardMode::NormalOpen => {
                let until = end_of(now, period?);
                Some(self.grant(
                    self.code(FIRST_USER),
                    DoorAction::StartNormalOpen { until },
                    Some(user),
                    Memo::Pass,
                ))
            }
            FirstCardMode::Activation => {
                if self.state.activated_day(self.request.door) == Some(day_number(now)) {
                    return None;
                }
                // Until a first-card user passes, the door is outside its valid time.
                Some(match period {
                    Some(_) => self.grant(
                        self.code(FIRST_USER),
                        DoorAction::Pass,
                        Some(user),
                        Memo::Activate,
                    ),
                    None => self.deny(event::INVALID_TIME_PERIOD, Some(user)),
                })
            }
        }
    }

    /// `DoorMultiCardOpenDoor`: the door opens once one user of each group of a `multimcard`
    /// row (a group listed twice needs two users) has passed within `DoorMultiCardInterTime` of
    /// the first. `None`: not a multi-card door, or one without rows.
    fn multi_card(&self, user: &User) -> Option<Decision> {
        let door = self.view.door;
        if !door.multi_card {
            return None;
        }
        let mut combinations = self
            .view
            .multi_card_groups
            .iter()
            .filter(|g| g.door == self.request.door)
            .peekable();
        combinations.peek()?;
        let pending =
            self.state
                .live_pending(self.request.door, self.now_secs, door.multi_card_inter_secs);
        let available = |group: u32| {
            let others = pending
                .iter()
                .filter(|s| s.group == group && s.pin != user.pin)
                .count();
            others + usize::from(user.group == group)
        };
        let mut member = false;
        for combination in combinations {
            let required = combination.groups.iter().filter(|g| **g != 0);
            if !required.clone().any(|g| *g == user.group) {
                continue;
            }
            member = true;
            let complete = required
                .clone()
                .all(|g| required.clone().filter(|h| *h == g).count() <= available(*g));
            if complete {
                return Some(self.grant(
                    event::MULTI_USER_OPENED,
                    DoorAction::Pass,
                    Some(user),
                    Memo::GroupPass,
                ));
            }
        }
        Some(if member {
            self.decision(
                Verdict::Waiting,
                self.code(WAITING),
                Some(user),
                Memo::Wait {
                    group: user.group,
                    restart: pending.is_empty(),
                },
            )
        } else {
            self.deny(self.code(MULTI_FAILED), Some(user))
        })
    }

    /// Whether `at` lies less than `secs` seconds before now. A time after now (the clock was
    /// set back) is not: a clock step forgets timed restrictions rather than stretching them.
    fn within(&self, at: i64, secs: u32) -> bool {
        (0..i64::from(secs)).contains(&(self.now_secs - at))
    }

    fn code(&self, twin: Twin) -> u16 {
        match self.method {
            VerifyMethod::Password => twin.password,
            VerifyMethod::Card | VerifyMethod::UserId => twin.card,
        }
    }

    fn decision(&self, verdict: Verdict, event: u16, user: Option<&User>, memo: Memo) -> Decision {
        Decision {
            verdict,
            event,
            verify_type: app3_code(self.method),
            pin: user.map(|u| u.pin.clone()),
            card: match self.request.credential {
                Credential::Card(number) => Some(number),
                _ => None,
            },
            memo,
        }
    }

    fn deny(&self, event: u16, user: Option<&User>) -> Decision {
        self.decision(Verdict::Deny, event, user, Memo::Nothing)
    }

    fn grant(&self, event: u16, action: DoorAction, user: Option<&User>, memo: Memo) -> Decision {
        self.decision(Verdict::Grant(action), event, user, memo)
    }

    fn pass(&self, event: u16, user: &User) -> Decision {
        self.grant(event, DoorAction::Pass, Some(user), Memo::Pass)
    }
}

/// The last second of `period` on the day of `now`.
fn end_of(now: LocalDateTime, period: Period) -> LocalDateTime {
    LocalDateTime {
        hour: (period.end / 60) as u8,
        minute: (period.end % 60) as u8,
        second: 59,
        ..now
    }
}

/// One user's last pass at one door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DoorPass {
    door: DoorId,
    direction: Direction,
    /// [`local_seconds`] of the pass.
    at: i64,
}

/// A multi-card swipe waiting for the rest of its group.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PendingSwipe {
    pin: String,
    group: u32,
    at: i64,
}

/// The runtime memory of the decision: each user's last pass per door (anti-passback, punch
/// interval), the multi-card swipes waiting at each door, and the day each door was last
/// activated by a first card. Lost on restart: anti-passback and intervals start afresh.
///
/// Bounded: at most `max_users` users' passes (one per door each), [`MAX_PENDING`] swipes per
/// door and one day per door. Users are kept in two generations; when the newer one holds half
/// of `max_users`, the older one is dropped, so the users not seen for longest are forgotten
/// first, as if the device had restarted for them.
#[derive(Debug, Clone)]
pub struct AccessState {
    max_users: usize,
    recent: HashMap<String, Vec<DoorPass>>,
    older: HashMap<String, Vec<DoorPass>>,
    pending: HashMap<DoorId, Vec<PendingSwipe>>,
    activated: HashMap<DoorId, i64>,
}

/// Waiting multi-card swipes kept per door; the oldest goes first. A `multimcard` row names at
/// most five groups, so this leaves room for several partial groups.
pub const MAX_PENDING: usize = 16;

impl Default for AccessState {
    fn default() -> Self {
        AccessState::new(AccessState::DEFAULT_MAX_USERS)
    }
}

impl AccessState {
    /// About 6 MB at most: a few dozen bytes per user and door passed.
    pub const DEFAULT_MAX_USERS: usize = 50_000;

    pub fn new(max_users: usize) -> AccessState {
        AccessState {
            max_users,
            recent: HashMap::new(),
            older: HashMap::new(),
            pending: HashMap::new(),
            activated: HashMap::new(),
        }
    }

    /// Remembers what `decision` (made by [`decide`] for `request`) changes. Call it after every
    /// decision; denials change nothing.
    pub fn record(&mut self, request: &AccessRequest, decision: &Decision) {
        let Some(pin) = decision.pin.as_deref() else {
            return;
        };
        let door = request.door;
        let at = local_seconds(request.now);
        let pass = DoorPass {
            door,
            direction: request.direction,
            at,
        };
        match decision.memo {
            Memo::Nothing => {}
            Memo::Pass => self.remember_pass(pin, pass),
            Memo::Activate => {
                self.activated.insert(door, day_number(request.now));
                self.remember_pass(pin, pass);
            }
            Memo::Wait { group, restart } => {
                let swipes = self.pending.entry(door).or_default();
                if restart {
                    swipes.clear();
                }
                if !swipes.iter().any(|s| s.pin == pin) {
                    if swipes.len() == MAX_PENDING {
                        swipes.remove(0);
                    }
                    swipes.push(PendingSwipe {
                        pin: pin.to_owned(),
                        group,
                        at,
                    });
                }
            }
            Memo::GroupPass => {
                for waiting in self.pending.remove(&door).unwrap_or_default() {
                    self.remember_pass(&waiting.pin, pass);
                }
                self.remember_pass(pin, pass);
            }
        }
    }

    fn remember_pass(&mut self, pin: &str, pass: DoorPass) {
        if !self.recent.contains_key(pin) {
            if self.recent.len() >= self.max_users.div_ceil(2).max(1) {
                self.older = std::mem::take(&mut self.recent);
            }
            let carried = self.older.remove(pin).unwrap_or_default();
            self.recent.insert(pin.to_owned(), carried);
        }
        if let Some(passes) = self.recent.get_mut(pin) {
            passes.retain(|p| p.door != pass.door);
            passes.push(pass);
        }
    }

    /// The user's last pass at each door, newest generation first.
    fn passes(&self, pin: &str) -> &[DoorPass] {
        self.recent
            .get(pin)
            .or_else(|| self.older.get(pin))
            .map_or(&[], Vec::as_slice)
    }

    /// The swipes waiting at `door`, or none when the first of them is older than `window`
    /// seconds (the group did not complete in time).
    fn live_pending(&self, door: DoorId, now: i64, window: u32) -> &[PendingSwipe] {
        match self.pending.get(&door) {
            Some(swipes)
                if swipes
                    .first()
                    .is_some_and(|first| now - first.at <= i64::from(window)) =>
            {
                swipes
            }
            _ => &[],
        }
    }

    fn activated_day(&self, door: DoorId) -> Option<i64> {
        self.activated.get(&door).copied()
    }

    #[cfg(test)]
    fn remembered_users(&self) -> usize {
        self.recent.len() + self.older.len()
    }
}

#[cfg(test)]
mod tests;
