use super::*;
use crate::access::model::{Authorization, Period, TimeZone};
use crate::clock::{DeviceClock, ManualClock};
use crate::config;
use crate::hal::SimRelays;
use crate::protocol::options::{StampTable, UtcOffset};
use crate::protocol::record::VerifyCodes;
use crate::protocol::security::rtlog::RtLog;
use crate::protocol::session::{Mono, Now};
use crate::protocol::user::User;
use crate::store::{RecordKind, Store};
use std::sync::mpsc;

fn clock() -> Arc<DeviceClock> {
    Arc::new(DeviceClock::new(
        Box::new(ManualClock::new(Now {
            mono: Mono(0),
            utc_ms: 1_795_420_800_000,
        })),
        0,
        UtcOffset(0),
    ))
}

fn card(n: u64, door: Option<DoorId>, reader: Option<Direction>) -> SimRequest {
    SimRequest::Credential {
        credential: Credential::Card(n),
        door,
        reader,
    }
}

#[test]
fn parses_the_requests() {
    let keypad = |pin: &str, password: Option<&str>| Credential::Keypad {
        pin: pin.into(),
        password: password.map(Into::into),
    };
    let cases: Vec<(&str, SimRequest)> = vec![
        ("swipe 123456789\n", card(123_456_789, None, None)),
        (
            "swipe 42 --door 2 --reader out",
            card(42, Some(2), Some(Direction::Out)),
        ),
        ("swipe --reader in 42", card(42, None, Some(Direction::In))),
        (
            "pin 7 1234",
            SimRequest::Credential {
                credential: keypad("7", Some("1234")),
                door: None,
                reader: None,
            },
        ),
        (
            "pin 7 --door 2",
            SimRequest::Credential {
                credential: keypad("7", None),
                door: Some(2),
                reader: None,
            },
        ),
        (
            "password 8888 --door 1",
            SimRequest::Credential {
                credential: Credential::Password("8888".into()),
                door: Some(1),
                reader: None,
            },
        ),
        (
            "door close",
            SimRequest::Door {
                door: None,
                position: DoorPosition::Closed,
            },
        ),
        (
            "door 2 open",
            SimRequest::Door {
                door: Some(2),
                position: DoorPosition::Open,
            },
        ),
        ("exit 2", SimRequest::ExitButton(2)),
        ("tamper", SimRequest::Tamper),
        ("relays", SimRequest::Relays),
    ];
    for (line, expected) in cases {
        assert_eq!(parse_request(line), Ok(expected), "{line}");
    }
    for bad in [
        "swipe twelve",
        "swipe 0",
        "swipe",
        "pin",
        "pin 7 1234 5678",
        "password",
        "open sesame",
        "door ajar",
        "door 0 open",
        "door 1 2 open",
        "exit",
        "exit one",
        "tamper 1",
        "relays 1",
        "swipe 42 --door",
        "swipe 42 --door 1 --door 2",
        "swipe 42 --reader sideways",
        "swipe 42 --floor 3",
    ] {
        assert!(parse_request(bad).is_err(), "{bad}");
    }
    assert!(
        parse_request("door ajar")
            .unwrap_err()
            .starts_with("unknown request \"door ajar\"")
    );
}

#[test]
fn the_attendance_terminal_takes_the_old_forms_and_refuses_the_new_ones() {
    let accepted = [
        ("swipe 42", TerminalEvent::Credential(Credential::Card(42))),
        (
            "swipe 42 --door 1",
            TerminalEvent::Credential(Credential::Card(42)),
        ),
        ("door open", TerminalEvent::Door(DoorPosition::Open)),
        ("door 1 close", TerminalEvent::Door(DoorPosition::Closed)),
    ];
    for (line, event) in accepted {
        assert_eq!(terminal_event(&parse_request(line).unwrap()), Ok(event));
    }
    let refused = [
        (
            "swipe 42 --door 2",
            "the attendance terminal has only door 1",
        ),
        ("door 2 open", "the attendance terminal has only door 1"),
        (
            "swipe 42 --reader in",
            "--reader needs the security dialect; this agent runs the attendance terminal",
        ),
        (
            "password 1234",
            "a password typed alone needs the security dialect; this agent runs the attendance terminal",
        ),
        (
            "exit 1",
            "exit needs the security dialect; this agent runs the attendance terminal",
        ),
        (
            "tamper",
            "tamper needs the security dialect; this agent runs the attendance terminal",
        ),
        (
            "relays",
            "relays needs the security dialect; this agent runs the attendance terminal",
        ),
    ];
    for (line, reason) in refused {
        assert_eq!(
            terminal_event(&parse_request(line).unwrap()),
            Err(reason.to_owned()),
            "{line}"
        );
    }
}

