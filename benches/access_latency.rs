//! Latency of the access decision on a full store (issue #3 "Speed"): with 1,000,000 users,
//! 2,000,000 cards, 1,000 time zones and 64 doors in a real file store in a temporary directory,
//! how long the real [`Controller`] takes from a card presented at a reader to the relay command,
//! and to the end of `handle` with the rtlog record committed. Target: p99 of the first under
//! 1 ms on the host.
//!
//! The data set is loaded once through the store's API in transactions of
//! [`USERS_PER_TRANSACTION`] users (not timed; the load time is printed). Every row is a pure
//! function of a user's or door's number ([`UserPlan`], [`door_settings`], [`timezone`]), so the
//! run predicts each decision without reading the store:
//! - user n (PIN n+1) holds card `CARD_BASE + 2n` as `CardNo` and `CARD_BASE + 2n + 1` as a
//!   `mulcarduser` card; one user in a thousand is blocklisted, one is expired, one has lost the
//!   extra card, one is a super user of doors 41–48;
//! - each user has a `userauthorize` row for half the doors in one of time zones 2–1000 (shifts of
//!   varied hours, some with a night period or weekend hours, holiday periods, some expired), and
//!   every other user a second row for three quarters of the doors in time zone 1 (always);
//! - the doors vary in drive time and verify mode (40 takes passwords only), 41–47 have a
//!   `DoorValidTZ`, 48 is locked down, 57–64 have in/out anti-passback (61–64 timed);
//! - three holidays fall in the simulated span, one of each type; each door has first-card and
//!   multi-card rows (the modes are off, so the rows are read on every decision but do not
//!   decide).
//!
//! Each of [`ROUNDS`] rounds opens the store, starts a controller for 64 doors on a
//! [`ManualClock`] and presents [`SWIPES`] cards at random doors and readers: known cards of
//! random users, [`UNKNOWN_PERCENT`] % unknown cards, and [`REPEAT_PERCENT`] % repeats of a
//! recent pass at an anti-passback door. The clock moves [`STEP_SECS`] between swipes (about 8.6
//! days in all: weekdays, a weekend, the holidays) and the doors' due timers are fired, not
//! timed, so every door is locked again before the next swipe. Two latencies per swipe, on the
//! host's monotonic clock:
//! - credential → relay: from calling `Controller::handle` to the relay's `set_lock` (grants only:
//!   a refusal drives no relay). This is the figure the target is about.
//! - the whole `handle`: the relay, then the rtlog record committed (a write transaction, synced
//!   to disk), for grants and refusals.
//!
//! Each round prints p50, p99 and max of both, and the counts; then the median of each figure
//! over the rounds and the peak RSS of the process (`VmHWM`). Times are printed, never asserted.
//! Results are checked and a wrong one panics: every decision's event code and PIN are the ones
//! the data set implies (following the check order of `access::control`); a grant drives
//! exactly one relay, its door's, to energised, and a refusal none; every swipe wrote exactly one
//! record, and the store holds each with the predicted event, PIN, card and door. The rounds
//! write [`ROUNDS`] × [`SWIPES`] records, below 90 % of the controller's default record capacity,
//! so none is trimmed and no capacity warning (6005) joins a swipe's record.
//!
//! Run with `cargo bench --locked --bench access_latency` (release profile).

