//! The decision chain, branch by branch; expected values are App 2 event codes [note §7.2].

use super::*;
use crate::access::model::SuperUser;
use crate::access::timezone::tests::{at, office_hours, period};

/// Monday 2026-11-23 10:00:00, inside the office hours of zone 1.
const MONDAY_10: &str = "2026-11-23 10:00:00";

const PASS: Verdict = Verdict::Grant(DoorAction::Pass);
const ALREADY_OPEN: Verdict = Verdict::Grant(DoorAction::AlreadyOpen);
const DURESS: Verdict = Verdict::Grant(DoorAction::PassUnderDuress);
const DENY: Verdict = Verdict::Deny;
const WAIT: Verdict = Verdict::Waiting;
/// First card at 10:00 in zone 1 (08:00–18:00): normal-open to the end of 18:00.
const START_NORMAL_OPEN: Verdict = Verdict::Grant(DoorAction::StartNormalOpen {
    until: LocalDateTime {
        year: 2026,
        month: 11,
        day: 23,
        hour: 18,
        minute: 0,
        second: 59,
    },
});

/// A controller's tables and memory. Its lookups are the shell's: by card number, PIN, door.
struct Site {
    users: Vec<User>,
    cards: Vec<Card>,
    authorizations: Vec<Authorization>,
    timezones: Vec<TimeZone>,
    holidays: Vec<Holiday>,
    door: DoorSettings,
    rules: DeviceRules,
    first_cards: Vec<FirstCard>,
    multi_card_groups: Vec<MultiCardGroup>,
    super_users: Vec<SuperUser>,
    doors: DoorStates,
    state: AccessState,
}

fn user(pin: &str, password: &str, group: u32) -> User {
    let mut u = User::new(pin);
    u.password = password.into();
    u.group = group;
    u
}