#[test]
fn answers_over_the_socket_after_the_record_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let mut store = Store::open(&db).unwrap();
    let mut user = User::new("7");
    user.card = Some(42);
    store.write(|tx| tx.upsert_user(&user)).unwrap();
    let terminal = Arc::new(Mutex::new(Terminal::new(store, clock(), VerifyCodes::App7)));
    let (tx, rx) = mpsc::channel();
    let sock = dir.path().join("sim.sock");
    let control = SimControl::start(&sock, SimBoard::Terminal(terminal), move || {
        let _ = tx.send(());
    })
    .unwrap();
    let answer = request(&sock, "swipe 42").unwrap();
    assert_eq!(answer, "ok 1 accepted user 7 at 2026-11-23 08:00:00");
    assert!(
        request(&sock, "swipe 43")
            .unwrap()
            .starts_with("ok 2 rejected: unknown card")
    );
    assert!(
        request(&sock, "fly away")
            .unwrap()
            .starts_with("error unknown request")
    );
    assert_eq!(
        request(&sock, "relays").unwrap(),
        "error relays needs the security dialect; this agent runs the attendance terminal"
    );
    assert_eq!(rx.try_iter().count(), 2);
    let mut check = Store::open(&db).unwrap();
    assert_eq!(
        check.read(|t| t.count_records(RecordKind::AttLog)).unwrap(),
        1
    );
    assert_eq!(
        check.read(|t| t.count_records(RecordKind::OpLog)).unwrap(),
        1
    );
    // A second agent on the same directory is refused while the first is listening.
    let dup = SimControl::start(
        &sock,
        SimBoard::Terminal(Arc::new(Mutex::new(Terminal::new(
            Store::open_in_memory().unwrap(),
            clock(),
            VerifyCodes::App7,
        )))),
        || {},
    );
    assert!(dup.is_err());
    drop(control);
    assert!(!sock.exists());
}

#[test]
fn drives_the_controller_doors_and_reports_the_relays() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let mut store = Store::open(&db).unwrap();
    store
        .write(|tx| {
            let mut user = User::new("7");
            user.card = Some(42);
            tx.upsert_user(&user)?;
            tx.upsert_timezone(&TimeZone {
                id: 1,
                days: [[Period::ALL_DAY, Period::NONE, Period::NONE]; 7],
                holidays: [[Period::NONE; 3]; 3],
                valid_from: None,
                valid_until: None,
            })?;
            tx.upsert_authorization(&Authorization {
                pin: "7".into(),
                timezone_id: 1,
                doors: 0b11,
                valid_from: None,
                valid_until: None,
            })
        })
        .unwrap();
    // Door 2 has a reader inside only.
    let board: BoardConfig = config::parse(
        "[board]\nname = \"t\"\ndriver = \"sim\"\nopkg_arch = \"all\"\n\
         [[door]]\nreaders = [\"in\", \"out\"]\n[[door]]\nreaders = [\"in\"]\n",
        Path::new("t.toml"),
    )
    .unwrap();
    let relays = SimRelays::new(2);
    let view = relays.view();
    let controller = Controller::new(store, clock(), Box::new(relays), 2).unwrap();
    let board = SimController::new(Arc::new(Mutex::new(controller)), view.clone(), &board);
    let (tx, rx) = mpsc::channel();
    let sock = dir.path().join("sim.sock");
    let _control = SimControl::start(&sock, SimBoard::Controller(board), move || {
        let _ = tx.send(());
    })
    .unwrap();

    let exchanges = [
        ("swipe 42", "ok 1 door 1: granted (event 0)"),
        (
            "relays",
            "ok door 1: relay on, sensor none, alarms none; door 2: relay off, sensor none, alarms none",
        ),
        ("swipe 43 --door 2", "ok 2 door 2: denied (event 27)"),
        (
            "swipe 42 --door 3",
            "error there is no door 3 (the board has 2)",
        ),
        (
            "pin 7 --door 2 --reader out",
            "error door 2 has no out reader",
        ),
        ("exit 2", "ok 3 door 2: exit button"),
        ("tamper", "ok 4 door 1: tamper"),
        // Sensor type none (the default): the reading is ignored, nothing is written.
        ("door 2 open", "ok door 2: door sensor"),
    ];
    for (line, expected) in exchanges {
        assert_eq!(request(&sock, line).unwrap(), expected, "{line}");
    }
    assert_eq!(view.levels(), [true, true]);
    assert_eq!(rx.try_iter().count(), 4, "one wake per input that wrote");
    let logs: Vec<(u16, u32, String)> = Store::open(&db)
        .unwrap()
        .read(|t| t.backlog(StampTable::RtLog, 10, usize::MAX))
        .unwrap()
        .iter()
        .filter_map(|(_, line)| RtLog::parse(line))
        .map(|l| (l.event, l.eventaddr, l.cardno))
        .collect();
    assert_eq!(
        logs,
        [
            (0, 1, "42".to_owned()),
            (27, 2, "43".to_owned()),
            (202, 2, "0".to_owned()),
            (100, 1, "0".to_owned()),
        ]
    );
}