use push_agent::access::Credential;
use push_agent::access::control::{DoorAction, Verdict, event};
use push_agent::access::model::{
    Authorization, Direction, DoorId, DoorSettings, FirstCard, Holiday, MAX_DOORS, MultiCardGroup,
    Period, SuperUser, TimeZone,
};
use push_agent::clock::{DeviceClock, ManualClock, MonoStopwatch};
use push_agent::controller::{Controller, ControllerInput, RecordCapacity};
use push_agent::hal::Relays;
use push_agent::protocol::civil::{LocalDateTime, civil_from_days};
use push_agent::protocol::options::{StampTable, UtcOffset};
use push_agent::protocol::security::rtlog::RtLog;
use push_agent::protocol::session::{Mono, Now};
use push_agent::protocol::user::User;
use push_agent::server::SplitMix64;
use push_agent::store::{Store, StoreError, Tx};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const USERS: u32 = 1_000_000;
const TIMEZONES: u32 = 1_000;
const DOORS: DoorId = MAX_DOORS;
const ROUNDS: usize = 3;
/// Card swipes per round.
const SWIPES: usize = 20_000;
const USERS_PER_TRANSACTION: u32 = 50_000;
/// User n's cards are `CARD_BASE + 2n` (`CardNo`) and `CARD_BASE + 2n + 1` (`mulcarduser`).
const CARD_BASE: u64 = 1_000_000_000;
/// Unknown cards are drawn from `UNKNOWN_CARD_BASE` on, far above every user's card.
const UNKNOWN_CARD_BASE: u64 = 3_000_000_000;
const UNKNOWN_PERCENT: u64 = 5;
const REPEAT_PERCENT: u64 = 4;
/// Simulated seconds between two swipes: longer than any door's drive time and punch interval,
/// so each swipe finds its door locked and no interval refusal (event 20) can occur.
const STEP_SECS: u64 = 37;
/// 2026-11-23 00:00:00, a Monday. The device's zone is UTC.
const T0_UNIX: i64 = 1_795_392_000;
const TARGET_P99: Duration = Duration::from_millis(1);

/// Time zone 1: every minute of every day, holidays included.
const ALWAYS: u32 = 1;
/// Takes passwords only (App 3 mode 3): every card is refused with event 41.
const PASSWORD_ONLY_DOOR: DoorId = 40;
/// Accept credentials only inside their `DoorValidTZ`, time zone 100 + door.
const VALID_TZ_DOORS: RangeInclusive<DoorId> = 41..=47;
/// Locked down (`DoorMaskFlag`): only super users pass.
const LOCKED_DOOR: DoorId = 48;
/// The doors of every super user.
const SUPER_DOORS: RangeInclusive<DoorId> = 41..=48;
/// In and out anti-passback (`DoorInOutAntiPassback` = 3).
const APB_DOORS: RangeInclusive<DoorId> = 57..=64;
/// Of the anti-passback doors, those whose rule lasts [`APB_SECS`] (`DoorInTimeAPB`).
const TIMED_APB_DOORS: RangeInclusive<DoorId> = 61..=64;
const APB_SECS: u32 = 300;
/// Holidays as (date, type, yearly): three in the simulated span (2026-11-25, 11-30 and the
/// yearly 12-01), the others outside it; 2025-11-26 is an exact-date holiday of last year, so
/// 2026-11-26 is a workday.
const HOLIDAYS: [((i32, u8, u8), u8, bool); 6] = [
    ((2026, 11, 25), 1, false),
    ((2025, 12, 1), 2, true),
    ((2026, 11, 30), 3, false),
    ((2025, 11, 26), 1, false),
    ((2026, 12, 25), 1, true),
    ((2026, 1, 1), 2, true),
];

fn main() {
    println!(
        "access decision latency: {USERS} users, {} cards, {TIMEZONES} time zones, {DOORS} doors; \
         {SWIPES} swipes per round",
        2 * u64::from(USERS)
    );
    assert!(
        (ROUNDS * SWIPES) as u64 * 10 < RecordCapacity::default().max_records * 9,
        "the rounds' records stay below the capacity warning"
    );
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("agent.db");
    load_data_set(&db);
    let rounds: Vec<Figures> = (0..ROUNDS).map(|round| run_round(&db, round)).collect();
    println!("median of {ROUNDS} rounds (target: credential -> relay p99 < {TARGET_P99:?}):");
    for (i, what) in Figures::NAMES.iter().enumerate() {
        let median = |pick: fn(&Summary) -> Duration| {
            let mut values: Vec<Duration> = rounds.iter().map(|r| pick(&r.summaries[i])).collect();
            values.sort_unstable();
            values[values.len() / 2]
        };
        println!(
            "  {what:<30} p50 {:>9}  p99 {:>9}  max {:>9}",
            micros(median(|s| s.p50)),
            micros(median(|s| s.p99)),
            micros(median(|s| s.max))
        );
    }
    println!("peak RSS (VmHWM): {}", peak_rss());
}