fn card_row(number: u64, pin: &str) -> Card {
    Card {
        number,
        pin: pin.into(),
        lost: false,
    }
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

fn holiday(year: i32, month: u8, day: u8, kind: u8, yearly: bool) -> Holiday {
    Holiday {
        year,
        month,
        day,
        kind,
        yearly,
    }
}

fn first_card(pin: &str, timezone_id: u32) -> FirstCard {
    FirstCard {
        door: 1,
        timezone_id,
        pin: pin.into(),
    }
}

fn multi_card(groups: [u32; 5]) -> MultiCardGroup {
    MultiCardGroup {
        index: 1,
        door: 1,
        groups,
    }
}

impl Site {
    /// Users 7 (password 1234, card 42, group 1), 8 (no password, card 43, group 2) and 9 (card
    /// 44, group 3), each allowed through doors 1–4 in zone 1 (Mon–Fri 08:00–18:00). Zone 2 is
    /// Mon–Fri 06:00–09:00, zone 3 every day all day.
    fn new() -> Site {
        let mut all_day = office_hours(3, "00:00", "23:59");
        all_day.days = [[period("00:00", "23:59"), Period::NONE, Period::NONE]; 7];
        Site {
            users: vec![user("7", "1234", 1), user("8", "", 2), user("9", "", 3)],
            cards: vec![card_row(42, "7"), card_row(43, "8"), card_row(44, "9")],
            authorizations: ["7", "8", "9"]
                .map(|pin| authorization(pin, 1, 0b1111))
                .to_vec(),
            timezones: vec![
                office_hours(1, "08:00", "18:00"),
                office_hours(2, "06:00", "09:00"),
                all_day,
            ],
            holidays: Vec::new(),
            door: DoorSettings::default(),
            rules: DeviceRules::default(),
            first_cards: Vec::new(),
            multi_card_groups: Vec::new(),
            super_users: Vec::new(),
            doors: DoorStates::default(),
            state: AccessState::default(),
        }
    }

    fn decide(&self, request: &AccessRequest) -> Option<Decision> {
        let card = match request.credential {
            Credential::Card(number) => self.cards.iter().find(|c| c.number == number),
            _ => None,
        };
        let pin = match &request.credential {
            Credential::Card(_) => card.map(|c| c.pin.as_str()),
            Credential::Keypad { pin, .. } => Some(pin.as_str()),
            Credential::Password(_) => None,
        };
        let authorizations: Vec<Authorization> = self
            .authorizations
            .iter()
            .filter(|a| Some(a.pin.as_str()) == pin)
            .cloned()
            .collect();
        let view = AccessView {
            user: pin.and_then(|p| self.users.iter().find(|u| u.pin == p)),
            card,
            authorizations: &authorizations,
            timezones: &self.timezones,
            holidays: &self.holidays,
            door: &self.door,
            rules: self.rules,
            first_cards: &self.first_cards,
            multi_card_groups: &self.multi_card_groups,
            super_user: pin.is_some_and(|p| {
                self.super_users
                    .iter()
                    .any(|s| s.pin == p && s.door == request.door)
            }),
        };
        decide(request, &view, self.doors, &self.state)
    }

    /// Decides, then records the decision as the shell does.
    fn step(&mut self, request: &AccessRequest) -> Option<Decision> {
        let decision = self.decide(request);
        if let Some(d) = &decision {
            self.state.record(request, d);
        }
        decision
    }
}

fn request(credential: Credential, now: LocalDateTime) -> AccessRequest {
    AccessRequest {
        credential,
        door: 1,
        direction: Direction::In,
        now,
    }
}

fn card(number: u64, now: &str) -> AccessRequest {
    request(Credential::Card(number), at(now))
}

fn keypad(pin: &str, password: Option<&str>, now: &str) -> AccessRequest {
    request(
        Credential::Keypad {
            pin: pin.into(),
            password: password.map(str::to_owned),
        },
        at(now),
    )
}

fn password(typed: &str, now: &str) -> AccessRequest {
    request(Credential::Password(typed.into()), at(now))
}

/// `secs` seconds after Monday 10:00.
fn later(secs: i64) -> LocalDateTime {
    LocalDateTime::from_unix(at(MONDAY_10).to_unix(0) + secs, 0)
}

fn swipe(number: u64, secs: i64, door: DoorId, direction: Direction) -> AccessRequest {
    AccessRequest {
        door,
        direction,
        ..request(Credential::Card(number), later(secs))
    }
}

fn super_user_7(s: &mut Site) {
    s.super_users.push(SuperUser {
        pin: "7".into(),
        door: 1,
    });
}

fn locked_with_super_user_7(s: &mut Site) {
    s.door.locked = true;
    super_user_7(s);
}

/// Door 1 opens when users of groups 1 and 2 (users 7 and 8) have swiped.
fn multi_card_1_2(s: &mut Site) {
    s.door.multi_card = true;
    s.multi_card_groups.push(multi_card([1, 2, 0, 0, 0]));
}

/// Door 1 opens for groups 2 and 3: user 7 (group 1) is in no group.
fn multi_card_2_3(s: &mut Site) {
    s.door.multi_card = true;
    s.multi_card_groups.push(multi_card([2, 3, 0, 0, 0]));
}

/// User 7 is the first card of door 1 in zone 1.
fn first_card_7(s: &mut Site) {
    s.door.first_card = FirstCardMode::NormalOpen;
    s.first_cards.push(first_card("7", 1));
}

fn interlock(code: u16, open_doors: u64) -> impl Fn(&mut Site) {
    move |s| {
        s.rules.interlock = code;
        s.doors.open_doors = open_doors;
    }
}

fn duress_5555(s: &mut Site) {
    s.door.duress_password = "5555".into();
}

fn super_8888(s: &mut Site) {
    s.door.super_password = "8888".into();
}

type Setup = fn(&mut Site);

/// Checks each case on a fresh [`Site`].
fn check(cases: &[(&str, Setup, AccessRequest, Verdict, u16)]) {
    for (name, setup, request, verdict, event) in cases {
        let mut site = Site::new();
        setup(&mut site);
        let d = site.decide(request).expect("an enabled door decides");
        assert_eq!((d.verdict, d.event), (*verdict, *event), "{name}");
    }
}

/// Card 42 (user 7) at door 1, Monday 10:00, after each setup.
#[test]
fn decides_on_a_card_with_the_spec_event_code() {
    #[rustfmt::skip] // one case per line
    let cases: &[(&str, Setup, Verdict, u16)] = &[
        ("authorized card", |_| {}, PASS, 0),
        ("blocklisted user", |s| s.users[0].disabled = true, DENY, 39),
        ("lost card", |s| s.cards[0].lost = true, DENY, 38),
        ("expired user", |s| s.users[0].valid_until = Some(at("2026-11-22 00:00:00")), DENY, 29),
        ("user not yet valid", |s| s.users[0].valid_from = Some(at("2026-11-24 00:00:00")), DENY, 29),
        ("card-only door", |s| s.door.verify_mode = 4, PASS, 0),
        ("card-or-password door", |s| s.door.verify_mode = 7, PASS, 0),
        ("password-only door", |s| s.door.verify_mode = 3, DENY, 41),
        ("card + password door", |s| s.door.verify_mode = 11, DENY, 41),
        ("fingerprint door", |s| s.door.verify_mode = 1, DENY, 41),
        ("unknown verify mode", |s| s.door.verify_mode = 200, DENY, 41),
        ("locked door", |s| s.door.locked = true, DENY, 63),
        ("super user on a locked door", locked_with_super_user_7, PASS, 208),
        ("super user of another door", |s| { locked_with_super_user_7(s); s.super_users[0].door = 2 }, DENY, 63),
        ("blocklisted super user", |s| { super_user_7(s); s.users[0].disabled = true }, DENY, 39),
        ("authorization expired", |s| s.authorizations[0].valid_until = Some(at("2026-11-23 09:59:59")), DENY, 23),
        ("authorization not yet valid", |s| s.authorizations[0].valid_from = Some(at("2026-11-23 10:00:01")), DENY, 23),
        ("authorization valid this second only", |s| {
            s.authorizations[0].valid_from = Some(at(MONDAY_10));
            s.authorizations[0].valid_until = Some(at(MONDAY_10));
        }, PASS, 0),
        ("holiday with no hours", |s| s.holidays.push(holiday(2026, 11, 23, 1, false)), DENY, 21),
        ("holiday with its own hours", |s| {
            s.holidays.push(holiday(2026, 11, 23, 2, false));
            s.timezones[0].holidays[1][0] = period("09:00", "11:00");
        }, PASS, 0),
        ("yearly holiday", |s| s.holidays.push(holiday(2020, 11, 23, 1, true)), DENY, 21),
        ("zone past its own validity", |s| s.timezones[0].valid_until = Some(at("2026-11-01 00:00:00")), DENY, 21),
        ("authorization naming a missing zone", |s| s.authorizations[0].timezone_id = 99, DENY, 21),
        ("authorization naming zone 0", |s| s.authorizations[0].timezone_id = 0, DENY, 21),
        ("door valid zone excludes now", |s| s.door.valid_tz = 2, DENY, 22),
        ("door valid zone is missing", |s| s.door.valid_tz = 99, DENY, 22),
        ("door valid zone includes now", |s| s.door.valid_tz = 3, PASS, 0),
        ("normal-open door", |s| s.doors.normal_open = true, ALREADY_OPEN, 1),
        ("normal-open door skips interlock", |s| { interlock(1, 0b0010)(s); s.doors.normal_open = true }, ALREADY_OPEN, 1),
        ("interlock 1-2, door 2 open", |s| interlock(1, 0b0010)(s), DENY, 25),
        ("interlock 1-2-3, door 3 open", |s| interlock(3, 0b0100)(s), DENY, 25),
        ("interlock pairs 1-2 and 3-4, door 3 open", |s| interlock(4, 0b0100)(s), PASS, 0),
        ("interlock 1-2, door 3 open", |s| interlock(1, 0b0100)(s), PASS, 0),
        ("interlock ignores the door itself", |s| interlock(5, 0b0001)(s), PASS, 0),
        ("first-card user starts normal-open", first_card_7, START_NORMAL_OPEN, 2),
        ("first-card user outside the first-card zone", |s| { first_card_7(s); s.first_cards[0].timezone_id = 2 }, PASS, 0),
        ("others at a first-card normal-open door", |s| { first_card_7(s); s.first_cards[0].pin = "8".into() }, PASS, 0),
        ("first-card rows of another door", |s| { first_card_7(s); s.first_cards[0].door = 2 }, PASS, 0),
        ("first-card activation not yet done", |s| {
            first_card_7(s);
            s.door.first_card = FirstCardMode::Activation;
            s.first_cards[0].pin = "8".into();
        }, DENY, 22),
        ("first-card activation without rows", |s| s.door.first_card = FirstCardMode::Activation, PASS, 0),
        ("multi-card user in no group of the door", multi_card_2_3, DENY, 48),
        ("multi-card first swipe", multi_card_1_2, WAIT, 26),
        ("multi-card door without rows", |s| s.door.multi_card = true, PASS, 0),
        ("multi-card rows, door not multi-card", |s| { multi_card_1_2(s); s.door.multi_card = false }, PASS, 0),
    ];
    let cases: Vec<_> = cases
        .iter()
        .map(|&(name, setup, verdict, event)| (name, setup, card(42, MONDAY_10), verdict, event))
        .collect();
    check(&cases);
}

/// Other credentials, doors and times.
#[test]
fn decides_on_other_requests_with_the_spec_event_code() {
    let evening = "2026-11-23 19:00:00";
    let user_7 = |pw| keypad("7", Some(pw), MONDAY_10);
    let elsewhere = |door| AccessRequest {
        door,
        ..card(42, MONDAY_10)
    };
    #[rustfmt::skip] // one case per line
    let cases: &[(&str, Setup, AccessRequest, Verdict, u16)] = &[
        ("PIN and password", |_| {}, user_7("1234"), PASS, 207),
        ("unknown card", |_| {}, card(999, MONDAY_10), DENY, 27),
        ("card row without its user", |s| s.cards.push(card_row(50, "77")), card(50, MONDAY_10), DENY, 27),
        ("unknown PIN", |_| {}, keypad("77", Some("1"), MONDAY_10), DENY, 27),
        ("expired user by password", |s| s.users[0].valid_until = Some(at("2026-11-22 00:00:00")), user_7("1234"), DENY, 53),
        ("password at a card-only door", |s| s.door.verify_mode = 4, user_7("1234"), DENY, 41),
        ("password at a card-or-password door", |s| s.door.verify_mode = 7, user_7("1234"), PASS, 207),
        ("PIN alone at an automatic door", |_| {}, keypad("7", None, MONDAY_10), DENY, 41),
        ("PIN alone at a user-ID door", |s| s.door.verify_mode = 2, keypad("7", None, MONDAY_10), PASS, 0),
        ("wrong password", |_| {}, user_7("9999"), DENY, 30),
        ("password of a user who has none", |_| {}, keypad("8", Some("1"), MONDAY_10), DENY, 30),
        ("emergency password after a PIN", super_8888, user_7("8888"), DENY, 30),
        ("super user with a wrong password", super_user_7, user_7("1"), DENY, 30),
        ("super user out of hours", super_user_7, card(42, evening), PASS, 208),
        ("no privilege for the door", |_| {}, elsewhere(5), DENY, 23),
        ("a door number no bitmask names", |_| {}, elsewhere(0), DENY, 23),
        ("normal-open, no privilege", |s| s.doors.normal_open = true, elsewhere(5), DENY, 23),
        ("outside the time zone", |_| {}, card(42, evening), DENY, 21),
        ("outside the time zone by password", |_| {}, keypad("7", Some("1234"), evening), DENY, 49),
        ("weekend", |_| {}, card(42, "2026-11-22 10:00:00"), DENY, 21),
        ("a second authorization covers the evening", |s| s.authorizations.push(authorization("7", 3, 0b0001)), card(42, evening), PASS, 0),
        ("normal-open door by password", |s| s.doors.normal_open = true, user_7("1234"), ALREADY_OPEN, 216),
        ("emergency password alone", super_8888, password("8888", MONDAY_10), PASS, 4),
        ("emergency password on a locked door", |s| { super_8888(s); s.door.locked = true }, password("8888", MONDAY_10), DENY, 63),
        ("unknown password alone", super_8888, password("1111", MONDAY_10), DENY, 30),
        ("empty password alone, none set", |_| {}, password("", MONDAY_10), DENY, 30),
        ("duress password alone", duress_5555, password("5555", MONDAY_10), DURESS, 101),
        ("duress after a PIN, locked, out of hours", |s| { duress_5555(s); s.door.locked = true }, keypad("7", Some("5555"), evening), DURESS, 101),
        ("first-card user by password", first_card_7, user_7("1234"), START_NORMAL_OPEN, 215),
        ("multi-card password user in no group", multi_card_2_3, user_7("1234"), DENY, 52),
        ("multi-card first password", multi_card_1_2, user_7("1234"), WAIT, 51),
    ];
    check(cases);
}

#[test]
fn a_disabled_door_ignores_every_credential() {
    let mut site = Site::new();
    site.door.disabled = true;
    site.door.duress_password = "5555".into();
    site.super_users.push(SuperUser {
        pin: "7".into(),
        door: 1,
    });
    for request in [
        card(42, MONDAY_10),
        card(999, MONDAY_10),
        keypad("7", Some("1234"), MONDAY_10),
        password("5555", MONDAY_10),
    ] {
        assert_eq!(site.decide(&request), None, "{request:?}");
    }
}

#[test]
fn records_the_user_card_and_app3_verify_type() {
    let mut site = Site::new();
    site.door.verify_mode = 2;
    site.door.super_password = "8888".into();
    for (request, pin, card, verify_type) in [
        (card(42, MONDAY_10), Some("7"), Some(42), 4),
        (card(999, MONDAY_10), None, Some(999), 4),
        (keypad("7", Some("1234"), MONDAY_10), Some("7"), None, 3),
        (keypad("7", Some(""), MONDAY_10), Some("7"), None, 2),
        (keypad("7", None, MONDAY_10), Some("7"), None, 2),
        (keypad("77", None, MONDAY_10), None, None, 2),
        (password("8888", MONDAY_10), None, None, 3),
    ] {
        let d = site.decide(&request).unwrap();
        assert_eq!(
            (d.pin.as_deref(), d.card, d.verify_type),
            (pin, card, verify_type),
            "{request:?}"
        );
    }
}

#[test]
fn the_duress_password_names_the_user_it_follows() {
    let mut site = Site::new();
    site.door.duress_password = "5555".into();
    let d = site.decide(&keypad("7", Some("5555"), MONDAY_10)).unwrap();
    assert_eq!(
        (d.verdict, d.event, d.pin.as_deref()),
        (DURESS, 101, Some("7"))
    );
    let d = site.decide(&password("5555", MONDAY_10)).unwrap();
    assert_eq!((d.verdict, d.event, d.pin), (DURESS, 101, None));
}

/// Runs `steps` in order, recording each decision, and checks each verdict and event.
fn run(site: &mut Site, steps: &[(AccessRequest, Verdict, u16)]) {
    for (i, (request, verdict, event)) in steps.iter().enumerate() {
        let d = site.step(request).unwrap();
        assert_eq!(
            (d.verdict, d.event),
            (*verdict, *event),
            "step {i}: {request:?}"
        );
    }
}

use Direction::{In, Out};

#[test]
fn in_anti_passback_refuses_in_after_in_and_lets_out_through() {
    let mut site = Site::new();
    site.door.in_out_apb = 1;
    run(
        &mut site,
        &[
            (swipe(42, 0, 1, In), PASS, 0),
            (swipe(42, 10, 1, In), DENY, 24),
            (swipe(42, 20, 1, Out), PASS, 0),
            (swipe(42, 30, 1, Out), PASS, 0), // only "in" is guarded
            (swipe(42, 40, 1, In), PASS, 0),
            (swipe(43, 50, 1, In), PASS, 0), // another user's history is their own
        ],
    );
}

#[test]
fn out_and_both_way_anti_passback_guard_their_directions() {
    for (mode, second_in) in [(2, (PASS, 0)), (3, (DENY, 24))] {
        let mut site = Site::new();
        site.door.in_out_apb = mode;
        run(
            &mut site,
            &[
                (swipe(42, 0, 1, Out), PASS, 0),
                (swipe(42, 10, 1, Out), DENY, 24),
                (swipe(42, 20, 1, In), PASS, 0),
                (swipe(42, 30, 1, In), second_in.0, second_in.1),
            ],
        );
    }
}

#[test]
fn timed_anti_passback_expires_after_door_in_time_apb() {
    let mut site = Site::new();
    site.door.in_out_apb = 1;
    site.door.in_time_apb_secs = 60;
    run(
        &mut site,
        &[
            (swipe(42, 0, 1, In), PASS, 0),
            (swipe(42, 30, 1, In), DENY, 24),
            (swipe(42, 59, 1, In), DENY, 24),
            (swipe(42, 60, 1, In), PASS, 0),
        ],
    );
}

#[test]
fn device_anti_passback_alternates_between_door_sides() {
    // App 8 value 1: door 1 <-> door 2.
    let mut site = Site::new();
    site.rules.anti_passback = 1;
    run(
        &mut site,
        &[
            (swipe(42, 0, 1, In), PASS, 0),
            (swipe(42, 10, 1, Out), DENY, 24),
            (swipe(42, 20, 3, In), PASS, 0), // door 3 is outside the rule
            (swipe(42, 30, 2, In), PASS, 0),
            (swipe(42, 40, 2, In), DENY, 24),
            (swipe(42, 50, 1, In), PASS, 0),
        ],
    );
    // App 8 value 4: doors (1 or 2) <-> (3 or 4).
    let mut site = Site::new();
    site.rules.anti_passback = 4;
    run(
        &mut site,
        &[
            (swipe(42, 0, 1, In), PASS, 0),
            (swipe(42, 10, 2, In), DENY, 24),
            (swipe(42, 20, 4, In), PASS, 0),
            (swipe(42, 30, 3, In), DENY, 24),
            (swipe(42, 40, 2, In), PASS, 0),
        ],
    );
}

#[test]
fn device_reader_anti_passback_alternates_a_doors_readers() {
    // App 8 value 16: the readers of door 1; door 2 is free.
    let mut site = Site::new();
    site.rules.anti_passback = 16;
    run(
        &mut site,
        &[
            (swipe(42, 0, 1, In), PASS, 0),
            (swipe(42, 10, 1, In), DENY, 24),
            (swipe(42, 20, 1, Out), PASS, 0),
            (swipe(42, 30, 2, In), PASS, 0),
            (swipe(42, 40, 2, In), PASS, 0),
        ],
    );
    // 196 is read as 192 (doors 3 and 4), not as door rule 4 plus readers [AMB-32].
    let mut site = Site::new();
    site.rules.anti_passback = 196;
    run(
        &mut site,
        &[
            (swipe(42, 0, 1, In), PASS, 0),
            (swipe(42, 10, 2, In), PASS, 0),
            (swipe(42, 20, 4, In), PASS, 0),
            (swipe(42, 30, 4, In), DENY, 24),
            (swipe(42, 40, 3, In), PASS, 0),
        ],
    );
}

#[test]
fn punch_interval_refuses_a_second_pass_too_soon_at_the_same_door() {
    let mut site = Site::new();
    site.door.inter_secs = 5;
    let pin = |secs| AccessRequest {
        now: later(secs),
        ..keypad("7", Some("1234"), MONDAY_10)
    };
    run(
        &mut site,
        &[
            (swipe(42, 0, 1, In), PASS, 0),
            (swipe(42, 4, 1, Out), DENY, 20),
            (pin(4), DENY, 50),
            (swipe(42, 4, 2, In), PASS, 0), // another door
            // the refusals were not passes: the interval still counts from the first
            (swipe(42, 5, 1, In), PASS, 0),
        ],
    );
}

#[test]
fn a_clock_set_back_does_not_stretch_the_punch_interval() {
    let mut site = Site::new();
    site.door.inter_secs = 5;
    run(
        &mut site,
        &[
            (swipe(42, 3600, 1, In), PASS, 0),
            (swipe(42, 2, 1, In), PASS, 0),
        ],
    );
}

fn multi_card_site(groups: [u32; 5]) -> Site {
    let mut site = Site::new();
    site.door.multi_card = true;
    site.door.multi_card_inter_secs = 10;
    site.multi_card_groups.push(multi_card(groups));
    site
}

#[test]
fn multi_card_waits_then_opens_when_the_group_is_complete() {
    let mut site = multi_card_site([1, 2, 0, 0, 0]);
    run(
        &mut site,
        &[
            (swipe(42, 0, 1, In), WAIT, 26),
            (swipe(42, 2, 1, In), WAIT, 26), // the same user twice counts once
            (swipe(43, 3, 1, In), PASS, 3),
            (swipe(43, 20, 1, In), WAIT, 26), // a new opening starts afresh
        ],
    );
}

#[test]
fn multi_card_group_listed_twice_needs_two_users() {
    let mut site = multi_card_site([1, 1, 2, 0, 0]);
    site.users[2].group = 1;
    run(
        &mut site,
        &[
            (swipe(42, 0, 1, In), WAIT, 26),
            (swipe(43, 1, 1, In), WAIT, 26),
            (swipe(44, 2, 1, In), PASS, 3),
        ],
    );
}

#[test]
fn multi_card_group_must_complete_within_the_inter_time() {
    let mut site = multi_card_site([1, 2, 0, 0, 0]);
    run(
        &mut site,
        &[
            (swipe(42, 0, 1, In), WAIT, 26),
            (swipe(43, 11, 1, In), WAIT, 26), // 11 s after the first: too late
            (swipe(42, 21, 1, In), PASS, 3),  // 10 s after the new first
        ],
    );
}

#[test]
fn a_completed_multi_card_group_counts_as_a_pass_for_each_member() {
    let mut site = multi_card_site([1, 2, 0, 0, 0]);
    site.door.inter_secs = 30;
    run(
        &mut site,
        &[
            (swipe(42, 0, 1, In), WAIT, 26),
            (swipe(43, 1, 1, In), PASS, 3),
            (swipe(42, 2, 1, In), DENY, 20),
            (swipe(43, 2, 1, In), DENY, 20),
        ],
    );
}

#[test]
fn first_card_activation_opens_the_door_to_others_for_the_day() {
    let mut site = Site::new();
    site.door.first_card = FirstCardMode::Activation;
    site.first_cards.push(first_card("8", 1));
    let next_day = 24 * 3600;
    run(
        &mut site,
        &[
            (swipe(42, 0, 1, In), DENY, 22),
            (swipe(43, 10, 1, In), PASS, 2),
            (swipe(42, 20, 1, In), PASS, 0),
            (swipe(43, 30, 1, In), PASS, 0),
            (swipe(42, next_day, 1, In), DENY, 22),
        ],
    );
}

#[test]
fn forgets_the_users_not_seen_for_longest_when_full() {
    let mut site = Site::new();
    site.state = AccessState::new(4);
    site.door.in_out_apb = 1;
    for n in 0..10u64 {
        let pin = format!("u{n}");
        site.users.push(User::new(&pin));
        site.cards.push(card_row(100 + n, &pin));
        site.authorizations.push(authorization(&pin, 1, 0b0001));
        run(&mut site, &[(swipe(100 + n, 0, 1, In), PASS, 0)]);
        assert!(site.state.remembered_users() <= 4);
    }
    // The latest user is still held to anti-passback; the first has been forgotten.
    run(
        &mut site,
        &[
            (swipe(109, 10, 1, In), DENY, 24),
            (swipe(100, 10, 1, In), PASS, 0),
        ],
    );
}