// ----- the data set -----

/// What the data set holds for user `n`: a pure function of `n`.
struct UserPlan {
    pin: String,
    /// The time zone of the user's first authorization.
    zone: u32,
    /// The doors of the first authorization.
    zone_doors: u64,
    /// The doors of the second authorization, in time zone [`ALWAYS`]; 0 = no second row.
    always_doors: u64,
    blocklisted: bool,
    expired: bool,
    extra_card_lost: bool,
    super_user: bool,
}

fn user_plan(n: u32) -> UserPlan {
    let mut bits = SplitMix64::new(u64::from(n));
    let (a, b, c) = (bits.next_u64(), bits.next_u64(), bits.next_u64());
    UserPlan {
        pin: (n + 1).to_string(),
        zone: 2 + n % (TIMEZONES - 1),
        zone_doors: a,
        always_doors: if n.is_multiple_of(2) { b | c } else { 0 },
        blocklisted: n % 1000 == 13,
        expired: n % 1000 == 7,
        extra_card_lost: n % 1000 == 17,
        super_user: n % 1000 == 11,
    }
}

fn main_card(n: u32) -> u64 {
    CARD_BASE + 2 * u64::from(n)
}

/// The user holding `card`, and whether it is their extra card; `None` for an unknown card.
fn card_holder(card: u64) -> Option<(u32, bool)> {
    let offset = card.checked_sub(CARD_BASE)?;
    let n = u32::try_from(offset / 2).ok().filter(|n| *n < USERS)?;
    Some((n, offset % 2 == 1))
}

fn minutes(hour: u16, minute: u16) -> u16 {
    hour * 60 + minute
}

/// Time zone `id`: [`ALWAYS`] for 1; otherwise a weekday shift starting between 05:00 and 10:30
/// and lasting 6 to 10 hours, a night period for every third zone, Saturday mornings for every
/// fourth, Sundays for every eighth, holiday types 2 and (for even ids) 3 open, type 1 closed,
/// and every fiftieth zone expired.
fn timezone(id: u32) -> TimeZone {
    let mut days = [[Period::NONE; 3]; 7];
    let mut holidays = [[Period::NONE; 3]; 3];
    let mut valid_until = None;
    if id == ALWAYS {
        for periods in days.iter_mut().chain(&mut holidays) {
            periods[0] = Period::ALL_DAY;
        }
    } else {
        let start = minutes(5, 0) + (id % 12) as u16 * 30;
        let shift = Period {
            start,
            end: start + minutes(6, 0) + (id % 5) as u16 * 60,
        };
        for periods in &mut days[1..=5] {
            periods[0] = shift;
            if id.is_multiple_of(3) {
                periods[1] = Period {
                    start: minutes(21, 0),
                    end: minutes(23, 30),
                };
            }
        }
        if id.is_multiple_of(4) {
            days[6][0] = Period {
                start: minutes(8, 0),
                end: minutes(12, 0),
            };
        }
        if id.is_multiple_of(8) {
            days[0][0] = Period {
                start: minutes(10, 0),
                end: minutes(14, 0),
            };
        }
        holidays[1][0] = Period {
            start: minutes(9, 0),
            end: minutes(12, 0),
        };
        if id.is_multiple_of(2) {
            holidays[2][0] = shift;
        }
        if id.is_multiple_of(50) {
            valid_until = LocalDateTime::new(2025, 12, 31, 23, 59, 59);
        }
    }
    TimeZone {
        id,
        days,
        holidays,
        valid_from: None,
        valid_until,
    }
}

fn holidays() -> Vec<Holiday> {
    HOLIDAYS
        .iter()
        .map(|&((year, month, day), kind, yearly)| Holiday {
            year,
            month,
            day,
            kind,
            yearly,
        })
        .collect()
}

fn door_settings(door: DoorId) -> DoorSettings {
    DoorSettings {
        drive_secs: 3 + door % 8,
        // 3 password only; 4 card only; 6 fingerprint or card; 0 any credential.
        verify_mode: match door % 3 {
            _ if door == PASSWORD_ONLY_DOOR => 3,
            0 => 4,
            1 => 6,
            _ => 0,
        },
        valid_tz: if VALID_TZ_DOORS.contains(&door) {
            100 + u32::from(door)
        } else {
            0
        },
        locked: door == LOCKED_DOOR,
        in_out_apb: if APB_DOORS.contains(&door) { 3 } else { 0 },
        in_time_apb_secs: if TIMED_APB_DOORS.contains(&door) {
            APB_SECS
        } else {
            0
        },
        ..DoorSettings::default()
    }
}

/// Loads the data set into a fresh store at `db` and prints how long it took.
fn load_data_set(db: &Path) {
    let watch = MonoStopwatch::start();
    let mut store = Store::open(db).expect("store opens");
    store
        .write(|tx| {
            for id in 1..=TIMEZONES {
                tx.upsert_timezone(&timezone(id))?;
            }
            for holiday in holidays() {
                tx.upsert_holiday(&holiday)?;
            }
            for door in 1..=DOORS {
                tx.set_door_settings(door, &door_settings(door))?;
                for pin in [u32::from(door) * 7, u32::from(door) * 11] {
                    tx.upsert_first_card(&FirstCard {
                        door,
                        timezone_id: ALWAYS,
                        pin: pin.to_string(),
                    })?;
                }
                tx.upsert_multi_card_group(&MultiCardGroup {
                    index: u32::from(door),
                    door,
                    groups: [1, 2, 0, 0, 0],
                })?;
            }
            Ok(())
        })
        .expect("time zones, holidays and doors stored");
    let mut authorizations = 0u64;
    for first in (0..USERS).step_by(USERS_PER_TRANSACTION as usize) {
        let last = (first + USERS_PER_TRANSACTION).min(USERS);
        authorizations += store
            .write(|tx| {
                let mut rows = 0;
                for n in first..last {
                    rows += load_user(tx, n)?;
                }
                Ok(rows)
            })
            .expect("users stored");
    }
    let secs = watch.elapsed().as_secs_f64();
    let (users, last_user) = store
        .read(|tx| Ok((tx.count_users()?, tx.card(main_card(USERS - 1) + 1)?)))
        .expect("store reads");
    assert_eq!(users, i64::from(USERS), "users stored");
    assert_eq!(
        last_user.map(|c| c.pin),
        Some(USERS.to_string()),
        "the last extra card names the last user"
    );
    let rows = 3 * u64::from(USERS) + authorizations;
    let bytes: u64 = ["", "-wal"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", db.display())).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "loaded {USERS} users, {} cards, {authorizations} authorizations, {TIMEZONES} time zones \
         in {secs:.1} s ({:.0} rows/s, transactions of {USERS_PER_TRANSACTION} users; \
         store {} MB), not timed below",
        2 * u64::from(USERS),
        rows as f64 / secs,
        bytes / 1_000_000
    );
}

/// Stores user `n` with their cards, authorizations and super-user rows; returns how many
/// authorizations it stored.
fn load_user(tx: &Tx<'_>, n: u32) -> Result<u64, StoreError> {
    let plan = user_plan(n);
    let user = User {
        name: format!("User {}", plan.pin),
        card: Some(main_card(n)),
        group: 1 + n % 4,
        valid_until: if plan.expired {
            LocalDateTime::new(2020, 12, 31, 0, 0, 0)
        } else {
            None
        },
        disabled: plan.blocklisted,
        ..User::new(&plan.pin)
    };
    // The store is new: no user is stored yet, so there is no previous user to read first.
    tx.replace_user(&user, None)?;
    assert!(
        tx.upsert_extra_card(&plan.pin, main_card(n) + 1, plan.extra_card_lost)?,
        "extra card of user {}",
        plan.pin
    );
    let mut rows = 0;
    for (timezone_id, doors) in [(plan.zone, plan.zone_doors), (ALWAYS, plan.always_doors)] {
        if doors != 0 {
            tx.upsert_authorization(&Authorization {
                pin: plan.pin.clone(),
                timezone_id,
                doors,
                valid_from: None,
                valid_until: None,
            })?;
            rows += 1;
        }
    }
    if plan.super_user {
        for door in SUPER_DOORS {
            tx.upsert_super_user(&SuperUser {
                pin: plan.pin.clone(),
                door,
            })?;
        }
    }
    Ok(rows)
}

// ----- what each decision must be -----

#[derive(Debug, Clone)]
struct Swipe {
    card: u64,
    door: DoorId,
    side: Direction,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    event: u16,
    /// The user the card names; `None` for an unknown card.
    pin: Option<String>,
}

impl Expected {
    fn grants(&self) -> bool {
        matches!(self.event, event::OPENED | event::SUPER_USER_OPENED)
    }
}

/// Predicts each decision from the data set's plan, in the check order of `access::control`,
/// remembering the passes granted so far for anti-passback. Only the rules the data set uses are
/// modelled: no normal-open, interlock, first-card or multi-card rule applies, and [`STEP_SECS`]
/// keeps every pass out of the punch interval.
struct Oracle {
    zones: Vec<TimeZone>,
    holidays: Vec<Holiday>,
    /// The side and time of each user's last pass at each door.
    last_pass: HashMap<(u32, DoorId), (Direction, i64)>,
}

impl Oracle {
    fn new() -> Oracle {
        Oracle {
            zones: (1..=TIMEZONES).map(timezone).collect(),
            holidays: holidays(),
            last_pass: HashMap::new(),
        }
    }

    /// The decision on `swipe` at local time `now` (seconds since the epoch, UTC zone).
    fn expect(&mut self, swipe: &Swipe, now: i64) -> Expected {
        let Some((n, extra_card)) = card_holder(swipe.card) else {
            return Expected {
                event: event::NOT_REGISTERED,
                pin: None,
            };
        };
        let plan = user_plan(n);
        let door = door_settings(swipe.door);
        let code = if plan.blocklisted {
            event::BLOCKLISTED
        } else if extra_card && plan.extra_card_lost {
            event::CARD_LOST
        } else if plan.expired {
            event::EXPIRED
        } else if !matches!(door.verify_mode, 0 | 4 | 6) {
            event::WRONG_VERIFY_MODE
        } else if plan.super_user && SUPER_DOORS.contains(&swipe.door) {
            event::SUPER_USER_OPENED
        } else if door.locked {
            event::DOOR_LOCKED
        } else if let Some(code) = self.privilege_denial(&plan, swipe.door, now) {
            code
        } else if door.valid_tz != 0 && !self.zone_open(door.valid_tz, now) {
            event::INVALID_TIME_PERIOD
        } else if self.passed_back(n, swipe, &door, now) {
            event::ANTI_PASSBACK
        } else {
            event::OPENED
        };
        let expected = Expected {
            event: code,
            pin: Some(plan.pin),
        };
        if expected.grants() {
            self.last_pass.insert((n, swipe.door), (swipe.side, now));
        }
        expected
    }

    /// 23 when no authorization covers the door, 21 when those that do are outside their zones.
    fn privilege_denial(&self, plan: &UserPlan, door: DoorId, now: i64) -> Option<u16> {
        let bit = 1u64 << (door - 1);
        let covering: Vec<u32> = [(plan.zone, plan.zone_doors), (ALWAYS, plan.always_doors)]
            .into_iter()
            .filter(|(_, doors)| doors & bit != 0)
            .map(|(zone, _)| zone)
            .collect();
        if covering.is_empty() {
            Some(event::NO_PRIVILEGE)
        } else if covering.iter().any(|zone| self.zone_open(*zone, now)) {
            None
        } else {
            Some(event::OUTSIDE_TIME_ZONE)
        }
    }

    fn zone_open(&self, id: u32, now: i64) -> bool {
        let zone = &self.zones[id as usize - 1];
        let local = LocalDateTime::from_unix(now, 0);
        if zone.valid_until.is_some_and(|until| local > until) {
            return false;
        }
        let day = now.div_euclid(86_400);
        let (year, month, date) = civil_from_days(day);
        let holiday = self
            .holidays
            .iter()
            .find(|h| (h.month, h.day) == (month, date) && (h.yearly || h.year == year));
        let periods = match holiday {
            Some(h) => &zone.holidays[usize::from(h.kind) - 1],
            None => &zone.days[(day + 4).rem_euclid(7) as usize],
        };
        let minute = (now.rem_euclid(86_400) / 60) as u16;
        periods
            .iter()
            .any(|p| *p != Period::NONE && (p.start..=p.end).contains(&minute))
    }

    /// The door's in/out anti-passback forbids this side: the user's last pass here was on the
    /// same side (within `DoorInTimeAPB`, when set).
    fn passed_back(&self, n: u32, swipe: &Swipe, door: &DoorSettings, now: i64) -> bool {
        let side_bit = match swipe.side {
            Direction::In => 1,
            Direction::Out => 2,
        };
        door.in_out_apb & side_bit != 0
            && self
                .last_pass
                .get(&(n, swipe.door))
                .is_some_and(|&(side, at)| {
                    side == swipe.side
                        && (door.in_time_apb_secs == 0
                            || now - at < i64::from(door.in_time_apb_secs))
                })
    }
}

/// The swipes of one round, from its seed.
struct Swipes {
    rng: SplitMix64,
    /// Recent grants at anti-passback doors, for repeats.
    recent: VecDeque<Swipe>,
}

impl Swipes {
    const RECENT: usize = 16;

    fn next(&mut self) -> Swipe {
        let roll = self.rng.below(100);
        if roll < REPEAT_PERCENT && !self.recent.is_empty() {
            let i = self.rng.below(self.recent.len() as u64) as usize;
            let mut repeat = self.recent[i].clone();
            if self.rng.below(4) == 0 {
                repeat.side = opposite(repeat.side);
            }
            return repeat;
        }
        let card = if roll < REPEAT_PERCENT + UNKNOWN_PERCENT {
            UNKNOWN_CARD_BASE + self.rng.below(1_000_000_000)
        } else {
            CARD_BASE + self.rng.below(2 * u64::from(USERS))
        };
        Swipe {
            card,
            door: 1 + self.rng.below(u64::from(DOORS)) as DoorId,
            side: if self.rng.below(2) == 0 {
                Direction::In
            } else {
                Direction::Out
            },
        }
    }

    fn granted(&mut self, swipe: &Swipe) {
        if APB_DOORS.contains(&swipe.door) {
            if self.recent.len() == Self::RECENT {
                self.recent.pop_front();
            }
            self.recent.push_back(swipe.clone());
        }
    }
}

fn opposite(side: Direction) -> Direction {
    match side {
        Direction::In => Direction::Out,
        Direction::Out => Direction::In,
    }
}

// ----- the relays and the clock of the measurement -----

/// One `set_lock` call, with the time since the probe was armed (none when it was not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RelayCall {
    door: DoorId,
    energised: bool,
    after: Option<Duration>,
}

/// What the bench relays saw. Armed just before `Controller::handle` is called.
#[derive(Default)]
struct RelayProbe {
    armed: Option<MonoStopwatch>,
    calls: Vec<RelayCall>,
}

/// The controller's relays: each `set_lock` is recorded with the time since the probe was armed.
struct ProbeRelays(Arc<Mutex<RelayProbe>>);

impl Relays for ProbeRelays {
    fn set_lock(&mut self, door: DoorId, energised: bool, _now: Mono) {
        let mut probe = self.0.lock().expect("probe lock");
        let after = probe.armed.as_ref().map(MonoStopwatch::elapsed);
        probe.calls.push(RelayCall {
            door,
            energised,
            after,
        });
    }

    fn set_aux_output(&mut self, aux: u8, _energised: bool, _now: Mono) {
        panic!("the bench has no aux outputs, yet aux output {aux} was set");
    }
}

// ----- one round -----

/// Latency summary of one class of swipes.
#[derive(Debug, Clone, Copy)]
struct Summary {
    count: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Summary {
    fn of(mut samples: Vec<Duration>) -> Summary {
        assert!(!samples.is_empty(), "no samples");
        samples.sort_unstable();
        // Nearest rank.
        let at = |q: f64| samples[((q * samples.len() as f64).ceil() as usize).max(1) - 1];
        Summary {
            count: samples.len(),
            p50: at(0.50),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

/// One round's summaries, in the order of [`Figures::NAMES`].
struct Figures {
    summaries: [Summary; 3],
}

impl Figures {
    const NAMES: [&str; 3] = [
        "credential -> relay, grants",
        "whole handle, grants",
        "whole handle, refusals",
    ];
}

fn run_round(db: &Path, round: usize) -> Figures {
    let manual = Arc::new(ManualClock::new(Now {
        mono: Mono(0),
        utc_ms: T0_UNIX * 1000,
    }));
    let clock = Arc::new(DeviceClock::new(Box::new(manual.clone()), 0, UtcOffset(0)));
    let probe = Arc::new(Mutex::new(RelayProbe {
        armed: None,
        calls: Vec::with_capacity(DOORS.into()),
    }));
    let mut store = Store::open(db).expect("store opens");
    let first_index = store.read(|tx| tx.last_record_id()).expect("store reads");
    let mut controller = Controller::new(
        store,
        clock.clone(),
        Box::new(ProbeRelays(probe.clone())),
        DOORS.into(),
    )
    .expect("controller starts");
    assert_eq!(controller.door_count(), usize::from(DOORS), "doors");

    let mut oracle = Oracle::new();
    let mut swipes = Swipes {
        rng: SplitMix64::new(0xACCE55 + round as u64),
        recent: VecDeque::new(),
    };
    let mut to_relay = Vec::new();
    let mut grants = Vec::new();
    let mut refusals = Vec::new();
    let mut events: BTreeMap<u16, usize> = BTreeMap::new();
    let mut written: HashMap<i64, (Swipe, Expected)> = HashMap::with_capacity(SWIPES);
    let mut other_records = 0;

    for i in 0..SWIPES {
        manual.advance_ms(STEP_SECS * 1000);
        if controller
            .next_deadline()
            .is_some_and(|due| due <= clock.now().mono)
        {
            other_records += controller.tick().expect("timers fire").indexes.len();
            let mut probe = probe.lock().expect("probe lock");
            assert!(
                probe.calls.iter().all(|c| !c.energised),
                "a timer only relocks: {:?}",
                probe.calls
            );
            probe.calls.clear();
        }
        let swipe = swipes.next();
        let now = clock.now().utc_ms.div_euclid(1000);
        let expected = oracle.expect(&swipe, now);
        let input = ControllerInput::Credential {
            credential: Credential::Card(swipe.card),
            door: swipe.door,
            side: swipe.side,
        };

        probe.lock().expect("probe lock").armed = Some(MonoStopwatch::start());
        let handled = controller.handle(&input).expect("swipe handled");
        let (whole, calls) = {
            let mut probe = probe.lock().expect("probe lock");
            let whole = probe.armed.take().map(|w| w.elapsed());
            let calls = probe.calls.clone();
            probe.calls.clear();
            (whole.expect("the probe was armed"), calls)
        };

        let context = || {
            format!(
                "swipe {i} {swipe:?} at {}",
                LocalDateTime::from_unix(now, 0)
            )
        };
        let decision = handled.decision.as_ref().unwrap_or_else(|| {
            panic!("{}: no decision ({})", context(), handled.summary);
        });
        assert_eq!(
            (decision.event, decision.pin.as_deref()),
            (expected.event, expected.pin.as_deref()),
            "{}",
            context()
        );
        assert_eq!(decision.card, Some(swipe.card), "{}", context());
        let granted = matches!(decision.verdict, Verdict::Grant(DoorAction::Pass));
        assert_eq!(granted, expected.grants(), "{}", context());
        let [index] = handled.indexes[..] else {
            panic!("{}: records written {:?}", context(), handled.indexes);
        };
        if granted {
            let [
                RelayCall {
                    door,
                    energised: true,
                    after: Some(after),
                },
            ] = calls[..]
            else {
                panic!("{}: relay calls {calls:?}", context());
            };
            assert_eq!(door, swipe.door, "{}", context());
            to_relay.push(after);
            grants.push(whole);
            swipes.granted(&swipe);
        } else {
            assert!(calls.is_empty(), "{}: relay calls {calls:?}", context());
            refusals.push(whole);
        }
        *events.entry(expected.event).or_default() += 1;
        written.insert(index, (swipe, expected));
    }
    drop(controller);
    check_records(db, first_index, &written, other_records);

    let figures = Figures {
        summaries: [
            Summary::of(to_relay),
            Summary::of(grants),
            Summary::of(refusals),
        ],
    };
    let [_, granted, refused] = figures.summaries;
    let tally: Vec<String> = events
        .iter()
        .map(|(code, count)| format!("{code}: {count}"))
        .collect();
    println!(
        "round {}: {SWIPES} swipes, {} granted, {} refused; events {}",
        round + 1,
        granted.count,
        refused.count,
        tally.join(", ")
    );
    for (what, s) in Figures::NAMES.iter().zip(&figures.summaries) {
        println!(
            "  {what:<30} p50 {:>9}  p99 {:>9}  max {:>9}",
            micros(s.p50),
            micros(s.p99),
            micros(s.max)
        );
    }
    figures
}

/// Checks that the store holds exactly the round's records: one per swipe, with the predicted
/// event, PIN, card and door, and `other_records` more (door events of the timers).
fn check_records(
    db: &Path,
    first_index: i64,
    written: &HashMap<i64, (Swipe, Expected)>,
    other_records: usize,
) {
    let mut store = Store::open(db).expect("store opens");
    let records = store
        .read(|tx| {
            tx.records_after(
                StampTable::RtLog,
                first_index,
                written.len() + other_records + 1,
                usize::MAX,
            )
        })
        .expect("records read");
    assert_eq!(
        records.len(),
        written.len() + other_records,
        "records of the round"
    );
    let mut found = 0;
    for (id, line) in &records {
        let log = RtLog::parse(line).unwrap_or_else(|| panic!("record {id} parses: {line}"));
        assert_eq!(log.index, *id as u64, "record {id}: {line}");
        let Some((swipe, expected)) = written.get(id) else {
            continue;
        };
        let card = swipe.card.to_string();
        assert_eq!(
            (
                log.event,
                log.pin.as_str(),
                log.cardno.as_str(),
                log.eventaddr
            ),
            (
                expected.event,
                expected.pin.as_deref().unwrap_or("0"),
                card.as_str(),
                u32::from(swipe.door)
            ),
            "record {id}: {line}"
        );
        found += 1;
    }
    assert_eq!(found, written.len(), "every swipe's record is stored");
}

fn micros(d: Duration) -> String {
    format!("{:.1} us", d.as_secs_f64() * 1e6)
}

/// `VmHWM` from /proc/self/status: the most resident memory the process has used.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unavailable".to_owned())
}
